package provetsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock, so expiry and rate windows need no sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// noRedirect lets a test read the Location the authorization server sends.
var noRedirect = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk_0123456789"

// authorize runs authorize/ with AutoApprove and returns the redirect's query.
func authorize(t *testing.T, s *Server, redirect string, extra url.Values) url.Values {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {redirect},
		"state": {"st4te"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"},
		"scope": {"restapi openid"}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := noRedirect.Get(s.URL() + "oauth2/authorize/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize: status %d: %s", resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirected to %s, want %s", loc, redirect)
	}
	return loc.Query()
}

type tokenResp struct {
	status int
	body   map[string]any
}

func postForm(t *testing.T, u string, form url.Values) tokenResp {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if resp.ContentLength != 0 {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil && err != io.EOF {
			t.Fatalf("%s: %v", u, err)
		}
	}
	return tokenResp{resp.StatusCode, body}
}

// signIn returns an access and refresh token obtained through the real flow.
func signIn(t *testing.T, s *Server) (string, string) {
	t.Helper()
	redirect := "http://127.0.0.1:49152/callback"
	q := authorize(t, s, redirect, nil)
	r := postForm(t, s.URL()+"oauth2/token/", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {redirect}, "client_id": {s.ClientID()}, "code_verifier": {testVerifier}})
	if r.status != 200 {
		t.Fatalf("token: %d %v", r.status, r.body)
	}
	return r.body["access_token"].(string), r.body["refresh_token"].(string)
}

// get fetches an API path (relative to the tenant's api/0.1/ or absolute) with a bearer token.
func get(t *testing.T, s *Server, token, path string, into any) *http.Response {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.URL() + "api/0.1/" + path
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s: %v in %s", u, err, b)
		}
	}
	return resp
}
