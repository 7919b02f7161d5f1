package provetsim

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Provet's per-minute budgets per user and endpoint. Endpoints without a
// published figure get defaultBudget.
var budgets = map[string]int{
	"worklist.list":       250,
	"worklist.detail":     1000,
	"worklist.patch":      300,
	"referral.detail":     300,
	"modality.list":       100,
	"targetarea.list":     100,
	"patient.detail":      1200,
	"client.detail":       500,
	"consultation.detail": 300,
	"appointment.detail":  900,
	"user.detail":         300,
}

const defaultBudget = 300

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// apiHandler is an authenticated, rate-limited endpoint.
type apiHandler func(w http.ResponseWriter, r *http.Request, rr renderer)

func (s *Server) api(endpoint string, h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.count(endpoint)
		_, tok := s.bearer(w, r)
		if tok == "" {
			return
		}
		q := s.quirksNow()
		if res, no := q.forbidden(r); no {
			s.count("forbidden")
			detail(w, http.StatusForbidden, "You do not have permission to perform this action. ("+res+")")
			return
		}
		cost := 1
		if endpointIsList(endpoint) {
			// A bigger page costs page_size/50 requests, as Provet charges.
			cost = max(1, (pageSize(r)+defaultPageSize-1)/defaultPageSize)
		}
		budget := budgets[endpoint]
		if budget == 0 {
			budget = defaultBudget
		}
		budget = max(1, int(math.Round(float64(budget)*s.opts.RateScale)))
		s.mu.Lock()
		ok, retry := s.limiter.allow(tok+"|"+endpoint, budget, cost, s.now(), s.opts.RateWindow)
		s.mu.Unlock()
		if !ok {
			s.count("throttled")
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			detail(w, http.StatusTooManyRequests, "Request was throttled. Expected available in "+strconv.Itoa(int(math.Ceil(retry.Seconds())))+" seconds.")
			return
		}
		h(w, r, renderer{api: "http://" + r.Host + "/" + s.opts.ProvetID + "/api/0.1/", loc: s.opts.Location, q: q})
	}
}

func endpointIsList(e string) bool {
	return e == "worklist.list" || e == "modality.list" || e == "targetarea.list"
}

func pageSize(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page_size"))
	if err != nil || n < 1 {
		return defaultPageSize
	}
	return min(n, maxPageSize) // DRF clamps to max_page_size rather than failing
}

