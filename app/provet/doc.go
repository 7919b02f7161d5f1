// Package provet is VetBridge's Provet Cloud REST client.
//
// It knows the tenancy URLs, the pagination and filter conventions, Provet's
// per-endpoint rate limits and how to survive a flaky clinic network. What it
// does not know for certain is the JSON of the diagnostic imaging worklist and
// referral, which Provet has not published: every guess about those lives in
// mapping.go and can be corrected from configuration; Doctor runs sync's own
// queries against a real tenant and reports, as data, what the tenant does
// differently; SurveyStatuses lists the status values in use so that a
// person confirms them before any status is written (see status.go).
//
// The package takes an already authorised *http.Client (see app/signin) and a
// Reauth hook; it never sees credentials itself.
package provet
