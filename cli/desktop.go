package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/autostart"
	"github.com/vetbridge/vetbridge/app/platform"
	"github.com/vetbridge/vetbridge/assets"
	"github.com/vetbridge/vetbridge/demo"
)

// Desktop shows the desktop UI for a's installation and returns when the
// technician quits (or ctx ends).
type Desktop func(ctx context.Context, a *app.App, o DesktopOptions) error

// DesktopOptions say how the window starts.
type DesktopOptions struct {
	ShowWindow bool   // open the window at once instead of starting in the tray
	StartView  string // worklist, modalities or settings
	NoTray     bool   // the desktop shows no tray icons: the window is the way in
}

// errNoDesktop is the whole answer where no window can be shown: said
// before anything signs in or listens.
var errNoDesktop = errors.New("no desktop found (no DISPLAY or WAYLAND_DISPLAY): run `vetbridge serve` for the worklist server without a window, or `vetbridge demo --headless` to try it")

// errNoWindowBuild is the answer of a build without the desktop UI.
var errNoWindowBuild = errors.New("this VetBridge was built without its window (headless): run `vetbridge serve`")

// runDesktop starts the tray app, on the configured Provet tenant or, for
// `vetbridge demo`, on the built-in simulator. A second launch for the same
// data directory brings the first one's window forward instead.
func runDesktop(ctx context.Context, env Env, args []string, isDemo bool) error {
	fs := newFlags(env, "vetbridge", "[--data DIR] [--view worklist|modalities|unmatched|settings] [--debug]")
	df := addDataFlags(fs)
	view := fs.String("view", "", "view to open first: worklist, modalities, unmatched or settings")
	flags := demo.AddFlags(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if env.Desktop == nil {
		return errNoWindowBuild
	}
	if !platform.HasDisplay() {
		return errNoDesktop
	}
	dir := *df.data
	if isDemo {
		d, err := demoDir(dir)
		if err != nil {
			return err
		}
		dir = d
	}
	if shown, err := showRunning(ctx, env, dir); shown || err != nil {
		return err
	}
	logFile, err := platform.OpenLogFile(dir)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := app.NewLogger(io.MultiWriter(env.Stderr, logFile), *df.debug)
	notifier := platform.NewDesktopNotifier("VetBridge", assets.AppIcon.Content())

	a, closeApp, err := openDesktopApp(ctx, dir, isDemo, flags, logger, notifier)
	if err != nil {
		return err
	}
	defer closeApp()
	// Start-up (the first sync, parsing fonts for the first drawing) leaves
	// garbage the runtime would hand back to the system only slowly; a tray
	// app then idles for hours, so give it back once, promptly.
	releaseStartupMemory := time.AfterFunc(15*time.Second, a.ReleaseMemory)
	defer releaseStartupMemory.Stop()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Run(runCtx)
	}()
	noTray := !platform.TrayHostAvailable()
	if noTray {
		a.Announce("This desktop shows no tray icons, so VetBridge keeps its window open; closing it stops the worklist server.")
	}
	err = env.Desktop(ctx, a, DesktopOptions{ShowWindow: isDemo || a.NeedsSetup(), StartView: *view, NoTray: noTray})
	cancel()
	<-done
	return err
}

// showRunning asks a VetBridge already running for dir to show its window.
func showRunning(ctx context.Context, env Env, dir string) (bool, error) {
	c, err := app.Reach(ctx, dir)
	if errors.Is(err, app.ErrNotRunning) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer c.Close()
	if err := c.ShowWindow(ctx); err != nil {
		return true, fmt.Errorf("VetBridge is already running but did not answer: %w", err)
	}
	fmt.Fprintln(env.Stderr, "VetBridge is already running; its window has been brought forward.")
	return true, nil
}

func openDesktopApp(ctx context.Context, dir string, isDemo bool, flags demo.Flags, logger *slog.Logger, n app.Notifier) (*app.App, func(), error) {
	if isDemo {
		o := flags.Options(dir)
		o.Logger, o.Notifier = logger, n
		d, err := demo.Start(ctx, o)
		if err != nil {
			return nil, nil, err
		}
		return d.App, func() { d.Close() }, nil
	}
	startup, err := autostart.New()
	if err != nil {
		logger.Info("start at sign-in is not managed here", "err", err)
	}
	a, err := app.Open(app.Options{DataDir: dir, Logger: logger, Notifier: n, OpenURL: platform.OpenBrowser, Autostart: startup,
		Override: func(c *app.Config) {
			if p := flags.DICOMPort(); p > 0 {
				c.DICOM.Port = p
			}
		}})
	if err != nil {
		return nil, nil, err
	}
	return a, func() { a.Close() }, nil
}
