package app

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetsync"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/signin"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// summaryAfter: more new referrals than this in one round get one summary
// notification instead of a flood.
const summaryAfter = 3

// syncSettings is what the sync engine reads at every round.
func (a *App) syncSettings() provetsync.Settings {
	cfg := a.Effective()
	return provetsync.Settings{
		Mapping:      cfg.ItemMapping(),
		PollInterval: time.Duration(cfg.PollInterval),
		Reconcile:    time.Duration(cfg.Reconcile),
		StatusForm:   cfg.Provet.StatusFilter,
	}
}

// syncReport turns the sync engine's rounds into the status line and
// notifications.
type syncReport struct{ a *App }

func (r syncReport) Syncing() {
	r.a.setStatus(func(s *Status) {
		if s.State != StateSignedOut {
			s.State = StateSyncing
		}
	})
}

func (r syncReport) Synced(res provetsync.Result) {
	a := r.a
	if res.Summarise {
		// A first load is the clinic's existing worklist, not news: one
		// summary notification and no "new" highlight.
		a.mu.Lock()
		for _, rec := range res.New {
			a.seen[rec.Item.Key] = true
		}
		a.mu.Unlock()
	}
	a.notifyNew(res.New, res.Summarise)
	a.mu.Lock()
	a.offlineSince, a.offlineTold = time.Time{}, false
	a.mu.Unlock()
	msg := res.Notes()
	a.setStatus(func(s *Status) {
		if s.State != StateSignedOut {
			s.State = StateOK
		}
		s.LastSync = res.At
		s.Message = msg
	})
}

func (r syncReport) Failed(err error, lastOK time.Time) {
	a := r.a
	last := "never"
	if !lastOK.IsZero() {
		last = lastOK.Format("15:04")
	}
	switch {
	case errors.Is(err, provet.ErrUnauthorized), errors.Is(err, signin.ErrSignInAgain):
		a.log.Warn("Provet refused the sync", "err", err)
		a.setStatus(func(s *Status) {
			s.State = StateSignedOut
			s.Message = "Provet no longer accepts this sign-in. Sign in again; the worklist is still served."
		})
	case errors.Is(err, provet.ErrForbidden):
		a.log.Warn("Provet refused the sync", "err", err)
		a.setStatus(func(s *Status) {
			if s.State != StateSignedOut {
				s.State = StateError
			}
			s.Message = "Provet does not let this user read the imaging worklist. Ask the clinic's Provet administrator for " +
				"\"Diagnostic imaging: Diagnostic imaging referrals\"."
		})
	default:
		a.offlineFor(err)
		a.log.Warn("sync failed; serving the cached worklist", "err", err)
		a.setStatus(func(s *Status) {
			if s.State != StateSignedOut {
				s.State = StateOffline
			}
			s.Message = fmt.Sprintf("Provet Cloud cannot be reached; the modalities get the worklist from the last sync (%s).", last)
		})
	}
}

// notifyNew tells the technician about new referrals, each once ever: the
// store remembers what was notified, so a restart never repeats one.
func (a *App) notifyNew(fresh []records.Record, summarise bool) {
	var first []Referral
	for _, rec := range fresh {
		ok, err := a.store.MarkNotified(rec.Item.Key)
		if err != nil {
			a.log.Warn("remember notification", "err", err)
			continue
		}
		if ok {
			first = append(first, rec.Referral(true))
		}
	}
	if len(first) == 0 {
		return
	}
	for _, r := range first {
		a.hub.publish(Event{Kind: EventNewReferral, Referral: &r})
	}
	nc := a.Effective().Notifications
	if nc.Muted {
		return
	}
	slices.SortFunc(first, func(x, y Referral) int { return cmp.Compare(x.Key, y.Key) })
	if summarise || len(first) > summaryAfter {
		title, msg := records.SummaryNotice(len(first))
		a.notify(title, msg)
		return
	}
	for _, r := range first {
		title, msg := r.Notice(nc.ShowOwner)
		a.notify(title, msg)
	}
}

func (a *App) notify(title, msg string) {
	if err := a.notifier.Notify(title, msg); err != nil {
		// No notification service (a server, a locked-down desktop): the
		// referral is on the worklist all the same.
		a.log.Info("notification not shown", "err", err)
	}
}

// unscheduled reports an exam performed without an open order: it goes on
// the unmatched list, where the technician links it to a referral.
func (a *App) unscheduled(step mpps.Step, by string) {
	a.listUnscheduled(step, by)
	a.setStatus(func(s *Status) {
		s.Message = fmt.Sprintf("An exam on %s was performed without an open worklist entry (patient id %q); it is listed under Unmatched.",
			by, step.PatientID)
	})
}

// offlineNotice is how long Provet may be unreachable before the
// technician is told by a notification, not only the status line: new
// referrals do not arrive meanwhile.
const offlineNotice = 15 * time.Minute

// offlineFor notes a failed sync and notifies once when Provet has been
// unreachable for offlineNotice.
func (a *App) offlineFor(err error) {
	now := a.now()
	a.mu.Lock()
	if a.offlineSince.IsZero() {
		a.offlineSince = now
	}
	tell := !a.offlineTold && now.Sub(a.offlineSince) >= offlineNotice
	if tell {
		a.offlineTold = true
	}
	since := a.offlineSince
	a.mu.Unlock()
	if tell {
		a.notify("Provet Cloud cannot be reached", fmt.Sprintf("Since %s no new referrals have arrived; the modalities keep the worklist they have. Check the internet connection.",
			since.Format("15:04")))
	}
}
