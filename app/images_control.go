package app

import (
	"context"
	"net/http"
	"net/url"
)

// The PACS side's commands, answered in-process (direct) or by the running
// instance (remote); both end in the same App methods.

func (d direct) Images(ctx context.Context, accession string) (ImagesReport, error) {
	return d.a.ImagesReport(ctx, accession)
}

func (d direct) Unmatched(ctx context.Context) (UnmatchedReport, error) {
	return d.a.UnmatchedReport(ctx)
}

func (d direct) LinkUnmatched(ctx context.Context, id, referral string) error {
	return d.a.LinkUnmatched(id, referral)
}

func (d direct) DismissUnmatched(ctx context.Context, id string) error {
	return d.a.DismissUnmatched(id)
}

func (d direct) SearchPatients(ctx context.Context, text string) ([]PatientHit, error) {
	d.a.restoreSession(ctx)
	return d.a.SearchPatients(ctx, text)
}

func (d direct) NewWalkIn(ctx context.Context, w WalkIn) (WalkInResult, error) {
	d.a.restoreSession(ctx)
	return d.a.NewWalkIn(ctx, w)
}

func (r *remote) Images(ctx context.Context, accession string) (ImagesReport, error) {
	var out ImagesReport
	err := r.call(ctx, http.MethodGet, "images?accession="+url.QueryEscape(accession), nil, &out)
	return out, err
}

func (r *remote) Unmatched(ctx context.Context) (UnmatchedReport, error) {
	var out UnmatchedReport
	err := r.call(ctx, http.MethodGet, "unmatched", nil, &out)
	return out, err
}

func (r *remote) LinkUnmatched(ctx context.Context, id, referral string) error {
	return r.call(ctx, http.MethodPost, "unmatched/link", linkRequest{ID: id, Referral: referral}, nil)
}

func (r *remote) DismissUnmatched(ctx context.Context, id string) error {
	return r.call(ctx, http.MethodPost, "unmatched/dismiss", linkRequest{ID: id}, nil)
}

func (r *remote) SearchPatients(ctx context.Context, text string) ([]PatientHit, error) {
	var out []PatientHit
	err := r.call(ctx, http.MethodGet, "patients?q="+url.QueryEscape(text), nil, &out)
	return out, err
}

func (r *remote) NewWalkIn(ctx context.Context, w WalkIn) (WalkInResult, error) {
	var out WalkInResult
	err := r.call(ctx, http.MethodPost, "walkin", w, &out)
	return out, err
}
