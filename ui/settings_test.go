package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

func TestSignInShowsItsAddressAndHowLongItWaits(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	const authURL = "http://127.0.0.1:8080/1234/oauth2/authorize/?client_id=vetbridge&state=x"
	fake.signInURL = authURL
	fake.signInUntil = h.clock.Now().Add(5 * time.Minute)
	fake.release = make(chan struct{})
	fake.who = "Anna Vet"
	p := h.u.settings.signIn
	test.Tap(p.button)
	h.settle("waiting", func() bool { return p.link.copy.Visible() })

	if !strings.Contains(p.state.Text, "until "+fake.signInUntil.Format("15:04")) || !strings.Contains(p.state.Text, "5 minutes") {
		t.Errorf("the wait is not said: %q", p.state.Text)
	}
	if !strings.Contains(p.link.text.Text, authURL) {
		t.Errorf("the address is not shown: %q", p.link.text.Text)
	}
	test.Tap(p.link.copy)
	if got := h.u.fa.Clipboard().Content(); got != authURL {
		t.Errorf("clipboard %q", got)
	}
	if p.button.Text != "Cancel sign-in" {
		t.Errorf("button %q while waiting", p.button.Text)
	}
	close(fake.release)
	h.settle("signed in", func() bool { return strings.HasPrefix(p.state.Text, "Signed in as Anna Vet") })
	if p.link.content.Visible() {
		t.Error("the sign-in address stays after signing in")
	}
}

func TestSignInCanBeCancelled(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	fake.signInURL, fake.signInUntil = "http://127.0.0.1:1/authorize", h.clock.Now().Add(5*time.Minute)
	fake.release = make(chan struct{})
	p := h.u.settings.signIn
	test.Tap(p.button)
	h.settle("waiting", func() bool { return p.waiting() && p.link.copy.Visible() })
	test.Tap(p.button)
	h.settle("cancelled", func() bool { return strings.HasPrefix(p.state.Text, "Sign-in cancelled") })
	if h.u.status.notice.Visible() {
		t.Errorf("a cancelled sign-in is no failure: %q", h.u.status.notice.Text)
	}
}

// A sign-in denied in Provet must stay said, whatever the status refresh does.
func TestSettingsSignInFailureStaysShown(t *testing.T) {
	fake := newFake()
	fake.signInErr = errors.New("Provet says access was denied.")
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	test.Tap(s.signIn.button)
	h.settle("failed", func() bool { return strings.HasPrefix(s.signIn.state.Text, "Sign-in did not finish") })

	fake.emit(app.Event{Kind: app.EventStatus})
	h.u.apply(dirty{status: true, referrals: true})
	if !strings.Contains(s.signIn.state.Text, "access was denied") {
		t.Errorf("Settings says %q after a status refresh", s.signIn.state.Text)
	}
	if !h.u.status.notice.Visible() || !strings.Contains(h.u.status.notice.Text, "access was denied") {
		t.Errorf("status bar says %q after a status refresh", h.u.status.notice.Text)
	}

	// A later sign-in that works clears the failure.
	fake.mu.Lock()
	fake.signInErr, fake.who = nil, "Anna Vet"
	fake.mu.Unlock()
	test.Tap(s.signIn.button)
	h.settle("signed in", func() bool { return strings.HasPrefix(s.signIn.state.Text, "Signed in") })
	if h.u.status.notice.Visible() {
		t.Errorf("the old failure is still shown: %q", h.u.status.notice.Text)
	}
}

