package provet

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

// findings returns the findings of one check.
func findings(r *Report, check string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// TestDoctorAgainstTenantQuirks runs doctor against the real simulator over
// loopback, once per quirk, and checks what it reports. The status mapping
// counts as confirmed throughout, so only the quirk can make doctor object.
func TestDoctorAgainstTenantQuirks(t *testing.T) {
	confirmed := DefaultMapping().StatusFingerprint()
	type want struct {
		check    string
		sev      Severity
		contains string
	}
	for _, tc := range []struct {
		name   string
		quirks provetsim.Quirks
		want   []want
		form   StatusFilterForm
		// benign quirks need no one's attention: doctor only picks the
		// status filter spelling for sync to use.
		benign bool
	}{
		{name: "well-behaved tenant", benign: true, want: []want{{"filter.modified", SevOK, "honoured"}, {"expose", SevOK, "honoured"}}},
		{name: "shifted status numbers", quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)},
			want: []want{{"statuses.unknown", SevProblem, `"5"`}}},
		{name: "no modified key", quirks: provetsim.Quirks{OmitModified: true},
			want: []want{{"key.modified", SevProblem, `no "modified" key`}}},
		{name: "no patient link", quirks: provetsim.Quirks{OmitPatientLink: true},
			want: []want{{"key.patient", SevProblem, "through consultation/<id>/?expose_patients"}}},
		{name: "modified__gte ignored", quirks: provetsim.Quirks{IgnoreFilters: []string{"modified__gte"}},
			want: []want{{"filter.modified", SevProblem, "Provet ignores modified__gte; every poll would page through the whole history"}}},
		{name: "status__in ignored", quirks: provetsim.Quirks{IgnoreFilters: []string{"status__in"}}, form: StatusFilterNone,
			want: []want{{"filter.status", SevWarning, "honours neither status__in=1,2 nor status__in=[1,2]"}}},
		{name: "status__in with brackets only", quirks: provetsim.Quirks{StatusInForm: "brackets"}, form: StatusFilterBrackets, benign: true,
			want: []want{{"filter.status", SevOK, "status__in=[1,2] is honoured"}}},
		{name: "status__in with commas only", quirks: provetsim.Quirks{StatusInForm: "comma"}, form: StatusFilterComma, benign: true,
			want: []want{{"filter.status", SevOK, "status__in=1,2 is honoured"}}},
		{name: "expose ignored", quirks: provetsim.Quirks{IgnoreExpose: true},
			want: []want{{"expose", SevWarning, "Provet ignores expose_"}}},
		{name: "expose ignored for the patient", quirks: provetsim.Quirks{IgnoreExposeOf: []string{"patient"}},
			want: []want{{"expose", SevWarning, "does not inline patient"}}},
		{name: "partial inlining", quirks: provetsim.Quirks{PartialExpose: true},
			want: []want{{"expose.patient", SevWarning, "lack species, breed, gender, date_of_birth"}, {"expose.client", SevWarning, "lack organization_name"}}},
		{name: "403 on modality/", quirks: provetsim.Quirks{Forbidden: []string{"modality"}},
			want: []want{{"endpoint.modality", SevProblem, "HTTP 403"}}},
		{name: "403 on targetarea/", quirks: provetsim.Quirks{Forbidden: []string{"targetarea"}},
			want: []want{{"endpoint.targetarea", SevProblem, "body part names"}}},
		{name: "403 on appointment/", quirks: provetsim.Quirks{Forbidden: []string{"appointment"}},
			want: []want{{"endpoint.appointment", SevProblem, "scheduled times stay empty"}}},
		{name: "403 on user/", quirks: provetsim.Quirks{Forbidden: []string{"user"}},
			want: []want{{"endpoint.user", SevProblem, "vets' names"}}},
		{name: "403 on the referral", quirks: provetsim.Quirks{Forbidden: []string{"diagnosticimaging_referral"}},
			want: []want{{"endpoint.diagnosticimaging_referral", SevProblem, "remarks"}}},
		{name: "403 on the worklist", quirks: provetsim.Quirks{Forbidden: []string{"diagnosticimaging_worklist"}},
			want: []want{{"worklist", SevProblem, "the worklist stays empty"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startSim(t, provetsim.Options{Referrals: 40, Seed: 1, Quirks: tc.quirks}, nil)
			rep := Doctor(context.Background(), env.client, DoctorOptions{ConfirmedFingerprint: confirmed})
			var out bytes.Buffer
			if err := rep.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			text := out.String()
			for _, w := range tc.want {
				ok := false
				for _, f := range findings(rep, w.check) {
					if f.Severity == w.sev && strings.Contains(f.Summary, w.contains) {
						ok = true
						if w.sev != SevOK && f.Action == "" {
							t.Errorf("%s: no action says what to do", w.check)
						}
					}
				}
				if !ok {
					t.Errorf("no %s finding %q containing %q:\n%s", w.sev, w.check, w.contains, text)
				}
			}
			// The simulator runs on a fake clock, so its Date header is days
			// off: the clock warning says nothing about the quirk.
			warned := slices.ContainsFunc(rep.Warnings(), func(f Finding) bool { return f.Check != "transport" })
			switch {
			case tc.benign && (!rep.OK() || warned):
				t.Errorf("a well-behaved, confirmed tenant is not OK:\n%s", text)
			case !tc.benign && rep.OK() && !warned:
				t.Errorf("the quirk went unnoticed:\n%s", text)
			}
			if strings.Contains(text, "No problems found") != rep.OK() {
				t.Errorf(`"No problems found" printed = %v, OK() = %v`, !rep.OK(), rep.OK())
			}
			if sev := findings(rep, "filter.status"); len(sev) > 0 && rep.StatusFilter != tc.form {
				t.Errorf("status filter form %s, want %s", rep.StatusFilter, tc.form)
			}
			for _, f := range rep.Findings {
				if strings.Contains(f.Summary, "HTTP 403") && !strings.Contains(f.Action, "permission \"") {
					t.Errorf("a 403 without the Provet permission to grant: %+v", f)
				}
			}
		})
	}
}

