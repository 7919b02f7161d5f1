package provet

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Provet enforces a per-user, per-endpoint budget over a rolling minute.
// Staying under it on our side keeps sync from ever seeing a 429 storm; the
// window is slightly longer than Provet's so that network delay cannot push
// two of our bursts into one of its windows.
const limitWindow = 61 * time.Second

// defaultBudget is for endpoints whose limit is not published.
const defaultBudget = 60

// budgets per endpoint key (resource, "list" or "detail", method).
var budgets = map[string]int{
	"diagnosticimaging_worklist list GET":     250,
	"diagnosticimaging_worklist detail GET":   1000,
	"diagnosticimaging_worklist detail PATCH": 300,
	"diagnosticimaging_referral detail GET":   300,
	"modality list GET":                       100,
	"targetarea list GET":                     100,
	"patient detail GET":                      1200,
	"client detail GET":                       500,
	"consultation detail GET":                 300,
	"appointment detail GET":                  900,
	"user detail GET":                         300,
}

// endpointKey classifies a path relative to the API base, e.g.
// "patient/12/" → "patient detail GET".
func endpointKey(method, rel string) string {
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	kind := "list"
	if len(segs) > 1 {
		kind = "detail"
	}
	return segs[0] + " " + kind + " " + method
}

func budgetFor(key string) int {
	if b, ok := budgets[key]; ok {
		return b
	}
	return defaultBudget
}

// pageCost is what Provet charges for one list request: a page larger than
// the default 50 counts as page_size/50 requests.
func pageCost(pageSize int) int {
	if pageSize <= 50 {
		return 1
	}
	return (pageSize + 49) / 50
}

type spend struct {
	at   time.Time
	cost int
}

type bucket struct {
	budget  int
	spent   []spend // oldest first; at most budget entries since cost >= 1
	used    int
	blocked time.Time // Provet said 429 with Retry-After: nobody sends before this
}

// limiter is a rolling-window budget per endpoint with an injectable clock.
type limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	buckets map[string]*bucket
	// record, when set (tests), sees every admitted spending under the lock.
	record func(key string, at time.Time, cost int)
}

func newLimiter(now func() time.Time, sleep func(context.Context, time.Duration) error) *limiter {
	return &limiter{now: now, sleep: sleep, buckets: map[string]*bucket{}}
}

func (l *limiter) bucket(key string) *bucket {
	b := l.buckets[key]
	if b == nil {
		b = &bucket{budget: budgetFor(key)}
		l.buckets[key] = b
	}
	return b
}

// wait blocks until cost fits in the endpoint's budget and records it.
func (l *limiter) wait(ctx context.Context, key string, cost int) error {
	for {
		d := l.reserve(key, cost)
		if d <= 0 {
			return nil
		}
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
}

// reserve records cost and returns 0 if it fits now, or else how long to
// wait before asking again.
func (l *limiter) reserve(key string, cost int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	if cost > b.budget {
		cost = b.budget // a page can never cost more than a whole minute
	}
	now := l.now()
	if now.Before(b.blocked) {
		return b.blocked.Sub(now)
	}
	cutoff := now.Add(-limitWindow)
	i := 0
	for i < len(b.spent) && !b.spent[i].at.After(cutoff) {
		b.used -= b.spent[i].cost
		i++
	}
	b.spent = b.spent[i:]
	if b.used+cost <= b.budget {
		b.spent = append(b.spent, spend{at: now, cost: cost})
		b.used += cost
		if l.record != nil {
			l.record(key, now, cost)
		}
		return 0
	}
	// Wait until enough of the oldest spending leaves the window.
	need := b.used + cost - b.budget
	for _, s := range b.spent {
		need -= s.cost
		if need <= 0 {
			return s.at.Add(limitWindow).Sub(now) + time.Millisecond
		}
	}
	return limitWindow
}

// block stops all requests to the endpoint until t.
func (l *limiter) block(key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.bucket(key); until.After(b.blocked) {
		b.blocked = until
	}
}
