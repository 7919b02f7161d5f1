package ui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// First run is done when its last step is: a sign-in half-way saves nothing
// as set up, and a restart shows the wizard again.
func TestFirstRunIsDoneOnlyAtFinish(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.who = "Anna Vet"
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	test.Tap(fr.next)
	test.Tap(fr.signIn.button)
	h.settle("signed in", func() bool { return strings.HasPrefix(fr.signIn.state.Text, "Signed in") })
	if !fake.NeedsSetup() || len(fake.finished) != 0 || len(fake.savedConfigs()) != 0 {
		t.Fatal("signing in marked first run done")
	}

	restarted := newHarness(t, fake, Options{ShowWindow: true})
	if restarted.u.firstRun == nil || restarted.u.firstRun.step != 0 {
		t.Fatal("after a restart half-way, first run should start again")
	}

	for fr.step < len(fr.steps)-1 {
		test.Tap(fr.next)
	}
	test.Tap(fr.next) // Finish
	h.settle("finished", func() bool { return h.u.firstRun == nil })
	if len(fake.finished) != 1 || fake.NeedsSetup() {
		t.Errorf("Finish did not mark first run done (%d finishes)", len(fake.finished))
	}
	if len(fake.ports) != 1 || fake.ports[0] != fake.finished[0].DICOM.Port {
		t.Errorf("the DICOM port was not checked before starting the server: %v", fake.ports)
	}
}

func TestFirstRunRefusesABusyPortAtFinish(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	const busy = "port 104 needs administrator rights; choose a port above 1023, such as 11112"
	fake.portErr = map[int]error{104: errors.New(busy)}
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	test.Tap(fr.next)
	test.Tap(fr.next)
	fr.form.port.SetText("104")
	for fr.step < len(fr.steps)-1 {
		test.Tap(fr.next)
	}
	test.Tap(fr.next)
	h.settle("refused", func() bool { return fr.form.errorFor("dicom.port") != "" })
	if fr.step != stepDICOM || fr.form.errorFor("dicom.port") != busy {
		t.Errorf("at step %d with %q", fr.step, fr.form.errorFor("dicom.port"))
	}
	if len(fake.finished) != 0 || h.u.firstRun == nil {
		t.Error("first run finished with a port the server cannot listen on")
	}
}

func TestFirstRunShowsTheModalitySetupAsTyped(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.addrs = []string{"192.168.1.5"}
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	fr.goTo(stepDICOM)
	fr.form.aeTitle.SetText("CLINIC_MWL")
	fr.form.port.SetText("11120")
	if want := "AE title CLINIC_MWL, port 11120, address 192.168.1.5"; !strings.Contains(fr.setup.text.Text, want) {
		t.Errorf("first run says %q, want %q", fr.setup.text.Text, want)
	}
}
