package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/platform"
)

// NeedsSetup is true until the first-run questions have all been answered
// (FinishSetup); until then the worklist server does not listen.
func (a *App) NeedsSetup() bool { return !a.Effective().SetupDone }

// ListenForDevices opens the worklist server during first run, from the
// step where the technician presses a modality's worklist button: it
// admits registered devices only and remembers who knocked, so the device
// can be allowed with one click before first run ends. stop closes it;
// FinishSetup closes it too, before the real server starts.
func (a *App) ListenForDevices(ctx context.Context, cfg DICOMConfig) (stop func(), err error) {
	if a.Effective().SetupDone {
		return func() {}, nil // the real server listens already
	}
	cfg.OnlyKnownDevices = true
	a.mu.Lock()
	prev := a.setupStop
	a.mu.Unlock()
	if prev != nil {
		prev()
	}
	srv, err := a.listenDICOM(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	stop = func() { once.Do(srv.stop) }
	a.mu.Lock()
	a.setupStop = stop
	a.mu.Unlock()
	return stop, nil
}

// FinishSetup validates and saves cfg as first run's answers, marks first
// run done and only then lets the worklist server listen.
func (a *App) FinishSetup(ctx context.Context, cfg Config) error {
	a.mu.Lock()
	stop := a.setupStop
	a.setupStop = nil
	a.mu.Unlock()
	if stop != nil {
		stop()
	}
	if !cfg.SetupDone {
		// A workstation's worklist server should be there after a restart
		// without anyone remembering to start it.
		cfg.StartAtSignIn = true
	}
	cfg.SetupDone = true
	return a.SaveConfig(ctx, cfg)
}

// SignIn validates the Provet settings the technician has on screen, saves
// them as the configuration's Provet part (first run stays unfinished),
// and runs the browser sign-in. waiting receives the sign-in address and
// when the wait ends, so it can be opened by hand when no browser opens.
func (a *App) SignIn(ctx context.Context, p ProvetConfig, waiting func(authURL string, until time.Time)) (string, error) {
	cfg := a.Config()
	cfg.Provet = p
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	if !a.Config().Provet.SameConnection(p) {
		if err := a.SaveConfig(ctx, cfg); err != nil {
			return "", err
		}
	}
	return a.signIn(ctx, waiting)
}

// Login signs in with the Provet settings in force (commands, the demo).
func (a *App) Login(ctx context.Context) (string, error) { return a.signIn(ctx, nil) }

// CheckDICOMPort says, in words, why the worklist server could not listen on
// port, or nil when it is free or is the port the running server has.
func (a *App) CheckDICOMPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("choose a port from 1 to 65535 (104 or 11112 are usual)")
	}
	a.mu.Lock()
	current := a.dicomPort
	a.mu.Unlock()
	if port == current {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(a.Effective().DICOM.Listen, strconv.Itoa(port)))
	if err != nil {
		return platform.PortError(port, err)
	}
	ln.Close()
	return nil
}

// ModalitySetup is what a modality must be given to reach the worklist
// server: its AE title, the port, and this computer's LAN addresses.
func (a *App) ModalitySetup() (aeTitle string, port int, addrs []string) {
	d := a.Effective().DICOM
	a.mu.Lock()
	port = a.dicomPort
	a.mu.Unlock()
	if port == 0 {
		port = d.Port
	}
	if d.Listen != "" && !net.ParseIP(d.Listen).IsUnspecified() {
		return d.AETitle, port, []string{d.Listen}
	}
	return d.AETitle, port, platform.LANAddresses()
}

// applyAutostart makes the system's start-at-sign-in entry follow the
// setting, pointing at this program (an upgrade into another directory is
// followed at the next start).
func (a *App) applyAutostart(cfg Config) {
	if a.startup == nil {
		return
	}
	var err error
	if cfg.StartAtSignIn {
		var exe string
		if exe, err = os.Executable(); err == nil {
			err = a.startup.Enable(exe, autostartArgs(a.dir)...)
		}
	} else {
		err = a.startup.Disable()
	}
	if err != nil {
		a.log.Warn("start at sign-in not changed", "err", err)
	}
}

// autostartArgs names the data directory unless it is the default one.
func autostartArgs(dir string) []string {
	if def, err := platform.DefaultDataDir(); err == nil && filepath.Clean(def) == filepath.Clean(dir) {
		return nil
	}
	return []string{"--data", dir}
}
