// Package app wires VetBridge together: the Provet connection and sync, the
// DICOM worklist server, MPPS status updates, notifications, and the small
// API the desktop UI and the command line use.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/signin"
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
}

// App is one running VetBridge.
type App struct {
	dir      string
	log      *slog.Logger
	now      func() time.Time
	notifier Notifier
	openURL  func(string) error
	override func(*Config)
	store    *store.Store
	index    *worklist.Index
	wl       *worklist.Service
	hub      hub

	syncNow     chan struct{}
	outboxWake  chan struct{}
	dicomReload chan struct{}

	mu     sync.Mutex
	cfg    Config
	status Status
	tokens signin.TokenStore
	// tokensAccount is the keyring entry tokens belongs to; tokensFixed means
	// the caller supplied the store (the demo's memory store) for good.
	tokensAccount string
	tokensFixed   bool
	session       *signin.Session
	client        *provet.Client
	mapping       *provet.Mapping
	seen          map[string]bool // keys the technician has already been shown
	dicomAddr     string
	unscheduled   int
	notice        string      // see Announce
	remap         atomic.Bool // the next sync re-maps every open order
	waiting       int         // see countWaiting
	stop          context.CancelFunc
	done          chan struct{}
}

// Open loads the configuration and the stored worklist. The DICOM server and
// the background loops start with Run.
func Open(opts Options) (*App, error) {
	if opts.DataDir == "" {
		d, err := DefaultDataDir()
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
	cfg, err := LoadConfig(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.Override != nil {
		opts.Override(&cfg)
	}
	st, err := store.Open(opts.DataDir, store.Options{})
	if err != nil {
		return nil, err
	}
	a := &App{
		dir: opts.DataDir, log: opts.Logger, now: opts.Now, notifier: opts.Notifier,
		openURL: opts.OpenURL, override: opts.Override, store: st, index: worklist.NewIndex(),
		syncNow: make(chan struct{}, 1), outboxWake: make(chan struct{}, 1), dicomReload: make(chan struct{}, 1),
		cfg: cfg, tokens: opts.TokenStore, tokensFixed: opts.TokenStore != nil, seen: map[string]bool{},
	}
	if a.notifier == nil {
		a.notifier = LogNotifier{Log: a.log}
	}
	a.status.State = StateSignedOut
	a.status.Message = "Sign in to Provet Cloud to receive referrals."
	if err := a.loadWorklist(); err != nil {
		st.Close()
		return nil, err
	}
	if err := a.applyMapping(cfg); err != nil {
		a.log.Warn("Provet mapping overrides ignored", "err", err)
	}
	a.wl = &worklist.Service{
		Index:   a.index,
		Profile: a.profileFor,
		Now:     a.now,
		OnQuery: a.recordQuery,
		Log:     a.log,
	}
	return a, nil
}

// loadWorklist fills the in-memory index from the store, so modalities are
// served the moment the server starts, before any contact with Provet.
func (a *App) loadWorklist() error {
	var items []worklist.Item
	err := a.store.AllItems(func(si store.Item) error {
		rec, err := decodeRecord(si.Data)
		if err != nil {
			a.log.Warn("skipping an unreadable stored referral", "key", si.Key, "err", err)
			return nil
		}
		a.seen[rec.Item.Key] = true
		if rec.onWorklist() {
			items = append(items, rec.Item)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load the stored worklist: %w", err)
	}
	if err := a.index.ReplaceAll(items); err != nil {
		return err
	}
	a.countWaiting()
	return nil
}

// onWorklist says whether modalities should be offered the item: orders
// Provet completed or cancelled have left the worklist, although the
// technician still sees them in the window until retention removes them.
func (r record) onWorklist() bool {
	switch r.ProvetState {
	case provet.StatusCompleted.String(), provet.StatusCancelled.String():
		return false
	}
	return true
}

// Close releases the database. Run must have returned.
func (a *App) Close() error {
	return a.store.Close()
}

// Run starts the DICOM server, sync, the status outbox and the optional
// webhook receiver, each under a supervisor, and blocks until ctx ends.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	a.mu.Lock()
	a.stop, a.done = cancel, done
	a.mu.Unlock()
	a.restoreSession(ctx)
	supervise(ctx, a.log,
		service{"dicom", a.runDICOM},
		service{"sync", a.runSync},
		service{"outbox", a.runOutbox},
		service{"webhook", a.runWebhook},
		service{"retention", a.runRetention},
	)
	return nil
}

// Subscribe registers fn for events; see Event.
func (a *App) Subscribe(fn func(Event)) (unsubscribe func()) { return a.hub.subscribe(fn) }

// Status is the one-line summary for the tray and the status bar.
func (a *App) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	if s.Message == "" {
		s.Message = a.notice
	}
	s.DICOMAddr = a.dicomAddr
	s.Waiting = a.waiting
	return s
}

// countWaiting recounts the referrals scheduled and not yet done. It runs
// when the worklist changes, not on every Status call: the tray asks often
// and the index may hold a hundred thousand items.
func (a *App) countWaiting() {
	n := 0
	for _, it := range a.index.All() {
		if st := strings.ToUpper(it.SPSStatus); st == "" || st == "SCHEDULED" {
			n++
		}
	}
	a.mu.Lock()
	a.waiting = n
	a.mu.Unlock()
}

func (a *App) setStatus(fn func(*Status)) {
	a.mu.Lock()
	fn(&a.status)
	a.mu.Unlock()
	a.hub.publish(Event{Kind: EventStatus})
}

// Config returns a copy of the configuration in use; editing it changes
// nothing until SaveConfig.
func (a *App) Config() Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.clone()
}

// NeedsSetup reports a first run: Provet is not configured yet.
func (a *App) NeedsSetup() bool {
	c := a.Config()
	return c.Provet.ClientID == "" || (c.Provet.ProvetID == "" && c.Provet.Region != "custom")
}

// SaveConfig validates cfg, writes it and applies it: the DICOM server
// restarts only when its settings changed, the next poll uses the new
// interval, and the Provet connection is rebuilt when it changed (which
// signs the technician out, as the old session belongs to the old tenant).
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
	a.cfg = cfg
	if a.override != nil {
		a.override(&a.cfg)
	}
	a.mu.Unlock()
	if err := a.applyMapping(cfg); err != nil {
		return err
	}
	if !reflect.DeepEqual(old.DICOM, cfg.DICOM) {
		signal(a.dicomReload)
	}
	if !equalProvet(old.Provet, cfg.Provet) {
		a.dropSession()
	}
	if !slices.Equal(old.ModalityMap, cfg.ModalityMap) || old.PatientName != cfg.PatientName {
		// Items already on the worklist were mapped with the old table: the
		// next sync maps every open order again, not only changed ones.
		a.remap.Store(true)
	}
	signal(a.syncNow)
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

func equalProvet(a, b ProvetConfig) bool {
	return a.Region == b.Region && a.BaseURL == b.BaseURL && a.ProvetID == b.ProvetID &&
		a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret && a.RedirectPort == b.RedirectPort &&
		slices.Equal(a.Scopes, b.Scopes) && a.AuthorizeURL == b.AuthorizeURL && a.TokenURL == b.TokenURL &&
		a.RevokeURL == b.RevokeURL
}

// signal wakes a loop without blocking when it is already awake.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// SyncNow asks for a sync at once.
func (a *App) SyncNow() { signal(a.syncNow) }

// Referrals lists referrals for the worklist window, newest schedule last.
func (a *App) Referrals(f ReferralFilter) []Referral {
	day := f.Day
	if day.IsZero() {
		day = a.now()
	}
	dayStr := day.Format("20060102")
	search := foldForSearch(f.Search)
	a.mu.Lock()
	seen := a.seen
	a.mu.Unlock()
	var out []Referral
	_ = a.store.AllItems(func(si store.Item) error {
		if !f.AllDays && si.Date != dayStr {
			return nil
		}
		rec, err := decodeRecord(si.Data)
		if err != nil {
			return nil
		}
		a.mu.Lock()
		isNew := !seen[si.Key]
		a.mu.Unlock()
		r := rec.referral(isNew)
		if f.Modality != "" && !strings.EqualFold(r.Modality, f.Modality) {
			return nil
		}
		if f.Status != "" && !strings.EqualFold(r.Status, f.Status) {
			return nil
		}
		if search != "" && !strings.Contains(foldForSearch(strings.Join([]string{r.PetName, r.OwnerName,
			r.PatientID, r.AccessionNumber, rec.Item.PatientName}, " ")), search) {
			return nil
		}
		out = append(out, r)
		return nil
	})
	slices.SortFunc(out, func(x, y Referral) int {
		return cmp.Or(x.Scheduled.Compare(y.Scheduled), strings.Compare(x.Key, y.Key))
	})
	return out
}

// Referral returns one referral by key.
func (a *App) Referral(key string) (Referral, bool) {
	rec, ok := a.getRecord(key)
	if !ok {
		return Referral{}, false
	}
	a.mu.Lock()
	isNew := !a.seen[key]
	a.mu.Unlock()
	return rec.referral(isNew), true
}

func (a *App) getRecord(key string) (record, bool) {
	si, ok, err := a.store.GetItem(key)
	if err != nil || !ok {
		return record{}, false
	}
	rec, err := decodeRecord(si.Data)
	return rec, err == nil
}

// MarkSeen clears the "new" highlight of every referral.
func (a *App) MarkSeen() {
	a.mu.Lock()
	_ = a.store.AllItems(func(si store.Item) error {
		a.seen[si.Key] = true
		return nil
	})
	a.mu.Unlock()
	a.hub.publish(Event{Kind: EventReferrals})
}

// ViewerURL is the PACS viewer address for a referral's patient.
func (a *App) ViewerURL(key string) (string, error) {
	rec, ok := a.getRecord(key)
	if !ok {
		return "", fmt.Errorf("this referral is no longer on the worklist")
	}
	c := a.Config()
	return ViewerLink(c.ViewerURL, rec.Item.PatientID, rec.Item.AccessionNumber, rec.Item.StudyInstanceUID, c.Provet.ProvetID)
}

// PreviewViewerURL shows what a template would open, for the Settings "Test"
// button: with the first referral on the worklist, or an example patient.
func (a *App) PreviewViewerURL(template string) (string, error) {
	pid, acc, uid := "1234", "4242-1", "2.25.1"
	if all := a.index.All(); len(all) > 0 {
		pid, acc, uid = all[0].PatientID, all[0].AccessionNumber, all[0].StudyInstanceUID
	}
	return ViewerLink(template, pid, acc, uid, a.Config().Provet.ProvetID)
}

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

// foldForSearch makes search case- and accent-insensitive, as the technician
// types "makinen" for Mäkinen.
func foldForSearch(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, strings.TrimSpace(s))
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

var errSignedOut = errors.New("not signed in to Provet Cloud: sign in from the tray menu")

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
