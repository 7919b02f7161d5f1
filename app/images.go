package app

import (
	"context"
	"net/http"

	"github.com/vetbridge/vetbridge/app/imaging"
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
	// SearchPatients and NewWalkIn are the walk-in exam (walkin.go).
	SearchPatients(ctx context.Context, text string) ([]PatientHit, error)
	NewWalkIn(ctx context.Context, w WalkIn) (WalkInResult, error)
}

// UnmatchedExam is an exam that belongs to no referral: a PACS study or an
// MPPS step. Its ID is what LinkUnmatched and DismissUnmatched take.
type UnmatchedExam = imaging.Exam

// ImagesReport is the answer to Images: one entry per referral, and Note
// when the PACS could not be asked (the entries are then as last seen).
type ImagesReport struct {
	Referrals []ImagesSummary `json:"referrals"`
	Note      string          `json:"note,omitempty"`
}

// UnmatchedReport is the answer to Unmatched; Note as in ImagesReport.
type UnmatchedReport struct {
	Exams []UnmatchedExam `json:"exams"`
	Note  string          `json:"note,omitempty"`
}

// Lines are what `vetbridge images` prints, one per referral.
func (r ImagesReport) Lines() []string {
	out := make([]string, len(r.Referrals))
	for i, s := range r.Referrals {
		out[i] = s.Line
	}
	return out
}

// Lines are what `vetbridge unmatched` prints, one per exam: the exam's
// line and the ID that links or dismisses it.
func (r UnmatchedReport) Lines() []string {
	out := make([]string, len(r.Exams))
	for i, e := range r.Exams {
		out[i] = e.Line() + " id=" + e.ID
	}
	return out
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