func (s *Server) routeAPI(mux *http.ServeMux, a string) {
	mux.HandleFunc("GET "+a+"diagnosticimaging_worklist/{$}", s.api("worklist.list", s.listWorklist))
	mux.HandleFunc("GET "+a+"diagnosticimaging_worklist/{id}/{$}", s.api("worklist.detail", s.getWorklist))
	mux.HandleFunc("PATCH "+a+"diagnosticimaging_worklist/{id}/{$}", s.api("worklist.patch", s.patchWorklist))
	s.routeSearch(mux, a) // search.go: the walk-in's patient search
	mux.HandleFunc("GET "+a+"diagnosticimaging_referral/{id}/{$}", s.api("referral.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		if x := d.referrals[id]; x != nil {
			return rr.referral(x)
		}
		return nil
	})))
	mux.HandleFunc("GET "+a+"appointment/{id}/{$}", s.api("appointment.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		if x := d.appointments[id]; x != nil {
			return rr.appointment(x)
		}
		return nil
	})))
	mux.HandleFunc("GET "+a+"patient/{id}/{$}", s.api("patient.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		if x := d.patients[id]; x != nil {
			return rr.patient(x)
		}
		return nil
	})))
	mux.HandleFunc("GET "+a+"client/{id}/{$}", s.api("client.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		x := d.clients[id]
		if x == nil {
			return nil
		}
		return rr.client(x, d.patientIDsOf(id))
	})))
	mux.HandleFunc("GET "+a+"consultation/{id}/{$}", s.api("consultation.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		c := d.consultations[id]
		if c == nil {
			return nil
		}
		_, expose := r.URL.Query()["expose_patients"]
		out := consultationJSON{ID: c.ID, URL: rr.url("consultation", c.ID), Client: rr.url("client", c.ClientID),
			Patients: []any{}, Status: c.Status, Created: rr.ts(c.Created, tsMicroOffset), Modified: rr.ts(c.Modified, tsMicroOffset)}
		for _, pid := range c.PatientIDs {
			if p := d.patients[pid]; p != nil && expose {
				out.Patients = append(out.Patients, rr.inline(rr.patient(p), "url", "name", "client"))
			} else {
				out.Patients = append(out.Patients, rr.url("patient", pid))
			}
		}
		return out
	})))
	mux.HandleFunc("GET "+a+"user/{id}/{$}", s.api("user.detail", s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		if u := d.users[id]; u != nil {
			return rr.user(u)
		}
		return nil
	})))
	namedDetail := func(kind string, list func(d *dataset) []named) apiHandler {
		return s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
			for _, n := range list(d) {
				if n.ID == id {
					return namedJSON{ID: n.ID, URL: rr.url(kind, n.ID), Name: n.Name}
				}
			}
			return nil
		})
	}
	for _, ref := range []struct {
		kind string
		list func(d *dataset) []named
	}{
		{"modality", func(d *dataset) []named { return d.modalities }},
		{"targetarea", func(d *dataset) []named { return d.targetAreas }},
		{"department", func(d *dataset) []named { return d.departments }},
	} {
		mux.HandleFunc("GET "+a+ref.kind+"/{$}", s.api(ref.kind+".list", func(w http.ResponseWriter, r *http.Request, rr renderer) {
			s.mu.Lock()
			all := slices.Clone(ref.list(s.data))
			s.mu.Unlock()
			paginate(w, r, len(all), func(lo, hi int) any {
				out := make([]namedJSON, 0, hi-lo)
				for _, n := range all[lo:hi] {
					out = append(out, namedJSON{ID: n.ID, URL: rr.url(ref.kind, n.ID), Name: n.Name})
				}
				return out
			})
		}))
		mux.HandleFunc("GET "+a+ref.kind+"/{id}/{$}", s.api(ref.kind+".detail", namedDetail(ref.kind, ref.list)))
	}
}

// detailOf serves one object by id; find returns nil when there is none.
func (s *Server) detailOf(find func(d *dataset, id int, rr renderer, r *http.Request) any) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, rr renderer) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			detail(w, http.StatusNotFound, "Not found.")
			return
		}
		s.mu.Lock()
		v := find(s.data, id, rr, r)
		s.mu.Unlock()
		if v == nil {
			detail(w, http.StatusNotFound, "Not found.")
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// paginate writes a Provet page of n items; slice renders items [lo, hi).
func paginate(w http.ResponseWriter, r *http.Request, n int, slice func(lo, hi int) any) {
	size := pageSize(r)
	pages := max(1, (n+size-1)/size)
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > pages {
			detail(w, http.StatusNotFound, "Invalid page.")
			return
		}
		page = p
	}
	lo, hi := (page-1)*size, min(page*size, n)
	link := func(p int) *string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		u := "http://" + r.Host + r.URL.Path + "?" + q.Encode()
		return &u
	}
	out := pageJSON{Count: n, NumPages: pages, Results: slice(lo, hi)}
	if page < pages {
		out.Next = link(page + 1)
	}
	if page > 1 {
		out.Previous = link(page - 1)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listWorklist(w http.ResponseWriter, r *http.Request, rr renderer) {
	f, err := parseWorklistFilter(r.URL.Query(), s.opts.Location, rr.q)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"filter": {err.Error()}})
		return
	}
	ex := rr.exposeSet(r.URL.Query())
	s.mu.Lock()
	var matched []*worklistItem
	for _, it := range s.data.worklist {
		if f.match(it) {
			matched = append(matched, it)
		}
	}
	slices.SortFunc(matched, func(a, b *worklistItem) int { return a.ID - b.ID })
	items := make([]any, len(matched))
	for i, it := range matched {
		items[i] = rr.exposedWorklist(s.data, it, ex)
	}
	s.mu.Unlock()
	paginate(w, r, len(items), func(lo, hi int) any { return items[lo:hi] })
}

