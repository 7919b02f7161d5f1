//go:build xvfbsmoke

package ui

import (
	"fmt"
	"os"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
)

// TestMain runs the real app on a display and quits it after a few seconds:
//
//	xvfb-run go test -tags 'migrated_fynedo xvfbsmoke' ./ui/
//
// It lives in TestMain because OpenGL must run on the main thread, which
// ordinary tests do not.
func TestMain(m *testing.M) {
	fake := newFake()
	fake.status = app.Status{State: app.StateOK, SignedInAs: "Anna", DICOMAddr: "VETBRIDGE@127.0.0.1:11112"}
	var titles []string
	go func() {
		time.Sleep(2 * time.Second)
		fake.emit(app.Event{Kind: app.EventStatus})
		fake.emit(app.Event{Kind: app.EventShowWindow})
		time.Sleep(time.Second)
		fyne.Do(func() {
			for _, w := range fyne.CurrentApp().Driver().AllWindows() {
				titles = append(titles, w.Title())
			}
			fyne.CurrentApp().Quit()
		})
	}()
	if err := Run(fake, Options{ShowWindow: true, StartView: ViewModalities}); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	fmt.Printf("windows: %q\n", titles)
	if fake.count(&fake.shutdowns) != 1 {
		fmt.Println("FAIL: Run returned without shutting the backend down")
		os.Exit(1)
	}
	fmt.Println("smoke ok")
	os.Exit(0)
}
