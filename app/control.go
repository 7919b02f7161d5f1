package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vetbridge/vetbridge/app/localapi"
	"github.com/vetbridge/vetbridge/app/platform"
)

// ErrRunning means another VetBridge holds the data directory.
var ErrRunning = errors.New("another VetBridge is running for this data directory")

// Control is what the commands ask of an installation. The running instance
// answers it over the local API; when none runs, the data directory is
// opened directly. Both give the same answers, so a command's output does
// not depend on whether the app is running.
type Control interface {
	imagingControl // images per referral and unmatched exams (images.go)
	// Running says whether a VetBridge instance serves this installation.
	Running() bool
	Status(ctx context.Context) (Status, error)
	// SyncNow asks the instance for a sync; opened directly, it runs one
	// round and returns when it is done.
	SyncNow(ctx context.Context) error
	// Quit stops the running instance and waits until it has let go of the
	// data directory; without one it does nothing.
	Quit(ctx context.Context) error
	ShowWindow(ctx context.Context) error
	// Explain says, per device, whether it sees the referral with the
	// accession number; callingAE "" means every device seen.
	Explain(ctx context.Context, accession, callingAE string) ([]Explanation, error)
	ExportWL(ctx context.Context, dir string) (int, error)
	ImportWL(ctx context.Context, dir string) (imported, bad int, err error)
	// SignIn runs the browser sign-in; showURL receives the address to open.
	SignIn(ctx context.Context, showURL func(string)) (string, error)
	SignOut(ctx context.Context) error
	// Doctor checks the Provet connection and writes its report to w.
	Doctor(ctx context.Context, w io.Writer) error
	// Statuses lists the tenant's status values; ConfirmStatuses records
	// that a person checked the survey's meanings in Provet.
	Statuses(ctx context.Context) (StatusReport, error)
	ConfirmStatuses(ctx context.Context, s StatusSurvey) error
	Devices(ctx context.Context) ([]Device, error)
	AllowDevice(ctx context.Context, callingAE string, addrs []string) error
	RemoveDevice(ctx context.Context, callingAE string) error
	Close() error
}

// ConnectOptions say how to reach an installation.
type ConnectOptions struct {
	DataDir string
	Logger  *slog.Logger
	// OpenURL opens the sign-in page when the data directory is opened
	// directly (the running instance opens its own).
	OpenURL func(string) error
}

// Connect reaches the instance running for the data directory, or opens
// the directory directly when none runs. An instance that is starting (it
// holds the directory but does not answer yet) is waited for briefly.
func Connect(ctx context.Context, o ConnectOptions) (Control, error) {
	if o.DataDir == "" {
		d, err := platform.DefaultDataDir()
		if err != nil {
			return nil, err
		}
		o.DataDir = d
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, err := dialRemote(ctx, o.DataDir); err == nil {
			return r, nil
		}
		a, err := Open(Options{DataDir: o.DataDir, Logger: o.Logger, OpenURL: o.OpenURL, ForCommand: true})
		if err == nil {
			return direct{a}, nil
		}
		if !errors.Is(err, ErrRunning) || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Reach connects to the instance running for dir, and only to it: it
// returns ErrNotRunning when none answers.
func Reach(ctx context.Context, dir string) (Control, error) {
	if dir == "" {
		d, err := platform.DefaultDataDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return dialRemote(ctx, dir)
}

// direct is an installation opened in this process, with nothing running.
type direct struct{ a *App }

func (d direct) Running() bool { return false }
func (d direct) Close() error  { return d.a.Close() }

func (d direct) Status(ctx context.Context) (Status, error) { return d.a.Status(), nil }

func (d direct) SyncNow(ctx context.Context) error { return d.a.SyncOnce(ctx) }

// SyncOnce runs one sync round now and returns when it is done, for a
// command run while nothing else syncs.
func (a *App) SyncOnce(ctx context.Context) error {
	a.restoreSession(ctx)
	c := a.provetClient()
	if c == nil {
		return fmt.Errorf("not signed in to Provet: run `vetbridge login` first")
	}
	return a.sync.Once(ctx, c)
}

func (d direct) Quit(ctx context.Context) error       { return nil }
func (d direct) ShowWindow(ctx context.Context) error { return ErrNotRunning }

func (d direct) Explain(ctx context.Context, accession, callingAE string) ([]Explanation, error) {
	return d.a.ExplainAccession(accession, callingAE)
}

func (d direct) ExportWL(ctx context.Context, dir string) (int, error) { return d.a.ExportWL(dir) }

func (d direct) ImportWL(ctx context.Context, dir string) (int, int, error) { return d.a.ImportWL(dir) }

// ExportWL writes the worklist as .wl files into dir (0600 files in a 0700
// directory: they hold owner names).
func (a *App) ExportWL(dir string) (int, error) { return a.repo.ExportWL(dir) }

// ImportWL reads the .wl files under dir into the worklist.
func (a *App) ImportWL(dir string) (imported, bad int, err error) {
	return a.repo.ImportWL(dir, a.now())
}

func (d direct) SignIn(ctx context.Context, showURL func(string)) (string, error) {
	return d.a.signIn(ctx, func(u string, _ time.Time) { showURL(u) })
}

func (d direct) SignOut(ctx context.Context) error {
	d.a.restoreSession(ctx)
	return d.a.SignOut(ctx)
}

func (d direct) Doctor(ctx context.Context, w io.Writer) error { return d.a.Doctor(ctx, w) }

func (d direct) Devices(ctx context.Context) ([]Device, error) { return d.a.Devices(), nil }

func (d direct) Statuses(ctx context.Context) (StatusReport, error) { return d.a.Statuses(ctx) }

func (d direct) ConfirmStatuses(ctx context.Context, s StatusSurvey) error {
	return d.a.ConfirmStatuses(ctx, s)
}

func (d direct) AllowDevice(ctx context.Context, callingAE string, addrs []string) error {
	return d.a.AllowDevice(ctx, callingAE, addrs)
}

func (d direct) RemoveDevice(ctx context.Context, callingAE string) error {
	return d.a.RemoveDevice(ctx, callingAE)
}

// ErrNotRunning is returned for what only a running instance can do.
var ErrNotRunning = localapi.ErrNotRunning

// ExplainAccession explains the referral with the accession number for one
// device, or for every device that has queried.
func (a *App) ExplainAccession(accession, callingAE string) ([]Explanation, error) {
	rec, ok := a.repo.ByAccession(accession)
	key := rec.Item.Key
	if !ok {
		return nil, fmt.Errorf("no referral with accession number %q is stored; the worklist window shows each referral's accession", accession)
	}
	devices := []string{callingAE}
	if callingAE == "" {
		devices = nil
		for _, d := range a.Devices() {
			devices = append(devices, d.CallingAE)
		}
		if len(devices) == 0 {
			return nil, fmt.Errorf("no device has queried the worklist yet; pass --ae with the device's AE title")
		}
	}
	out := make([]Explanation, 0, len(devices))
	for _, dev := range devices {
		out = append(out, a.Explain(key, dev))
	}
	return out, nil
}

// absDir makes a directory a command names absolute, so the running
// instance (whose working directory differs) writes where the user meant.
func absDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	return abs, nil
}

// pid is reported by status, so IT can tell which process answers.
var pid = os.Getpid()