func (s *Server) getWorklist(w http.ResponseWriter, r *http.Request, rr renderer) {
	s.detailOf(func(d *dataset, id int, rr renderer, r *http.Request) any {
		if x := d.worklist[id]; x != nil {
			return rr.exposedWorklist(d, x, rr.exposeSet(r.URL.Query()))
		}
		return nil
	})(w, r, rr)
}

// Patch is one PATCH the simulator received after authentication and the
// rate limit, valid or not, with the status it was answered (200 applied).
type Patch struct {
	WorklistID int
	Body       json.RawMessage
	At         time.Time
	Status     int // HTTP status of the answer
	// Sent is the "status" number in the body as the tenant numbers it (see
	// Quirks.StatusCodes), 0 when the body set none or not a number; State
	// is the simulator state (1..4) it stands for, 0 when none.
	Sent  int
	State int
}

// Patches returns every PATCH received on the worklist, oldest first.
func (s *Server) Patches() []Patch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.patches)
}

func (s *Server) patchWorklist(w http.ResponseWriter, r *http.Request, rr renderer) {
	id, _ := strconv.Atoi(r.PathValue("id")) // 0 is never an id: it answers 404 below
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	s.mu.Lock()
	defer s.mu.Unlock()
	status, answer := s.applyPatchLocked(id, body, err, rr)
	p := Patch{WorklistID: id, Body: json.RawMessage(body), At: s.now(), Status: status}
	var sent struct {
		Status *int `json:"status"`
	}
	if json.Unmarshal(body, &sent) == nil && sent.Status != nil {
		p.Sent, p.State = *sent.Status, rr.q.StatusCodes.State(*sent.Status)
	}
	s.patches = append(s.patches, p)
	writeJSON(w, status, answer)
}

func (s *Server) applyPatchLocked(id int, body []byte, readErr error, rr renderer) (int, any) {
	if readErr != nil {
		return http.StatusBadRequest, map[string]string{"detail": "The request body could not be read or is over 64 KiB."}
	}
	it := s.data.worklist[id]
	if it == nil {
		return http.StatusNotFound, map[string]string{"detail": "Not found."}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return http.StatusBadRequest, map[string]string{"detail": "JSON parse error - " + err.Error()}
	}
	if raw, ok := fields["status"]; ok {
		var wire int
		err := json.Unmarshal(raw, &wire)
		st := rr.q.StatusCodes.State(wire)
		if err != nil || st == 0 {
			return http.StatusBadRequest, map[string][]string{"status": {`"` + string(raw) + `" is not a valid choice.`}}
		}
		it.Status = st
	}
	// Like Django REST framework, unknown fields are ignored; the save still touches modified.
	s.touchLocked(it)
	return http.StatusOK, rr.worklist(it)
}

// hit is one admitted request in a rolling window.
type hit struct {
	at   time.Time
	cost int
}

type limiter struct {
	hits map[string][]hit
}

// allow admits a request of cost within budget over the window ending at now,
// or says how long until enough of the window has expired.
func (l *limiter) allow(key string, budget, cost int, now time.Time, window time.Duration) (bool, time.Duration) {
	hs := l.hits[key]
	i := 0
	for i < len(hs) && !hs[i].at.After(now.Add(-window)) {
		i++
	}
	hs = hs[i:]
	used := 0
	for _, h := range hs {
		used += h.cost
	}
	if used+cost > budget {
		l.hits[key] = hs
		// Wait until enough of the oldest hits have left the window.
		need, retry := used+cost-budget, time.Second
		for _, h := range hs {
			need -= h.cost
			retry = h.at.Add(window).Sub(now)
			if need <= 0 {
				break
			}
		}
		return false, max(retry, time.Second)
	}
	l.hits[key] = append(hs, hit{at: now, cost: cost})
	return true, 0
}
