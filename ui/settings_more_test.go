package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provet"
)

func statusSurvey(unknown bool) app.StatusSurvey {
	sv := app.StatusSurvey{Read: 33, Total: 33, Complete: true, Fingerprint: "fp1", Values: []provet.StatusValue{
		{Raw: "1", Count: 7, Examples: []int64{101, 102, 103}, Meaning: provet.StatusRequested},
		{Raw: "3", Count: 20, Examples: []int64{201, 202, 203}, Meaning: provet.StatusCompleted},
		{Raw: "4", Count: 6, Examples: []int64{301}, Meaning: provet.StatusCancelled},
	}}
	if unknown {
		sv.Values = append(sv.Values, provet.StatusValue{Raw: "7", Count: 2, Examples: []int64{701, 702}})
	}
	return sv
}

func TestStatusValuesAreReadThenConfirmed(t *testing.T) {
	fake := newFake()
	fake.statuses = app.StatusReport{Survey: statusSurvey(true)}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	st := h.u.settings.statuses
	if !st.confirm.Disabled() {
		t.Fatal("Confirm is possible before anything was read")
	}
	test.Tap(st.read)
	h.settle("survey shown", func() bool { return st.table.Visible() })
	cells := labelTexts(st.table)
	for _, want := range []string{"Provet value", "7", "not known to VetBridge", "701, 702"} {
		if !slices.Contains(cells, want) {
			t.Errorf("the table lacks %q: %q", want, cells)
		}
	}
	if i := slices.Index(cells, "3"); i < 0 || cells[i+2] != "completed" || cells[i+3] != "201, 202, 203" {
		t.Errorf("the row of value 3 reads %q", cells)
	}
	if !st.confirm.Disabled() || !strings.Contains(st.why.Text, `"7"`) {
		t.Errorf("an unknown value must keep Confirm off and say why: %q", st.why.Text)
	}
	if !strings.Contains(st.state.Text, "Not confirmed") {
		t.Errorf("state %q", st.state.Text)
	}

	fake.mu.Lock()
	fake.statuses = app.StatusReport{Survey: statusSurvey(false)}
	fake.mu.Unlock()
	test.Tap(st.read)
	h.settle("re-read", func() bool { return !st.confirm.Disabled() })
	if st.confirm.Text != "I checked these in Provet: confirm" {
		t.Errorf("Confirm says %q; it must say what it records", st.confirm.Text)
	}
	test.Tap(st.confirm)
	h.settle("confirmed", func() bool { return strings.HasPrefix(st.state.Text, "Confirmed") })
	if len(fake.confirmed) != 1 || fake.confirmed[0].Fingerprint != "fp1" {
		t.Errorf("confirmed %+v", fake.confirmed)
	}
}

func TestStatusValuesConcernsAndErrorsInWords(t *testing.T) {
	fake := newFake()
	sv := statusSurvey(false)
	// Shifted by one: nothing reads as requested, more cancelled than completed.
	sv.Values = []provet.StatusValue{
		{Raw: "2", Count: 7, Meaning: provet.StatusInProgress},
		{Raw: "3", Count: 6, Meaning: provet.StatusCompleted},
		{Raw: "4", Count: 20, Meaning: provet.StatusCancelled},
	}
	fake.statuses = app.StatusReport{Survey: sv}
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	st := h.u.settings.statuses
	test.Tap(st.read)
	h.settle("shown", func() bool { return st.table.Visible() })
	if !strings.Contains(st.concerns.Text, "requested") || !strings.Contains(st.concerns.Text, "cancelled") {
		t.Errorf("concerns %q", st.concerns.Text)
	}
	fake.mu.Lock()
	fake.statusesErr = errors.New("not signed in to Provet: sign in first")
	fake.mu.Unlock()
	test.Tap(st.read)
	h.settle("error", func() bool { return strings.HasPrefix(st.state.Text, "Could not read") })
	if st.table.Visible() || !st.confirm.Disabled() {
		t.Error("after a failed read the old table and Confirm must go")
	}
}

