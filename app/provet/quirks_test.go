package provet

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

func TestForbiddenNamesTheEndpointAndPermission(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 3, Seed: 1, Quirks: provetsim.Quirks{
		Forbidden: []string{"modality", "targetarea", "appointment", "user", "diagnosticimaging_referral"}}}, nil)
	ctx := context.Background()
	it, err := env.client.WorklistItem(ctx, 1)
	if err != nil {
		t.Fatalf("the worklist is not forbidden: %v", err)
	}
	calls := map[string]func() error{
		"modality/":                   func() error { _, err := env.client.Modalities(ctx); return err },
		"targetarea/":                 func() error { _, err := env.client.TargetAreas(ctx); return err },
		"appointment/":                func() error { _, err := env.client.Appointment(ctx, 1); return err },
		"user/":                       func() error { _, err := env.client.User(ctx, it.RequestingUser.ID); return err },
		"diagnosticimaging_referral/": func() error { _, err := env.client.Referral(ctx, it.Referral.ID); return err },
	}
	want := map[string]string{"modality/": PermIntegration, "targetarea/": PermIntegration, "appointment/": PermCalendar,
		"user/": PermUserProfile, "diagnosticimaging_referral/": PermImaging}
	for ep, call := range calls {
		err := call()
		gotEP, perm, ok := MissingPermission(err)
		if !errors.Is(err, ErrForbidden) || !ok || gotEP != ep || perm != want[ep] {
			t.Errorf("%s: err %v → (%q, %q, %v)", ep, err, gotEP, perm, ok)
			continue
		}
		if !strings.Contains(err.Error(), `"`+want[ep]+`"`) {
			t.Errorf("%s: the message does not name the permission: %v", ep, err)
		}
	}
	if _, _, ok := MissingPermission(errors.New("x")); ok {
		t.Error("MissingPermission on a plain error")
	}
	if _, err := env.client.Patient(ctx, it.Patient.ID); err != nil {
		t.Errorf("patient/ is not forbidden: %v", err)
	}
}

func TestPatientThroughTheConsultation(t *testing.T) {
	for _, partial := range []bool{false, true} {
		env := startSim(t, provetsim.Options{Referrals: 4, Seed: 3,
			Quirks: provetsim.Quirks{OmitPatientLink: true, PartialExpose: partial}}, nil)
		ctx := context.Background()
		items, _, err := env.client.Worklist(ctx, WorklistQuery{Expose: SyncExpose})
		if err != nil {
			t.Fatal(err)
		}
		want := env.sim.Items()
		for i, it := range items {
			if !it.Patient.IsZero() {
				t.Fatalf("order %d has a patient link despite the quirk", it.ID)
			}
			p, err := env.client.PatientOf(ctx, it)
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != int64(want[i].PatientID) || p.Name != want[i].PatientName || p.Species == "" {
				t.Fatalf("order %d: patient %d %q %q, want %d", it.ID, p.ID, p.Name, p.Species, want[i].PatientID)
			}
		}
		reqs := env.sim.Requests()
		if reqs["consultation.detail"] != len(items) {
			t.Errorf("partial=%v: %d consultation reads for %d orders", partial, reqs["consultation.detail"], len(items))
		}
		// A partial inlined patient is fetched whole; a whole one is used as it is.
		if wantDetail := map[bool]int{false: 0, true: len(items)}[partial]; reqs["patient.detail"] != wantDetail {
			t.Errorf("partial=%v: %d patient reads, want %d", partial, reqs["patient.detail"], wantDetail)
		}
	}
}

func TestPatientOfUsesTheInlinedPatientOnlyWhenWhole(t *testing.T) {
	for _, partial := range []bool{false, true} {
		env := startSim(t, provetsim.Options{Referrals: 3, Seed: 5, Quirks: provetsim.Quirks{PartialExpose: partial}}, nil)
		ctx := context.Background()
		items, _, err := env.client.Worklist(ctx, WorklistQuery{Expose: SyncExpose})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Patient.Inline == nil {
				t.Fatal("the patient is not inlined")
			}
			if got := env.client.Mapping().InlineUsable(KindPatient, it.Patient); got == partial {
				t.Fatalf("partial=%v: InlineUsable = %v (missing %v)", partial, got, env.client.Mapping().MissingInline(KindPatient, it.Patient))
			}
			if it.Patient.ID <= 0 {
				t.Fatal("the id of a partial inline is not read from its URL")
			}
			if _, err := env.client.PatientOf(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
		if wantDetail := map[bool]int{false: 0, true: len(items)}[partial]; env.sim.Requests()["patient.detail"] != wantDetail {
			t.Errorf("partial=%v: %d patient reads, want %d", partial, env.sim.Requests()["patient.detail"], wantDetail)
		}
	}
}

func TestMissingInline(t *testing.T) {
	m := DefaultMapping()
	for _, tc := range []struct {
		kind   Kind
		inline string
		want   []string
	}{
		{KindPatient, `{"url":"https://h/4/api/0.1/patient/7/","name":"Rex"}`, []string{"species", "breed", "gender", "date_of_birth", "client"}},
		{KindPatient, `{"id":7,"name":"Rex","species":"Dog","breed":null,"gender":"Male","date_of_birth":null,"client":"https://h/4/api/0.1/client/1/"}`, nil},
		{KindUser, `{"first_name":"A","last_name":"B"}`, []string{"id"}},
		{KindModality, `{"url":"https://h/4/api/0.1/modality/1/","name":"X-ray"}`, nil},
		{KindReferral, `{"url":"https://h/4/api/0.1/diagnosticimaging_referral/1/","remarks":""}`, []string{"urgent", "appointment"}},
		{KindAppointment, `{"id":3}`, []string{"start"}},
	} {
		ref, err := decodeRef([]byte(tc.inline))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.MissingInline(tc.kind, ref); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: missing %v, want %v", tc.kind, tc.inline, got, tc.want)
		}
	}
	if got := m.MissingInline(KindPatient, Ref{ID: 4, URL: "https://h/4/api/0.1/patient/4/"}); len(got) == 0 {
		t.Error("a relation that was not inlined counts as usable")
	}
}