func TestSettingsSignInUsesTheValuesOnScreen(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{StartView: ViewSettings})
	s := h.u.settings
	s.form.clientID.SetText("corrected-client")
	s.form.provetID.SetText("abc")
	if msg := s.form.errorFor("provet.provet_id"); !strings.Contains(msg, "number in your Provet address") {
		t.Errorf("a Provet ID of letters is not refused while typing: %q", msg)
	}
	test.Tap(s.signIn.button)
	if n := fake.count(&fake.signIns); n != 0 {
		t.Fatal("signed in with a Provet ID of letters")
	}
	s.form.provetID.SetText("4321")
	if msg := s.form.errorFor("provet.provet_id"); msg != "" {
		t.Errorf("a corrected Provet ID still shows %q", msg)
	}
	test.Tap(s.signIn.button)
	h.settle("signed in", func() bool { return fake.count(&fake.signIns) == 1 && !s.signIn.waiting() })
	if got := fake.signInCfg[0]; got.ClientID != "corrected-client" || got.ProvetID != "4321" {
		t.Errorf("signed in with %+v, not what is on screen", got)
	}
}

func TestTraySignInOpensSettingsAndSignsIn(t *testing.T) {
	fake := newFake()
	fake.who = "Anna Vet"
	h := newHarness(t, fake, Options{})
	h.tray.item(t, "Sign in with Provet").Action()
	if !h.u.visible || h.u.tabs.Selected().Content != h.u.settings.content {
		t.Error("sign-in from the tray should show Settings, where its progress shows")
	}
	h.settle("signed in", func() bool { return strings.HasPrefix(h.u.settings.signIn.state.Text, "Signed in as Anna Vet") })
}

func TestBusyDICOMPortIsRefusedBeforeApplying(t *testing.T) {
	fake := newFake()
	const busy = "port 11113 is used by another program; choose another or close it"
	fake.portErr = map[int]error{11113: errors.New(busy)}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	s.form.port.SetText("11113")
	test.Tap(s.save)
	h.settle("refused", func() bool { return strings.HasPrefix(s.message.Text, "Nothing was saved") })
	if got := s.form.errorFor("dicom.port"); got != busy {
		t.Errorf("port message %q", got)
	}
	if len(fake.savedConfigs()) != 0 {
		t.Error("a busy port was saved and applied")
	}

	// An unchanged port is the running server's own: no check, it is in use by us.
	s.form.port.SetText("11112")
	test.Tap(s.save)
	h.settle("saved", func() bool { return s.message.Text == "Saved and applied." })
	if !slices.Equal(fake.ports, []int{11113}) {
		t.Errorf("checked ports %v", fake.ports)
	}
}

// Long words, whatever their source, wrap or truncate: the window keeps its size.
func TestLongMessagesNeverWidenTheWindow(t *testing.T) {
	fake := newFake()
	long := "listen tcp 0.0.0.0:11113: bind: address already in use " + strings.Repeat("x", 400)
	fake.status = app.Status{State: app.StateError, SignedInAs: "Anna", DICOMAddr: "VETBRIDGE@0.0.0.0:11112", Message: long}
	fake.portErr = map[int]error{11113: errors.New(long)}
	fake.addrs = []string{strings.Repeat("fe80::1234:5678:9abc:def0%eth0 ", 12)}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	s.form.port.SetText("11113")
	test.Tap(s.save)
	h.settle("refused", func() bool { return s.form.errorFor("dicom.port") != "" })
	h.u.status.setNotice(long)
	layOut(h)
	if min := h.u.win.Content().MinSize().Width; min > defaultWindowSize.Width {
		t.Errorf("long messages make the window %v px wide", min)
	}
	if h.u.win.Canvas().Size().Width > 1200 {
		t.Errorf("the window grew to %v", h.u.win.Canvas().Size())
	}
}

func TestModalitySetupIsShownWithCopy(t *testing.T) {
	fake := newFake()
	fake.status.DICOMAddr = "VETBRIDGE@0.0.0.0:11112"
	fake.addrs = []string{"192.168.1.5", "10.0.0.7"}
	h := newHarness(t, fake, Options{ShowWindow: true})
	const want = "AE title VETBRIDGE, port 11112, address 192.168.1.5 or 10.0.0.7"
	for name, m := range map[string]*modalitySetup{"status bar": h.u.status.setup, "Settings": h.u.settings.setup} {
		if !strings.Contains(m.text.Text, want) {
			t.Errorf("%s says %q", name, m.text.Text)
		}
		test.Tap(m.copy)
		if got := h.u.fa.Clipboard().Content(); got != "AE title: VETBRIDGE\nPort: 11112\nAddress: 192.168.1.5 or 10.0.0.7\n" {
			t.Errorf("%s copied %q", name, got)
		}
	}
	if strings.Contains(h.u.status.setup.text.Text, "@") {
		t.Error("the status line still shows AE@host:port")
	}

	fake.mu.Lock()
	fake.status.DICOMAddr = ""
	fake.mu.Unlock()
	h.u.refreshStatus()
	if m := h.u.status.setup; !strings.Contains(m.text.Text, "not running") || m.copy.Visible() {
		t.Errorf("a stopped server shows %q", m.text.Text)
	}
}