func TestSignInMethodAndSecret(t *testing.T) {
	fake := newFake()
	fake.who = "VetBridge integration"
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	s := h.u.settings
	if s.form.grant.Selected != "A technician signs in (browser)" || s.form.secretBox.Visible() {
		t.Fatalf("default sign-in method %q, secret shown %v", s.form.grant.Selected, s.form.secretBox.Visible())
	}
	s.form.grant.SetSelected("The integration signs in (client secret, for IT-managed installs)")
	if !s.form.secretBox.Visible() || !s.form.clientSecret.Password {
		t.Fatal("the client secret should show, hidden as a password")
	}
	s.form.clientSecret.SetText("s3cret")
	test.Tap(s.signIn.button)
	if !strings.Contains(s.signIn.state.Text, "client secret") {
		t.Errorf("sign-in says %q; no browser opens for the integration", s.signIn.state.Text)
	}
	h.settle("signed in", func() bool { return fake.count(&fake.signIns) == 1 })
	if p := fake.signInCfg[0]; p.Grant != "client_credentials" || p.ClientSecret != "s3cret" {
		t.Errorf("signed in with grant %q, secret %q", p.Grant, p.ClientSecret)
	}
	if s.signIn.link.content.Visible() {
		t.Error("a browser address is shown for the integration's sign-in")
	}
}

func TestStartAtSignInIsASetting(t *testing.T) {
	fake := newFake()
	fake.cfg.StartAtSignIn = true
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	s := h.u.settings
	if !s.form.startAtSignIn.Checked || s.form.startAtSignIn.Text != "Start VetBridge when I sign in to this computer" {
		t.Fatalf("checkbox %q checked %v", s.form.startAtSignIn.Text, s.form.startAtSignIn.Checked)
	}
	test.Tap(s.form.startAtSignIn)
	test.Tap(s.save)
	h.settle("saved", func() bool { return len(fake.savedConfigs()) == 1 })
	if fake.savedConfigs()[0].StartAtSignIn {
		t.Error("unticking did not turn start at sign-in off")
	}
}

func TestPACSSettingsAreTestedAndSaved(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	f := h.u.settings.form
	if f.pacsKind.Selected != pacsNone || f.pacsDICOMBox.Visible() || f.pacsQIDOBox.Visible() {
		t.Fatalf("no PACS should show no PACS fields (%q)", f.pacsKind.Selected)
	}
	f.pacsKind.SetSelected(pacsDICOM)
	f.pacsAE.SetText("ORTHANC")
	f.pacsHost.SetText("127.0.0.1")
	f.pacsPort.SetText("port")
	test.Tap(h.u.settings.pacsTest)
	if len(fake.pacsTested) != 0 || !strings.Contains(f.errorFor("pacs.port"), "1 to 65535") {
		t.Fatalf("a bad port was tested or not reported: %q", f.errorFor("pacs.port"))
	}
	f.pacsPort.SetText("4242")
	fake.pacsErr = errors.New("127.0.0.1:4242 refused the connection: is the PACS running?")
	test.Tap(h.u.settings.pacsTest)
	h.settle("tested", func() bool { return strings.HasPrefix(h.u.settings.pacsResult.Text, "The PACS did not answer") })
	if want := (app.PACSConfig{AETitle: "ORTHANC", Host: "127.0.0.1", Port: 4242}); fake.pacsTested[0] != want {
		t.Errorf("tested %+v, want %+v", fake.pacsTested[0], want)
	}

	f.pacsKind.SetSelected(pacsQIDO)
	f.pacsQIDO.SetText("http://127.0.0.1:8042/dicom-web")
	test.Tap(h.u.settings.save)
	h.settle("saved", func() bool { return len(fake.savedConfigs()) == 1 })
	if got := fake.savedConfigs()[0].PACS; got != (app.PACSConfig{QIDOURL: "http://127.0.0.1:8042/dicom-web"}) {
		t.Errorf("saved PACS %+v: QIDO-RS alone, the DICOM fields left out", got)
	}
}
