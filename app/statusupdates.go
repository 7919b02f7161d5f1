package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/dicom/mpps"
	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// statusUpdate is one outbox entry: set a Provet order's status. It is
// written to the store before the modality gets its DIMSE answer, so a crash
// at any point loses no update.
type statusUpdate struct {
	Key        string `json:"key"`
	WorklistID int64  `json:"worklist_id"`
	Status     string `json:"status"` // provet.Status name: in_progress, completed, ...
	Source     string `json:"source"` // "mpps <uid>" or "manual"
}

func parseStatusName(s string) provet.Status {
	for st := provet.StatusRequested; st <= provet.StatusCancelled; st++ {
		if st.String() == s {
			return st
		}
	}
	return provet.StatusUnknown
}

// mppsHandler closes the loop: a modality's performed procedure step moves the
// order's status in Provet.
type mppsHandler struct{ a *App }

// mppsMu serialises MPPS handling: a step's read-validate-write must not
// interleave with another request for the same instance.
var mppsMu sync.Mutex

func (h mppsHandler) NCreate(ctx context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	a := h.a
	mppsMu.Lock()
	defer mppsMu.Unlock()
	existing := false
	if req.SOPInstanceUID != "" {
		_, ok, err := a.store.GetStep(req.SOPInstanceUID)
		if err != nil {
			return failure(mpps.StatusProcessingFailure, "cannot read the step store")
		}
		existing = ok
	}
	step, f := mpps.Create(req.SOPInstanceUID, req.Dataset, req.Syntax.BigEndian, req.Syntax.Implicit, existing)
	if f != nil {
		a.log.Warn("MPPS N-CREATE refused", "calling_ae", req.Peer.CallingAE, "status", fmt.Sprintf("0x%04X", f.Status), "why", f.Comment)
		return scp.MPPSResponse{Status: f.Status, ErrorID: f.ErrorID, ErrorComment: f.Comment, AttributeIdentifiers: f.Tags}
	}
	if err := a.saveStep(step, provet.StatusInProgress, "STARTED"); err != nil {
		a.log.Error("MPPS step not saved", "err", err)
		return failure(mpps.StatusProcessingFailure, "VetBridge could not save the step; retry")
	}
	return scp.MPPSResponse{Status: mpps.StatusSuccess, AffectedSOPInstanceUID: step.SOPInstanceUID}
}

func (h mppsHandler) NSet(ctx context.Context, req scp.MPPSRequest) scp.MPPSResponse {
	a := h.a
	mppsMu.Lock()
	defer mppsMu.Unlock()
	b, ok, err := a.store.GetStep(req.SOPInstanceUID)
	if err != nil {
		return failure(mpps.StatusProcessingFailure, "cannot read the step store")
	}
	if !ok {
		f := mpps.NoSuchInstance()
		return scp.MPPSResponse{Status: f.Status, ErrorID: f.ErrorID, ErrorComment: f.Comment, AttributeIdentifiers: f.Tags}
	}
	var cur mpps.Step
	if err := json.Unmarshal(b, &cur); err != nil {
		return failure(mpps.StatusProcessingFailure, "stored step unreadable")
	}
	step, f := mpps.Set(cur, req.Dataset, req.Syntax.BigEndian, req.Syntax.Implicit)
	if f != nil {
		a.log.Warn("MPPS N-SET refused", "calling_ae", req.Peer.CallingAE, "status", fmt.Sprintf("0x%04X", f.Status), "why", f.Comment)
		return scp.MPPSResponse{Status: f.Status, ErrorID: f.ErrorID, ErrorComment: f.Comment, AttributeIdentifiers: f.Tags}
	}
	target, sps := provet.StatusUnknown, ""
	switch step.Status {
	case mpps.Completed:
		target, sps = provet.StatusCompleted, "COMPLETED"
	case mpps.Discontinued:
		target, sps = parseStatusName(a.Config().OnDiscontinued), "DISCONTINUED"
	}
	if err := a.saveStep(step, target, sps); err != nil {
		a.log.Error("MPPS step not saved", "err", err)
		return failure(mpps.StatusProcessingFailure, "VetBridge could not save the step; retry")
	}
	return scp.MPPSResponse{Status: mpps.StatusSuccess}
}

func failure(status uint16, comment string) scp.MPPSResponse {
	return scp.MPPSResponse{Status: status, ErrorComment: comment}
}

