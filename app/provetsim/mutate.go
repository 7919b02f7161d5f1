package provetsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// ErrNotFound is returned for a worklist id the simulator does not hold.
var ErrNotFound = errors.New("no such worklist item")

// ReferralFields fix some fields of a new referral; zero values are chosen at
// random by the generator.
type ReferralFields struct {
	PatientID     int        `json:"patient_id,omitempty"`   // an existing patient; 0: new or random
	Modality      string     `json:"modality,omitempty"`     // e.g. "X-ray"
	TargetAreas   []string   `json:"target_areas,omitempty"` // names, e.g. "Thorax"
	Remarks       *string    `json:"remarks,omitempty"`
	Urgent        *bool      `json:"urgent,omitempty"`
	Start         *time.Time `json:"start,omitempty"` // appointment start
	NoAppointment bool       `json:"no_appointment,omitempty"`
	Status        int        `json:"status,omitempty"`
}

// ReferralUpdate changes an existing referral; nil fields stay as they are.
type ReferralUpdate struct {
	Modality      *string    `json:"modality,omitempty"`
	TargetAreas   []string   `json:"target_areas,omitempty"`
	Remarks       *string    `json:"remarks,omitempty"`
	Urgent        *bool      `json:"urgent,omitempty"`
	Start         *time.Time `json:"start,omitempty"`
	Status        *int       `json:"status,omitempty"`
	PatientName   *string    `json:"patient_name,omitempty"`
	PatientWeight *float64   `json:"patient_weight,omitempty"`
}

// Item summarises one worklist item for tests and scripts.
type Item struct {
	WorklistID     int       `json:"worklist_id"`
	ReferralID     int       `json:"referral_id"`
	PatientID      int       `json:"patient_id"`
	ClientID       int       `json:"client_id"`
	ConsultationID int       `json:"consultation_id"`
	AppointmentID  int       `json:"appointment_id,omitempty"`
	Modality       string    `json:"modality"`
	TargetAreas    []string  `json:"target_areas"`
	Status         int       `json:"status"`      // simulator state 1..4
	WireStatus     int       `json:"wire_status"` // the number the tenant sends for it (Quirks.StatusCodes)
	Urgent         bool      `json:"urgent"`
	PatientName    string    `json:"patient_name"`
	Modified       time.Time `json:"modified"`
}

func (s *Server) itemLocked(w *worklistItem) Item {
	d := s.data
	it := Item{WorklistID: w.ID, ReferralID: w.ReferralID, PatientID: w.PatientID, ClientID: w.ClientID,
		ConsultationID: w.ConsultationID, Status: w.Status, WireStatus: s.quirks.StatusCodes.Wire(w.Status),
		Modified: w.Modified, TargetAreas: []string{}}
	for _, m := range d.modalities {
		if m.ID == w.ModalityID {
			it.Modality = m.Name
		}
	}
	for _, a := range w.TargetAreaIDs {
		it.TargetAreas = append(it.TargetAreas, d.targetAreas[a-1].Name)
	}
	if r := d.referrals[w.ReferralID]; r != nil {
		it.AppointmentID, it.Urgent = r.AppointmentID, r.Urgent
	}
	if p := d.patients[w.PatientID]; p != nil {
		it.PatientName = p.Name
	}
	return it
}

// Items lists the worklist, ordered by id.
func (s *Server) Items() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.data.worklist))
	for _, w := range s.data.worklist {
		out = append(out, s.itemLocked(w))
	}
	slices.SortFunc(out, func(a, b Item) int { return a.WorklistID - b.WorklistID })
	return out
}

// touchLocked bumps modified on the item and its referral. Modified times
// strictly increase even on a frozen test clock, so delta sync always sees a change.
func (s *Server) touchLocked(w *worklistItem) {
	now := s.now()
	if !now.After(w.Modified) {
		now = w.Modified.Add(time.Millisecond)
	}
	w.Modified = now
	if r := s.data.referrals[w.ReferralID]; r != nil {
		r.Modified = now
	}
}

