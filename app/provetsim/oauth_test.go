package provetsim

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCodeExchangeAndAPIAccess(t *testing.T) {
	s := start(t, Options{Referrals: 3, AutoApprove: true})
	q := authorize(t, s, "http://localhost:8123/cb", nil)
	if q.Get("state") != "st4te" || q.Get("code") == "" {
		t.Fatalf("redirect query %v: want the state back and a code", q)
	}
	at, rt := signIn(t, s)
	if at == "" || rt == "" || at == rt {
		t.Fatal("want distinct access and refresh tokens")
	}
	var page pageJSON
	if r := get(t, s, at, "diagnosticimaging_worklist/", &page); r.StatusCode != 200 || page.Count != 3 {
		t.Fatalf("list: %d, count %d", r.StatusCode, page.Count)
	}
	var ui map[string]string
	if r := get(t, s, at, s.URL()+"oauth2/userinfo/", &ui); r.StatusCode != 200 || ui["sub"] != "1" || ui["given_name"] != "Tiina" {
		t.Fatalf("userinfo: %d %v", r.StatusCode, ui)
	}
}

func TestTokenEndpointRejections(t *testing.T) {
	clk := newClock()
	s := start(t, Options{AutoApprove: true, Now: clk.Now, CodeTTL: time.Minute})
	tokenURL := s.URL() + "oauth2/token/"
	redirect := "http://127.0.0.1:50000/callback"
	exchange := func(code, verifier, redirectURI, client string) tokenResp {
		return postForm(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {redirectURI}, "client_id": {client}, "code_verifier": {verifier}})
	}
	wrongVerifier := strings.Repeat("x", 43)
	cases := []struct {
		name    string
		run     func() tokenResp
		status  int
		errCode string
	}{
		{"wrong verifier", func() tokenResp {
			return exchange(authorize(t, s, redirect, nil).Get("code"), wrongVerifier, redirect, s.ClientID())
		}, 400, "invalid_grant"},
		{"malformed verifier", func() tokenResp {
			return exchange(authorize(t, s, redirect, nil).Get("code"), "short", redirect, s.ClientID())
		}, 400, "invalid_request"},
		{"wrong redirect_uri", func() tokenResp {
			return exchange(authorize(t, s, redirect, nil).Get("code"), testVerifier, "http://127.0.0.1:50001/callback", s.ClientID())
		}, 400, "invalid_grant"},
		{"unknown client", func() tokenResp {
			return exchange(authorize(t, s, redirect, nil).Get("code"), testVerifier, redirect, "someone-else")
		}, 401, "invalid_client"},
		{"expired code", func() tokenResp {
			code := authorize(t, s, redirect, nil).Get("code")
			clk.Add(61 * time.Second)
			return exchange(code, testVerifier, redirect, s.ClientID())
		}, 400, "invalid_grant"},
		{"unknown code", func() tokenResp {
			return exchange("nope", testVerifier, redirect, s.ClientID())
		}, 400, "invalid_grant"},
		{"unsupported grant", func() tokenResp {
			return postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "client_id": {s.ClientID()}})
		}, 400, "unsupported_grant_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.run()
			if r.status != c.status || r.body["error"] != c.errCode {
				t.Fatalf("got %d %v, want %d %s", r.status, r.body, c.status, c.errCode)
			}
		})
	}
}

func TestReusedCodeIsRejectedAndRevokesItsTokens(t *testing.T) {
	s := start(t, Options{AutoApprove: true})
	redirect := "http://127.0.0.1:50000/callback"
	code := authorize(t, s, redirect, nil).Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {s.ClientID()}, "code_verifier": {testVerifier}}
	first := postForm(t, s.URL()+"oauth2/token/", form)
	if first.status != 200 {
		t.Fatalf("first exchange: %d %v", first.status, first.body)
	}
	second := postForm(t, s.URL()+"oauth2/token/", form)
	if second.status != 400 || second.body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", second.status, second.body)
	}
	if r := get(t, s, first.body["access_token"].(string), "modality/", nil); r.StatusCode != 401 {
		t.Fatalf("access token from a replayed code still works: %d", r.StatusCode)
	}
}

func TestRefreshRotationAndRevocation(t *testing.T) {
	s := start(t, Options{AutoApprove: true})
	tokenURL := s.URL() + "oauth2/token/"
	at, rt := signIn(t, s)
	refresh := func(rt string) tokenResp {
		return postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}})
	}
	r := refresh(rt)
	if r.status != 200 {
		t.Fatalf("refresh: %d %v", r.status, r.body)
	}
	rt2 := r.body["refresh_token"].(string)
	if rt2 == rt {
		t.Fatal("refresh token was not rotated")
	}
	if old := refresh(rt); old.status != 400 || old.body["error"] != "invalid_grant" {
		t.Fatalf("rotated-out refresh token: %d %v", old.status, old.body)
	}
	// The old access token lives until it expires; rotation concerns refresh tokens.
	if g := get(t, s, at, "modality/", nil); g.StatusCode != 200 {
		t.Fatalf("access token after rotation: %d", g.StatusCode)
	}
	at2 := r.body["access_token"].(string)
	if rv := postForm(t, s.URL()+"oauth2/revoke_token/", url.Values{"token": {rt2}, "token_type_hint": {"refresh_token"}, "client_id": {s.ClientID()}}); rv.status != 200 {
		t.Fatalf("revoke: %d", rv.status)
	}
	if again := refresh(rt2); again.status != 400 {
		t.Fatalf("revoked refresh token: %d", again.status)
	}
	for _, tok := range []string{at, at2} {
		if g := get(t, s, tok, "modality/", nil); g.StatusCode != 401 {
			t.Fatalf("access token survived revocation of its grant: %d", g.StatusCode)
		}
	}
	// RFC 7009 §2.2: unknown tokens are not an error.
	if rv := postForm(t, s.URL()+"oauth2/revoke_token/", url.Values{"token": {"unknown"}, "client_id": {s.ClientID()}}); rv.status != 200 {
		t.Fatalf("revoke unknown: %d", rv.status)
	}
}

