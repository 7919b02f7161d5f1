// VetBridge puts Provet Cloud's imaging referrals on a clinic's X-ray and
// ultrasound machines as a DICOM Modality Worklist.
//
// `vetbridge` starts the desktop app (tray and window); `vetbridge demo`
// starts it on the built-in Provet simulator; `vetbridge <command>` runs a
// headless command (see `vetbridge help`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	rtdebug "runtime/debug"
	"syscall"
	"time"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/assets"
	"github.com/vetbridge/vetbridge/ui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if app.IsCommand(args) {
		os.Exit(app.RunCommand(ctx, args, os.Stdout, os.Stderr))
	}
	if err := runDesktop(ctx, args); err != nil {
		fmt.Fprintln(os.Stderr, "vetbridge:", err)
		os.Exit(1)
	}
}

// runDesktop starts the tray app, on the configured Provet tenant or, for
// `vetbridge demo`, on the built-in simulator.
func runDesktop(ctx context.Context, args []string) error {
	demo := len(args) > 0 && args[0] == "demo"
	if demo {
		args = args[1:]
	}
	fs := flag.NewFlagSet("vetbridge", flag.ContinueOnError)
	data := fs.String("data", "", "data directory (default: the per-user VetBridge directory)")
	debug := fs.Bool("debug", false, "verbose logs, including patient names: for troubleshooting only")
	view := fs.String("view", "", "view to open first: worklist, modalities or settings")
	demoFlags := app.AddDemoFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	dir := *data
	if dir == "" {
		d, err := app.DefaultDataDir()
		if err != nil {
			return err
		}
		dir = d
		if demo {
			dir = filepath.Join(d, "demo")
		}
	}
	inst, err := app.AcquireInstance(dir)
	if errors.Is(err, app.ErrAnotherInstance) {
		fmt.Fprintln(os.Stderr, err)
		return nil
	}
	if err != nil {
		return err
	}
	defer inst.Release()
	logFile, err := app.OpenLogFile(dir)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := app.NewLogger(io.MultiWriter(os.Stderr, logFile), *debug)
	notifier := app.NewDesktopNotifier("VetBridge", assets.AppIcon.Content())

	var a *app.App
	if demo {
		o := demoFlags.Options(dir)
		o.Logger, o.Notifier, o.Out = logger, notifier, os.Stdout
		d, err := app.StartDemo(ctx, o)
		if err != nil {
			return err
		}
		defer d.Close()
		a = d.App
	} else {
		a, err = app.Open(app.Options{DataDir: dir, Logger: logger, Notifier: notifier, OpenURL: app.OpenBrowser,
			Override: func(c *app.Config) {
				if p := demoFlags.DICOMPort(); p > 0 {
					c.DICOM.Port = p
				}
			}})
		if err != nil {
			return err
		}
		defer a.Close()
	}

	// Start-up (the first sync, parsing fonts for the first drawing) leaves
	// garbage the runtime would hand back to the system only slowly; a tray
	// app then idles for hours, so give it back once, promptly.
	releaseStartupMemory := time.AfterFunc(15*time.Second, rtdebug.FreeOSMemory)
	defer releaseStartupMemory.Stop()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(runCtx)
	}()
	go inst.Serve(runCtx, a.ShowWindow)
	// SIGTERM or Ctrl+C ends the desktop app as Quit would.
	go func() {
		<-ctx.Done()
		fyne.Do(func() {
			if fa := fyne.CurrentApp(); fa != nil {
				fa.Quit()
			}
		})
	}()
	noTray := !app.TrayHostAvailable()
	if noTray {
		a.Announce("This desktop shows no tray icons, so VetBridge keeps its window open; closing it stops the worklist server.")
	}
	err = ui.Run(a, ui.Options{ShowWindow: demo || a.NeedsSetup(), StartView: *view, NoTray: noTray})
	cancel()
	<-done
	return err
}
