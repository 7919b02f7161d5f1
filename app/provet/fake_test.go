package provet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is the client's clock and sleep in tests: sleeping advances it
// at once, so minutes of backoff and rate-limit waits cost no real time.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type fakeItem struct {
	id       int64
	status   int
	modified time.Time
}

// fakeProvet serves a worklist under /4/api/0.1/ in the simulator's JSON,
// enforcing Provet's rolling per-minute budgets on the shared fake clock and
// recording any request that would have exceeded them.
type fakeProvet struct {
	t     testing.TB
	clock *fakeClock
	srv   *httptest.Server

	mu            sync.Mutex
	items         []fakeItem
	ignoreFilters bool
	requests      map[string]int     // endpoint → count
	fetched       map[int64]int      // worklist id → times it appeared in a page
	hits          map[string][]spend // endpoint → admitted spending
	overLimit     int
	queries       []string
	// before, when set, may answer a request itself (faults).
	before func(w http.ResponseWriter, r *http.Request, n int) bool
	seen   int
}

const fakeBase = "/4/api/0.1/"

func newFakeProvet(t testing.TB, clock *fakeClock, n int) *fakeProvet {
	f := &fakeProvet{t: t, clock: clock, requests: map[string]int{}, fetched: map[int64]int{}, hits: map[string][]spend{}}
	start := clock.Now().Add(-48 * time.Hour)
	for i := 1; i <= n; i++ {
		f.items = append(f.items, fakeItem{id: int64(i), status: 1 + i%4, modified: start.Add(time.Duration(i) * time.Minute)})
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvet) base() string { return f.srv.URL + fakeBase }

func (f *fakeProvet) itemJSON(it fakeItem) string {
	u := f.base()
	return fmt.Sprintf(`{"id":%d,"url":"%sdiagnosticimaging_worklist/%d/","referral":"%sdiagnosticimaging_referral/%d/","patient":"%spatient/%d/","client":"%sclient/%d/","modality":"%smodality/1/","target_areas":[],"status":%d,"created":"%s","modified":"%s"}`,
		it.id, u, it.id, u, it.id, u, it.id+1000, u, it.id+2000, u, it.status,
		it.modified.Add(-time.Hour).Format("2006-01-02T15:04:05.000000-07:00"), it.modified.Format(time.RFC3339))
}

func (f *fakeProvet) serve(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.Path, fakeBase)
	if !ok || !strings.HasSuffix(rel, "/") {
		http.NotFound(w, r)
		return
	}
	key := endpointKey(r.Method, rel)
	f.mu.Lock()
	f.seen++
	n := f.seen
	f.requests[key]++
	before := f.before
	f.mu.Unlock()
	if before != nil && before(w, r, n) {
		return
	}
	cost := 1
	if !strings.Contains(strings.Trim(rel, "/"), "/") {
		ps, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		cost = pageCost(ps)
	}
	f.mu.Lock()
	now := f.clock.Now()
	var kept []spend
	used := 0
	for _, s := range f.hits[key] {
		if s.at.After(now.Add(-time.Minute)) {
			kept = append(kept, s)
			used += s.cost
		}
	}
	if used+cost > budgetFor(key) {
		f.overLimit++
		f.hits[key] = kept
		f.mu.Unlock()
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"detail":"Request was throttled."}`, http.StatusTooManyRequests)
		return
	}
	f.hits[key] = append(kept, spend{at: now, cost: cost})
	f.mu.Unlock()

	segs := strings.Split(strings.Trim(rel, "/"), "/")
	switch {
	case segs[0] == "diagnosticimaging_worklist" && len(segs) == 1:
		f.list(w, r)
	case segs[0] == "diagnosticimaging_worklist" && len(segs) == 2:
		id, _ := strconv.ParseInt(segs[1], 10, 64)
		f.mu.Lock()
		defer f.mu.Unlock()
		for i := range f.items {
			if f.items[i].id != id {
				continue
			}
			if r.Method == http.MethodPatch {
				var body map[string]int
				if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["status"] == 0 {
					http.Error(w, `{"status":["invalid"]}`, http.StatusBadRequest)
					return
				}
				f.items[i].status = body["status"]
			}
			fmt.Fprint(w, f.itemJSON(f.items[i]))
			return
		}
		http.Error(w, `{"detail":"Not found."}`, http.StatusNotFound)
	case (segs[0] == "modality" || segs[0] == "targetarea") && len(segs) == 1:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"count":1,"num_pages":1,"next":null,"previous":null,"results":[{"id":1,"name":"X-ray"}]}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeProvet) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.RawQuery)
	var match []fakeItem
	gte, _ := time.Parse("2006-01-02 15:04-07:00", q.Get("modified__gte"))
	idgt, _ := strconv.ParseInt(q.Get("id__gt"), 10, 64)
	statuses := q.Get("status__in")
	for _, it := range f.items {
		if !f.ignoreFilters {
			if !gte.IsZero() && it.modified.Before(gte) || it.id <= idgt {
				continue
			}
			if statuses != "" && !strings.Contains(","+statuses+",", ","+strconv.Itoa(it.status)+",") {
				continue
			}
		}
		match = append(match, it)
	}
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 50
	}
	size = min(size, 1000)
	pg, _ := strconv.Atoi(q.Get("page"))
	pg = max(pg, 1)
	from := min((pg-1)*size, len(match))
	to := min(from+size, len(match))
	var b strings.Builder
	next := "null"
	if to < len(match) {
		nq := r.URL.Query()
		nq.Set("page", strconv.Itoa(pg+1))
		next = strconv.Quote(f.base() + "diagnosticimaging_worklist/?" + nq.Encode())
	}
	fmt.Fprintf(&b, `{"count":%d,"num_pages":%d,"next":%s,"previous":null,"results":[`, len(match), (len(match)+size-1)/size, next)
	for i, it := range match[from:to] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.itemJSON(it))
		f.fetched[it.id]++
	}
	b.WriteString("]}")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, b.String())
}

func (f *fakeProvet) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[key]
}

func (f *fakeProvet) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

func newTestClient(t testing.TB, base string, clock *fakeClock, tweak func(*Options)) *Client {
	t.Helper()
	o := Options{
		APIBase:        base,
		HTTPClient:     &http.Client{},
		RequestTimeout: 5 * time.Second,
		Now:            clock.Now,
		Sleep:          clock.Sleep,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if tweak != nil {
		tweak(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