// CreateReferral adds a worklist item with its referral (and appointment).
func (s *Server) CreateReferral(f ReferralFields) (Item, error) {
	if f.Status != 0 && (f.Status < StatusRequested || f.Status > StatusCancelled) {
		return Item{}, fmt.Errorf("status %d: use 1 requested, 2 in progress, 3 completed or 4 cancelled", f.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.PatientID != 0 && s.data.patients[f.PatientID] == nil {
		return Item{}, fmt.Errorf("patient %d does not exist", f.PatientID)
	}
	if f.Modality != "" && findNamed(s.data.modalities, f.Modality) == 0 {
		return Item{}, fmt.Errorf("modality %q: use one of %v", f.Modality, modalityNames)
	}
	for _, a := range f.TargetAreas {
		if findNamed(s.data.targetAreas, a) == 0 {
			return Item{}, fmt.Errorf("target area %q: use one of %v", a, targetAreaNames)
		}
	}
	now := s.now()
	w := s.data.addRandomReferral(now, referralSpec{PatientID: f.PatientID, Modality: f.Modality,
		TargetAreas: f.TargetAreas, Remarks: f.Remarks, Urgent: f.Urgent, Start: f.Start,
		NoStart: f.NoAppointment, Status: f.Status})
	// A new order is created now, whatever time the generator picked.
	w.Created = now
	w.Modified = time.Time{}
	s.touchLocked(w)
	if r := s.data.referrals[w.ReferralID]; r != nil {
		r.Created = now
	}
	return s.itemLocked(w), nil
}

// UpdateReferral changes an existing referral and bumps its modified time.
func (s *Server) UpdateReferral(worklistID int, u ReferralUpdate) (Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data
	w := d.worklist[worklistID]
	if w == nil {
		return Item{}, fmt.Errorf("worklist %d: %w", worklistID, ErrNotFound)
	}
	r := d.referrals[w.ReferralID]
	if u.Modality != nil {
		m := findNamed(d.modalities, *u.Modality)
		if m == 0 {
			return Item{}, fmt.Errorf("modality %q: use one of %v", *u.Modality, modalityNames)
		}
		w.ModalityID = m
	}
	if u.TargetAreas != nil {
		var ids []int
		for _, a := range u.TargetAreas {
			id := findNamed(d.targetAreas, a)
			if id == 0 {
				return Item{}, fmt.Errorf("target area %q: use one of %v", a, targetAreaNames)
			}
			ids = append(ids, id)
		}
		w.TargetAreaIDs = ids
	}
	if u.Status != nil {
		if *u.Status < StatusRequested || *u.Status > StatusCancelled {
			return Item{}, fmt.Errorf("status %d: use 1 to 4", *u.Status)
		}
		w.Status = *u.Status
	}
	if r != nil {
		if u.Remarks != nil {
			r.Remarks = *u.Remarks
		}
		if u.Urgent != nil {
			r.Urgent = *u.Urgent
		}
		if u.Start != nil {
			if a := d.appointments[r.AppointmentID]; a != nil {
				a.Start, a.End, a.Modified = u.Start.In(d.loc), u.Start.In(d.loc).Add(30*time.Minute), s.now()
			} else {
				r.AppointmentID = d.addAppointment(w.ConsultationID, u.Start.In(d.loc), s.now())
			}
		}
	}
	if p := d.patients[w.PatientID]; p != nil && (u.PatientName != nil || u.PatientWeight != nil) {
		if u.PatientName != nil {
			p.Name = *u.PatientName
		}
		if u.PatientWeight != nil {
			wt := *u.PatientWeight
			p.Weight = &wt
		}
		p.Modified = s.now()
	}
	s.touchLocked(w)
	return s.itemLocked(w), nil
}

func (s *Server) setStatus(worklistID, status int) (Item, error) {
	return s.UpdateReferral(worklistID, ReferralUpdate{Status: &status})
}

// CancelReferral sets status 4, as a vet cancelling the order in Provet.
func (s *Server) CancelReferral(worklistID int) (Item, error) {
	return s.setStatus(worklistID, StatusCancelled)
}

// CompleteReferral sets status 3.
func (s *Server) CompleteReferral(worklistID int) (Item, error) {
	return s.setStatus(worklistID, StatusCompleted)
}

// DeleteReferral removes the item and its referral; the list no longer shows
// it and its detail answers 404.
func (s *Server) DeleteReferral(worklistID int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.data.worklist[worklistID]
	if w == nil {
		return fmt.Errorf("worklist %d: %w", worklistID, ErrNotFound)
	}
	delete(s.data.referrals, w.ReferralID)
	delete(s.data.worklist, worklistID)
	return nil
}

// RunDemo adds a random referral every interval until ctx ends, as a busy
// clinic would.
func (s *Server) RunDemo(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if it, err := s.CreateReferral(ReferralFields{}); err == nil {
				s.log.Info("demo referral added", "worklist_id", it.WorklistID, "modality", it.Modality)
			}
		}
	}
}

