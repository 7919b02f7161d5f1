// Package app is VetBridge's core behind one facade: it opens an
// installation (configuration, store, sign-in), runs its services (the
// DICOM worklist server, Provet sync, the status write-back, the webhook
// receiver, retention and the local API) under a supervisor, and offers the
// calls and events the desktop UI and the command line use. The work itself
// lives in the sub-packages: records, provetsync, writeback, provet, signin.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/autostart"
	"github.com/vetbridge/vetbridge/app/devices"
	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/platform"
	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetlink"
	"github.com/vetbridge/vetbridge/app/provetsync"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/signin"
	"github.com/vetbridge/vetbridge/app/supervise"
	"github.com/vetbridge/vetbridge/app/writeback"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// Options configure Open. Only DataDir is required.
type Options struct {
	DataDir string
	// Override adjusts the loaded configuration for this run only (command-line
	// flags); it is never saved.
	Override func(*Config)
	Logger   *slog.Logger
	Notifier Notifier // nil: notifications go to the log
	// OpenURL opens the sign-in page in the system browser.
	OpenURL func(string) error
	// TokenStore keeps the Provet refresh token; nil picks the OS keyring,
	// or a private file where no keyring exists.
	TokenStore signin.TokenStore
	Now        func() time.Time
	// ForCommand opens the installation for one command while nothing
	// runs: lasting notices (a repaired database) are left for the app.
	ForCommand bool
	// Autostart, when set, is made to follow the start_at_sign_in setting:
	// the desktop app manages it, so Settings and the system always agree.
	Autostart autostart.Manager
}

// App is one open VetBridge installation.
type App struct {
	dir      string
	log      *slog.Logger
	now      func() time.Time
	notifier Notifier
	openURL  func(string) error
	override func(*Config)
	command  bool
	startup  autostart.Manager
	store    *store.Store
	repo     *records.Repo
	wl       *worklist.Service
	sync     *provetsync.Engine
	out      *writeback.Writer
	devices  *devices.Registry
	hub      hub
	side     *imaging.Side // the PACS: images per referral, unmatched exams

	dicomReload chan struct{}

	mu sync.Mutex
	// stored is the configuration as saved; cfg is what this run uses:
	// stored with the command line's overrides. Only stored is ever saved.
	stored       Config
	cfg          Config
	status       Status
	link         *provetlink.Link
	mapping      *provet.Mapping
	seen         map[string]bool // keys the technician has already been shown
	dicomAddr    string
	dicomPort    int    // the port the worklist server listens on; 0 when it does not
	setupStop    func() // closes first run\'s device listener
	notice       string // see Announce
	offlineSince time.Time
	offlineTold  bool
	stop         context.CancelFunc
	done         chan struct{}
}

