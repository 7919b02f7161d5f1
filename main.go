// VetBridge puts Provet Cloud's imaging referrals on a clinic's X-ray and
// ultrasound machines as a DICOM Modality Worklist.
//
// `vetbridge` starts the desktop app (tray and window); `vetbridge demo`
// starts it on the built-in Provet simulator; `vetbridge <command>` runs a
// command (see `vetbridge help`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/console"
	"github.com/vetbridge/vetbridge/cli"
	"github.com/vetbridge/vetbridge/ui"
)

func main() {
	// A Windows GUI program has no console of its own: commands print to
	// the terminal that started them.
	console.Attach()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Desktop: desktop})
	stop()
	os.Exit(code)
}

// desktop runs the Fyne UI; SIGTERM or Ctrl+C ends it as Quit would.
func desktop(ctx context.Context, a *app.App, o cli.DesktopOptions) error {
	go func() {
		<-ctx.Done()
		fyne.Do(func() {
			if fa := fyne.CurrentApp(); fa != nil {
				fa.Quit()
			}
		})
	}()
	return ui.Run(a, ui.Options{ShowWindow: o.ShowWindow, StartView: o.StartView, NoTray: o.NoTray})
}
