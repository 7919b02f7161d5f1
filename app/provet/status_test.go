package provet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

// confirmedSet is a confirmation store for tests.
type confirmedSet map[string]bool

func (c confirmedSet) has(fp string) bool { return c[fp] }

func shiftedMapping(t *testing.T) *Mapping {
	t.Helper()
	m := DefaultMapping()
	if err := m.ApplyOverrides(map[string]string{"status.requested": "2", "status.in_progress": "3",
		"status.completed": "4", "status.cancelled": "5"}); err != nil {
		t.Fatal(err)
	}
	return m
}

func sentStatuses(sim *provetsim.Server) []int {
	var out []int
	for _, p := range sim.Patches() {
		out = append(out, p.Sent)
	}
	return out
}

// firstWith returns the first simulator order in state st.
func firstWith(t *testing.T, sim *provetsim.Server, st int) int64 {
	t.Helper()
	for _, it := range sim.Items() {
		if it.Status == st {
			return int64(it.WorklistID)
		}
	}
	t.Fatalf("the simulator has no order in state %d", st)
	return 0
}

func TestNoPatchUntilStatusesAreConfirmed(t *testing.T) {
	conf := confirmedSet{}
	env := startSim(t, provetsim.Options{Referrals: 20, Seed: 1, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}},
		func(o *Options) { o.StatusesConfirmed = conf.has })
	ctx := context.Background()
	id := firstWith(t, env.sim, provetsim.StatusRequested)
	if _, err := env.client.AdvanceStatus(ctx, id, StatusCompleted); !errors.Is(err, ErrStatusesUnconfirmed) {
		t.Fatalf("AdvanceStatus unconfirmed: %v", err)
	}
	if _, err := env.client.SetWorklistStatus(ctx, id, StatusCompleted); !errors.Is(err, ErrStatusesUnconfirmed) {
		t.Fatalf("SetWorklistStatus unconfirmed: %v", err)
	}
	if p := env.sim.Patches(); len(p) != 0 {
		t.Fatalf("PATCHes sent before confirmation: %+v", p)
	}
}

func TestNoPatchOverAStatusTheMappingDoesNotKnow(t *testing.T) {
	// Someone confirmed the default mapping against a shifted tenant: the
	// cancelled orders (wire 5) still read as unknown, and nothing is sent.
	conf := confirmedSet{DefaultMapping().StatusFingerprint(): true}
	env := startSim(t, provetsim.Options{Referrals: 40, Seed: 1, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}},
		func(o *Options) { o.StatusesConfirmed = conf.has })
	id := firstWith(t, env.sim, provetsim.StatusCancelled)
	ch, err := env.client.AdvanceStatus(context.Background(), id, StatusCompleted)
	if !errors.Is(err, ErrStatusUnknown) || ch.Before == nil || ch.Before.StatusRaw != "5" {
		t.Fatalf("err %v, before %+v", err, ch.Before)
	}
	if m := DefaultMapping(); m.StatusOf("5") != StatusUnknown || m.StatusOf(" 2 ") != StatusInProgress {
		t.Fatal("the mapping must say unknown for a raw value it does not list")
	}
	if p := env.sim.Patches(); len(p) != 0 {
		t.Fatalf("PATCH sent over an unknown status: %+v", p)
	}
}

func TestAdvanceStatusInOrderNeverBackwards(t *testing.T) {
	m := shiftedMapping(t)
	conf := confirmedSet{m.StatusFingerprint(): true}
	env := startSim(t, provetsim.Options{Referrals: 20, Seed: 1, Quirks: provetsim.Quirks{StatusCodes: provetsim.ShiftedStatuses(1)}},
		func(o *Options) { o.Mapping = m; o.StatusesConfirmed = conf.has })
	ctx := context.Background()
	id := firstWith(t, env.sim, provetsim.StatusRequested)
	steps := []struct {
		target Status
		want   StatusOutcome
	}{
		{StatusInProgress, StatusSent},
		{StatusInProgress, StatusAlready},
		{StatusCompleted, StatusSent},
		{StatusInProgress, StatusClosed}, // a late "in progress" never reopens a completed order
		{StatusCancelled, StatusClosed},
	}
	for i, s := range steps {
		ch, err := env.client.AdvanceStatus(ctx, id, s.target)
		if err != nil || ch.Outcome != s.want {
			t.Fatalf("step %d (%s): outcome %s, err %v", i, s.target, ch.Outcome, err)
		}
	}
	if got := sentStatuses(env.sim); len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("PATCHed %v, want the tenant's [3 4]", got)
	}
	for _, it := range env.sim.Items() {
		if int64(it.WorklistID) == id && it.Status != provetsim.StatusCompleted {
			t.Fatalf("the order ended in state %d", it.Status)
		}
	}
	// An order Provet itself moved on is not moved back.
	id2 := firstWith(t, env.sim, provetsim.StatusInProgress)
	if ch, err := env.client.AdvanceStatus(ctx, id2, StatusRequested); err != nil || ch.Outcome != StatusBehind {
		t.Fatalf("requested over in progress: %s %v", ch.Outcome, err)
	}
	if n := len(env.sim.Patches()); n != 2 {
		t.Fatalf("%d PATCHes, want 2", n)
	}
}

