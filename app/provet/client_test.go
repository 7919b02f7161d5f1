package provet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestListWorklist2500(t *testing.T) {
	for _, tt := range []struct {
		pageSize, wantRequests int
	}{{50, 50}, {1000, 3}, {0, 50}, {5000, 3}} {
		t.Run(fmt.Sprint(tt.pageSize), func(t *testing.T) {
			clock := newFakeClock()
			f := newFakeProvet(t, clock, 2500)
			c := newTestClient(t, f.base(), clock, nil)
			seen := map[int64]int{}
			st, err := c.ListWorklist(context.Background(), WorklistQuery{PageSize: tt.pageSize}, func(it *WorklistItem) error {
				seen[it.ID]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != 2500 || st.Delivered != 2500 || st.Received != 2500 || st.Filtered != 0 || st.Duplicates != 0 {
				t.Fatalf("delivered %d distinct, stats %+v", len(seen), st)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("item %d delivered %d times", id, n)
				}
			}
			for id, n := range f.fetched {
				if n != 1 {
					t.Fatalf("item %d served %d times", id, n)
				}
			}
			if got := f.count("diagnosticimaging_worklist list GET"); got != tt.wantRequests || st.Pages != tt.wantRequests {
				t.Errorf("requests = %d (stats %d), want %d", got, st.Pages, tt.wantRequests)
			}
			if f.overLimit != 0 {
				t.Errorf("%d requests exceeded Provet's budget", f.overLimit)
			}
		})
	}
}

// Listing the whole worklist six times at page_size 50 is 300 requests, more
// than the 250 a minute allows: the client must spread them, never get a 429.
func TestListWorklistStaysUnderBudget(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 2500)
	c := newTestClient(t, f.base(), clock, nil)
	for range 6 {
		if _, _, err := c.Worklist(context.Background(), WorklistQuery{}); err != nil {
			t.Fatal(err)
		}
	}
	if f.overLimit != 0 {
		t.Fatalf("%d requests over the limit", f.overLimit)
	}
	if got := f.count("diagnosticimaging_worklist list GET"); got != 300 {
		t.Fatalf("requests = %d, want 300", got)
	}
	var waited time.Duration
	for _, d := range clock.Sleeps() {
		waited += d
	}
	if waited < 55*time.Second || waited > 2*time.Minute {
		t.Errorf("waited %v in total; expected about one window", waited)
	}
}

func TestListWorklistFiltersAndRecheck(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 200)
	c := newTestClient(t, f.base(), clock, nil)
	since := f.items[99].modified.Add(30 * time.Second).In(time.FixedZone("", 2*3600)) // between items 100 and 101
	q := WorklistQuery{ModifiedSince: since, IDAfter: 120, Statuses: []Status{StatusRequested, StatusCompleted}}
	want := 0
	for _, it := range f.items {
		if it.id > 120 && (it.status == 1 || it.status == 3) {
			want++
		}
	}
	for _, ignore := range []bool{false, true} {
		f.ignoreFilters = ignore
		items, st, err := c.Worklist(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != want {
			t.Errorf("ignoreFilters=%v: %d items, want %d", ignore, len(items), want)
		}
		for _, it := range items {
			if it.ID <= 120 || (it.Status != StatusRequested && it.Status != StatusCompleted) {
				t.Errorf("item %d status %v passed the filters", it.ID, it.Status)
			}
		}
		if ignore && st.Filtered != 200-want {
			t.Errorf("filtered = %d, want %d", st.Filtered, 200-want)
		}
		if !ignore && st.Filtered != 0 {
			t.Errorf("server honoured filters but %d were filtered", st.Filtered)
		}
	}
	raw := f.queries[0]
	for _, part := range []string{"id__gt=120", "status__in=1%2C3", "page_size=50", "modified__gte=" + strings.ReplaceAll(strings.ReplaceAll(FilterTime(since), " ", "%20"), "+", "%2B")} {
		if !strings.Contains(raw, strings.ReplaceAll(part, ":", "%3A")) {
			t.Errorf("query %q lacks %q", raw, part)
		}
	}
}

