package writeback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/store"
)

// parkedUntil marks an entry Provet refused for good: it stays in the
// outbox, is never retried on its own, and waits for the technician to
// retry or drop it.
var parkedUntil = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// deliverTimeout bounds one delivery: a read-back and a PATCH.
const deliverTimeout = 20 * time.Second

// State is what the status line and the window show of the outbox.
type State struct {
	Pending int // updates not yet accepted by Provet, parked ones included
	// Unconfirmed is set while updates wait because the tenant's status
	// values have not been confirmed.
	Unconfirmed bool
	Parked      []Parked
}

// Parked is an update Provet refused for a reason a retry will not fix.
type Parked struct {
	ID         uint64
	Key        string
	WorklistID int64
	Status     string
	Error      string // Provet's answer and what to do
}

// State returns the outbox's state as of the last delivery round.
func (w *Writer) State() State {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	s := w.state
	s.Parked = slices.Clone(s.Parked)
	return s
}

// Retry sends a parked update again at the next round.
func (w *Writer) Retry(id uint64) error {
	if err := w.o.Repo.Store().MarkFailed(id, "retry requested", time.Time{}); err != nil {
		return fmt.Errorf("retry the status update: %w", err)
	}
	w.Wake()
	return nil
}

// Drop gives up on an update: Provet is left as it is.
func (w *Writer) Drop(id uint64) error {
	if err := w.o.Repo.Store().MarkSent(id); err != nil {
		return fmt.Errorf("drop the status update: %w", err)
	}
	w.o.Log.Warn("status update dropped by the technician", "id", id)
	w.Wake()
	return nil
}

