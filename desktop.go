//go:build !headless

package main

import (
	"context"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/cli"
	"github.com/vetbridge/vetbridge/ui"
)

// desktop runs the Fyne UI; SIGTERM or Ctrl+C ends it as Quit would.
var desktop cli.Desktop = func(ctx context.Context, a *app.App, o cli.DesktopOptions) error {
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