func TestRetryAfterStorm(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 3 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	c := newTestClient(t, f.base(), clock, nil)
	it, err := c.WorklistItem(context.Background(), 2)
	if err != nil || it.ID != 2 {
		t.Fatalf("item %+v, %v", it, err)
	}
	if got := clock.Sleeps(); len(got) != 3 || got[0] != 7*time.Second || got[2] != 7*time.Second {
		t.Errorf("sleeps = %v, want three of 7s", got)
	}
	if f.total() != 4 {
		t.Errorf("requests = %d, want 4", f.total())
	}

	// A storm that outlasts every attempt is reported as throttling.
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	sleptBefore := len(clock.Sleeps())
	_, err = c.WorklistItem(context.Background(), 2)
	var ae *APIError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &ae) || ae.RetryAfter != 2*time.Second || ae.Status != 429 || ae.Attempts != DefaultMaxAttempts {
		t.Fatalf("err = %v", err)
	}
	if n := len(clock.Sleeps()) - sleptBefore; n != DefaultMaxAttempts-1 {
		t.Errorf("slept %d times for %d attempts: no sleep may follow the last", n, DefaultMaxAttempts)
	}
	if !strings.Contains(err.Error(), "poll interval") {
		t.Errorf("message does not say what to do: %v", err)
	}

	// A wait longer than the call's deadline is not slept through.
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	before := len(clock.Sleeps())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WorklistItem(ctx, 2); !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
	for _, d := range clock.Sleeps()[before:] {
		// Only the 2s block left by the previous storm may be waited out.
		if d > 2*time.Second {
			t.Errorf("slept %v despite a wait beyond the deadline", d)
		}
	}
	// Later calls to the same endpoint respect the block Provet asked for.
	f.before = nil
	start := clock.Now()
	if _, err := c.WorklistItem(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if clock.Now().Sub(start) < time.Hour {
		t.Errorf("the next call did not wait for Retry-After (%v)", clock.Now().Sub(start))
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 90*time.Second {
		t.Errorf("retryAfter(date) = %v", got)
	}
	for _, v := range []string{"", "-5", "soon"} {
		if got := retryAfter(http.Header{"Retry-After": {v}}, now); got != 0 {
			t.Errorf("retryAfter(%q) = %v", v, got)
		}
	}
}

func TestServerErrorBurst(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 3 {
			http.Error(w, "<html>Bad Gateway</html>", []int{500, 502, 503}[n-1])
			return true
		}
		return false
	}
	c := newTestClient(t, f.base(), clock, func(o *Options) { o.MaxAttempts = 6 })
	if _, err := c.WorklistItem(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	sl := clock.Sleeps()
	if len(sl) != 3 {
		t.Fatalf("sleeps = %v", sl)
	}
	for i, d := range sl {
		lo, hi := (backoffBase<<i)/2, backoffBase<<i
		if d < lo || d > hi {
			t.Errorf("backoff %d = %v, want within [%v, %v]", i, d, lo, hi)
		}
	}

	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, "upstream timeout", http.StatusGatewayTimeout)
		return true
	}
	seen := f.total()
	_, err := c.WorklistItem(context.Background(), 1)
	var ae *APIError
	if !errors.Is(err, ErrServer) || !errors.As(err, &ae) || ae.Status != 504 || ae.Attempts != 6 || !strings.Contains(err.Error(), "upstream timeout") {
		t.Fatalf("err = %v", err)
	}
	if f.total()-seen != 6 {
		t.Errorf("requests = %d, want 6", f.total()-seen)
	}
	for _, d := range clock.Sleeps() {
		if d > backoffCap {
			t.Errorf("backoff %v over the cap", d)
		}
	}
}

func TestBackoffCapped(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1/4/api/0.1/", newFakeClock(), nil)
	for attempt := 1; attempt < 80; attempt++ {
		if d := c.backoffDelay(attempt); d <= 0 || d > backoffCap {
			t.Fatalf("attempt %d: %v", attempt, d)
		}
	}
}