// TestDoctorNeverSaysNoProblemsOnShiftedStatuses covers the tenant of the
// issue: status numbers shifted by one. Whether or not any order is
// cancelled (the value the mapping does not know), doctor must not print "No
// problems found", even when someone had confirmed the default mapping.
func TestDoctorNeverSaysNoProblemsOnShiftedStatuses(t *testing.T) {
	confirmed := DefaultMapping().StatusFingerprint()
	env := startSim(t, provetsim.Options{Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}}, nil)
	// 33 open orders and a few completed ones; nothing cancelled, so every
	// wire value (2, 3, 4) is one the default mapping knows.
	for i := range 40 {
		st := provetsim.StatusRequested
		switch {
		case i%8 == 0:
			st = provetsim.StatusCompleted
		case i%5 == 0:
			st = provetsim.StatusInProgress
		}
		if _, err := env.sim.CreateReferral(provetsim.ReferralFields{Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	rep := Doctor(context.Background(), env.client, DoctorOptions{ConfirmedFingerprint: confirmed})
	var out bytes.Buffer
	_ = rep.WriteText(&out)
	if rep.OK() || strings.Contains(out.String(), "No problems found") {
		t.Fatalf("doctor passed a shifted tenant:\n%s", out.String())
	}
	if len(findings(rep, "statuses.distribution")) == 0 {
		t.Errorf("the implausible distribution is not reported:\n%s", out.String())
	}
	if rep.Survey == nil || len(rep.Survey.Unknown()) != 0 {
		t.Fatalf("survey %+v", rep.Survey)
	}
}

// TestDoctorUnconfirmedStatusesAreNeverOK: a perfect tenant whose status
// values nobody confirmed still asks for the confirmation.
func TestDoctorUnconfirmedStatusesAreNeverOK(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 12, Seed: 4}, nil)
	rep := Doctor(context.Background(), env.client, DoctorOptions{})
	if rep.OK() || len(findings(rep, "statuses.confirmed")) != 1 || rep.Err() != nil {
		t.Fatalf("OK %v, err %v, findings %+v", rep.OK(), rep.Err(), rep.Findings)
	}
	var out bytes.Buffer
	if err := Diagnose(context.Background(), env.client, &out); err != nil {
		t.Fatalf("findings to confirm are not an error: %v", err)
	}
	if strings.Contains(out.String(), "No problems found") || !strings.Contains(out.String(), "need a person to confirm") {
		t.Errorf("summary:\n%s", out.String())
	}
}
