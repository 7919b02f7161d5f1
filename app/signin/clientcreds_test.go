package signin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// ccProvet is a tenant's token endpoint for the Client Credentials grant,
// with one API path that wants its tokens. The simulator offers only
// Authorization Code, so these tests bring their own; like Provet it takes
// the client's credentials by HTTP Basic.
type ccProvet struct {
	srv *httptest.Server

	mu         sync.Mutex
	secret     string
	ttl        int // expires_in, seconds
	down       bool
	access     map[string]bool // issued and not revoked
	tokenCalls int
	bodySecret int // token requests that also put the secret in the body
	revoked    int
}

func newCCProvet(t *testing.T, secret string) *ccProvet {
	p := &ccProvet{secret: secret, ttl: 36000, access: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /4/oauth2/token/", p.token)
	mux.HandleFunc("POST /4/oauth2/revoke_token/", p.revoke)
	mux.HandleFunc("GET /4/api/0.1/modality/", func(w http.ResponseWriter, r *http.Request) {
		a, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		p.mu.Lock()
		ok := p.access[a]
		p.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"count":0,"results":[]}`))
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *ccProvet) client(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, err1 == nil && err2 == nil
}

func (p *ccProvet) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokenCalls++
	if r.PostForm.Has("client_secret") {
		p.bodySecret++
	}
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	id, secret, ok := p.client(r)
	switch {
	case p.down:
		answer(http.StatusServiceUnavailable, map[string]string{"detail": "maintenance"})
	case !ok || id != "vetbridge-it" || secret != p.secret:
		answer(http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "unknown client or wrong secret"})
	case r.PostForm.Get("grant_type") != "client_credentials":
		answer(http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	default:
		var b [16]byte
		_, _ = rand.Read(b[:])
		at := hex.EncodeToString(b[:])
		p.access[at] = true
		answer(http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": p.ttl, "scope": r.PostForm.Get("scope")})
	}
}

func (p *ccProvet) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, secret, ok := p.client(r); !ok || secret != p.secret {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	delete(p.access, r.PostForm.Get("token"))
	p.revoked++
}

func (p *ccProvet) set(f func(*ccProvet)) {
	p.mu.Lock()
	f(p)
	p.mu.Unlock()
}

func (p *ccProvet) calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokenCalls
}

type ccHarness struct {
	p       *ccProvet
	cfg     Config
	secrets *MemoryStore
	rec     *recorder
	logs    *syncBuffer
	ended   chan error
}

const itSecret = "it-secret-Zx9/+&%q" // characters that Basic auth must escape

func newCCHarness(t *testing.T) *ccHarness {
	logs := &syncBuffer{}
	h := &ccHarness{p: newCCProvet(t, itSecret), secrets: &MemoryStore{}, rec: &recorder{secrets: map[string]string{}}, logs: logs, ended: make(chan error, 4)}
	h.rec.note("client secret", itSecret)
	h.cfg = Config{
		BaseURL: h.p.srv.URL + "/4/", ClientID: "vetbridge-it", ClientSecret: itSecret,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTPClient:    &http.Client{Transport: h.rec, Timeout: 5 * time.Second},
		OnSignInAgain: func(err error) { h.ended <- err },
	}
	t.Cleanup(func() {
		hh := &harness{logs: logs, rec: h.rec}
		hh.assertNoSecretsLogged(t)
	})
	return h
}

func (h *ccHarness) get(t *testing.T, s *Session) (int, error) {
	t.Helper()
	resp, err := s.Client().Get(h.p.srv.URL + "/4/api/0.1/modality/")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestClientCredentialsSignInRenewAndRestart(t *testing.T) {
	h := newCCHarness(t)
	ctx := context.Background()
	s, err := ClientCredentials(ctx, h.cfg, h.secrets)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := h.secrets.Load(ctx); v != itSecret {
		t.Fatal("the accepted secret was not kept")
	}
	if code, err := h.get(t, s); code != 200 || h.p.calls() != 1 {
		t.Fatalf("HTTP %d %v after %d token requests; want the sign-in's one", code, err, h.p.calls())
	}
	if h.p.bodySecret != 0 {
		t.Fatal("the secret went in the body, not only in HTTP Basic")
	}
	// A restart uses the saved secret and contacts Provet only when needed.
	h.cfg.ClientSecret = ""
	s2, err := ClientCredentials(ctx, h.cfg, h.secrets)
	if err != nil || h.p.calls() != 1 {
		t.Fatalf("restart: %v, %d token requests", err, h.p.calls())
	}
	// Tokens that expire inside x/oauth2's 10 s margin: every use asks again.
	h.p.set(func(p *ccProvet) { p.ttl = 1 })
	for range 3 {
		if code, err := h.get(t, s2); code != 200 {
			t.Fatalf("after restart: HTTP %d %v", code, err)
		}
	}
	if n := h.p.calls(); n != 4 || h.p.bodySecret != 0 {
		t.Fatalf("%d token requests; want the sign-in's and one per expired token", n)
	}
}

func TestClientCredentialsWrongSecretIsNotKept(t *testing.T) {
	h := newCCHarness(t)
	h.cfg.ClientSecret = "a-typo-in-the-secret"
	h.rec.note("client secret", h.cfg.ClientSecret)
	_, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if !errors.Is(err, ErrClientRefused) || errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "invalid_client — unknown client or wrong secret") {
		t.Fatalf("err %v", err)
	}
	if _, err := h.secrets.Load(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Fatal("a refused secret was saved")
	}
	if len(h.ended) != 0 {
		t.Fatal("a sign-in that never began raised 'sign in again'")
	}
}

func TestClientCredentialsSecretRevokedLaterEndsTheSession(t *testing.T) {
	h := newCCHarness(t)
	h.p.set(func(p *ccProvet) { p.ttl = 1 })
	s, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if err != nil {
		t.Fatal(err)
	}
	h.p.set(func(p *ccProvet) { p.secret = "rotated-by-it" })
	_, err = h.get(t, s)
	if !errors.Is(err, ErrSignInAgain) || errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "enter the current client secret in Settings") {
		t.Fatalf("err %v", err)
	}
	if e := <-h.ended; !errors.Is(e, ErrSignInAgain) {
		t.Fatalf("OnSignInAgain got %v", e)
	}
	before := h.p.calls()
	if _, err := h.get(t, s); !errors.Is(err, ErrSignInAgain) || h.p.calls() != before || len(h.ended) != 0 {
		t.Fatal("an ended session kept asking Provet")
	}
}

func TestClientCredentialsOutageIsUnreachable(t *testing.T) {
	h := newCCHarness(t)
	h.p.set(func(p *ccProvet) { p.down = true })
	_, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrSignInAgain) || errors.Is(err, ErrClientRefused) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("err %v", err)
	}
	if _, err := h.secrets.Load(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Fatal("an unchecked secret was saved")
	}
	h.p.set(func(p *ccProvet) { p.down = false })
	if _, err := ClientCredentials(context.Background(), h.cfg, h.secrets); err != nil {
		t.Fatal(err)
	}
	// Provet down at the next start: the saved secret makes a session that
	// waits for Provet instead of failing.
	h.cfg.ClientSecret = ""
	h.p.set(func(p *ccProvet) { p.down = true })
	s, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ForceRefresh(context.Background()); !errors.Is(err, ErrUnreachable) || !s.Valid() {
		t.Fatalf("outage during use: %v", err)
	}
	h.p.set(func(p *ccProvet) { p.down = false })
	if err := s.ForceRefresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestClientCredentialsWithoutASecret(t *testing.T) {
	h := newCCHarness(t)
	h.cfg.ClientSecret = ""
	_, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if !errors.Is(err, ErrNoClientSecret) || !errors.Is(err, ErrNotSignedIn) || h.p.calls() != 0 {
		t.Fatalf("err %v after %d token requests", err, h.p.calls())
	}
	h.cfg.Logger.Info("no secret case done") // the log check needs some output
}

func TestClientCredentialsSignOutForgetsTheSecret(t *testing.T) {
	h := newCCHarness(t)
	s, err := ClientCredentials(context.Background(), h.cfg, h.secrets)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.secrets.Load(context.Background()); !errors.Is(err, ErrNoToken) || h.p.revoked != 1 {
		t.Fatalf("after sign-out: secret still saved or access token not revoked (%d)", h.p.revoked)
	}
	if _, err := h.get(t, s); !errors.Is(err, ErrSignedOut) {
		t.Fatalf("after sign-out: %v", err)
	}
	h.cfg.ClientSecret = ""
	if _, err := ClientCredentials(context.Background(), h.cfg, h.secrets); !errors.Is(err, ErrNoClientSecret) {
		t.Fatalf("a restart after sign-out signed in by itself: %v", err)
	}
}

func TestSecretStoreIsApartFromTheSignIn(t *testing.T) {
	ep, _ := DeriveEndpoints("https://provetcloud.com/4/", "")
	if a, s := Account("it", ep), SecretAccount("it", ep); a == s || !strings.HasPrefix(s, a) {
		t.Fatalf("accounts %q and %q", a, s)
	}
	dir := t.TempDir()
	keyring.MockInitWithError(errNoSecretService)
	defer keyring.MockInit()
	tokens := OpenStore(context.Background(), dir, Account("it", ep), quiet())
	secrets := OpenSecretStore(context.Background(), dir, SecretAccount("it", ep), quiet())
	fs, ok := secrets.(*FileStore)
	if !ok || fs.Path != filepath.Join(dir, SecretFileName) {
		t.Fatalf("secret store %T", secrets)
	}
	ctx := context.Background()
	if err := tokens.Save(ctx, "sign-in"); err != nil {
		t.Fatal(err)
	}
	if err := secrets.Save(ctx, "secret"); err != nil {
		t.Fatal(err)
	}
	if v, _ := tokens.Load(ctx); v != "sign-in" {
		t.Fatalf("the secret overwrote the sign-in: %q", v)
	}
	keyring.MockInit()
	if got := OpenSecretStore(ctx, dir, SecretAccount("it", ep), quiet()); got.Kind() != "keyring" {
		t.Fatalf("a working keyring was not chosen for the secret: %s", got.Kind())
	}
}

func TestConfigLogsWithoutItsSecret(t *testing.T) {
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("settings", "signin", Config{ClientID: "vetbridge-it", ClientSecret: itSecret})
	if strings.Contains(b.String(), itSecret) || !strings.Contains(b.String(), "client_secret_set=true") {
		t.Fatalf("log line %q", b.String())
	}
}
