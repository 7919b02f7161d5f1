package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/vetbridge/vetbridge/app"
)

func refusedDevice(now time.Time) app.Device {
	last := time.Date(now.Year(), now.Month(), now.Day(), 10, 42, 0, 0, now.Location())
	return app.Device{CallingAE: "DX-ROOM2", Addr: "192.168.1.31:50412", Refused: 3, LastRefused: last}
}

func TestRefusedDeviceIsAllowedFromItsAddress(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewModalities})
	fake.mu.Lock()
	fake.devices = []app.Device{refusedDevice(h.clock.Now()),
		{CallingAE: "DX1", Addr: "192.168.1.20", Known: true, LastQuery: h.clock.Now()}}
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventDevices})
	p := h.u.modalities.panel
	h.settle("refused device shown", func() bool { return p.rows["DX-ROOM2"] != nil })

	row := p.rows["DX-ROOM2"]
	if want := "DX-ROOM2 from 192.168.1.31 tried 3 times, last 10:42"; row.text.Text != want {
		t.Errorf("refused device reads %q, want %q", row.text.Text, want)
	}
	if p.rows["DX1"] == nil || !strings.Contains(p.rows["DX1"].text.Text, "DX1, allowed from any address") {
		t.Errorf("registered device missing or wrong: %+v", p.rows["DX1"])
	}
	test.Tap(row.onlyHere)
	test.Tap(row.allow)
	h.settle("allowed", func() bool { return strings.Contains(p.message.Text, "is allowed") })
	if got := fake.allowed; len(got) != 1 || got[0].ae != "DX-ROOM2" || !slices.Equal(got[0].addrs, []string{"192.168.1.31"}) {
		t.Errorf("allowed %+v, want DX-ROOM2 from 192.168.1.31 only", got)
	}
	if r := p.rows["DX-ROOM2"]; r == nil || r.allow != nil || !strings.Contains(r.text.Text, "only from 192.168.1.31") {
		t.Errorf("after Allow the device should be listed as registered: %+v", r)
	}
	// Save must not write the profiles as they were before Allow.
	if ps := h.u.settings.form.base.DICOM.Profiles; len(ps) != 1 || ps[0].CallingAE != "DX-ROOM2" {
		t.Errorf("Settings still holds profiles %+v", ps)
	}
}

func TestRegisteredDeviceIsRemovedOnlyAfterConfirming(t *testing.T) {
	fake := newFake()
	fake.devices = []app.Device{{CallingAE: "US1", Addr: "192.168.1.40", Known: true, Addrs: []string{"192.168.1.40"}}}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewModalities})
	row := h.u.modalities.panel.rows["US1"]
	if row == nil || !strings.Contains(row.text.Text, "only from 192.168.1.40") {
		t.Fatalf("registered device row = %+v", row)
	}
	test.Tap(row.remove.button)
	if !row.remove.ask.Visible() || len(fake.removed) != 0 {
		t.Fatal("Remove should ask first and remove nothing yet")
	}
	test.Tap(row.remove.no)
	if row.remove.ask.Visible() || len(fake.removed) != 0 {
		t.Fatal("Keep should take the question back and remove nothing")
	}
	test.Tap(row.remove.button)
	test.Tap(row.remove.yes)
	h.settle("removed", func() bool { return strings.Contains(h.u.modalities.panel.message.Text, "is removed") })
	if !slices.Equal(fake.removed, []string{"US1"}) {
		t.Errorf("removed %q", fake.removed)
	}
	if h.u.modalities.panel.rows["US1"] != nil || !h.u.modalities.panel.empty.Visible() {
		t.Error("the removed device is still listed")
	}
}

func TestFirstRunAllowsTheDeviceThatKnocked(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.addrs = []string{"192.168.1.5"}
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	fr.goTo(stepDICOM)
	test.Tap(fr.next)
	if fr.step != stepModality || !strings.Contains(fr.intro.Text, "press its worklist button") {
		t.Fatalf("after the DICOM step comes %q", fr.intro.Text)
	}
	if !strings.Contains(fr.knockSetup.text.Text, "192.168.1.5") || !fr.knock.empty.Visible() {
		t.Errorf("the step should show where to point the modality and that nobody knocked: %q", fr.knockSetup.text.Text)
	}
	h.settle("the step's listener", func() bool { return fr.listening })
	if fr.notListening.Visible() {
		t.Error("the server listens, yet the step says no device can reach it")
	}
	fake.mu.Lock()
	fake.devices = []app.Device{refusedDevice(h.clock.Now())}
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventDevices})
	h.settle("knock shown", func() bool { return fr.knock.rows["DX-ROOM2"] != nil })
	test.Tap(fr.knock.rows["DX-ROOM2"].allow)
	h.settle("allowed", func() bool { return len(fr.form.base.DICOM.Profiles) == 1 })
	if fr.knock.rows["DX-ROOM2"] != nil {
		t.Error("an allowed device is still offered for allowing")
	}

	for fr.step < len(fr.steps)-1 {
		test.Tap(fr.next)
	}
	test.Tap(fr.next)
	h.settle("finished", func() bool { return h.u.firstRun == nil })
	if ps := fake.finished[0].DICOM.Profiles; len(ps) != 1 || ps[0].CallingAE != "DX-ROOM2" || ps[0].AllowedAddrs != nil {
		t.Errorf("Finish saved profiles %+v; the device allowed on the way must stay", ps)
	}
}

func TestFirstRunExplainsWindowsFirewallOnlyOnWindows(t *testing.T) {
	for _, sys := range []string{"windows", "linux"} {
		old := goos
		goos = sys
		fake := newFake()
		fake.needsSetup = true
		h := newHarness(t, fake, Options{ShowWindow: true})
		goos = old
		fr := h.u.firstRun
		fr.goTo(stepDICOM)
		var said bool
		for _, l := range labelTexts(fr.steps[stepDICOM].content.(*fyne.Container)) {
			said = said || strings.Contains(l, "allow private networks")
		}
		if said != (sys == "windows") {
			t.Errorf("on %s the firewall advice shown = %v", sys, said)
		}
	}
}

func TestFirstRunSaysWhenNoDeviceCanKnockYet(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	fake.listenErr = errors.New("port 11112 is used by another program; choose another or close that program")
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	fr.goTo(stepModality)
	h.settle("the listener's answer", func() bool { return strings.Contains(fr.notListening.Text, "used by another program") })
	if !fr.notListening.Visible() || !strings.Contains(fr.notListening.Text, "Modalities view with Allow") {
		t.Errorf("with no server listening the step must say so and why: %q", fr.notListening.Text)
	}
}

// The modality step listens while it is shown, so a device's knock arrives;
// leaving the step closes the listener again.
func TestFirstRunListensOnlyOnTheModalityStep(t *testing.T) {
	fake := newFake()
	fake.needsSetup = true
	h := newHarness(t, fake, Options{ShowWindow: true})
	fr := h.u.firstRun
	if fake.count(&fake.listening) != 0 {
		t.Fatal("listening before the modality step")
	}
	fr.goTo(stepModality)
	h.settle("the listener", func() bool { return fr.listening })
	if fake.count(&fake.listening) != 1 || fr.notListening.Visible() {
		t.Fatalf("on the modality step: %d listeners, notice shown %v", fake.count(&fake.listening), fr.notListening.Visible())
	}
	fr.goTo(stepDICOM)
	if fake.count(&fake.listening) != 0 {
		t.Error("going back to change the port must close the listener")
	}
}
