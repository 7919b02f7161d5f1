// Package provetsync keeps the local worklist up to date with Provet Cloud's
// imaging worklist: a first full load, then deltas by `modified`, a periodic
// reconcile of the open set that notices cancellations and deletions, and
// the mapping of each order with its patient, owner and referral to a DICOM
// worklist item.
package provetsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
)

const (
	metaCursor = "sync.cursor" // newest Provet `modified` applied, RFC 3339
	// syncBatch is how many changed orders are resolved and saved at a time,
	// so a long first sync fills the modalities' worklist progressively.
	syncBatch = 50
	// resolveWorkers fetch related objects in parallel; the client's limiter
	// keeps them within Provet's budgets.
	resolveWorkers = 4
	// longOfflineGap: new referrals after an offline spell this long are
	// news of the spell, summarised rather than announced one by one.
	longOfflineGap = time.Hour
	// namesMaxAge bounds how long user, modality and target-area names are
	// trusted before they are read again.
	namesMaxAge = time.Hour
	listTimeout = 30 * time.Second
)

// Settings are the parts of the configuration a sync reads; they are asked
// for at every round, so a change applies at the next one.
type Settings struct {
	Mapping      Mapping
	PollInterval time.Duration
	Reconcile    time.Duration
	// StatusForm is how this tenant's status filter is spelt (doctor finds
	// out); the client checks statuses on our side whatever Provet does.
	StatusForm provet.StatusFilterForm
}

// Result is what one successful round did.
type Result struct {
	At      time.Time
	Changed int              // records written or removed
	New     []records.Record // referrals seen for the first time
	// Summarise is set for a first load or after a long offline spell: the
	// new referrals are the clinic's backlog, not news.
	Summarise bool
	Full      bool
	// Missing names the Provet permissions whose lookups were refused; the
	// affected fields were left empty.
	Missing []string
	// UnknownStatuses counts, by raw value, the orders Provet listed with a
	// status the mapping does not know: they are not on the worklist, and
	// the technician must be told rather than shown a shorter list.
	UnknownStatuses map[string]int
}

// Notes is what the technician must know of a round that went well: orders
// left off the worklist for a status the mapping does not know, fields left
// empty for a permission Provet refused; "" when nothing.
func (r Result) Notes() string {
	var notes []string
	if len(r.UnknownStatuses) > 0 {
		n := 0
		for _, c := range r.UnknownStatuses {
			n += c
		}
		noun, verb, pron := "orders", "have", "they are"
		if n == 1 {
			noun, verb, pron = "order", "has", "it is"
		}
		notes = append(notes, fmt.Sprintf("%d %s in Provet %s a status VetBridge does not know, so %s not on the worklist: check Provet's status values in Settings (or `vetbridge statuses`).",
			n, noun, verb, pron))
	}
	if len(r.Missing) > 0 {
		notes = append(notes, "Provet did not allow reading everything; some fields stay empty. Ask the clinic's Provet administrator to grant: "+
			strings.Join(r.Missing, "; ")+".")
	}
	return strings.Join(notes, " ")
}

// Reporter hears how rounds go; its methods run on the sync goroutine.
type Reporter interface {
	Syncing()
	Synced(Result)
	Failed(err error, lastOK time.Time)
}

// Options wire an Engine.
type Options struct {
	Repo     *records.Repo
	Client   func() *provet.Client // nil while signed out
	Settings func() Settings
	Now      func() time.Time
	Log      *slog.Logger
	Report   Reporter
}

// Engine is the sync loop.
type Engine struct {
	o     Options
	wake  chan struct{}
	remap atomic.Bool
	// Round state, touched only by the goroutine running rounds.
	lastFull time.Time
	lastOK   time.Time
	names    *nameCache
	hooks    hooks
}

// New returns an Engine; Run polls.
func New(o Options) *Engine {
	return &Engine{o: o, wake: make(chan struct{}, 1), names: newNameCache(),
		hooks: hooks{pending: map[int64]bool{}, read: map[int64]time.Time{}, wake: make(chan struct{}, 1)}}
}

// Now asks for a round at once.
func (e *Engine) Now() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Remap makes the next round map every open order again, not only changed
// ones: the modality table or the name form changed.
func (e *Engine) Remap() {
	e.remap.Store(true)
	e.Now()
}

// Run polls Provet until ctx ends: a delta every poll interval, a full
// reconcile of the open set every Reconcile period (Provet's delta lists
// never show deletions), and at once on Now.
func (e *Engine) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var hookTimer <-chan time.Time
	for {
		hooked := false
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-e.wake:
		case <-e.hooks.wake:
			hooked = true
		case <-hookTimer:
			hooked = true
		}
		c := e.o.Client()
		if c == nil {
			if !hooked {
				timer.Reset(max(e.o.Settings().PollInterval, 5*time.Second))
			}
			continue
		}
		if hooked {
			// One order, not a round: the poll keeps its own rhythm.
			next, err := e.refreshHooked(ctx, c)
			if err != nil && ctx.Err() == nil {
				e.o.Log.Warn("webhook order not read; the next poll catches up", "err", err)
			}
			hookTimer = nil
			if next > 0 {
				hookTimer = time.After(next)
			}
			continue
		}
		if err := e.Once(ctx, c); err != nil && ctx.Err() == nil {
			e.o.Report.Failed(err, e.lastOK)
		}
		timer.Reset(max(e.o.Settings().PollInterval, 5*time.Second))
	}
}