// saveStep stores the step and, when it changes an order's status, the
// outbox entry for Provet, in one transaction. The local item then shows the
// new state at once, for the technician and the devices' next query.
func (a *App) saveStep(step mpps.Step, target provet.Status, spsStatus string) error {
	step.Updated = a.now()
	b, err := json.Marshal(step)
	if err != nil {
		return err
	}
	rec, linked := a.linkStep(step)
	var entry *store.Entry
	if linked && rec.Source == "provet" && target != provet.StatusUnknown {
		u := statusUpdate{Key: rec.Item.Key, WorklistID: int64(rec.ProvetID), Status: target.String(), Source: "mpps " + step.SOPInstanceUID}
		p, err := json.Marshal(u)
		if err != nil {
			return err
		}
		entry = &store.Entry{DedupKey: "mpps/" + step.SOPInstanceUID + "/" + step.Status, Payload: p}
	}
	if err := a.store.PutStepAndEnqueue(step.SOPInstanceUID, b, entry); err != nil {
		return err
	}
	switch {
	case linked && spsStatus != "":
		a.setLocalStatus(rec, spsStatus)
	case !linked:
		a.mu.Lock()
		a.unscheduled++
		a.mu.Unlock()
		a.log.Warn("unscheduled exam performed (no worklist item matches its MPPS)", "station", step.PerformedStationAE,
			"patient_id", step.PatientID, "status", step.Status)
		a.setStatus(func(s *Status) {
			s.Message = fmt.Sprintf("An exam on %s was performed without a worklist entry (patient id %q); link it in Provet by hand.",
				step.PerformedStationAE, step.PatientID)
		})
	}
	if entry != nil {
		signal(a.outboxWake)
	}
	return nil
}

// linkStep finds the order a step performed: by SPS ID, then accession
// number, then Study Instance UID (mpps.Link's order).
func (a *App) linkStep(step mpps.Step) (record, bool) {
	refs := mpps.Link(step)
	if len(refs) == 0 {
		return record{}, false
	}
	var all []record
	_ = a.store.AllItems(func(si store.Item) error {
		if rec, err := decodeRecord(si.Data); err == nil {
			all = append(all, rec)
		}
		return nil
	})
	for _, ref := range refs {
		for _, rec := range all {
			var v string
			switch ref.Field {
			case mpps.LinkSPSID:
				v = rec.Item.SPSID
			case mpps.LinkAccession:
				v = rec.Item.AccessionNumber
			case mpps.LinkStudyUID:
				v = rec.Item.StudyInstanceUID
			}
			if v != "" && v == ref.Value {
				return rec, true
			}
		}
	}
	return record{}, false
}

// setLocalStatus records what the modality or the technician did, so the
// worklist shows it before Provet confirms.
func (a *App) setLocalStatus(rec record, spsStatus string) {
	rec.Item.SPSStatus = spsStatus
	rec.Item.Updated = a.now()
	if err := a.putRecords([]record{rec}, nil); err != nil {
		a.log.Error("update local status", "err", err)
	}
}

// MarkDone is the technician's "done" for an order no modality reported:
// the same durable outbox carries it to Provet.
func (a *App) MarkDone(ctx context.Context, key string) error {
	rec, ok := a.getRecord(key)
	if !ok {
		return fmt.Errorf("this referral is no longer on the worklist")
	}
	if rec.Source == "provet" {
		u := statusUpdate{Key: key, WorklistID: int64(rec.ProvetID), Status: provet.StatusCompleted.String(), Source: "manual"}
		p, err := json.Marshal(u)
		if err != nil {
			return err
		}
		if _, _, err := a.store.Enqueue(store.Entry{DedupKey: "manual/" + key + "/completed", Payload: p}); err != nil {
			return fmt.Errorf("could not queue the status update; try again: %w", err)
		}
		signal(a.outboxWake)
	}
	a.setLocalStatus(rec, "COMPLETED")
	return nil
}