// SetDemo switches the demo ticker on (every interval) or off. Switching it
// off returns only once the ticker has stopped, so nothing is added after.
// It also stops with Close.
func (s *Server) SetDemo(on bool, every time.Duration) {
	s.demoMu.Lock()
	defer s.demoMu.Unlock()
	if s.demoStop != nil {
		s.demoStop()
		s.demoStop = nil
	}
	if on {
		ctx, cancel := context.WithCancel(s.ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.RunDemo(ctx, every)
		}()
		s.demoStop = func() { cancel(); <-done }
	}
}

// routeSim is the control API for scripts. It has no authentication, by
// design, and is not subject to faults.
func (s *Server) routeSim(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sim/referrals", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Items())
	})
	mux.HandleFunc("POST /_sim/referrals", func(w http.ResponseWriter, r *http.Request) {
		var f ReferralFields
		if !decodeSim(w, r, &f) {
			return
		}
		it, err := s.CreateReferral(f)
		simAnswer(w, http.StatusCreated, it, err)
	})
	mux.HandleFunc("PATCH /_sim/referrals/{id}", func(w http.ResponseWriter, r *http.Request) {
		var u ReferralUpdate
		if !decodeSim(w, r, &u) {
			return
		}
		it, err := s.UpdateReferral(simID(r), u)
		simAnswer(w, http.StatusOK, it, err)
	})
	mux.HandleFunc("POST /_sim/referrals/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		it, err := s.CancelReferral(simID(r))
		simAnswer(w, http.StatusOK, it, err)
	})
	mux.HandleFunc("POST /_sim/referrals/{id}/complete", func(w http.ResponseWriter, r *http.Request) {
		it, err := s.CompleteReferral(simID(r))
		simAnswer(w, http.StatusOK, it, err)
	})
	mux.HandleFunc("DELETE /_sim/referrals/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := s.DeleteReferral(simID(r))
		simAnswer(w, http.StatusNoContent, nil, err)
	})
	mux.HandleFunc("GET /_sim/patches", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Patches())
	})
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, faultsToWire(s.Faults()))
	})
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var fw faultsWire
		if !decodeSim(w, r, &fw) {
			return
		}
		f, err := fw.faults()
		if err != nil {
			simAnswer(w, 0, nil, err)
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, faultsToWire(f))
	})
	mux.HandleFunc("POST /_sim/revoke_all", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeAllTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sim/demo", func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			On    bool   `json:"on"`
			Every string `json:"every"`
		}
		if !decodeSim(w, r, &d) {
			return
		}
		every := time.Minute
		if d.Every != "" {
			e, err := time.ParseDuration(d.Every)
			if err != nil || e < 100*time.Millisecond {
				simAnswer(w, 0, nil, fmt.Errorf("every %q: use a duration of at least 100ms such as 60s", d.Every))
				return
			}
			every = e
		}
		s.SetDemo(d.On, every)
		w.WriteHeader(http.StatusNoContent)
	})
}

// faultsWire is Faults for scripts, with latency in words ("250ms").
type faultsWire struct {
	ErrorRate        float64 `json:"error_rate"`
	DropRate         float64 `json:"drop_rate"`
	DropResponseRate float64 `json:"drop_response_rate"`
	DropResponseOf   string  `json:"drop_response_method,omitempty"`
	Latency          string  `json:"latency"`
	Outage           bool    `json:"outage"`
}

func faultsToWire(f Faults) faultsWire {
	return faultsWire{ErrorRate: f.ErrorRate, DropRate: f.DropRate, DropResponseRate: f.DropResponseRate, DropResponseOf: f.DropResponseMethod, Latency: f.Latency.String(), Outage: f.Outage}
}

func (fw faultsWire) faults() (Faults, error) {
	f := Faults{ErrorRate: fw.ErrorRate, DropRate: fw.DropRate, DropResponseRate: fw.DropResponseRate,
		DropResponseMethod: fw.DropResponseOf, Outage: fw.Outage}
	if fw.Latency != "" {
		d, err := time.ParseDuration(fw.Latency)
		if err != nil || d < 0 {
			return f, fmt.Errorf("latency %q: use a duration such as 250ms", fw.Latency)
		}
		f.Latency = d
	}
	for _, r := range []float64{f.ErrorRate, f.DropRate, f.DropResponseRate} {
		if r < 0 || r > 1 {
			return f, errors.New("error_rate, drop_rate and drop_response_rate are shares between 0 and 1")
		}
	}
	return f, nil
}

func simID(r *http.Request) int {
	id, _ := strconv.Atoi(r.PathValue("id")) // 0 is never a worklist id: it reads as not found
	return id
}

func decodeSim(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields() // a typo in a test script should fail loudly
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return false
	}
	return true
}

func simAnswer(w http.ResponseWriter, status int, v any, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case v == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, v)
	}
}
