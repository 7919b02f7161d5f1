package app

import (
	"context"
	"net/http"

	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/walkin"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// The PACS side (images per referral, unmatched exams, completion by
// images) lives in package imaging, the walk-in exam in package walkin;
// these are the names the UI and the commands use.
type (
	// ImagesSummary is a referral's images in the PACS.
	ImagesSummary = imaging.Summary
	// ImagesReport is the answer to Images: one entry per referral.
	ImagesReport = imaging.Report
	// UnmatchedReport is the answer to Unmatched.
	UnmatchedReport = imaging.UnmatchedReport
	// UnmatchedExam is an exam that belongs to no referral: a PACS study or
	// an MPPS step. Its ID is what LinkUnmatched and DismissUnmatched take.
	UnmatchedExam = imaging.Exam
	PatientHit    = walkin.PatientHit
	WalkIn        = walkin.Exam
	WalkInResult  = walkin.Result
)

var (
	// ErrNoPACS means no PACS is configured (Settings > PACS).
	ErrNoPACS = pacs.ErrNotConfigured
	// ErrNoImagesYet is ViewerURL's answer when the PACS holds nothing for
	// the referral: opening the viewer would show an empty page.
	ErrNoImagesYet = imaging.ErrNoImagesYet
)

// imagingControl is what the commands ask of the PACS side: images per
// referral and exams that match no referral.
type imagingControl interface {
	// Images reports today's referrals' images (one referral when
	// accession is set, of any day).
	Images(ctx context.Context, accession string) (ImagesReport, error)
	// Unmatched lists the exams no referral claims.
	Unmatched(ctx context.Context) (UnmatchedReport, error)
	// LinkUnmatched assigns an unmatched exam to the referral named by its
	// key or accession number; DismissUnmatched takes it off the list.
	LinkUnmatched(ctx context.Context, id, referral string) error
	DismissUnmatched(ctx context.Context, id string) error
	// SearchPatients and NewWalkIn are the walk-in exam.
	SearchPatients(ctx context.Context, text string) ([]PatientHit, error)
	NewWalkIn(ctx context.Context, w WalkIn) (WalkInResult, error)
}

// newSide wires the PACS side to this installation.
func (a *App) newSide() *imaging.Side {
	return imaging.NewSide(imaging.SideOptions{
		Repo: a.repo, Meta: a.store, Config: a.Effective, Complete: a.out.CompleteByImages, Log: a.log,
		OnImages: func() { a.hub.publish(Event{Kind: EventReferrals}) },
		OnState:  func() { a.hub.publish(Event{Kind: EventStatus}) },
	})
}

// SetPACSClock replaces the clock of the PACS poller and of completion by
// images, for tests and demonstrations; call it before Run.
func (a *App) SetPACSClock(c pacs.Clock) { a.side.SetClock(c) }

// RunPACS asks the configured PACS about today's referrals until ctx ends
// (Run runs it); a change of settings or referrals reaches it as an event.
func (a *App) RunPACS(ctx context.Context) error {
	unsubscribe := a.Subscribe(func(e Event) {
		if e.Kind == EventStatus || e.Kind == EventReferrals {
			a.side.Changed()
		}
	})
	defer unsubscribe()
	return a.side.Run(ctx)
}

// RefreshImages asks the PACS about today's referrals now (the window's
// refresh); while the PACS is down it waits for the backoff.
func (a *App) RefreshImages() { a.side.Refresh() }

// PACSState is the PACS's reachability in words for the status line: ""
// while it answers or none is configured.
func (a *App) PACSState() string { return a.side.State() }

// ImagesFor asks the PACS now for one referral's images, for the detail
// pane; while the PACS is down it answers with what was last seen and an
// error wrapping pacs.ErrDown, without a PACS ErrNoPACS.
func (a *App) ImagesFor(ctx context.Context, key string) (ImagesSummary, error) {
	return a.side.ImagesFor(ctx, key)
}

// TestPACS checks a PACS configuration (Settings' Test button).
func (a *App) TestPACS(ctx context.Context, cfg pacs.Config) error { return a.side.Test(ctx, cfg) }

// ImagesReport answers `vetbridge images`: today's referrals, or the one
// with the accession number (of any day).
func (a *App) ImagesReport(ctx context.Context, accession string) (ImagesReport, error) {
	return a.side.Report(ctx, accession)
}

// UnmatchedReport answers `vetbridge unmatched`.
func (a *App) UnmatchedReport(ctx context.Context) (UnmatchedReport, error) {
	return a.side.UnmatchedReport(ctx)
}

// UnmatchedExams lists the exams no referral claims, as last seen, for the
// Unmatched view (which refreshes on EventReferrals).
func (a *App) UnmatchedExams() []UnmatchedExam { return a.side.Unmatched() }

// LinkUnmatched assigns an unmatched exam to a referral, named by its key
// or accession number.
func (a *App) LinkUnmatched(id, referral string) error { return a.side.Link(id, referral) }

// DismissUnmatched takes an exam off the unmatched list for good.
func (a *App) DismissUnmatched(id string) error { return a.side.Dismiss(id) }

func (a *App) addImages(r *Referral) { a.side.AddImages(r) }
func (a *App) viewerStudy(key, fallback string) (string, error) {
	return a.side.ViewerStudy(key, fallback)
}
func (a *App) listUnscheduled(step mpps.Step, by string) { a.side.ListStep(step, by) }

// SearchPatients finds Provet patients for a walk-in exam.
func (a *App) SearchPatients(ctx context.Context, text string) ([]PatientHit, error) {
	return walkin.Search(ctx, a.provetClient(), text)
}

// NewWalkIn puts an exam for a Provet patient on the worklist at once (see
// walkin.Create).
func (a *App) NewWalkIn(ctx context.Context, w WalkIn) (WalkInResult, error) {
	res, err := walkin.Create(ctx, walkin.Options{Client: a.provetClient(), Repo: a.repo, Config: a.Effective(), Now: a.now(), Log: a.log}, w)
	if err == nil {
		res.Referral, _ = a.Referral(res.Referral.Key)
	}
	return res, err
}

// imagingAPI adds the PACS side's calls to the local API.
func (a *App) imagingAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"images", func(w http.ResponseWriter, r *http.Request) {
		rep, err := a.ImagesReport(r.Context(), r.URL.Query().Get("accession"))
		reply(w, rep, err)
	})
	mux.HandleFunc("GET "+apiPrefix+"unmatched", func(w http.ResponseWriter, r *http.Request) {
		rep, err := a.UnmatchedReport(r.Context())
		reply(w, rep, err)
	})
	mux.HandleFunc("POST "+apiPrefix+"unmatched/link", func(w http.ResponseWriter, r *http.Request) {
		var req linkRequest
		if decode(w, r, &req) {
			reply(w, struct{}{}, a.LinkUnmatched(req.ID, req.Referral))
		}
	})
	mux.HandleFunc("POST "+apiPrefix+"unmatched/dismiss", func(w http.ResponseWriter, r *http.Request) {
		var req linkRequest
		if decode(w, r, &req) {
			reply(w, struct{}{}, a.DismissUnmatched(req.ID))
		}
	})
	mux.HandleFunc("GET "+apiPrefix+"patients", func(w http.ResponseWriter, r *http.Request) {
		hits, err := a.SearchPatients(r.Context(), r.URL.Query().Get("q"))
		reply(w, hits, err)
	})
	mux.HandleFunc("POST "+apiPrefix+"walkin", func(w http.ResponseWriter, r *http.Request) {
		var req WalkIn
		if decode(w, r, &req) {
			res, err := a.NewWalkIn(r.Context(), req)
			reply(w, res, err)
		}
	})
}

type linkRequest struct {
	ID       string `json:"id"`
	Referral string `json:"referral,omitempty"`
}