// Run delivers queued status updates to Provet until ctx ends, retrying with
// backoff; entries survive restarts in the store.
func (w *Writer) Run(ctx context.Context) error {
	for {
		wait := w.drain(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// queued is an outbox entry with its decoded update.
type queued struct {
	store.OutboxEntry
	u Update
}

// drain sends what is due and says how long to sleep.
func (w *Writer) drain(ctx context.Context) time.Duration {
	pending, err := w.o.Repo.Store().PendingOutbox()
	if err != nil {
		w.o.Log.Error("read the status outbox", "err", err)
		return 30 * time.Second
	}
	due := w.supersede(pending)
	confirmed := w.o.Confirmed == nil || w.o.Confirmed()
	w.publish(due, !confirmed)
	if len(due) == 0 || !confirmed {
		return time.Hour
	}
	client := w.o.Client()
	if client == nil {
		return 30 * time.Second
	}
	next := time.Hour
	for _, q := range due {
		now := w.o.Now()
		if q.NextAttempt.After(now) {
			next = min(next, q.NextAttempt.Sub(now))
			continue
		}
		if ctx.Err() != nil {
			return time.Second
		}
		next = min(next, w.attempt(ctx, client, q))
	}
	if rest, err := w.o.Repo.Store().PendingOutbox(); err == nil {
		w.publish(w.supersede(rest), false)
	}
	return max(next, time.Second)
}

// attempt delivers one update and records the outcome; it returns when the
// entry is due again (an hour when it is done).
func (w *Writer) attempt(ctx context.Context, client *provet.Client, q queued) time.Duration {
	st := w.o.Repo.Store()
	// A deadline makes the client give up at once rather than wait out a
	// Retry-After inside the call: the outbox retries on its own schedule,
	// and meanwhile a newer update for the order must not queue behind it.
	dctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	err := w.deliver(dctx, client, q)
	cancel()
	switch {
	case err == nil:
		if err := st.MarkSent(q.ID); err != nil {
			w.o.Log.Error("status update delivered but not marked sent", "err", err)
		}
		return time.Hour
	case permanent(err):
		msg := fmt.Sprintf("Provet refused to set order %d to %s: %v", q.u.WorklistID, strings.ReplaceAll(q.u.Status, "_", " "), err)
		w.o.Log.Error("status update refused by Provet; it waits for the technician to retry or drop it",
			"worklist_id", q.u.WorklistID, "status", q.u.Status, "err", err)
		_ = st.MarkFailed(q.ID, msg, parkedUntil)
		return time.Hour
	}
	delay := backoff(q.Attempts + 1)
	var ae *provet.APIError
	if errors.Is(err, provet.ErrThrottled) && errors.As(err, &ae) && ae.RetryAfter > delay {
		delay = ae.RetryAfter
	}
	w.o.Log.Warn("status update not delivered; will retry", "worklist_id", q.u.WorklistID, "err", err, "in", delay.Round(time.Second))
	_ = st.MarkFailed(q.ID, err.Error(), w.o.Now().Add(delay))
	return delay
}

// permanent says whether Provet refused an update for a reason a retry
// will not fix: any 4xx but 401 (the session is renewed) and 429 (wait).
func permanent(err error) bool {
	return errors.Is(err, provet.ErrRejected) || errors.Is(err, provet.ErrForbidden)
}

// supersede keeps, for each order, only its newest update: an older one not
// yet delivered would move the order backwards after the newer (a modality
// that reports "started" while Provet is unreachable and "completed" once it
// is back must leave Provet at completed). The older ones are marked sent.
// Unreadable entries are dropped with a log line.
func (w *Writer) supersede(pending []store.OutboxEntry) []queued {
	newest := map[int64]int{}
	var out []queued
	for _, e := range pending {
		var u Update
		if err := json.Unmarshal(e.Payload, &u); err != nil || ParseStatus(u.Status) == provet.StatusUnknown {
			w.o.Log.Error("dropping an unreadable status update", "id", e.ID)
			_ = w.o.Repo.Store().MarkSent(e.ID)
			continue
		}
		q := queued{OutboxEntry: e, u: u}
		if i, ok := newest[u.WorklistID]; ok {
			// Entries come oldest first (ids grow), so this one is newer.
			old := out[i]
			w.o.Log.Info("older status update superseded", "worklist_id", u.WorklistID, "old", old.u.Status, "new", u.Status)
			_ = w.o.Repo.Store().MarkSent(old.ID)
			out[i] = q
			continue
		}
		newest[u.WorklistID] = len(out)
		out = append(out, q)
	}
	return out
}

func (w *Writer) publish(due []queued, unconfirmed bool) {
	s := State{Pending: len(due), Unconfirmed: unconfirmed && len(due) > 0}
	for _, q := range due {
		if q.NextAttempt.Equal(parkedUntil) {
			s.Parked = append(s.Parked, Parked{ID: q.ID, Key: q.u.Key, WorklistID: q.u.WorklistID, Status: q.u.Status, Error: q.LastError})
		}
	}
	w.stateMu.Lock()
	changed := w.state.Pending != s.Pending || w.state.Unconfirmed != s.Unconfirmed || len(w.state.Parked) != len(s.Parked)
	w.state = s
	w.stateMu.Unlock()
	if changed {
		w.o.OnChange()
	}
}

// deliver moves the order in Provet. provet.AdvanceStatus reads it back
// first, so an update Provet already applied is never sent twice (after a
// crash or a lost answer), an order Provet has closed is never reopened,
// and one Provet already shows further along is never moved backwards.
func (w *Writer) deliver(ctx context.Context, client *provet.Client, q queued) error {
	target := ParseStatus(q.u.Status)
	if err := w.o.Repo.Store().MarkFailed(q.ID, "sending", w.o.Now()); err != nil {
		return err
	}
	var ch provet.StatusChange
	var err error
	if target == provet.StatusRequested {
		ch, err = reopen(ctx, client, q.u.WorklistID)
	} else {
		ch, err = client.AdvanceStatus(ctx, q.u.WorklistID, target)
	}
	switch {
	case errors.Is(err, provet.ErrNotFound):
		w.o.Log.Warn("order deleted in Provet; status update dropped", "worklist_id", q.u.WorklistID)
		return nil
	case errors.Is(err, provet.ErrStatusUnknown):
		return &provet.APIError{Kind: provet.ErrRejected, Method: "GET", Path: fmt.Sprintf("order %d", q.u.WorklistID), Err: err}
	case err != nil:
		return err
	}
	switch ch.Outcome {
	case provet.StatusSent:
		w.o.Log.Info("status sent to Provet", "worklist_id", q.u.WorklistID, "status", q.u.Status, "source", q.u.Source)
	case provet.StatusClosed, provet.StatusBehind:
		w.o.Log.Warn("Provet already shows this order further along; the status update is not sent",
			"worklist_id", q.u.WorklistID, "provet_status", ch.Before.Status.String(), "update", q.u.Status)
	}
	return nil
}

// reopen sends an order a modality discontinued back to requested, for a
// retake: the one move backwards VetBridge makes, and only from in
// progress; a closed order stays closed.
func reopen(ctx context.Context, client *provet.Client, id int64) (provet.StatusChange, error) {
	before, err := client.WorklistItem(ctx, id)
	if err != nil {
		return provet.StatusChange{}, err
	}
	ch := provet.StatusChange{Before: before}
	switch before.Status {
	case provet.StatusRequested:
		ch.Outcome = provet.StatusAlready
		return ch, nil
	case provet.StatusInProgress:
		ch.After, err = client.SetWorklistStatus(ctx, id, provet.StatusRequested)
		ch.Outcome = provet.StatusSent
		return ch, err
	case provet.StatusUnknown:
		return ch, fmt.Errorf("order %d: %w: Provet says %q", id, provet.ErrStatusUnknown, before.StatusRaw)
	}
	ch.Outcome = provet.StatusClosed
	return ch, nil
}

func backoff(attempt int) time.Duration {
	d := time.Duration(1<<min(attempt, 9)) * time.Second // 2 s ... 8.5 min
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func cutPort(addr string) (host, port string, ok bool) {
	h, p, err := net.SplitHostPort(addr)
	return h, p, err == nil
}