// Open loads the configuration and the stored worklist. The DICOM server and
// the background loops start with Run.
func Open(opts Options) (*App, error) {
	if opts.DataDir == "" {
		d, err := platform.DefaultDataDir()
		if err != nil {
			return nil, err
		}
		opts.DataDir = d
	}
	if opts.Logger == nil {
		opts.Logger = NewLogger(io.Discard, false)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	stored, err := LoadConfig(opts.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(opts.DataDir, store.Options{Now: opts.Now})
	if err != nil {
		if errors.Is(err, store.ErrAlreadyRunning) {
			return nil, fmt.Errorf("%w: %w", ErrRunning, err)
		}
		return nil, err
	}
	a := &App{
		dir: opts.DataDir, log: opts.Logger, now: opts.Now, notifier: opts.Notifier,
		openURL: opts.OpenURL, override: opts.Override, command: opts.ForCommand, startup: opts.Autostart, store: st, dicomReload: make(chan struct{}, 1),
		stored: stored, cfg: effective(stored, opts.Override), seen: map[string]bool{},
	}
	if a.notifier == nil {
		a.notifier = LogNotifier{Log: a.log}
	}
	a.status.State = StateSignedOut
	a.status.Message = "Sign in to Provet Cloud to receive referrals."
	a.reportRecovery()
	a.repo, err = records.Open(st, a.log, func() { a.hub.publish(Event{Kind: EventReferrals}) })
	if err != nil {
		st.Close()
		return nil, err
	}
	for _, k := range a.repo.StartKeys() {
		a.seen[k] = true
	}
	if err := a.applyMapping(a.cfg); err != nil {
		a.log.Warn("Provet mapping overrides ignored", "err", err)
	}
	a.devices = devices.Open(st, a.log)
	a.link = a.newLink(opts)
	a.wire()
	a.applyAutostart(a.cfg)
	return a, nil
}

// reportRecovery tells the technician, once, that the database was found
// damaged and rebuilt: what was kept, where the old file went.
func (a *App) reportRecovery() {
	r := a.store.Recovery()
	if r == nil {
		return
	}
	a.log.Warn(r.Message(), "reason", r.Reason, "moved_to", r.MovedTo, "outbox_kept", r.OutboxKept,
		"outbox_lost", r.OutboxLost, "items_dropped", r.ItemsDropped)
	// Said first, before "sign in": the first sync replaces it, and the
	// notification and the log keep it.
	a.status.Message = r.Message()
	if a.command {
		return
	}
	a.notify("VetBridge repaired its database", r.Message())
	if err := a.store.DismissRecovery(); err != nil {
		a.log.Warn("the repair notice will show again at the next start", "err", err)
	}
}

// wire builds the services from their parts.
func (a *App) wire() {
	a.wl = &worklist.Service{
		Index:   a.repo.Index(),
		Profile: a.profileFor,
		Now:     a.now,
		OnQuery: a.recordQuery,
		Log:     a.log,
	}
	a.sync = provetsync.New(provetsync.Options{
		Repo: a.repo, Client: a.provetClient, Settings: a.syncSettings, Now: a.now, Log: a.log,
		Report: syncReport{a},
	})
	a.out = writeback.New(writeback.Options{
		Repo: a.repo, Client: a.provetClient, Confirmed: a.statusesConfirmed,
		OnDiscontinued: func() provet.Status { return writeback.ParseStatus(a.Effective().OnDiscontinued) },
		Now:            a.now, Log: a.log,
		OnChange:      func() { a.hub.publish(Event{Kind: EventStatus}) },
		OnUnscheduled: a.unscheduled,
	})
	a.side = a.newSide()
}

// effective is the configuration a run uses: stored plus this run's
// overrides, on a copy so the overrides never reach the saved file.
func effective(stored Config, override func(*Config)) Config {
	c := stored.Clone()
	if override != nil {
		override(&c)
	}
	return c
}

// Close releases the database. Run must have returned.
func (a *App) Close() error {
	return a.store.Close()
}

// Run starts the DICOM server, sync, the status outbox, the optional
// webhook receiver, retention and the local API, each under a supervisor,
// and blocks until ctx ends.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	a.mu.Lock()
	a.stop, a.done = cancel, done
	a.mu.Unlock()
	a.restoreSession(ctx)
	supervise.Run(ctx, a.log,
		supervise.Service{Name: "local API", Run: a.runLocalAPI},
		supervise.Service{Name: "dicom", Run: a.runDICOM},
		supervise.Service{Name: "sync", Run: a.sync.Run},
		supervise.Service{Name: "outbox", Run: a.out.Run},
		supervise.Service{Name: "webhook", Run: a.runWebhook},
		supervise.Service{Name: "retention", Run: a.runRetention},
		supervise.Service{Name: "devices", Run: a.devices.Run},
		supervise.Service{Name: "pacs", Run: a.RunPACS},
	)
	return nil
}

// Subscribe registers fn for events; see Event.
func (a *App) Subscribe(fn func(Event)) (unsubscribe func()) { return a.hub.subscribe(fn) }

// Status is the one-line summary for the tray and the status bar.
func (a *App) Status() Status {
	out := a.out.State()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	s.DICOMAddr = a.dicomAddr
	s.Waiting = a.repo.Waiting()
	s.PendingUpdates = out.Pending
	switch {
	case s.Message != "":
	case out.Unconfirmed:
		s.Message = fmt.Sprintf("%s wait until Provet's status values are confirmed (Settings > Provet status values).",
			plural(out.Pending, "status update", "status updates"))
	case len(out.Parked) > 0:
		s.Message = fmt.Sprintf("Provet refused %s; open the worklist to retry or drop it.",
			plural(len(out.Parked), "status update", "status updates"))
	default:
		s.Message = a.notice
		if p := a.PACSState(); p != "" {
			s.Message = p
		}
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (a *App) setStatus(fn func(*Status)) {
	a.mu.Lock()
	fn(&a.status)
	a.mu.Unlock()
	a.hub.publish(Event{Kind: EventStatus})
}

// Config returns a copy of the configuration as saved, which is what
// Settings edits; editing it changes nothing until SaveConfig.
func (a *App) Config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stored.Clone()
}

// Effective is the configuration this run uses: the saved one with the
// command line's overrides (such as --dicom-port) applied.
func (a *App) Effective() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.Clone()
}

// SaveConfig validates cfg, writes it and applies it (with this run's
// overrides on top): the DICOM server restarts only when its settings
// changed, the next poll uses the new interval, and the Provet connection
// is rebuilt when it changed (which signs the technician out, as the old
// session belongs to the old tenant).
func (a *App) SaveConfig(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	m := provet.DefaultMapping()
	if err := m.ApplyOverrides(cfg.Provet.Mapping); err != nil {
		return ValidationError{{Field: "provet.mapping", Message: err.Error()}}
	}
	if err := SaveConfig(a.dir, cfg); err != nil {
		return err
	}
	a.mu.Lock()
	old := a.cfg
	a.stored = cfg.Clone()
	a.cfg = effective(cfg, a.override)
	now := a.cfg.Clone()
	a.mu.Unlock()
	if err := a.applyMapping(now); err != nil {
		return err
	}
	if !reflect.DeepEqual(old.DICOM, now.DICOM) {
		signal(a.dicomReload)
	}
	if !old.Provet.SameConnection(now.Provet) {
		a.link.Drop()
	}
	if old.StartAtSignIn != now.StartAtSignIn {
		a.applyAutostart(now)
	}
	if !slices.Equal(old.ModalityMap, now.ModalityMap) || old.PatientName != now.PatientName {
		// Items already on the worklist were mapped with the old table.
		a.sync.Remap()
	}
	a.sync.Now()
	a.out.Wake()
	a.hub.publish(Event{Kind: EventStatus})
	return nil
}

func (a *App) applyMapping(cfg Config) error {
	m := provet.DefaultMapping()
	if err := m.ApplyOverrides(cfg.Provet.Mapping); err != nil {
		return fmt.Errorf("provet.mapping: %w", err)
	}
	a.mu.Lock()
	a.mapping = m
	a.mu.Unlock()
	return nil
}

// signal wakes a loop without blocking when it is already awake.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// SyncNow asks for a sync at once.
func (a *App) SyncNow() { a.sync.Now() }

// MarkDone is the technician's "done" for an order no modality reported:
// the durable outbox carries it to Provet once undoUntil has passed.
func (a *App) MarkDone(ctx context.Context, key string) (undoUntil time.Time, err error) {
	who := a.Status().SignedInAs
	if who == "" {
		who = "the technician"
	}
	return a.out.MarkDone(key, who)
}

// UndoMarkDone takes a MarkDone back before its undoUntil.
func (a *App) UndoMarkDone(ctx context.Context, key string) error { return a.out.UndoMarkDone(key) }

// Shutdown is the UI's Quit: it stops Run (the DICOM server releases its
// associations and port) and waits for it, at most until ctx ends.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	stop, done := a.stop, a.done
	a.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("VetBridge did not stop in time: %w", ctx.Err())
	}
}

// ShowWindow asks the desktop UI to bring its window forward (a second
// launch, or a notification clicked).
func (a *App) ShowWindow() { a.hub.publish(Event{Kind: EventShowWindow}) }

// Announce tells the technician about a lasting condition of this
// workstation (no tray, no keyring): it shows whenever nothing more urgent
// does, and is logged once.
func (a *App) Announce(msg string) {
	a.log.Warn(msg)
	a.mu.Lock()
	a.notice = msg
	a.mu.Unlock()
	a.hub.publish(Event{Kind: EventStatus})
}
