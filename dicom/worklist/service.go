package worklist

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// DIMSE statuses Find returns.
const (
	StatusSuccess         uint16 = 0x0000
	StatusCancel          uint16 = 0xFE00
	StatusNotWorklist     uint16 = 0xA900 // identifier does not match SOP class
	StatusUnableToProcess uint16 = 0xC000
)

// Profile is how VetBridge treats one device, looked up by its calling AE.
type Profile struct {
	// Charset of the answers; CharsetAuto picks per answer.
	Charset Charset
	// StationFromCalling uses the calling AE as Scheduled Station AE when the
	// query sends none or `*`, so a device sees only its own items.
	StationFromCalling bool
	// DaysBefore and DaysAfter make the date window used when a broad query
	// has no date: today-DaysBefore to today+DaysAfter. -1 leaves that side
	// open. A query that names a patient or an order searches every date
	// (Query.namesPatientOrOrder).
	DaysBefore, DaysAfter int
	// ShowStarted lists items already STARTED, COMPLETED or DISCONTINUED.
	ShowStarted bool
	// Modalities restricts a query that sends no modality to these.
	Modalities []string
}

// DefaultProfile serves a device nobody configured: any station, yesterday to
// tomorrow (a today-only window hides the animal booked just after midnight),
// finished steps hidden.
func DefaultProfile() Profile {
	return Profile{DaysBefore: 1, DaysAfter: 1}
}

// Apply returns q as the profile makes it for a query from callingAE at now.
// Keys the profile adds are marked Injected (matched, not returned); values it
// sets are marked Profile, so Explain can say the device did not ask for them.
func (p Profile) Apply(q Query, callingAE string, now time.Time) Query {
	q = q.Clone()
	q.CallingAE = strings.TrimSpace(callingAE)
	q.Today = now.Format("20060102")
	if p.StationFromCalling && q.CallingAE != "" {
		k, ok := q.Key(tagStationAE, true)
		if !ok || k.Universal() {
			nk := Key{Tag: tagStationAE, Name: "ScheduledStationAETitle", VR: "AE", InSPS: true,
				Value: q.CallingAE, Profile: true, Injected: !ok}
			q.setKey(nk)
		}
	}
	dk, hasDate := q.Key(tagSPSStartDate, true)
	noDate := !hasDate || dk.Universal() || dk.Note != ""
	if noDate && !q.namesPatientOrOrder() && (p.DaysBefore >= 0 || p.DaysAfter >= 0) {
		var lo, hi string
		if p.DaysBefore >= 0 {
			lo = now.AddDate(0, 0, -p.DaysBefore).Format("20060102")
		}
		if p.DaysAfter >= 0 {
			hi = now.AddDate(0, 0, p.DaysAfter).Format("20060102")
		}
		q.setKey(Key{Tag: tagSPSStartDate, Name: "ScheduledProcedureStepStartDate", VR: "DA", InSPS: true,
			Value: lo + "-" + hi, Profile: true, Injected: !hasDate})
	}
	// A device that asks for a status by name gets it, whatever the profile hides.
	sk, hasStatus := q.Key(tagSPSStatus, true)
	if !p.ShowStarted && (!hasStatus || sk.Universal()) {
		q.HiddenStatuses = []string{"STARTED", "COMPLETED", "DISCONTINUED"}
	}
	if len(p.Modalities) > 0 {
		q.Modalities = append([]string(nil), p.Modalities...)
	}
	return q
}

// Request is one C-FIND as the server hands it over.
type Request struct {
	CallingAE, CalledAE, Addr string
	BigEndian, Implicit       bool
	Identifier                []byte
}

// QueryRecord tells the app what one query asked and got, for the query log
// and the explain view. Keys and Query may hold patient names.
type QueryRecord struct {
	Time      time.Time     `json:"time"`
	CallingAE string        `json:"callingAE"`
	CalledAE  string        `json:"calledAE"`
	Addr      string        `json:"addr"`
	Keys      []string      `json:"keys"`
	Query     Query         `json:"query"`
	Matches   int           `json:"matches"`
	Duration  time.Duration `json:"duration"`
	Status    uint16        `json:"status"`
	Charset   string        `json:"charset,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// Service answers worklist queries from the index.
type Service struct {
	Index *Index
	// Profile returns the profile for a calling AE; nil means DefaultProfile.
	Profile func(callingAE string) Profile
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnQuery, when set, receives a record of every query after it finished.
	OnQuery func(QueryRecord)
	// Log receives operational messages; nil means slog.Default().
	Log *slog.Logger
}

// Find answers one C-FIND: it streams each encoded match through send as it is
// produced and returns the final status. It stops at ctx cancellation
// (C-CANCEL) or when send fails. send may keep an identifier but must not
// modify it: answers are shared with later queries of the same shape.
func (s *Service) Find(ctx context.Context, req Request, send func([]byte) error) uint16 {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	start := now()
	rec := QueryRecord{Time: start, CallingAE: req.CallingAE, CalledAE: req.CalledAE, Addr: req.Addr}
	defer func() {
		rec.Duration = now().Sub(start)
		log.Debug("worklist query", "calling_ae", rec.CallingAE, "addr", rec.Addr,
			"matches", rec.Matches, "status", rec.Status, "duration", rec.Duration)
		if s.OnQuery != nil {
			s.OnQuery(rec)
		}
	}()

	q, err := DecodeQuery(req.Identifier, req.BigEndian, req.Implicit)
	rec.Keys = q.Readable()
	if err != nil {
		rec.Query, rec.Error = q, err.Error()
		rec.Status = StatusUnableToProcess
		if errors.Is(err, ErrNotWorklistQuery) {
			rec.Status = StatusNotWorklist
		}
		log.Warn("worklist query refused", "calling_ae", req.CallingAE, "err", err)
		return rec.Status
	}
	prof := DefaultProfile()
	if s.Profile != nil {
		prof = s.Profile(req.CallingAE)
	}
	q = prof.Apply(q, req.CallingAE, start)
	rec.Query = q
	if s.Index == nil {
		rec.Status, rec.Error = StatusUnableToProcess, "no worklist index"
		return rec.Status
	}
	matches := sortItems(s.Index.match(compile(q)))
	used := map[Charset]bool{}
	plan := newAnswerPlan(&q)
	for _, it := range matches {
		if ctx.Err() != nil {
			rec.Status = StatusCancel
			return rec.Status
		}
		cs, b := plan.encodeEntry(it, prof.Charset, req.BigEndian, req.Implicit)
		used[cs] = true
		if err := send(b); err != nil {
			rec.Status, rec.Error = StatusCancel, err.Error()
			if ctx.Err() == nil {
				rec.Status = StatusUnableToProcess
			}
			return rec.Status
		}
		rec.Matches++
	}
	var names []string
	for _, c := range []Charset{CharsetLatin1, CharsetUTF8, CharsetASCII} {
		if used[c] {
			names = append(names, string(c))
		}
	}
	rec.Charset = strings.Join(names, `\`)
	rec.Status = StatusSuccess
	return rec.Status
}
