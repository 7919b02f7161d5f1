package signin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provetsim"
	"golang.org/x/oauth2"
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recorder sits between signin and Provet and notes every secret that
// crosses the wire, so a test can prove none of them reached the log. It can
// also tamper with the token request.
type recorder struct {
	mu      sync.Mutex
	secrets map[string]string // value -> what it is
	tamper  func(url.Values)
	down    error // returned instead of any request to the token endpoint
}

func (r *recorder) setDown(err error) {
	r.mu.Lock()
	r.down = err
	r.mu.Unlock()
}

func (r *recorder) note(kind, v string) {
	if v == "" {
		return
	}
	r.mu.Lock()
	r.secrets[v] = kind
	r.mu.Unlock()
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, secret, ok := req.BasicAuth(); ok {
		r.note("client secret", secret)
	}
	if a, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.note("access_token", a)
	}
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down != nil && strings.HasSuffix(req.URL.Path, "/token/") {
		return nil, down
	}
	if req.Method == http.MethodPost && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(b))
		for _, k := range []string{"code", "code_verifier", "refresh_token", "token", "client_secret"} {
			r.note(k, form.Get(k))
		}
		if r.tamper != nil && strings.HasSuffix(req.URL.Path, "/token/") {
			r.tamper(form)
			b = []byte(form.Encode())
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token/") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok map[string]any
	if json.Unmarshal(b, &tok) == nil {
		for _, k := range []string{"access_token", "refresh_token"} {
			if v, ok := tok[k].(string); ok {
				r.note(k, v)
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

type harness struct {
	sim     *provetsim.Server
	store   *MemoryStore
	logs    *syncBuffer
	rec     *recorder
	cfg     Config
	ended   chan error
	browser *http.Client
	page    chan string // the last page the browser saw
}

func newHarness(t *testing.T, simOpts provetsim.Options) *harness {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	simOpts.Logger = log
	sim := provetsim.New(simOpts)
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	h := &harness{sim: sim, store: &MemoryStore{}, logs: logs, rec: &recorder{secrets: map[string]string{}},
		ended: make(chan error, 4), page: make(chan string, 4), browser: &http.Client{Timeout: 5 * time.Second}}
	h.cfg = Config{
		BaseURL: sim.URL(), ClientID: sim.ClientID(), Scopes: []string{"restapi", "openid"},
		Store: h.store, Logger: log, HTTPClient: &http.Client{Transport: h.rec, Timeout: 5 * time.Second},
		OnSignInAgain: func(err error) { h.ended <- err },
		OpenURL:       h.follow,
	}
	t.Cleanup(func() {
		_ = sim.Close()
		h.assertNoSecretsLogged(t)
	})
	return h
}

// follow plays a browser that follows Provet's redirect to the callback.
func (h *harness) follow(u string) error {
	h.rec.note("authorization URL state", stateOf(u))
	go func() {
		resp, err := h.browser.Get(u)
		if err != nil {
			h.page <- "browser error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h.page <- string(b)
	}()
	return nil
}

func stateOf(u string) string {
	p, _ := url.Parse(u)
	return p.Query().Get("state")
}

func (h *harness) manager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *harness) signIn(t *testing.T) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.manager(t).SignIn(ctx)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if p := <-h.page; !strings.Contains(p, "You are signed in") {
		t.Fatalf("browser page: %s", p)
	}
	return s
}

func (h *harness) assertNoSecretsLogged(t *testing.T) {
	t.Helper()
	logs := h.logs.String()
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if len(logs) == 0 {
		t.Error("no log output captured: the secret check would prove nothing")
	}
	for v, kind := range h.rec.secrets {
		if strings.Contains(logs, v) {
			t.Errorf("the log contains a %s", kind)
		}
	}
}

// savedTok reads what the store holds as a token.
func savedTok(t *testing.T, st TokenStore) *oauth2.Token {
	t.Helper()
	v, err := st.Load(context.Background())
	if err != nil {
		t.Fatalf("nothing saved: %v", err)
	}
	tok, err := decodeSaved(v)
	if err != nil {
		t.Fatalf("saved sign-in: %v", err)
	}
	return tok
}

// apiStatus fetches the worklist with the session's client.
func apiStatus(t *testing.T, s *Session, sim *provetsim.Server) int {
	t.Helper()
	resp, err := s.Client().Get(sim.URL() + "api/0.1/diagnosticimaging_worklist/")
	if err != nil {
		t.Fatalf("API request: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSignInEndToEnd(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true, Referrals: 2})
	s := h.signIn(t)
	if code := apiStatus(t, s, h.sim); code != 200 {
		t.Fatalf("worklist with the session's client: HTTP %d", code)
	}
	saved := savedTok(t, h.store)
	if h.rec.secrets[saved.RefreshToken] != "refresh_token" || h.rec.secrets[saved.AccessToken] != "access_token" {
		t.Fatal("the saved values are not the tokens Provet issued")
	}
	if time.Until(saved.Expiry) < 9*time.Hour {
		t.Fatalf("saved access token expiry %v, want Provet's 10 h", saved.Expiry)
	}
	u, err := s.User(context.Background())
	if err != nil || u.Display() != "Tiina Tekninen" {
		t.Fatalf("user %+v %v", u, err)
	}
	// The callback server is gone once the flow is over.
	if n := h.sim.Requests()["oauth.token"]; n != 1 {
		t.Fatalf("token endpoint called %d times, want 1", n)
	}
}

func TestSignInWrongVerifierIsRefused(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.rec.tamper = func(f url.Values) {
		if f.Get("grant_type") == "authorization_code" {
			f.Set("code_verifier", oauth2.GenerateVerifier()) // what an attacker with a stolen code would send
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.manager(t).SignIn(ctx)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(err.Error(), "Provet did not accept the sign-in: invalid_grant") {
		t.Fatalf("err %v, want invalid_grant in words", err)
	}
	// The browser is told the truth, not "signed in".
	if p := <-h.page; !strings.Contains(p, "Sign-in failed") || !strings.Contains(p, "invalid_grant") {
		t.Fatalf("browser page: %s", p)
	}
	if _, lerr := h.store.Load(ctx); !errors.Is(lerr, ErrNoToken) {
		t.Fatal("something was saved after a failed sign-in")
	}
}

func TestCodeExchangeWithoutNetworkIsUnreachable(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.rec.setDown(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("network is unreachable")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.manager(t).SignIn(ctx)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrSignInAgain) {
		t.Fatalf("err %v", err)
	}
	if p := <-h.page; !strings.Contains(p, "Sign-in failed") || !strings.Contains(p, "cannot be reached") {
		t.Fatalf("browser page: %s", p)
	}
}

func TestSignInDenied(t *testing.T) {
	h := newHarness(t, provetsim.Options{}) // consent page, no auto-approve
	requestID := regexp.MustCompile(`name="request" value="([^"]+)"`)
	h.cfg.OpenURL = func(u string) error {
		go func() {
			resp, err := h.browser.Get(u)
			if err != nil {
				h.page <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := requestID.FindSubmatch(b)
			if m == nil {
				h.page <- "no consent form: " + string(b)
				return
			}
			// The form posts back to the authorize page; the browser then follows the redirect.
			r2, err := h.browser.PostForm(u[:strings.IndexByte(u, '?')], url.Values{"request": {string(m[1])}, "decision": {"deny"}})
			if err != nil {
				h.page <- err.Error()
				return
			}
			b, _ = io.ReadAll(r2.Body)
			r2.Body.Close()
			h.page <- string(b)
		}()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.manager(t).SignIn(ctx)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "access_denied" ||
		!strings.HasPrefix(err.Error(), "Provet refused the sign-in: access_denied — The user denied access") {
		t.Fatalf("err %v", err)
	}
	if p := <-h.page; !strings.Contains(p, "access_denied") {
		t.Fatalf("browser page: %s", p)
	}
}

func TestRefreshRotationPersistsNewestToken(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	s := h.signIn(t)
	ctx := context.Background()
	first := savedTok(t, h.store).RefreshToken
	if err := s.ForceRefresh(ctx); err != nil {
		t.Fatal(err)
	}
	second := savedTok(t, h.store).RefreshToken
	if second == first || h.rec.secrets[second] != "refresh_token" {
		t.Fatal("the rotated refresh token was not saved")
	}
	if code := apiStatus(t, s, h.sim); code != 200 {
		t.Fatalf("API after refresh: %d", code)
	}
	// Provet no longer honours the old one.
	resp, err := http.PostForm(h.sim.URL()+"oauth2/token/", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}, "client_id": {h.sim.ClientID()}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("old refresh token: HTTP %d, want 400", resp.StatusCode)
	}
	// A restart resumes from the newest token.
	before := h.sim.Requests()["oauth.token"]
	restored, err := h.manager(t).Restore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if code := apiStatus(t, restored, h.sim); code != 200 {
		t.Fatalf("restored session: HTTP %d", code)
	}
	// The access token saved beside it was still valid: no refresh, so
	// Provet did not rotate again.
	if third := savedTok(t, h.store).RefreshToken; third != second || h.sim.Requests()["oauth.token"] != before {
		t.Fatalf("restart refreshed: %d token requests, want %d", h.sim.Requests()["oauth.token"], before)
	}
}

func TestExpiringAccessTokenRefreshesByItself(t *testing.T) {
	// Tokens that live 1 s are inside x/oauth2's 10 s early-expiry margin, so
	// every request must refresh, and every rotation must be saved.
	h := newHarness(t, provetsim.Options{AutoApprove: true, AccessTokenTTL: time.Second})
	s := h.signIn(t)
	seen := map[string]bool{}
	for range 3 {
		if code := apiStatus(t, s, h.sim); code != 200 {
			t.Fatalf("HTTP %d", code)
		}
		seen[savedTok(t, h.store).RefreshToken] = true
	}
	if len(seen) != 3 || h.sim.Requests()["oauth.token"] != 4 {
		t.Fatalf("%d distinct saved tokens, %d token requests; want 3 and 4", len(seen), h.sim.Requests()["oauth.token"])
	}
}

func TestRevokedRefreshTokenAsksToSignInAgain(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	s := h.signIn(t)
	h.sim.RevokeAllTokens()
	ctx := context.Background()
	err := s.ForceRefresh(ctx)
	if !errors.Is(err, ErrSignInAgain) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("err %v, want ErrSignInAgain with the reason", err)
	}
	select {
	case e := <-h.ended:
		if !errors.Is(e, ErrSignInAgain) {
			t.Fatalf("callback got %v", e)
		}
	default:
		t.Fatal("OnSignInAgain was not called")
	}
	if _, err := h.store.Load(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatal("the refused refresh token is still saved")
	}
	// Later use fails cleanly, without another callback or request to Provet.
	before := h.sim.Requests()["oauth.token"]
	if _, err := s.Client().Get(h.sim.URL() + "api/0.1/modality/"); !errors.Is(err, ErrSignInAgain) {
		t.Fatalf("request after the end: %v", err)
	}
	if h.sim.Requests()["oauth.token"] != before || len(h.ended) != 0 || s.Valid() {
		t.Fatal("an ended session kept trying")
	}
}

func TestTransientRefreshFailureKeepsTheSession(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	s := h.signIn(t)
	h.sim.SetFaults(provetsim.Faults{Outage: true})
	if err := s.ForceRefresh(context.Background()); err == nil || errors.Is(err, ErrSignInAgain) {
		t.Fatalf("during an outage: %v, want a retryable error", err)
	}
	h.sim.SetFaults(provetsim.Faults{})
	if err := s.ForceRefresh(context.Background()); err != nil || !s.Valid() || len(h.ended) != 0 {
		t.Fatalf("after the outage: %v", err)
	}
}

func TestSignOutRevokesAndForgets(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	s := h.signIn(t)
	ctx := context.Background()
	rt := savedTok(t, h.store).RefreshToken
	if err := s.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Load(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatal("still saved after sign-out")
	}
	if _, err := s.Client().Get(h.sim.URL() + "api/0.1/modality/"); !errors.Is(err, ErrSignedOut) {
		t.Fatalf("request after sign-out: %v", err)
	}
	resp, err := http.PostForm(h.sim.URL()+"oauth2/token/", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {h.sim.ClientID()}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("refresh token after sign-out: HTTP %d, want 400", resp.StatusCode)
	}
	if _, err := h.manager(t).Restore(ctx); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("restore after sign-out: %v", err)
	}
	if len(h.ended) != 0 {
		t.Fatal("a sign-out the technician asked for must not raise 'sign in again'")
	}
}

func TestSignInOnFixedPortAndCancellation(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h.cfg.RedirectPort = port
	var seen string
	h.cfg.OpenURL = func(u string) error { seen = u; return nil } // nobody ever visits
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = h.manager(t).SignIn(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	p, _ := url.Parse(seen)
	if want := "http://127.0.0.1:" + strconv.Itoa(port) + "/callback"; p.Query().Get("redirect_uri") != want {
		t.Fatalf("redirect_uri %q, want %q", p.Query().Get("redirect_uri"), want)
	}
	if p.Query().Get("code_challenge_method") != "S256" || len(p.Query().Get("code_challenge")) != 43 || p.Query().Get("scope") != "restapi openid" {
		t.Fatalf("authorization URL %s", seen)
	}
	// The callback listener was closed: the port is free again.
	ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("callback port still held: %v", err)
	}
	ln2.Close()
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }

func TestConcurrentRequestsNeverSpendARefreshTokenTwice(t *testing.T) {
	// With 1 s tokens every request refreshes; unserialised refreshes would
	// present a rotated-out token and end the session.
	h := newHarness(t, provetsim.Options{AutoApprove: true, AccessTokenTTL: time.Second})
	s := h.signIn(t)
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for range 8 {
		wg.Go(func() {
			for range 3 {
				resp, err := s.Client().Get(h.sim.URL() + "api/0.1/modality/")
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- errors.New(resp.Status)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !s.Valid() || len(h.ended) != 0 {
		t.Fatal("the session ended under concurrent use")
	}
}

func TestAccountNamesTenantAndClient(t *testing.T) {
	ep, _ := DeriveEndpoints("https://provetcloud.com/4/api/0.1/", "")
	if got := Account("vetbridge", ep); got != "vetbridge@provetcloud.com/4" {
		t.Fatalf("account %q", got)
	}
}

func TestRefreshWithoutRotationKeepsTheSavedToken(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true, NoRotation: true})
	s := h.signIn(t)
	ctx := context.Background()
	first := savedTok(t, h.store).RefreshToken
	if err := s.ForceRefresh(ctx); err != nil {
		t.Fatal(err)
	}
	if now := savedTok(t, h.store).RefreshToken; now != first {
		t.Fatal("the saved refresh token changed although Provet did not rotate it")
	}
	if code := apiStatus(t, s, h.sim); code != 200 || h.sim.Requests()["oauth.token"] != 2 {
		t.Fatalf("HTTP %d after %d token requests", code, h.sim.Requests()["oauth.token"])
	}
}

func TestBurstOfForcedRefreshesCostsOne(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	s := h.signIn(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if err := s.ForceRefresh(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := h.sim.Requests()["oauth.token"]; n != 2 {
		t.Fatalf("%d token requests for one sign-in and a burst of six 401s; want 2", n)
	}
}

func TestBrowserThatCannotOpen(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.cfg.OpenURL = func(string) error { return errors.New("no browser installed") }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.manager(t).SignIn(ctx)
	if err == nil || !strings.Contains(err.Error(), "vetbridge login") || !strings.Contains(err.Error(), "no browser installed") {
		t.Fatalf("err %v", err)
	}
	h.cfg.OpenURL = nil
	if _, err := h.manager(t).SignIn(ctx); err == nil {
		t.Fatal("a sign-in without a way to show the page started")
	}
}