// Once brings the local worklist up to date with Provet: one round.
func (e *Engine) Once(ctx context.Context, c *provet.Client) error {
	set := e.o.Settings()
	now := e.o.Now()
	cursor, hasCursor := e.cursor()
	remap := e.remap.Swap(false)
	full := !hasCursor || remap || now.Sub(e.lastFull) >= set.Reconcile
	e.o.Report.Syncing()

	changed, listed, newest, unknown, err := e.list(ctx, c, set, full, remap, cursor)
	if err != nil {
		if remap {
			e.remap.Store(true) // not done: try again next time
		}
		return err
	}
	if full {
		vanished, err := e.vanished(ctx, c, set.Mapping, listed)
		if err != nil {
			return err
		}
		changed = append(changed, vanished...)
	}
	// Soonest and newest first, so today's patients reach the modalities first.
	slices.SortFunc(changed, func(x, y *provet.WorklistItem) int { return y.Created.Compare(x.Created) })

	res := Result{At: now, Full: full, UnknownStatuses: unknown}
	missing := &permissions{}
	for start := 0; start < len(changed); start += syncBatch {
		batch := changed[start:min(start+syncBatch, len(changed))]
		recs, deletes, added, err := e.resolveBatch(ctx, c, set.Mapping, missing, batch)
		if err != nil {
			return err
		}
		if err := e.o.Repo.Apply(recs, deletes); err != nil {
			return err
		}
		res.New = append(res.New, added...)
		res.Changed += len(recs) + len(deletes)
	}
	if len(unknown) > 0 {
		e.o.Log.Warn("Provet lists orders with status values the mapping does not know; they are left off the worklist", "values", fmt.Sprint(unknown))
	}
	if err := e.saveCursor(cursor, hasCursor, newest, now); err != nil {
		return err
	}
	if full {
		e.lastFull = now
	}
	res.Summarise = !hasCursor || (!e.lastOK.IsZero() && now.Sub(e.lastOK) > longOfflineGap)
	res.Missing = missing.list()
	e.lastOK = now
	if res.Changed > 0 {
		e.o.Log.Info("synced with Provet", "changed", res.Changed, "new", len(res.New), "full", full)
	}
	e.o.Report.Synced(res)
	return nil
}

// list reads the open set (full) or what changed since the cursor, and
// returns the orders that differ from what is stored.
func (e *Engine) list(ctx context.Context, c *provet.Client, set Settings, full, remap bool, cursor time.Time) (changed []*provet.WorklistItem, listed map[int64]bool, newest time.Time, unknown map[string]int, err error) {
	m := set.Mapping
	// Small pages (the default): Provet charges a page of 1000 as 20
	// requests, however few orders it holds.
	q := provet.DeltaQuery(cursor, set.StatusForm)
	if full {
		q = provet.FullQuery(set.StatusForm, 0)
	}
	listed = map[int64]bool{}
	newest = cursor
	// A poll that cannot finish soon is better abandoned: the next one comes
	// shortly, and meanwhile the technician should see "offline" rather than
	// a sync that waits out a maintenance window's Retry-After.
	listCtx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	stats, err := c.ListWorklist(listCtx, q, func(w *provet.WorklistItem) error {
		listed[w.ID] = true
		if w.Modified.After(newest) {
			newest = w.Modified
		}
		if rec, ok := e.o.Repo.Get(m.Key(w.ID)); ok && !remap &&
			rec.ProvetModified.Equal(w.Modified) && rec.ProvetStatus == w.StatusRaw {
			return nil // seen before: the overlap window, or an unchanged open item
		}
		changed = append(changed, w)
		return nil
	})
	if err != nil {
		return nil, nil, newest, nil, fmt.Errorf("list Provet's imaging worklist: %w", err)
	}
	return changed, listed, newest, stats.UnknownStatuses, nil
}

func (e *Engine) cursor() (time.Time, bool) {
	b, ok, err := e.o.Repo.Store().GetMeta(metaCursor)
	if err != nil || !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// saveCursor advances the delta position to the newest `modified` Provet
// showed. A first load of an empty worklist saves one too, taken from this
// clock less the overlap, so the next polls are deltas rather than full
// loads that would look like another first sync.
func (e *Engine) saveCursor(cursor time.Time, hasCursor bool, newest, now time.Time) error {
	switch {
	case newest.After(cursor):
	case !hasCursor:
		newest = now.Add(-provet.DeltaOverlap)
	default:
		return nil
	}
	if err := e.o.Repo.Store().PutMeta(metaCursor, []byte(newest.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("save the sync position: %w", err)
	}
	return nil
}

// vanished finds open orders we hold that the open list no longer shows:
// completed or cancelled in Provet, or deleted. One detail read each tells
// which; deleted ones come back with Status unknown and are removed.
func (e *Engine) vanished(ctx context.Context, c *provet.Client, m Mapping, listed map[int64]bool) ([]*provet.WorklistItem, error) {
	var out []*provet.WorklistItem
	for _, rec := range e.o.Repo.OnWorklist(m.KeyPrefix()) {
		if listed[int64(rec.ProvetID)] {
			continue
		}
		w, err := c.WorklistItem(ctx, int64(rec.ProvetID))
		switch {
		case errors.Is(err, provet.ErrNotFound):
			out = append(out, &provet.WorklistItem{ID: int64(rec.ProvetID), Status: provet.StatusUnknown, StatusRaw: "deleted"})
		case err != nil:
			return nil, fmt.Errorf("check order %d in Provet: %w", rec.ProvetID, err)
		default:
			out = append(out, w)
		}
	}
	return out, nil
}
