package pacs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Clock is the time source of the Poller; tests inject a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the Poller uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Defaults for PollerConfig.
const (
	DefaultInterval   = time.Minute
	DefaultGap        = 500 * time.Millisecond
	DefaultMinBackoff = 10 * time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// PollerConfig sets up a Poller; zero durations take the defaults.
type PollerConfig struct {
	Client Client
	// Referrals returns the open referrals of today, read at each round.
	Referrals func() []Referral
	// Report receives each successful round. It runs on the poller's
	// goroutine and should return quickly.
	Report func(Round)
	// OnState, when set, is called whenever the PACS goes down or comes
	// back, with the new state.
	OnState func(State)
	// Interval is the pause between rounds while the PACS answers.
	Interval time.Duration
	// Gap is the least time between two PACS requests, which bounds the
	// rate a round sends at.
	Gap time.Duration
	// MinBackoff is the first pause after a failed round; it doubles per
	// failure up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	Clock                  Clock
	Logger                 *slog.Logger
}

// Round is the outcome of one poll.
type Round struct {
	At        time.Time
	Matches   []Match // one per referral
	Unmatched []Study // today's studies no referral claims
}

// State is the PACS's reachability as the poller last saw it.
type State struct {
	Up        bool
	DownSince time.Time // first failure of the current outage
	Err       error     // the last failure
	NextTry   time.Time // when the next round runs, while down
	LastOK    time.Time // last successful round
}

// String is the state in words for the window's status line.
func (s State) String() string {
	if s.Up {
		if s.LastOK.IsZero() {
			return "PACS not asked yet"
		}
		return "PACS answering, last checked " + s.LastOK.Format("15:04")
	}
	if s.DownSince.IsZero() {
		return "PACS not asked yet"
	}
	return fmt.Sprintf("PACS unreachable since %s (%v); next try at %s",
		s.DownSince.Format("15:04"), s.Err, s.NextTry.Format("15:04:05"))
}

// Poller asks the PACS for today's referrals' images in rounds: one query
// for the day's studies, then one Match per referral not found among them
// (its study may be dated another day), at most one request per Gap. While
// the PACS fails, rounds back off exponentially, and the worklist is left
// as it was: Report is only called for successful rounds.
type Poller struct {
	cfg  PollerConfig
	kick chan struct{}

	mu    sync.Mutex
	state State
	last  time.Time // the slot taken by the latest request, for Gap
}

// NewPoller applies defaults; call Run to start it.
func NewPoller(cfg PollerConfig) *Poller {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Gap <= 0 {
		cfg.Gap = DefaultGap
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Referrals == nil {
		cfg.Referrals = func() []Referral { return nil }
	}
	return &Poller{cfg: cfg, kick: make(chan struct{}, 1), state: State{Up: true}}
}

// State returns the current reachability.
func (p *Poller) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Kick asks for a round now, e.g. after a sync brought new referrals. While
// the PACS is down the round waits for the backoff, so kicks never hammer
// a PACS that is down.
func (p *Poller) Kick() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends, starting with a round at once.
func (p *Poller) Run(ctx context.Context) error {
	backoff := p.cfg.MinBackoff
	for {
		err := p.round(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := p.cfg.Interval
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, p.cfg.MaxBackoff)
			p.down(err, wait)
		} else {
			backoff = p.cfg.MinBackoff
			p.up()
		}
		t := p.cfg.Clock.NewTimer(wait)
		kicks := p.kick
		if err != nil {
			kicks = nil
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		case <-kicks:
			t.Stop()
		}
	}
}

func (p *Poller) down(err error, wait time.Duration) {
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	wasUp := p.state.Up || p.state.DownSince.IsZero()
	if wasUp {
		p.state.DownSince = now
	}
	p.state.Up, p.state.Err, p.state.NextTry = false, err, now.Add(wait)
	s := p.state
	p.mu.Unlock()
	if wasUp {
		p.cfg.Logger.Warn("PACS unreachable", "pacs", p.cfg.Client.String(), "err", err)
	}
	if p.cfg.OnState != nil {
		p.cfg.OnState(s)
	}
}

func (p *Poller) up() {
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	wasDown := !p.state.Up
	p.state = State{Up: true, LastOK: now}
	s := p.state
	p.mu.Unlock()
	if wasDown {
		p.cfg.Logger.Info("PACS answering again", "pacs", p.cfg.Client.String())
		if p.cfg.OnState != nil {
			p.cfg.OnState(s)
		}
	}
}

// ErrDown is returned by Lookup while the PACS is unreachable; the error
// also carries the State's words.
var ErrDown = errors.New("the PACS is unreachable")

// Lookup matches one referral now, for the detail pane, within the
// poller's rate bound. While the poller sees the PACS down it fails at once
// with ErrDown instead of adding to the load. It does not change State.
func (p *Poller) Lookup(ctx context.Context, r Referral) (Match, error) {
	if s := p.State(); !s.Up {
		return Match{Referral: r}, fmt.Errorf("%w: %s", ErrDown, s)
	}
	return Matcher{Client: gapped{p}}.Match(ctx, r)
}

// round runs one poll and reports it.
func (p *Poller) round(ctx context.Context) error {
	now := p.cfg.Clock.Now()
	refs := p.cfg.Referrals()
	m := Matcher{Client: gapped{p}}
	day, err := m.Day(ctx, now, refs)
	if err != nil {
		return err
	}
	for i, mt := range day.Matches {
		if mt.By != NotFound {
			continue
		}
		if day.Matches[i], err = m.Match(ctx, mt.Referral); err != nil {
			return err
		}
	}
	if p.cfg.Report != nil {
		p.cfg.Report(Round{At: now, Matches: day.Matches, Unmatched: day.Unmatched})
	}
	return nil
}

// gapped spaces a round's requests at least Gap apart.
type gapped struct{ p *Poller }

// wait reserves the next free slot, at least Gap after the last one, and
// waits for it; reserving under the lock keeps concurrent callers (a round
// and a Lookup) apart too.
func (g gapped) wait(ctx context.Context) error {
	p := g.p
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	slot := now
	if !p.last.IsZero() {
		slot = later(now, p.last.Add(p.cfg.Gap))
	}
	p.last = slot
	p.mu.Unlock()
	d := slot.Sub(now)
	if d <= 0 {
		return nil
	}
	t := p.cfg.Clock.NewTimer(d)
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (g gapped) Ping(ctx context.Context) error {
	if err := g.wait(ctx); err != nil {
		return err
	}
	return g.p.cfg.Client.Ping(ctx)
}

func (g gapped) Studies(ctx context.Context, q Query) ([]Study, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	return g.p.cfg.Client.Studies(ctx, q)
}

func (g gapped) String() string { return g.p.cfg.Client.String() }
