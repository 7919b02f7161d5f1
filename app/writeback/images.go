package writeback

import (
	"encoding/json"
	"fmt"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/store"
)

// CompleteByImages completes an order whose images have arrived in the
// PACS and stopped coming, for modalities that send no MPPS. The update
// goes through the outbox like every other, so the confirmed-statuses rule,
// ordering and never-reopening hold; its dedup key makes it happen once per
// referral, across restarts. by says what decided it, for the audit trail.
// queued is false when nothing was done: the order is not open any more,
// or was completed by its images before.
func (w *Writer) CompleteByImages(key, by string) (queued bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec, ok := w.o.Repo.Get(key)
	if !ok {
		return false, fmt.Errorf("this referral is no longer on the worklist")
	}
	switch rec.Item.SPSStatus {
	case "COMPLETED", "DISCONTINUED":
		return false, nil
	}
	if !rec.OnWorklist() {
		return false, nil
	}
	if rec.Source == records.SourceProvet {
		now := w.o.Now()
		u := Update{Key: key, WorklistID: int64(rec.ProvetID), Status: provet.StatusCompleted.String(),
			Source: "images", By: by, At: now}
		p, err := json.Marshal(u)
		if err != nil {
			return false, err
		}
		_, dup, err := w.o.Repo.Store().Enqueue(store.Entry{DedupKey: "images/" + key + "/completed", Payload: p})
		if err != nil {
			return false, fmt.Errorf("could not queue the status update: %w", err)
		}
		if dup {
			return false, nil
		}
	}
	w.setLocalStatus(rec, "COMPLETED", by)
	w.Wake()
	w.o.OnChange()
	return true, nil
}
