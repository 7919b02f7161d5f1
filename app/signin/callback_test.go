package signin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

// rawRequest sends one request over a fresh loopback connection with the
// Host header given, as a page reaching the port through another name
// (DNS rebinding) or a local probe would.
func rawRequest(t *testing.T, addr, method, host, target string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the callback: %v", err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", method, target, host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, target, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// providerAnswer asks the simulator's authorize page for its redirect
// without following it, as the browser's first step; it returns the
// callback URL with the code and state.
func providerAnswer(t *testing.T, h *harness, authURL string) *url.URL {
	t.Helper()
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || cb.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	h.rec.note("code", cb.Query().Get("code"))
	return cb
}

type signInResult struct {
	s   *Session
	err error
}

// startSignIn runs SignIn in the background and returns the address it
// handed to OnURL.
func startSignIn(t *testing.T, h *harness, ctx context.Context) (string, time.Time, <-chan signInResult) {
	t.Helper()
	type shown struct {
		u string
		d time.Time
	}
	urls := make(chan shown, 1)
	h.cfg.OpenURL = nil
	h.cfg.OnURL = func(u string, d time.Time) {
		h.rec.note("authorization URL state", stateOf(u))
		urls <- shown{u, d}
	}
	m := h.manager(t)
	done := make(chan signInResult, 1)
	go func() {
		s, err := m.SignIn(ctx)
		done <- signInResult{s, err}
	}()
	select {
	case sh := <-urls:
		return sh.u, sh.d, done
	case r := <-done:
		t.Fatalf("sign-in ended before showing its address: %v", r.err)
	}
	panic("unreachable")
}

func TestCallbackWaitsThroughStrayRequestsForTheRealAnswer(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	authURL, _, done := startSignIn(t, h, ctx)
	cb := providerAnswer(t, h, authURL)
	addr := cb.Host
	_, port, _ := net.SplitHostPort(addr)
	code := cb.Query().Get("code")
	real := cb.RequestURI()

	for _, c := range []struct {
		name, method, host, target string
		want                       int
	}{
		{"DNS rebinding: another name for this port", "GET", "attacker.example:" + port, real, 404},
		{"another name for loopback", "GET", "localhost:" + port, real, 404},
		{"host without the port", "GET", "127.0.0.1", real, 404},
		{"another port", "GET", "127.0.0.1:1", real, 404},
		{"favicon", "GET", addr, "/favicon.ico", 404},
		{"probe", "GET", addr, "/", 404},
		{"callback path with a suffix", "GET", addr, "/callback/x?" + cb.RawQuery, 404},
		{"no OAuth answer", "GET", addr, "/callback", 400},
		{"wrong state", "GET", addr, "/callback?code=" + code + "&state=forged-by-another-tab", 400},
		{"no state", "GET", addr, "/callback?code=" + code, 400},
		{"a refusal for another sign-in", "GET", addr, "/callback?error=access_denied&state=forged", 400},
		{"not a GET", "POST", addr, real, 405},
	} {
		if status, body := rawRequest(t, addr, c.method, c.host, c.target); status != c.want || strings.Contains(body, "Signed in") {
			t.Errorf("%s: HTTP %d, want %d; page %q", c.name, status, c.want, body)
		}
	}
	select {
	case r := <-done:
		t.Fatalf("a stray request ended the sign-in: %v", r.err)
	default:
	}
	// The real answer, on the exact host of the redirect URI, still works:
	// no stray request consumed the one-shot callback.
	if status, body := rawRequest(t, addr, "GET", addr, real); status != 200 || !strings.Contains(body, "You are signed in") {
		t.Fatalf("the real answer: HTTP %d %q", status, body)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("sign-in: %v", r.err)
	}
	if code := apiStatus(t, r.s, h.sim); code != 200 {
		t.Fatalf("API after sign-in: HTTP %d", code)
	}
	if n := h.sim.Requests()["oauth.token"]; n != 1 {
		t.Fatalf("%d code exchanges, want 1", n)
	}
}

func TestCallbackAnswersOnceAndRefusesForeignHostsInProcess(t *testing.T) {
	c := newCallback("s1", "127.0.0.1:5000")
	get := func(host, target string) int {
		rec := &statusRecorder{header: http.Header{}}
		req := httpRequest(t, http.MethodGet, target)
		req.Host = host
		c.ServeHTTP(rec, req)
		return rec.status
	}
	if s := get("127.0.0.1:5001", "/callback?code=abc&state=s1"); s != 404 || len(c.results) != 0 {
		t.Fatalf("another port: %d", s)
	}
	if s := get("127.0.0.1:5000", "/callback?code=abc&state=s2"); s != 400 || len(c.results) != 0 || c.strays.Load() != 1 {
		t.Fatalf("wrong state: %d", s)
	}
	status := make(chan int, 1)
	go func() { status <- get("127.0.0.1:5000", "/callback?code=abc&state=s1") }()
	r := <-c.results
	if r.code != "abc" || r.err != nil {
		t.Fatalf("result %+v", r)
	}
	if s := get("127.0.0.1:5000", "/callback?code=abc&state=s1"); s != 410 {
		t.Fatalf("second answer: %d", s)
	}
	r.verdict <- nil // Provet accepted the code
	if s := <-status; s != 200 {
		t.Fatalf("answer: %d", s)
	}
}

func httpRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestForgedStateOnlyIsNamedWhenTheWaitEnds(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	authURL, _, done := startSignIn(t, h, ctx)
	cb := providerAnswer(t, h, authURL)
	q := cb.Query()
	q.Set("state", "forged-by-another-tab")
	status, body := rawRequest(t, cb.Host, "GET", cb.Host, "/callback?"+q.Encode())
	if status != 400 || !strings.Contains(body, "still waiting") {
		t.Fatalf("forged answer: HTTP %d %q", status, body)
	}
	cancel() // the technician gives up
	r := <-done
	if !errors.Is(r.err, ErrStateMismatch) || !errors.Is(r.err, context.Canceled) || errors.Is(r.err, ErrSignInTimeout) {
		t.Fatalf("err %v, want the cancellation and the ignored answer", r.err)
	}
	if n := h.sim.Requests()["oauth.token"]; n != 0 {
		t.Fatalf("a code with a forged state was exchanged (%d token requests)", n)
	}
}

func TestSignInShowsItsAddressAndDeadline(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	if m := h.manager(t); m.SignInWait() != 5*time.Minute || DefaultSignInWait != 5*time.Minute {
		t.Fatalf("default wait %v", m.SignInWait())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := time.Now()
	authURL, deadline, done := startSignIn(t, h, ctx)
	if d := deadline.Sub(before); d < 5*time.Minute-time.Second || d > 5*time.Minute+time.Second {
		t.Fatalf("deadline in %v, want 5 minutes", d)
	}
	// No browser opened: the technician pastes the address shown.
	if err := h.follow(authURL); err != nil {
		t.Fatal(err)
	}
	if p := <-h.page; !strings.Contains(p, "You are signed in") {
		t.Fatalf("browser page: %s", p)
	}
	if r := <-done; r.err != nil || apiStatus(t, r.s, h.sim) != 200 {
		t.Fatalf("sign-in by the shown address: %v", r.err)
	}
}

func TestBrowserThatCannotOpenLeavesTheAddressToCopy(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	shown := make(chan string, 1)
	h.cfg.OnURL = func(u string, _ time.Time) {
		h.rec.note("authorization URL state", stateOf(u))
		shown <- u
	}
	h.cfg.OpenURL = func(string) error { return errors.New("no browser installed") }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := h.manager(t)
	done := make(chan signInResult, 1)
	go func() {
		s, err := m.SignIn(ctx)
		done <- signInResult{s, err}
	}()
	if err := h.follow(<-shown); err != nil { // copied into a browser elsewhere
		t.Fatal(err)
	}
	<-h.page
	if r := <-done; r.err != nil {
		t.Fatalf("sign-in after a failed browser start: %v", r.err)
	}
	if !strings.Contains(h.logs.String(), "no browser opened") {
		t.Fatal("the failed browser start was not logged")
	}
}

func TestSignInWaitEndsInWords(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.cfg.SignInWait = 50 * time.Millisecond
	before := time.Now()
	authURL, deadline, done := startSignIn(t, h, context.Background())
	if deadline.Before(before.Add(50*time.Millisecond)) || deadline.After(time.Now().Add(50*time.Millisecond)) {
		t.Fatalf("deadline %v for a 50 ms wait from %v", deadline, before)
	}
	r := <-done // nobody visits
	if !errors.Is(r.err, ErrSignInTimeout) || !strings.Contains(r.err.Error(), "within 50ms; start the sign-in again") {
		t.Fatalf("err %v", r.err)
	}
	// The callback port is closed once the wait is over.
	if _, err := net.Dial("tcp", callbackHost(t, authURL)); err == nil {
		t.Fatal("the callback port still listens after the wait")
	}
	if _, err := New(Config{BaseURL: h.sim.URL(), ClientID: "c", SignInWait: -time.Second}); err == nil {
		t.Fatal("a negative wait was accepted")
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5 minutes", time.Minute: "1 minute", 90 * time.Second: "1m30s"} {
		if got := inWords(d); got != want {
			t.Errorf("inWords(%v) = %q, want %q", d, got, want)
		}
	}
}

func callbackHost(t *testing.T, authURL string) string {
	t.Helper()
	u, _ := url.Parse(authURL)
	r, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	return r.Host
}
