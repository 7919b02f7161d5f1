// Package writeback carries status changes from the clinic's modalities and
// technicians to Provet: MPPS requests become local status changes and
// outbox entries in one transaction, and the outbox delivers them to Provet
// in order, never backwards, never reopening what Provet closed, and only
// once the tenant's status values have been confirmed.
package writeback

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/mpps"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/store"
)

// Update is one outbox entry: set a Provet order's status. It is written to
// the store before the modality gets its DIMSE answer, so a crash at any
// point loses no update.
type Update struct {
	Key        string    `json:"key"`
	WorklistID int64     `json:"worklist_id"`
	Status     string    `json:"status"` // provet.Status name: in_progress, completed, ...
	Source     string    `json:"source"` // "mpps <uid>" or "manual"
	By         string    `json:"by,omitempty"`
	At         time.Time `json:"at,omitzero"`
}

// ParseStatus reads a provet.Status name as stored in an Update.
func ParseStatus(s string) provet.Status {
	for st := provet.StatusRequested; st <= provet.StatusCancelled; st++ {
		if st.String() == s {
			return st
		}
	}
	return provet.StatusUnknown
}

// Options wire a Writer to the rest of VetBridge.
type Options struct {
	Repo *records.Repo
	// Client is the Provet API client, nil while signed out.
	Client func() *provet.Client
	// Confirmed says whether someone has checked the tenant's status values
	// against Provet's own screens; until then nothing is sent.
	Confirmed func() bool
	// OnDiscontinued is the status an exam the modality discontinued sends
	// its order back to.
	OnDiscontinued func() provet.Status
	Now            func() time.Time
	Log            *slog.Logger
	// OnChange runs when the outbox changed (counts, parked entries).
	OnChange func()
	// OnUnscheduled runs for a performed step that matches no open order.
	OnUnscheduled func(step mpps.Step, by string)
}

// Writer is the MPPS handler and the outbox.
type Writer struct {
	o    Options
	wake chan struct{}
	// mu serialises MPPS handling: a step's read-validate-write must not
	// interleave with another request for the same instance.
	mu sync.Mutex

	stateMu sync.Mutex
	state   State
	undo    map[string]undoable // by referral key
}

// New returns a Writer; Run delivers its outbox.
func New(o Options) *Writer {
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.OnUnscheduled == nil {
		o.OnUnscheduled = func(mpps.Step, string) {}
	}
	return &Writer{o: o, wake: make(chan struct{}, 1)}
}

// Wake makes Run look at the outbox at once, as after a confirmation or a
// new sign-in.
func (w *Writer) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func failure(status uint16, comment string) scp.MPPSResponse {
	return scp.MPPSResponse{Status: status, ErrorComment: comment}
}

func refused(f *mpps.Failure) scp.MPPSResponse {
	return scp.MPPSResponse{Status: f.Status, ErrorID: f.ErrorID, ErrorComment: f.Comment, AttributeIdentifiers: f.Tags}
}

// device names who sent a request, for the audit trail.
func device(p scp.Peer) string {
	host := p.Addr
	if h, _, ok := cutPort(p.Addr); ok {
		host = h
	}
	return p.CallingAE + ", " + host
}

// NCreate starts a performed procedure step: the order shows STARTED and
// Provet is told it is in progress.
func (w *Writer) NCreate(ctx context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	w.mu.Lock()
	defer w.mu.Unlock()
	existing := false
	if req.SOPInstanceUID != "" {
		_, ok, err := w.o.Repo.Store().GetStep(req.SOPInstanceUID)
		if err != nil {
			return failure(mpps.StatusProcessingFailure, "cannot read the step store")
		}
		existing = ok
	}
	step, f := mpps.Create(req.SOPInstanceUID, req.Dataset, req.Syntax.BigEndian, req.Syntax.Implicit, existing)
	if f != nil {
		w.o.Log.Warn("MPPS N-CREATE refused", "calling_ae", req.Peer.CallingAE, "status", fmt.Sprintf("0x%04X", f.Status), "why", f.Comment)
		return refused(f)
	}
	if err := w.saveStep(step, provet.StatusInProgress, "STARTED", device(req.Peer)); err != nil {
		w.o.Log.Error("MPPS step not saved", "err", err)
		return failure(mpps.StatusProcessingFailure, "VetBridge could not save the step; retry")
	}
	return scp.MPPSResponse{Status: mpps.StatusSuccess, AffectedSOPInstanceUID: step.SOPInstanceUID}
}

// NSet updates a step; COMPLETED and DISCONTINUED move the order.
func (w *Writer) NSet(ctx context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, ok, err := w.o.Repo.Store().GetStep(req.SOPInstanceUID)
	if err != nil {
		return failure(mpps.StatusProcessingFailure, "cannot read the step store")
	}
	if !ok {
		return refused(mpps.NoSuchInstance())
	}
	var cur mpps.Step
	if err := json.Unmarshal(b, &cur); err != nil {
		return failure(mpps.StatusProcessingFailure, "stored step unreadable")
	}
	step, f := mpps.Set(cur, req.Dataset, req.Syntax.BigEndian, req.Syntax.Implicit)
	if f != nil {
		w.o.Log.Warn("MPPS N-SET refused", "calling_ae", req.Peer.CallingAE, "status", fmt.Sprintf("0x%04X", f.Status), "why", f.Comment)
		return refused(f)
	}
	target, sps := provet.StatusUnknown, ""
	switch step.Status {
	case mpps.Completed:
		target, sps = provet.StatusCompleted, "COMPLETED"
	case mpps.Discontinued:
		target, sps = w.o.OnDiscontinued(), "DISCONTINUED"
	}
	if err := w.saveStep(step, target, sps, device(req.Peer)); err != nil {
		w.o.Log.Error("MPPS step not saved", "err", err)
		return failure(mpps.StatusProcessingFailure, "VetBridge could not save the step; retry")
	}
	return scp.MPPSResponse{Status: mpps.StatusSuccess}
}