func TestSurveyStatuses(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 180, Seed: 7, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}}, nil)
	ctx := context.Background()
	counts := map[string]int{}
	for _, it := range env.sim.Items() {
		counts[strconv.Itoa(it.WireStatus)]++
	}
	all, err := SurveyStatuses(ctx, env.client, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !all.Complete || all.Read != 180 || all.Total != 180 || all.Pages != 4 {
		t.Fatalf("survey %+v", all)
	}
	for _, v := range all.Values {
		if counts[v.Raw] != v.Count || len(v.Examples) != min(3, v.Count) {
			t.Errorf("value %q: %d orders, examples %v; the simulator has %d", v.Raw, v.Count, v.Examples, counts[v.Raw])
		}
		if want := DefaultMapping().StatusOf(v.Raw); v.Meaning != want {
			t.Errorf("value %q means %s, want %s", v.Raw, v.Meaning, want)
		}
	}
	if err := all.Confirmable(); err == nil || !strings.Contains(err.Error(), `"5"`) {
		t.Errorf("a survey with an unknown value is confirmable: %v", err)
	}
	if u := all.Unknown(); len(u) != 1 || u[0].Raw != "5" {
		t.Errorf("unknown values %+v, want only 5", u)
	}
	if len(all.Values) != len(counts) {
		t.Errorf("%d values, the simulator uses %d", len(all.Values), len(counts))
	}
	fixed := startSim(t, provetsim.Options{Referrals: 30, Seed: 7, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}},
		func(o *Options) { o.Mapping = shiftedMapping(t) })
	if sv, err := SurveyStatuses(ctx, fixed.client, 0); err != nil || sv.Confirmable() != nil || sv.Fingerprint != shiftedMapping(t).StatusFingerprint() {
		t.Errorf("the corrected mapping's survey: %v, %v", err, sv.Confirmable())
	}
	if all.Fingerprint != DefaultMapping().StatusFingerprint() {
		t.Error("the survey does not say which mapping gave the meanings")
	}

	before := env.sim.Requests()["worklist.list"]
	some, err := SurveyStatuses(ctx, env.client, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := env.sim.Requests()["worklist.list"] - before; n != 2 || some.Pages != 2 || some.Complete || some.Read != 50+30 {
		t.Fatalf("bounded survey: %d requests, %+v", n, some)
	}
}

func TestListCountsUnknownStatuses(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 40, Seed: 1, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}}, nil)
	ctx := context.Background()
	cancelled := 0
	for _, it := range env.sim.Items() {
		if it.Status == provetsim.StatusCancelled {
			cancelled++
		}
	}
	_, st, err := env.client.Worklist(ctx, DeltaQuery(env.clock.Now().Add(-365*24*time.Hour), StatusFilterComma))
	if err != nil {
		t.Fatal(err)
	}
	if cancelled == 0 || st.UnknownStatuses["5"] != cancelled || len(st.UnknownStatuses) != 1 {
		t.Fatalf("unknown statuses %v, the simulator has %d cancelled (wire 5)", st.UnknownStatuses, cancelled)
	}
	sv, err := SurveyStatuses(ctx, env.client, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := sv.WriteText(&out); err != nil || !strings.Contains(out.String(), `PROBLEM: "5" means nothing`) || !strings.Contains(out.String(), "CHECK: none of the 40 orders") {
		t.Errorf("statuses table:\n%s", out.String())
	}
}

// TestSimulatorDetailBudgets: the simulator enforces Provet's appointment
// (900) and user (300) detail budgets; at 1% they are 9 and 3 a minute. The
// client waits out each 429 on the shared fake clock, so every read succeeds.
func TestSimulatorDetailBudgets(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 2, Seed: 1, RateScale: 0.01}, nil)
	ctx := context.Background()
	throttled := func() int { return env.sim.Requests()["throttled"] }
	read := func(n int, f func() error) {
		t.Helper()
		for i := range n {
			if err := f(); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("read %d: %v", i, err)
			}
		}
	}
	read(3, func() error { _, err := env.client.User(ctx, 1); return err })
	if throttled() != 0 {
		t.Fatal("3 user reads throttled")
	}
	read(1, func() error { _, err := env.client.User(ctx, 1); return err })
	if throttled() != 1 {
		t.Fatalf("the 4th user read: %d throttled, want 1", throttled())
	}
	env.clock.Sleep(ctx, 2*time.Minute)
	read(9, func() error { _, err := env.client.Appointment(ctx, 1); return err })
	if throttled() != 1 {
		t.Fatal("9 appointment reads throttled")
	}
	read(1, func() error { _, err := env.client.Appointment(ctx, 1); return err })
	if throttled() != 2 {
		t.Fatalf("the 10th appointment read: %d throttled, want 2", throttled())
	}
}
