//go:build xvfbsmoke

package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
)

// TestRunSmoke runs the real app on a display (xvfb-run) and quits through the
// tray's Quit: go test -tags 'migrated_fynedo xvfbsmoke' -run TestRunSmoke ./ui/
func TestRunSmoke(t *testing.T) {
	fake := newFake()
	go func() {
		time.Sleep(2 * time.Second)
		fake.emit(app.Event{Kind: app.EventStatus})
		fake.emit(app.Event{Kind: app.EventShowWindow})
		time.Sleep(time.Second)
		fyne.Do(func() {
			for _, w := range fyne.CurrentApp().Driver().AllWindows() {
				t.Log("window:", w.Title())
			}
			fyne.CurrentApp().Quit()
		})
	}()
	if err := Run(fake, Options{ShowWindow: true, StartView: ViewModalities}); err != nil {
		t.Fatal(err)
	}
	if fake.count(&fake.shutdowns) != 1 {
		t.Errorf("Run returned without shutting the backend down")
	}
}
