//go:build xvfbsmoke

package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// The real app, on a real (virtual) display, through Run:
//
//	xvfb-run -a go test -tags 'migrated_fynedo xvfbsmoke' -count=1 -run '^TestRealWindow' ./ui/
//
// OpenGL must run on the main thread, which only TestMain has; so TestMain
// runs the app once and records what it saw, and the tests below judge it.
var smoke struct {
	runErr    error
	titles    []string
	size, min fyne.Size
	shutdowns int
	timedOut  string
}

// A status message far wider than any screen: the window must not grow.
var smokeMessage = "listen tcp 0.0.0.0:11112: bind: address already in use " + strings.Repeat("x", 600)

func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		fmt.Fprintln(os.Stderr, "no display: run these tests under xvfb-run")
		os.Exit(2)
	}
	// Fyne keeps preferences, the window size among them, in the user's
	// configuration directory: each run starts from none. The directory is
	// emptied here rather than removed at the end, which Fyne's file watcher
	// would report as an error.
	dir := filepath.Join(os.TempDir(), "vetbridge-ui-smoke")
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)

	fake := newFake()
	fake.status = app.Status{State: app.StateOK, SignedInAs: "Anna", DICOMAddr: "VETBRIDGE@0.0.0.0:11112"}
	fake.addrs = []string{"192.168.1.5"}
	subscribed := make(chan struct{})
	fake.subscribed = subscribed
	go drive(fake, subscribed)
	smoke.runErr = Run(fake, Options{ShowWindow: true, StartView: ViewModalities, NoTray: true})
	smoke.shutdowns = fake.count(&fake.shutdowns)
	os.Exit(m.Run())
}

// drive acts as the app would once the window runs, then quits.
func drive(fake *fakeBackend, subscribed <-chan struct{}) {
	defer fyne.Do(func() { fyne.CurrentApp().Quit() })
	select {
	case <-subscribed:
	case <-time.After(30 * time.Second):
		smoke.timedOut = "the UI never subscribed to the backend"
		return
	}
	fake.mu.Lock()
	fake.status = app.Status{State: app.StateError, SignedInAs: "Anna", DICOMAddr: "VETBRIDGE@0.0.0.0:11112", Message: smokeMessage}
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventStatus})
	fake.emit(app.Event{Kind: app.EventShowWindow})
	// Wait, frame by frame, until the message is on screen.
	if !waitOnUI(30*time.Second, func() bool { return windowShows(smokeMessage[:40]) }) {
		smoke.timedOut = "the status message never showed"
		return
	}
	fyne.DoAndWait(func() {
		for _, w := range fyne.CurrentApp().Driver().AllWindows() {
			smoke.titles = append(smoke.titles, w.Title())
			smoke.size = w.Canvas().Size()
			smoke.min = w.Content().MinSize()
		}
	})
}

// waitOnUI checks cond on the UI goroutine until it holds or d passes.
func waitOnUI(d time.Duration, cond func() bool) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		var ok bool
		fyne.DoAndWait(func() { ok = cond() })
		if ok {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
}

func windowShows(text string) bool {
	for _, w := range fyne.CurrentApp().Driver().AllWindows() {
		for _, o := range test.LaidOutObjects(w.Content()) {
			if l, ok := o.(*widget.Label); ok && l.Visible() && strings.Contains(l.Text, text) {
				return true
			}
		}
	}
	return false
}

func TestRealWindowRunsAndShutsDown(t *testing.T) {
	if smoke.runErr != nil {
		t.Fatalf("Run: %v", smoke.runErr)
	}
	if smoke.timedOut != "" {
		t.Fatal(smoke.timedOut)
	}
	if len(smoke.titles) != 1 || smoke.titles[0] != "VetBridge — Modalities" {
		t.Errorf("windows %q", smoke.titles)
	}
	if smoke.shutdowns != 1 {
		t.Errorf("Run returned after %d backend shutdowns, want 1", smoke.shutdowns)
	}
}

func TestRealWindowKeepsItsSizeWithALongMessage(t *testing.T) {
	if smoke.timedOut != "" {
		t.Skip(smoke.timedOut)
	}
	t.Logf("window %v, content needs %v", smoke.size, smoke.min)
	if smoke.size.Width > defaultWindowSize.Width || smoke.min.Width > defaultWindowSize.Width {
		t.Errorf("a long status message widens the window to %v (content needs %v)", smoke.size, smoke.min)
	}
}