// saveStep stores the step and, when it changes an order's status, the
// outbox entry for Provet, in one transaction. The local item then shows the
// new state at once, for the technician and the devices' next query.
func (w *Writer) saveStep(step mpps.Step, target provet.Status, spsStatus, by string) error {
	now := w.o.Now()
	step.Updated = now
	b, err := json.Marshal(step)
	if err != nil {
		return err
	}
	rec, linked := w.o.Repo.ForStep(step)
	var entry *store.Entry
	if linked && rec.Source == records.SourceProvet && target != provet.StatusUnknown {
		u := Update{Key: rec.Item.Key, WorklistID: int64(rec.ProvetID), Status: target.String(),
			Source: "mpps " + step.SOPInstanceUID, By: by, At: now}
		p, err := json.Marshal(u)
		if err != nil {
			return err
		}
		entry = &store.Entry{DedupKey: "mpps/" + step.SOPInstanceUID + "/" + step.Status, Payload: p}
	}
	if err := w.o.Repo.Store().PutStepAndEnqueue(step.SOPInstanceUID, b, entry); err != nil {
		return err
	}
	switch {
	case linked && spsStatus != "":
		w.setLocalStatus(rec, spsStatus, by)
	case !linked:
		w.o.Log.Warn("exam performed without an open worklist entry (no open order matches its MPPS)",
			"station", step.PerformedStationAE, "patient_id", step.PatientID, "status", step.Status)
		w.o.OnUnscheduled(step, by)
	}
	if entry != nil {
		w.Wake()
		w.o.OnChange()
	}
	return nil
}

// setLocalStatus records what the modality or the technician did, and who,
// so the worklist shows it before Provet confirms.
func (w *Writer) setLocalStatus(rec records.Record, spsStatus, by string) {
	now := w.o.Now()
	rec.Audit = append(rec.Audit, records.AuditEntry{At: now, By: by, From: cmp.Or(rec.Item.SPSStatus, "SCHEDULED"), To: spsStatus})
	rec.Item.SPSStatus = spsStatus
	rec.Item.Updated = now
	if err := w.o.Repo.Apply([]records.Record{rec}, nil); err != nil {
		w.o.Log.Error("update local status", "err", err)
	}
}

// UndoWindow is how long a technician's "done" can be taken back: the
// update waits in the outbox that long before it goes to Provet.
const UndoWindow = 15 * time.Second

// undoable is a MarkDone that can still be taken back.
type undoable struct {
	id    uint64 // outbox entry; 0 for a referral that is not Provet's
	until time.Time
	prev  string // the SPS status before
}

// MarkDone is the technician's "done" for an order no modality reported:
// the same durable outbox carries it to Provet once UndoWindow has passed.
// by names the technician.
func (w *Writer) MarkDone(key, by string) (undoUntil time.Time, err error) {
	rec, ok := w.o.Repo.Get(key)
	if !ok {
		return time.Time{}, fmt.Errorf("this referral is no longer on the worklist")
	}
	if !rec.OnWorklist() {
		return time.Time{}, fmt.Errorf("Provet has already closed this order (%s); nothing was changed", rec.ProvetState)
	}
	now := w.o.Now()
	u := undoable{until: now.Add(UndoWindow), prev: cmp.Or(rec.Item.SPSStatus, "SCHEDULED")}
	if rec.Source == records.SourceProvet {
		up := Update{Key: key, WorklistID: int64(rec.ProvetID), Status: provet.StatusCompleted.String(),
			Source: "manual", By: by, At: now}
		p, err := json.Marshal(up)
		if err != nil {
			return time.Time{}, err
		}
		// A marking that was undone may be made again: each one is its own
		// entry.
		dedup := fmt.Sprintf("manual/%s/completed/%d", key, now.UnixNano())
		st := w.o.Repo.Store()
		if u.id, _, err = st.Enqueue(store.Entry{DedupKey: dedup, Payload: p}); err != nil {
			return time.Time{}, fmt.Errorf("could not queue the status update; try again: %w", err)
		}
		if err := st.MarkFailed(u.id, "held while it can be undone", u.until); err != nil {
			return time.Time{}, fmt.Errorf("could not queue the status update; try again: %w", err)
		}
	}
	w.stateMu.Lock()
	if w.undo == nil {
		w.undo = map[string]undoable{}
	}
	w.undo[key] = u
	w.stateMu.Unlock()
	w.setLocalStatus(rec, "COMPLETED", by)
	w.Wake()
	w.o.OnChange()
	return u.until, nil
}

// UndoMarkDone takes a MarkDone back while UndoWindow lasts: the queued
// update is dropped and the referral gets its earlier status again.
func (w *Writer) UndoMarkDone(key string) error {
	w.stateMu.Lock()
	u, ok := w.undo[key]
	delete(w.undo, key)
	w.stateMu.Unlock()
	if !ok || !w.o.Now().Before(u.until) {
		return fmt.Errorf("too late to undo: the update has gone to Provet; change the status in Provet itself")
	}
	if u.id != 0 {
		if err := w.o.Repo.Store().MarkSent(u.id); err != nil {
			return fmt.Errorf("could not take the update back; change the status in Provet if it arrives: %w", err)
		}
	}
	if rec, ok := w.o.Repo.Get(key); ok {
		w.setLocalStatus(rec, u.prev, "undo")
	}
	w.Wake()
	w.o.OnChange()
	return nil
}