// runOutbox delivers queued status updates to Provet until ctx ends,
// retrying with backoff; entries survive restarts in the store.
func (a *App) runOutbox(ctx context.Context) error {
	for {
		wait := a.drainOutbox(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-a.outboxWake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drainOutbox sends what is due and says how long to sleep.
func (a *App) drainOutbox(ctx context.Context) time.Duration {
	pending, err := a.store.PendingOutbox()
	if err != nil {
		a.log.Error("read the status outbox", "err", err)
		return 30 * time.Second
	}
	a.setPending(len(pending))
	if len(pending) == 0 {
		return time.Hour
	}
	client := a.provetClient()
	if client == nil {
		return 30 * time.Second
	}
	next := time.Hour
	now := a.now()
	for _, e := range pending {
		if e.NextAttempt.After(now) {
			next = min(next, e.NextAttempt.Sub(now))
			continue
		}
		if ctx.Err() != nil {
			return time.Second
		}
		if err := a.deliver(ctx, client, e); err != nil {
			delay := outboxBackoff(e.Attempts + 1)
			if errors.Is(err, provet.ErrThrottled) {
				var ae *provet.APIError
				if errors.As(err, &ae) && ae.RetryAfter > delay {
					delay = ae.RetryAfter
				}
			}
			a.log.Warn("status update not delivered; will retry", "worklist_key", e.DedupKey, "err", err, "in", delay.Round(time.Second))
			_ = a.store.MarkFailed(e.ID, err.Error(), a.now().Add(delay))
			next = min(next, delay)
			continue
		}
		if err := a.store.MarkSent(e.ID); err != nil {
			a.log.Error("status update delivered but not marked sent", "err", err)
		}
	}
	if rest, err := a.store.PendingOutbox(); err == nil {
		a.setPending(len(rest))
	}
	return max(next, time.Second)
}

// deliver PATCHes one update. After an interrupted attempt (a crash or a
// lost answer) it first reads the order back, so an update Provet already
// applied is never sent twice.
func (a *App) deliver(ctx context.Context, client *provet.Client, e store.OutboxEntry) error {
	var u statusUpdate
	if err := json.Unmarshal(e.Payload, &u); err != nil {
		a.log.Error("dropping an unreadable status update", "id", e.ID)
		return nil
	}
	target := parseStatusName(u.Status)
	if target == provet.StatusUnknown {
		a.log.Error("dropping a status update with an unknown status", "status", u.Status)
		return nil
	}
	if e.Attempts > 0 {
		cur, err := client.WorklistItem(ctx, u.WorklistID)
		switch {
		case errors.Is(err, provet.ErrNotFound):
			a.log.Warn("order deleted in Provet; status update dropped", "worklist_id", u.WorklistID)
			return nil
		case err != nil:
			return err
		case cur.Status == target:
			return nil
		}
	}
	// Count the attempt before the request leaves, so a crash mid-request is
	// known after the restart and triggers the read-back above.
	if err := a.store.MarkFailed(e.ID, "sending", a.now()); err != nil {
		return err
	}
	_, err := client.SetWorklistStatus(ctx, u.WorklistID, target)
	if errors.Is(err, provet.ErrNotFound) {
		a.log.Warn("order deleted in Provet; status update dropped", "worklist_id", u.WorklistID)
		return nil
	}
	if err == nil {
		a.log.Info("status sent to Provet", "worklist_id", u.WorklistID, "status", u.Status, "source", u.Source)
	}
	return err
}

func outboxBackoff(attempt int) time.Duration {
	d := time.Duration(1<<min(attempt, 9)) * time.Second // 2 s ... 8.5 min
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (a *App) setPending(n int) {
	a.mu.Lock()
	changed := a.status.PendingUpdates != n
	a.status.PendingUpdates = n
	a.mu.Unlock()
	if changed {
		a.hub.publish(Event{Kind: EventStatus})
	}
}

// putRecords writes records to the store and mirrors them in the index the
// DICOM server answers from; deletes remove both.
func (a *App) putRecords(recs []record, deletes []string) error {
	puts := make([]store.Item, 0, len(recs))
	for _, r := range recs {
		b, err := r.encode()
		if err != nil {
			return err
		}
		puts = append(puts, store.Item{Key: r.Item.Key, Date: r.Item.StartDate, Modality: strings.ToUpper(r.Item.Modality), Data: b})
	}
	if err := a.store.ApplyItems(puts, deletes); err != nil {
		return fmt.Errorf("save the worklist: %w", err)
	}
	var onList []worklist.Item
	var off []string
	for _, r := range recs {
		if r.onWorklist() {
			onList = append(onList, r.Item)
		} else {
			off = append(off, r.Item.Key)
		}
	}
	a.index.Delete(append(off, deletes...)...)
	if err := a.index.Put(onList...); err != nil {
		return err
	}
	a.countWaiting()
	a.hub.publish(Event{Kind: EventReferrals})
	return nil
}
