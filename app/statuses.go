package app

import (
	"fmt"
)

// metaStatusesConfirmed holds the status mapping's fingerprint that someone
// confirmed against Provet's own screens.
const metaStatusesConfirmed = "provet.statuses.confirmed"

// statusesConfirmed says whether the status values in use have been
// confirmed: a changed mapping has a new fingerprint and withdraws it.
func (a *App) statusesConfirmed() bool {
	a.mu.Lock()
	m := a.mapping
	a.mu.Unlock()
	if m == nil {
		return false
	}
	return a.confirmedFingerprint(m.StatusFingerprint())
}

// confirmedFingerprint says whether the status mapping with fingerprint fp
// is the one someone confirmed.
func (a *App) confirmedFingerprint(fp string) bool {
	b, ok, err := a.store.GetMeta(metaStatusesConfirmed)
	return err == nil && ok && string(b) == fp
}

// ConfirmStatuses records that the status values the mapping assigns have
// been checked against Provet's own screens; status updates then flow.
func (a *App) ConfirmStatuses() error {
	a.mu.Lock()
	m := a.mapping
	a.mu.Unlock()
	if m == nil {
		return fmt.Errorf("the Provet mapping is not loaded; check provet.mapping in the configuration")
	}
	if err := a.store.PutMeta(metaStatusesConfirmed, []byte(m.StatusFingerprint())); err != nil {
		return fmt.Errorf("record the confirmation: %w", err)
	}
	a.log.Info("Provet status values confirmed", "fingerprint", m.StatusFingerprint())
	a.out.Wake()
	a.hub.publish(Event{Kind: EventStatus})
	return nil
}
