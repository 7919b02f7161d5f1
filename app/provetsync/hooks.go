package provetsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
)

// hookSpacing is the least time between two reads of one order for
// webhooks: Provet fires both the create and the update hook for a new
// order, and retries a hook ten times, so many POSTs are one read.
const hookSpacing = 5 * time.Second

// hooks holds the orders webhooks named and not yet read.
type hooks struct {
	mu      sync.Mutex
	pending map[int64]bool
	read    map[int64]time.Time // when each order was last read for a hook
	wake    chan struct{}
}

// Hook asks for one order to be read at once (a webhook named it); a
// deleted order is removed from the worklist now rather than at the next
// reconcile.
func (e *Engine) Hook(id int64) {
	if id <= 0 {
		return
	}
	e.hooks.mu.Lock()
	e.hooks.pending[id] = true
	e.hooks.mu.Unlock()
	select {
	case e.hooks.wake <- struct{}{}:
	default:
	}
}

// due takes the orders that may be read now and says when the rest may.
func (h *hooks) due(now time.Time) (ids []int64, next time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.pending {
		if wait := h.read[id].Add(hookSpacing).Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		ids = append(ids, id)
		delete(h.pending, id)
		h.read[id] = now
	}
	for id, at := range h.read {
		if now.Sub(at) > hookSpacing {
			delete(h.read, id)
		}
	}
	slices.Sort(ids)
	return ids, next
}

// refreshHooked reads the orders webhooks named and applies them, and says
// when to look again for those that came too soon after their last read.
func (e *Engine) refreshHooked(ctx context.Context, c *provet.Client) (time.Duration, error) {
	set := e.o.Settings()
	ids, next := e.hooks.due(e.o.Now())
	if len(ids) == 0 {
		return next, nil
	}
	var batch []*provet.WorklistItem
	for _, id := range ids {
		w, err := c.WorklistItem(ctx, id)
		switch {
		case errors.Is(err, provet.ErrNotFound):
			batch = append(batch, &provet.WorklistItem{ID: id, Status: provet.StatusUnknown, StatusRaw: "deleted"})
		case err != nil:
			return next, fmt.Errorf("read order %d that Provet's webhook named: %w", id, err)
		default:
			batch = append(batch, w)
		}
	}
	perms := &permissions{}
	recs, deletes, added, err := e.resolveBatch(ctx, c, set.Mapping, perms, batch)
	if err != nil {
		return next, err
	}
	if err := e.o.Repo.Apply(recs, deletes); err != nil {
		return next, err
	}
	e.o.Report.Synced(Result{At: e.o.Now(), Changed: len(recs) + len(deletes), New: added, Missing: perms.list()})
	return next, nil
}