func TestSettingsSpeakPlainly(t *testing.T) {
	fake := newFake()
	fake.cfg.Provet.Region = "us"
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	if !slices.Equal(s.form.region.Options, []string{"Europe", "United States", "Enterprise", "Other address"}) ||
		s.form.region.Selected != "United States" {
		t.Errorf("regions %q, selected %q", s.form.region.Options, s.form.region.Selected)
	}
	if s.form.redirectPort.Text != "" {
		t.Errorf("an automatic callback port shows %q", s.form.redirectPort.Text)
	}
	var labels []string
	for _, o := range test.LaidOutObjects(s.content) {
		if f, ok := o.(*widget.Form); ok {
			for _, it := range f.Items {
				labels = append(labels, it.Text)
			}
		}
	}
	for _, want := range []string{"Sign-in callback port", "Devices connected at once"} {
		if !slices.Contains(labels, want) {
			t.Errorf("Settings lacks %q: %q", want, labels)
		}
	}
	for _, jargon := range []string{"Sign-in port", "Max associations"} {
		if slices.Contains(labels, jargon) {
			t.Errorf("Settings still says %q", jargon)
		}
	}
	s.form.region.SetSelected("Europe")
	test.Tap(s.save)
	h.settle("saved", func() bool { return len(fake.savedConfigs()) == 1 })
	if p := fake.savedConfigs()[0].Provet; p.Region != "eu" || p.RedirectPort != 0 {
		t.Errorf("saved region %q, callback port %d", p.Region, p.RedirectPort)
	}
}

// The mouse wheel over a field scrolls the page, not the field.
func TestSettingsScrollOverFields(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	h.u.show()
	s := h.u.settings
	layOut(h)
	d := fyne.CurrentApp().Driver()
	for _, e := range []*widget.Entry{s.form.clientID, s.form.port, s.form.retention} {
		// Bring the field to 100 px below the top of the page's viewport.
		s.scroll.ScrollToTop()
		inPage := d.AbsolutePositionForObject(e).Y - d.AbsolutePositionForObject(s.scroll).Y
		s.scroll.ScrollToOffset(fyne.NewPos(0, max(0, inPage-100)))
		pos := d.AbsolutePositionForObject(e).Add(fyne.NewPos(10, 10))
		before := s.scroll.Offset.Y
		dy := float32(-60) // down
		if before > 0 {
			dy = 60 // up, in case the page ends below
		}
		test.Scroll(h.u.win.Canvas(), pos, 0, dy)
		if s.scroll.Offset.Y == before {
			t.Errorf("the wheel over the field at %v did not scroll Settings", pos)
		}
	}
}

// Saving under --dicom-port says the port this run keeps, instead of
// "applied" for a change that does not take effect until the next start.
func TestSavingUnderACommandLineOverrideSaysSo(t *testing.T) {
	fake := newFake()
	fake.overrides = []string{"the DICOM port stays 4242 (--dicom-port)"}
	h := newHarness(t, fake, Options{ShowWindow: true, StartView: ViewSettings})
	s := h.u.settings
	test.Tap(s.save)
	h.settle("saved", func() bool { return strings.HasPrefix(s.message.Text, "Saved") })
	if !strings.Contains(s.message.Text, "the DICOM port stays 4242") || strings.Contains(s.message.Text, "applied") {
		t.Errorf("message %q", s.message.Text)
	}
}