func TestSlowResponseHitsDeadline(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	var slow atomic.Int32
	slow.Store(2)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if slow.Add(-1) >= 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}
		return false
	}
	c := newTestClient(t, f.base(), clock, func(o *Options) { o.RequestTimeout = 100 * time.Millisecond })
	start := time.Now()
	if _, err := c.WorklistItem(context.Background(), 3); err != nil {
		t.Fatalf("after two slow answers: %v", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v: the per-request deadline did not cut the slow answers", el)
	}

	slow.Store(100)
	c = newTestClient(t, f.base(), clock, func(o *Options) { o.RequestTimeout = 50 * time.Millisecond; o.MaxAttempts = 3 })
	_, err := c.WorklistItem(context.Background(), 3)
	var ae *APIError
	if !errors.Is(err, ErrOffline) || !errors.As(err, &ae) || ae.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "internet connection") {
		t.Errorf("message does not say what to do: %v", err)
	}

	// The caller's own deadline ends the call even mid-retry.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	c = newTestClient(t, f.base(), clock, func(o *Options) { o.RequestTimeout = time.Second; o.MaxAttempts = 50 })
	start = time.Now()
	_, err = c.WorklistItem(ctx, 3)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestDroppedConnections(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	var drops atomic.Int32
	drops.Store(2)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if drops.Add(-1) >= 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		}
		return false
	}
	c := newTestClient(t, f.base(), clock, nil)
	// PATCH sets an absolute status: safe to retry after a dropped connection.
	it, err := c.SetWorklistStatus(context.Background(), 2, StatusCompleted)
	if err != nil || it.Status != StatusCompleted {
		t.Fatalf("item %+v, %v", it, err)
	}
	if f.items[1].status != 3 {
		t.Errorf("server status = %d", f.items[1].status)
	}

	drops.Store(1000)
	_, err = c.WorklistItem(context.Background(), 2)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreachableHost(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 1)
	base := f.base()
	f.srv.Close() // nothing listens there any more
	c := newTestClient(t, base, clock, func(o *Options) { o.MaxAttempts = 2 })
	_, err := c.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("err = %v", err)
	}
}

func TestUnauthorizedReauthOnce(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	var fresh atomic.Bool
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !fresh.Load() {
			http.Error(w, `{"detail":"Authentication credentials were not provided."}`, http.StatusUnauthorized)
			return true
		}
		return false
	}
	var reauths atomic.Int32
	c := newTestClient(t, f.base(), clock, func(o *Options) {
		o.Reauth = func(ctx context.Context) error {
			reauths.Add(1)
			fresh.Store(true)
			return nil
		}
	})
	if _, err := c.WorklistItem(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if reauths.Load() != 1 || f.total() != 2 {
		t.Errorf("reauths = %d, requests = %d; want 1 and 2", reauths.Load(), f.total())
	}

	// A session that stays rejected after a refresh is final, after exactly
	// one refresh and one retry.
	fresh.Store(false)
	reauths.Store(0)
	c = newTestClient(t, f.base(), clock, func(o *Options) {
		o.Reauth = func(ctx context.Context) error { reauths.Add(1); return nil }
	})
	seen := f.total()
	_, err := c.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "Sign in to Provet again") {
		t.Fatalf("err = %v", err)
	}
	if reauths.Load() != 1 || f.total()-seen != 2 {
		t.Errorf("reauths = %d, requests = %d; want 1 and 2", reauths.Load(), f.total()-seen)
	}

	// A refresh that fails is reported, with its cause.
	dead := errors.New("invalid_grant")
	c = newTestClient(t, f.base(), clock, func(o *Options) {
		o.Reauth = func(ctx context.Context) error { return dead }
	})
	_, err = c.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrUnauthorized) || !errors.Is(err, dead) {
		t.Fatalf("err = %v", err)
	}

	// Without a hook a 401 is final at once.
	c = newTestClient(t, f.base(), clock, nil)
	if _, err := c.WorklistItem(context.Background(), 1); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorKinds(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	c := newTestClient(t, f.base(), clock, nil)
	ctx := context.Background()

	_, err := c.WorklistItem(ctx, 99)
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrOffline) {
		t.Errorf("missing item: %v", err)
	}
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Error(w, `{"detail":"You do not have permission to perform this action."}`, http.StatusForbidden)
		return true
	}
	if _, err := c.WorklistItem(ctx, 1); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "permission") {
		t.Errorf("403: %v", err)
	}
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fmt.Fprint(w, `{"id": "not json`)
		return true
	}
	if _, err := c.WorklistItem(ctx, 1); !errors.Is(err, ErrServer) {
		t.Errorf("bad JSON: %v", err)
	}
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fmt.Fprintf(w, `{"count":1,"next":"https://evil.example/4/api/0.1/diagnosticimaging_worklist/?page=2","results":[]}`)
		return true
	}
	if _, _, err := c.Worklist(ctx, WorklistQuery{}); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "outside the API base") {
		t.Errorf("foreign next link: %v", err)
	}
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fmt.Fprintf(w, `{"count":1,"next":%q,"results":[]}`, f.base()+"diagnosticimaging_worklist/?page=1")
		return true
	}
	if _, _, err := c.Worklist(ctx, WorklistQuery{}); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "already read") {
		t.Errorf("looping next link: %v", err)
	}
	f.before = nil

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.WorklistItem(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestSetWorklistStatus(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	c := newTestClient(t, f.base(), clock, nil)
	it, err := c.SetWorklistStatus(context.Background(), 1, StatusInProgress)
	if err != nil || it.Status != StatusInProgress || f.items[0].status != 2 {
		t.Fatalf("%+v %v", it, err)
	}
	if _, err := c.SetWorklistStatus(context.Background(), 1, StatusUnknown); err == nil {
		t.Error("setting the unknown status should fail before any request")
	}
	// Provet accepting the PATCH but reporting another status means the
	// status mapping is wrong for this tenant; that must not pass silently.
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		fmt.Fprint(w, `{"id":1,"status":1}`)
		return true
	}
	if _, err := c.SetWorklistStatus(context.Background(), 1, StatusCompleted); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "status mapping") {
		t.Errorf("err = %v", err)
	}
	if got := f.count("diagnosticimaging_worklist detail PATCH"); got != 2 {
		t.Errorf("PATCH requests = %d", got)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{APIBase: "https://provetcloud.com/4/api/0.1/"}); err == nil {
		t.Error("no HTTP client accepted")
	}
	if _, err := New(Options{APIBase: "provetcloud.com/4", HTTPClient: http.DefaultClient}); err == nil {
		t.Error("base without scheme accepted")
	}
	c, err := New(Options{APIBase: "https://provetcloud.com/4/api/0.1", HTTPClient: http.DefaultClient})
	if err != nil || c.APIBase() != "https://provetcloud.com/4/api/0.1/" {
		t.Errorf("%v %v", c, err)
	}
}