func TestChangingTheMappingWithdrawsTheConfirmation(t *testing.T) {
	m := DefaultMapping()
	before := m.StatusFingerprint()
	if m.Clone().StatusFingerprint() != before || DefaultMapping().StatusFingerprint() != before {
		t.Fatal("the fingerprint is not stable")
	}
	seen := map[string]string{before: "default"}
	for name, ov := range map[string]map[string]string{
		"shifted":          {"status.requested": "2", "status.in_progress": "3", "status.completed": "4", "status.cancelled": "5"},
		"extra value":      {"status.completed": "3,9"},
		"written value":    {"status.completed": "9,3"},
		"status key":       {"worklist.status": "state"},
		"swapped meanings": {"status.completed": "4", "status.cancelled": "3"},
	} {
		m := DefaultMapping()
		if err := m.ApplyOverrides(ov); err != nil {
			t.Fatal(err)
		}
		fp := m.StatusFingerprint()
		if other, dup := seen[fp]; dup {
			t.Errorf("%s has the fingerprint of %s", name, other)
		}
		seen[fp] = name
	}
	// Other keys do not touch the status confirmation.
	m2 := DefaultMapping()
	_ = m2.ApplyOverrides(map[string]string{"worklist.remarks": "notes"})
	if m2.StatusFingerprint() != before {
		t.Error("a non-status key changed the status fingerprint")
	}

	conf := confirmedSet{before: true}
	env := startSim(t, provetsim.Options{Referrals: 5, Seed: 1}, func(o *Options) {
		o.Mapping = shiftedMapping(t)
		o.StatusesConfirmed = conf.has
	})
	if _, err := env.client.AdvanceStatus(context.Background(), 1, StatusCompleted); !errors.Is(err, ErrStatusesUnconfirmed) {
		t.Fatalf("a confirmation of another mapping let a PATCH through: %v", err)
	}
	if len(env.sim.Patches()) != 0 {
		t.Fatal("PATCH sent")
	}
}

func TestStatusFilterForms(t *testing.T) {
	for _, tc := range []struct {
		tenant string
		form   StatusFilterForm
	}{{"comma", StatusFilterComma}, {"brackets", StatusFilterBrackets}, {"brackets", StatusFilterNone}} {
		env := startSim(t, provetsim.Options{Referrals: 30, Seed: 2, Quirks: provetsim.Quirks{StatusInForm: tc.tenant}}, nil)
		_, st, err := env.client.Worklist(context.Background(), FullQuery(tc.form, 0))
		if err != nil {
			t.Fatal(err)
		}
		open := 0
		for _, it := range env.sim.Items() {
			if it.Status <= provetsim.StatusInProgress {
				open++
			}
		}
		if st.Delivered != open {
			t.Errorf("%s tenant, %s form: %d delivered, want %d open", tc.tenant, tc.form, st.Delivered, open)
		}
		if wantFiltered := map[bool]int{true: 30 - open, false: 0}[tc.form == StatusFilterNone]; st.Filtered != wantFiltered {
			t.Errorf("%s tenant, %s form: %d filtered on our side, want %d", tc.tenant, tc.form, st.Filtered, wantFiltered)
		}
	}
	for _, s := range []string{"", "comma", "brackets", "none"} {
		f, err := ParseStatusFilterForm(s)
		if err != nil || (s != "" && f.String() != s) {
			t.Errorf("ParseStatusFilterForm(%q) = %s, %v", s, f, err)
		}
	}
	if _, err := ParseStatusFilterForm("[]"); err == nil {
		t.Error("a bad form was accepted")
	}
}

func TestStatusFilterFormText(t *testing.T) {
	for _, f := range []StatusFilterForm{StatusFilterComma, StatusFilterBrackets, StatusFilterNone} {
		b, err := json.Marshal(map[string]StatusFilterForm{"form": f})
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]StatusFilterForm
		if err := json.Unmarshal(b, &back); err != nil || back["form"] != f {
			t.Fatalf("%s: %s → %v, %v", f, b, back, err)
		}
	}
	var f StatusFilterForm
	if err := json.Unmarshal([]byte(`"semicolon"`), &f); err == nil {
		t.Fatal("an unknown form was read")
	}
	if b, _ := json.Marshal(Finding{Severity: SevConfirm}); !strings.Contains(string(b), `"Severity":"confirm"`) {
		t.Fatalf("finding JSON %s", b)
	}
}

// TestOutageThenLateUpdatesNeverGoBackwards replays the outage:
// Provet is down when the exam starts, back before it ends, and the queued
// "in progress" is delivered after "completed". Provet ends completed and
// never receives completed followed by in progress.
func TestOutageThenLateUpdatesNeverGoBackwards(t *testing.T) {
	m := DefaultMapping()
	conf := confirmedSet{m.StatusFingerprint(): true}
	env := startSim(t, provetsim.Options{Referrals: 10, Seed: 1}, func(o *Options) {
		o.StatusesConfirmed = conf.has
		o.MaxAttempts = 2
	})
	ctx := context.Background()
	id := firstWith(t, env.sim, provetsim.StatusRequested)
	env.sim.SetFaults(provetsim.Faults{Outage: true})
	if _, err := env.client.AdvanceStatus(ctx, id, StatusInProgress); !errors.Is(err, ErrOffline) && !errors.Is(err, ErrServer) {
		t.Fatalf("during the outage: %v", err)
	}
	env.sim.SetFaults(provetsim.Faults{})
	for _, s := range []Status{StatusCompleted, StatusInProgress} { // the wrong order
		if _, err := env.client.AdvanceStatus(ctx, id, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := sentStatuses(env.sim); len(got) != 1 || got[0] != provetsim.StatusCompleted {
		t.Fatalf("PATCHed %v, want only [completed]", got)
	}
	for _, it := range env.sim.Items() {
		if int64(it.WorklistID) == id && it.Status != provetsim.StatusCompleted {
			t.Fatalf("Provet holds state %d", it.Status)
		}
	}
}
