package scp

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// maxLimitKeys bounds the limiter's memory. Past it, hosts not yet seen
// share one key, so a flood from many addresses still writes few lines.
const maxLimitKeys = 4096

// logLimiter lets one line per host and message through per interval and
// counts the ones it held back, so a host that knocks all day writes a line
// every few minutes rather than gigabytes.
type logLimiter struct {
	every time.Duration
	now   func() time.Time

	mu        sync.Mutex
	seen      map[limitKey]*limitEntry
	lastPrune time.Time
}

type limitKey struct {
	host netip.Addr
	msg  string
}

type limitEntry struct {
	last       time.Time
	suppressed int
}

// allow reports whether the line may be written and how many like it were
// held back since the last one written.
func (l *logLimiter) allow(host netip.Addr, msg string) (bool, int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limitKey{host, msg}
	e := l.seen[k]
	if e == nil {
		// A scan per new host would make a flood from many addresses
		// quadratic; entries only become prunable as intervals pass.
		if len(l.seen) >= maxLimitKeys && now.Sub(l.lastPrune) >= l.every/4 {
			l.prune(now)
			l.lastPrune = now
		}
		if len(l.seen) >= maxLimitKeys {
			k.host = netip.Addr{}
			e = l.seen[k]
		}
	}
	if e == nil {
		if l.seen == nil {
			l.seen = map[limitKey]*limitEntry{}
		}
		l.seen[k] = &limitEntry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < l.every {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

// prune forgets hosts whose interval has passed with nothing held back.
func (l *logLimiter) prune(now time.Time) {
	for k, e := range l.seen {
		if e.suppressed == 0 && now.Sub(e.last) >= l.every {
			delete(l.seen, k)
		}
	}
}

// limitedHandler passes Info and Warn records about one host through the
// limiter; Debug goes through (it is off in production) and so do Errors,
// which are our bugs and must be seen.
type limitedHandler struct {
	slog.Handler
	lim  *logLimiter
	host netip.Addr
}

func (h limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo && r.Level < slog.LevelError {
		ok, n := h.lim.allow(h.host, r.Message)
		if !ok {
			return nil
		}
		if n > 0 {
			r = r.Clone()
			r.AddAttrs(slog.Int("suppressed", n), slog.Duration("suppressed_within", h.lim.every))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h limitedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return limitedHandler{h.Handler.WithAttrs(as), h.lim, h.host}
}

func (h limitedHandler) WithGroup(name string) slog.Handler {
	return limitedHandler{h.Handler.WithGroup(name), h.lim, h.host}
}

// hostLogger is the server's logger with Info and Warn lines about host
// rate-limited.
func (s *Server) hostLogger(host netip.Addr) *slog.Logger {
	return slog.New(limitedHandler{s.log.Handler(), s.limiter, host})
}