func TestLimiterBudgetsAndCost(t *testing.T) {
	if pageCost(50) != 1 || pageCost(51) != 2 || pageCost(1000) != 20 || pageCost(0) != 1 {
		t.Error("pageCost")
	}
	for key, want := range map[string]int{
		endpointKey("GET", "diagnosticimaging_worklist/"):     250,
		endpointKey("GET", "diagnosticimaging_worklist/5/"):   1000,
		endpointKey("PATCH", "diagnosticimaging_worklist/5/"): 300,
		endpointKey("GET", "diagnosticimaging_referral/5/"):   300,
		endpointKey("GET", "modality/"):                       100,
		endpointKey("GET", "targetarea/"):                     100,
		endpointKey("GET", "patient/5/"):                      1200,
		endpointKey("GET", "client/5/"):                       500,
		endpointKey("GET", "consultation/5/"):                 300,
		endpointKey("GET", "appointment/5/"):                  900,
		endpointKey("GET", "user/5/"):                         300,
		endpointKey("GET", "department/5/"):                   defaultBudget,
	} {
		if got := budgetFor(key); got != want {
			t.Errorf("budget %q = %d, want %d", key, got, want)
		}
	}
	clock := newFakeClock()
	l := newLimiter(clock.Now, clock.Sleep)
	ctx := context.Background()
	for range 5 {
		if err := l.wait(ctx, "modality list GET", 20); err != nil {
			t.Fatal(err)
		}
	}
	if len(clock.Sleeps()) != 0 {
		t.Fatal("waited within budget")
	}
	if err := l.wait(ctx, "modality list GET", 1); err != nil {
		t.Fatal(err)
	}
	if s := clock.Sleeps(); len(s) != 1 || s[0] < 60*time.Second || s[0] > 62*time.Second {
		t.Errorf("sleeps = %v, want one of about a window", s)
	}
	// A cost above the whole budget is clamped instead of waiting forever.
	if d := l.reserve("x list GET", 10_000); d != 0 {
		t.Errorf("oversized cost waited %v", d)
	}
}

