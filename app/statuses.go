package app

import (
	"context"
	"fmt"
	"io"

	"github.com/vetbridge/vetbridge/app/provet"
)

// metaStatusesConfirmed holds the status mapping's fingerprint that someone
// confirmed against Provet's own screens.
const metaStatusesConfirmed = "provet.statuses.confirmed"

// StatusSurvey is the distinct status values seen in the tenant's worklist,
// each with its count, example orders and the meaning VetBridge assigns.
type StatusSurvey = provet.StatusSurvey

// StatusReport is a survey and whether its meanings are the ones confirmed.
type StatusReport struct {
	Survey    StatusSurvey
	Confirmed bool
}

// statusesConfirmed says whether the status values in use have been
// confirmed: a changed mapping has a new fingerprint and withdraws it.
func (a *App) statusesConfirmed() bool {
	a.mu.Lock()
	m := a.mapping
	a.mu.Unlock()
	return m != nil && a.confirmedFingerprint(m.StatusFingerprint())
}

// confirmedFingerprint says whether the status mapping with fingerprint fp
// is the one someone confirmed.
func (a *App) confirmedFingerprint(fp string) bool {
	return a.storedFingerprint() == fp
}

func (a *App) storedFingerprint() string {
	b, ok, err := a.store.GetMeta(metaStatusesConfirmed)
	if err != nil || !ok {
		return ""
	}
	return string(b)
}

// Statuses reads the tenant's worklist (a bounded number of pages) and
// lists the status values in use next to their meaning in the mapping.
func (a *App) Statuses(ctx context.Context) (StatusReport, error) {
	c, err := a.signedInClient(ctx)
	if err != nil {
		return StatusReport{}, err
	}
	s, err := provet.SurveyStatuses(ctx, c, 0)
	if err != nil {
		return StatusReport{}, fmt.Errorf("read Provet's status values: %w", err)
	}
	return StatusReport{Survey: s, Confirmed: a.confirmedFingerprint(s.Fingerprint)}, nil
}

// ConfirmStatuses records that someone checked the survey's meanings
// against Provet's own screens; status updates then flow. fingerprint is
// the survey's: a mapping changed since then is not confirmed by it.
func (a *App) ConfirmStatuses(ctx context.Context, s StatusSurvey) error {
	if err := s.Confirmable(); err != nil {
		return err
	}
	a.mu.Lock()
	m := a.mapping
	a.mu.Unlock()
	if m == nil || m.StatusFingerprint() != s.Fingerprint {
		return fmt.Errorf("the status mapping changed since these values were read; look at them again before confirming")
	}
	return a.confirmFingerprint(s.Fingerprint)
}

// ConfirmDefaultStatuses confirms the status values VetBridge assumes, for
// the demo, whose simulator speaks exactly those.
func (a *App) ConfirmDefaultStatuses() error {
	return a.confirmFingerprint(provet.DefaultMapping().StatusFingerprint())
}

func (a *App) confirmFingerprint(fp string) error {
	if err := a.store.PutMeta(metaStatusesConfirmed, []byte(fp)); err != nil {
		return fmt.Errorf("record the confirmation: %w", err)
	}
	a.log.Info("Provet status values confirmed", "fingerprint", fp)
	a.out.Wake()
	a.hub.publish(Event{Kind: EventStatus})
	return nil
}

// signedInClient resumes the stored sign-in if need be.
func (a *App) signedInClient(ctx context.Context) (*provet.Client, error) {
	a.restoreSession(ctx)
	c := a.provetClient()
	if c == nil {
		return nil, fmt.Errorf("not signed in to Provet: sign in from the tray menu or run `vetbridge login`")
	}
	return c, nil
}

// Doctor checks the Provet connection as sync uses it and writes the report.
// The status filter spelling it finds is saved for sync.
func (a *App) Doctor(ctx context.Context, w io.Writer) error {
	c, err := a.signedInClient(ctx)
	if err != nil {
		return err
	}
	r := provet.Doctor(ctx, c, provet.DoctorOptions{ConfirmedFingerprint: a.storedFingerprint()})
	if err := r.WriteText(w); err != nil {
		return err
	}
	if cfg := a.Config(); r.StatusFilterChecked && cfg.Provet.StatusFilter != r.StatusFilter {
		cfg.Provet.StatusFilter = r.StatusFilter
		if err := a.SaveConfig(ctx, cfg); err != nil {
			return fmt.Errorf("remember the status filter spelling: %w", err)
		}
		fmt.Fprintf(w, "\nSync will spell the status filter as %s from now on.\n", r.StatusFilter)
	}
	return r.Err()
}
