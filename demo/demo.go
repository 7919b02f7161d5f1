// Package demo runs VetBridge on the built-in Provet simulator: the
// simulator on loopback, an installation configured for it, and a real PKCE
// sign-in that the simulator approves at once. `make demo` and the end-to-end
// tests use it.
package demo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"github.com/vetbridge/vetbridge/app/signin"
)

// Options configure a demo: the simulator, and VetBridge signed in to it.
type Options struct {
	DataDir   string
	Referrals int
	Seed      uint64
	DICOMPort int
	// NewReferralEvery makes the simulator add a referral periodically, so a
	// newcomer sees a notification arrive; 0 disables it.
	NewReferralEvery time.Duration
	Logger           *slog.Logger
	Notifier         app.Notifier
	// Out receives the `simulator:` and `dicom:` lines scripts read.
	Out io.Writer
	// Configure adjusts the demo's configuration further (tests shorten
	// intervals with it).
	Configure func(*app.Config)
	// Simulator adjusts the simulator's options before it starts.
	Simulator func(*provetsim.Options)
}

// Flags are the demo's command-line flags, shared by the headless
// command and the desktop demo.
type Flags struct {
	referrals *int
	seed      *uint64
	dicomPort *int
	every     *time.Duration
}

// AddFlags defines the demo's flags on fs.
func AddFlags(fs *flag.FlagSet) Flags {
	return Flags{
		referrals: fs.Int("referrals", 40, "demo: referrals the simulator starts with"),
		seed:      fs.Uint64("seed", 1, "demo: seed of the simulator's data"),
		dicomPort: fs.Int("dicom-port", 0, "DICOM port for this run (default from the configuration, 11112)"),
		every:     fs.Duration("new-referral-every", time.Minute, "demo: how often the simulator adds a referral; 0 disables it"),
	}
}

// DICOMPort is the --dicom-port value; 0 means the configured port.
func (f Flags) DICOMPort() int { return *f.dicomPort }

// Options turns the parsed flags into demo options for data directory dir.
func (f Flags) Options(dir string) Options {
	return Options{DataDir: dir, Referrals: *f.referrals, Seed: *f.seed, DICOMPort: *f.dicomPort, NewReferralEvery: *f.every}
}

// Demo is a running demo.
type Demo struct {
	App *app.App
	Sim *provetsim.Server
}

// StartDemo starts the Provet simulator, opens VetBridge configured for it,
// and signs in through the real PKCE flow with the simulator approving at
// once. Run the returned App as usual; Close stops the simulator.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Logger == nil {
		o.Logger = app.NewLogger(io.Discard, false)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	so := provetsim.Options{Referrals: o.Referrals, Seed: o.Seed, AutoApprove: true, Logger: o.Logger}
	if o.Simulator != nil {
		o.Simulator(&so)
	}
	sim := provetsim.New(so)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the Provet simulator: %w", err)
	}
	fmt.Fprintf(o.Out, "simulator: %s client_id=%s\n", sim.URL(), sim.ClientID())
	a, err := app.Open(app.Options{
		DataDir: o.DataDir,
		Logger:  o.Logger,
		Override: func(c *app.Config) {
			c.Provet.Region = "custom"
			c.Provet.BaseURL = sim.URL()
			c.Provet.ProvetID = sim.ProvetID()
			c.Provet.ClientID = sim.ClientID()
			c.Provet.Mapping = nil
			// openid lets the status bar name who signed in.
			c.Provet.Scopes = []string{"restapi", "openid"}
			c.PollInterval = app.Duration(5 * time.Second)
			c.SetupDone = true
			// The demo's patients are made up: every device may query it,
			// so trying it needs no registration.
			c.DICOM.OnlyKnownDevices = false
			if o.DICOMPort > 0 {
				c.DICOM.Port = o.DICOMPort
			}
			if c.ViewerURL == "" {
				c.ViewerURL = sim.BaseURL() + "/_sim/viewer/?patient={patient_id}"
			}
			if o.Configure != nil {
				o.Configure(c)
			}
		},
		Notifier: o.Notifier,
		// The demo's sign-in lives in memory: it must not touch the
		// technician's real keyring entry.
		TokenStore: &signin.MemoryStore{},
		OpenURL:    playBrowser,
	})
	if err != nil {
		sim.Close()
		return nil, err
	}
	// Settings shows the saved configuration: save the simulator's tenant
	// there so the window shows what the demo is signed in to (the
	// viewer's address stays out: the simulator's port changes each run).
	cfg := a.Config()
	cfg.Provet, cfg.SetupDone = a.Effective().Provet, true
	if err := a.SaveConfig(ctx, cfg); err != nil {
		o.Logger.Warn("demo configuration not saved", "err", err)
	}
	// A simulator that speaks the status values VetBridge assumes is
	// confirmed by the demo itself; a tenant with other values (a quirk)
	// must be checked by a person, as a real one.
	if speaksDefaultStatuses(so.Quirks.StatusCodes) {
		if err := a.ConfirmDefaultStatuses(); err != nil {
			o.Logger.Warn("demo status values not confirmed", "err", err)
		}
	}
	if _, err := a.Login(ctx); err != nil {
		a.Close()
		sim.Close()
		return nil, fmt.Errorf("sign in to the simulator: %w", err)
	}
	a.Announce("Demo: every device may query this worklist, because its patients are made up; a clinic's VetBridge admits registered devices only.")
	if o.NewReferralEvery > 0 {
		sim.SetDemo(true, o.NewReferralEvery)
	}
	return &Demo{App: a, Sim: sim}, nil
}

// Close stops the simulator and releases the database; the App's Run must
// have returned.
func (d *Demo) Close() error {
	d.Sim.Close()
	return d.App.Close()
}

// playBrowser stands in for the technician's browser against the
// simulator: it requests the authorize page, which approves at once, and
// follows the redirect to our loopback callback.
func playBrowser(u string) error {
	go func() {
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Get(u)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	return nil
}

// speaksDefaultStatuses says whether the simulator's tenant uses the status
// numbers VetBridge's mapping assumes.
func speaksDefaultStatuses(c provetsim.StatusCodes) bool {
	for st := 1; st <= 4; st++ {
		if c.Wire(st) != st {
			return false
		}
	}
	return true
}