// BenchmarkListWorklist2500 lists 2,500 items at both page sizes and reports
// the HTTP requests and the rate-limit budget each listing costs.
func BenchmarkListWorklist2500(b *testing.B) {
	for _, size := range []int{50, 1000} {
		b.Run(fmt.Sprintf("page_size=%d", size), func(b *testing.B) {
			clock := newFakeClock()
			f := newFakeProvet(b, clock, 2500)
			c := newTestClient(b, f.base(), clock, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := c.Worklist(context.Background(), WorklistQuery{PageSize: size}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(f.count("diagnosticimaging_worklist list GET"))/n, "requests/op")
			b.ReportMetric(float64(f.count("diagnosticimaging_worklist list GET")*pageCost(size))/n, "budget/op")
		})
	}
}

func BenchmarkDecodeWorklist(b *testing.B) {
	m := DefaultMapping()
	raw := []byte(simWorklistJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := m.DecodeWorklist(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func TestServiceUnavailableRetryAfter(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 3)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "20")
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	c := newTestClient(t, f.base(), clock, nil)
	if _, err := c.WorklistItem(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if s := clock.Sleeps(); len(s) != 1 || s[0] != 20*time.Second {
		t.Errorf("sleeps = %v, want the 20s Provet asked for", s)
	}
}

func TestRedirectsStayOnProvet(t *testing.T) {
	clock := newFakeClock()
	elsewhere := newFakeProvet(t, clock, 3)
	f := newFakeProvet(t, clock, 3)
	f.before = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/1/"):
			http.Redirect(w, r, elsewhere.base()+"diagnosticimaging_worklist/1/", http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/2/"):
			http.Redirect(w, r, f.base()+"diagnosticimaging_worklist/3/", http.StatusMovedPermanently)
		default:
			return false
		}
		return true
	}
	c := newTestClient(t, f.base(), clock, nil)
	_, err := c.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "redirected") {
		t.Errorf("cross-host redirect: %v", err)
	}
	if elsewhere.total() != 0 {
		t.Errorf("the other host received %d requests", elsewhere.total())
	}
	if it, err := c.WorklistItem(context.Background(), 2); err != nil || it.ID != 3 {
		t.Errorf("same-host redirect: %+v %v", it, err)
	}
	if _, err := c.SetWorklistStatus(context.Background(), 2, StatusCompleted); !errors.Is(err, ErrServer) {
		t.Errorf("redirected PATCH: %v", err)
	}
	if f.items[2].status == 3 {
		t.Error("a redirected PATCH changed another item")
	}
}

// Concurrent callers share one budget per endpoint: 2,400 detail reads from
// 12 goroutines exceed the 1,000 a minute, so they must be spread out. The
// budget is checked on the limiter's own log of admissions: with a fake clock
// that jumps while other requests are in flight, the server's arrival times
// are not the times the client sent them.
func TestConcurrentCallsShareTheBudget(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 200)
	c := newTestClient(t, f.base(), clock, nil)
	var mu sync.Mutex
	var log []spend
	c.limits.record = func(key string, at time.Time, cost int) {
		if key == "diagnosticimaging_worklist detail GET" {
			mu.Lock()
			log = append(log, spend{at: at, cost: cost})
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for g := range 12 {
		wg.Go(func() {
			for i := range 200 {
				if _, err := c.WorklistItem(context.Background(), int64(1+(g*200+i)%200)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(log) < 2400 {
		t.Fatalf("%d admissions recorded for 2,400 calls", len(log))
	}
	// Admissions are recorded in order under the lock: slide a window.
	lo, used := 0, 0
	for hi := range log {
		used += log[hi].cost
		for !log[lo].at.After(log[hi].at.Add(-limitWindow)) {
			used -= log[lo].cost
			lo++
		}
		if used > 1000 {
			t.Fatalf("%d admitted within one window ending %v", used, log[hi].at)
		}
	}
	if len(clock.Sleeps()) == 0 {
		t.Error("2,400 requests fit in one minute's budget of 1,000 without waiting")
	}
}

func TestDiagnoseWithoutSession(t *testing.T) {
	if err := Diagnose(context.Background(), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "sign in") {
		t.Errorf("err = %v", err)
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}