func TestExpiredAccessAndRefreshTokens(t *testing.T) {
	clk := newClock()
	s := start(t, Options{AutoApprove: true, Now: clk.Now, AccessTokenTTL: time.Minute, RefreshTokenTTL: time.Hour})
	at, rt := signIn(t, s)
	clk.Add(2 * time.Minute)
	r := get(t, s, at, "modality/", nil)
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired access token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	clk.Add(time.Hour)
	if x := postForm(t, s.URL()+"oauth2/token/", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}}); x.status != 400 || x.body["error"] != "invalid_grant" {
		t.Fatalf("expired refresh token: %d %v", x.status, x.body)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	s := start(t, Options{AutoApprove: true})
	base := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "state": {"x"},
		"code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
	for _, bad := range []string{"https://evil.example/cb", "http://192.168.1.5:8080/cb", "http://127.0.0.1.evil.example/cb", "myapp:/cb"} {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set("redirect_uri", bad)
		resp, err := noRedirect.Get(s.URL() + "oauth2/authorize/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: status %d location %q; want a 400 page and no redirect", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for name, tc := range map[string]struct {
		extra url.Values
		want  string
	}{
		"no PKCE":    {url.Values{"code_challenge": {""}}, "invalid_request"},
		"plain PKCE": {url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		"bad scope":  {url.Values{"scope": {"admin"}}, "invalid_scope"},
		"token flow": {url.Values{"response_type": {"token"}}, "unsupported_response_type"},
	} {
		q := authorize(t, s, "http://[::1]:4000/callback", tc.extra)
		if q.Get("error") != tc.want || q.Get("state") != "st4te" || q.Get("code") != "" {
			t.Errorf("%s: redirect query %v, want error %s", name, q, tc.want)
		}
	}
}

func TestConsentPageApproveAndDeny(t *testing.T) {
	s := start(t, Options{})
	redirect := "http://127.0.0.1:50000/callback"
	requestID := regexp.MustCompile(`name="request" value="([^"]+)"`)
	open := func() string {
		q := url.Values{"response_type": {"code"}, "client_id": {s.ClientID()}, "redirect_uri": {redirect},
			"state": {"abc"}, "code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
		resp, err := noRedirect.Get(s.URL() + "oauth2/authorize/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := requestID.FindSubmatch(b)
		if resp.StatusCode != 200 || m == nil || !strings.Contains(string(b), "Approve") || !strings.Contains(string(b), "Deny") {
			t.Fatalf("consent page: %d %s", resp.StatusCode, b)
		}
		return string(m[1])
	}
	decide := func(id, decision string) *http.Response {
		resp, err := noRedirect.PostForm(s.URL()+"oauth2/authorize/", url.Values{"request": {id}, "decision": {decision}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	id := open()
	resp := decide(id, "deny")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "abc" {
		t.Fatalf("deny: %d %s", resp.StatusCode, loc)
	}
	if again := decide(id, "approve"); again.StatusCode != 400 {
		t.Fatalf("a consent request id was accepted twice: %d", again.StatusCode)
	}
	resp = decide(open(), "approve")
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("code") == "" {
		t.Fatalf("approve: %d %s", resp.StatusCode, loc)
	}
}

func TestUserinfoNeedsOpenIDAndDiscovery(t *testing.T) {
	s := start(t, Options{})
	at, _, err := s.IssueToken("restapi")
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, at, s.URL()+"oauth2/userinfo/", nil); r.StatusCode != 403 {
		t.Fatalf("userinfo without openid: %d", r.StatusCode)
	}
	var doc map[string]any
	if r := get(t, s, "", s.URL()+"oauth2/.well-known/openid-configuration/", &doc); r.StatusCode != 200 {
		t.Fatalf("discovery: %d", r.StatusCode)
	}
	if doc["token_endpoint"] != s.URL()+"oauth2/token/" || doc["revocation_endpoint"] != s.URL()+"oauth2/revoke_token/" {
		t.Fatalf("discovery document: %v", doc)
	}
}

func TestRefreshWithoutRotationKeepsTheToken(t *testing.T) {
	s := start(t, Options{AutoApprove: true, NoRotation: true})
	_, rt := signIn(t, s)
	for range 2 {
		r := postForm(t, s.URL()+"oauth2/token/", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}})
		if r.status != 200 || r.body["access_token"] == nil {
			t.Fatalf("refresh: %d %v", r.status, r.body)
		}
		if _, ok := r.body["refresh_token"]; ok {
			t.Fatalf("a new refresh token was issued without rotation: %v", r.body)
		}
	}
}
