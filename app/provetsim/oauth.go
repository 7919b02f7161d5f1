package provetsim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// grant is one authorization: every token issued from one sign-in (through
// any number of refreshes) belongs to it, so revoking a refresh token can end
// them all, as RFC 7009 §2.1 suggests.
type grant struct {
	userID   int
	scope    string
	clientID string
	revoked  bool
}

type issued struct {
	g       *grant
	expires time.Time
}

type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	scope       string
	userID      int
	expires     time.Time
	used        bool
	g           *grant // set once exchanged, so that a replay can revoke it
}

type consent struct {
	q       url.Values
	expires time.Time
}

type authState struct {
	codes    map[string]*authCode
	access   map[string]issued
	refresh  map[string]issued
	consents map[string]consent
}

func newAuthState() authState {
	return authState{codes: map[string]*authCode{}, access: map[string]issued{},
		refresh: map[string]issued{}, consents: map[string]consent{}}
}

var allowedScopes = []string{"restapi", "openid"}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// loopbackRedirect accepts http://127.0.0.1:<any port>/..., http://localhost:...
// and http://[::1]:... as RFC 8252 §7.3 asks of a server for native apps.
func loopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
	default:
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	return true
}

// pkceVerifier is RFC 7636 §4.1: 43 to 128 unreserved characters.
var pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func normaliseScope(raw string) (string, bool) {
	if raw == "" {
		return "restapi", true
	}
	var out []string
	for _, sc := range strings.Fields(raw) {
		if !slices.Contains(allowedScopes, sc) {
			return "", false
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), true
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirectURI string, params map[string]string) {
	u, _ := url.Parse(redirectURI) // validated by loopbackRedirect before
	q := u.Query()
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// handleAuthorize validates the request and either shows the consent page or,
// with AutoApprove, redirects with a code at once. Errors about the client or
// the redirect URI are shown, never redirected (RFC 6749 §4.1.2.1): the
// redirect target is not trusted yet.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.authorize")
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID {
		s.errorPage(w, http.StatusBadRequest, "Unknown client", "This application is not registered with this Provet Cloud tenant.")
		return
	}
	redirect := q.Get("redirect_uri")
	if !loopbackRedirect(redirect) {
		s.errorPage(w, http.StatusBadRequest, "Redirect URI not allowed", "Only loopback redirect URIs (http://127.0.0.1:PORT/... or http://localhost:PORT/...) are registered for this client.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		redirectWith(w, r, redirect, map[string]string{"error": code, "error_description": desc, "state": state})
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	if q.Get("code_challenge") == "" {
		fail("invalid_request", "PKCE is required for public clients: send code_challenge")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "code_challenge_method must be S256")
		return
	}
	if _, ok := normaliseScope(q.Get("scope")); !ok {
		fail("invalid_scope", "allowed scopes: restapi, openid")
		return
	}
	if s.opts.AutoApprove {
		s.approve(w, r, q)
		return
	}
	id := randomToken()
	s.mu.Lock()
	now := s.now()
	for k, c := range s.auth.consents { // forget abandoned pages
		if now.After(c.expires) {
			delete(s.auth.consents, k)
		}
	}
	s.auth.consents[id] = consent{q: q, expires: now.Add(10 * time.Minute)}
	u := s.data.users[s.opts.UserID]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY") // consent pages must not be framed (clickjacking)
	scope, _ := normaliseScope(q.Get("scope"))
	name := ""
	if u != nil {
		name = u.FirstName + " " + u.LastName
	}
	_ = consentPage.Execute(w, map[string]string{"Client": s.opts.ClientID, "Scope": scope, "Request": id, "User": name})
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, q url.Values) {
	scope, _ := normaliseScope(q.Get("scope"))
	code := randomToken()
	s.mu.Lock()
	s.auth.codes[code] = &authCode{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), scope: scope, userID: s.opts.UserID, expires: s.now().Add(s.opts.CodeTTL)}
	s.mu.Unlock()
	redirectWith(w, r, q.Get("redirect_uri"), map[string]string{"code": code, "state": q.Get("state")})
}

// handleConsent receives the Approve/Deny form. The request id is single-use
// and unguessable, which also protects the form against cross-site posts.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.consent")
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	id := r.PostForm.Get("request")
	s.mu.Lock()
	c, ok := s.auth.consents[id]
	delete(s.auth.consents, id)
	expired := ok && s.now().After(c.expires)
	s.mu.Unlock()
	if !ok || expired {
		s.errorPage(w, http.StatusBadRequest, "Sign-in expired", "Start the sign-in again from VetBridge.")
		return
	}
	if r.PostForm.Get("decision") != "approve" {
		redirectWith(w, r, c.q.Get("redirect_uri"), map[string]string{"error": "access_denied",
			"error_description": "The user denied access", "state": c.q.Get("state")})
		return
	}
	s.approve(w, r, c.q)
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Provet Cloud – authorize</title></head>
<body style="font-family:sans-serif;max-width:30em;margin:3em auto">
<h1>Provet Cloud (simulator)</h1>
<p>Signed in as <b>{{.User}}</b>.</p>
<p><b>{{.Client}}</b> asks for access to your clinic's data (scope: {{.Scope}}).</p>
<form method="post">
<input type="hidden" name="request" value="{{.Request}}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>
`))

var errorPageT = template.Must(template.New("err").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;max-width:30em;margin:3em auto"><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

func (s *Server) errorPage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPageT.Execute(w, map[string]string{"Title": title, "Text": text})
}

// oauthError is RFC 6749 §5.2.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientOf returns the client id from HTTP Basic or the form (public clients
// send it in the body).
func clientOf(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
	}
	return r.PostForm.Get("client_id")
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.token")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	if clientOf(r) != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.exchangeCode(w, r)
	case "refresh_token":
		s.refreshGrant(w, r)
	case "client_credentials":
		s.clientCredentialsGrant(w, r)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "supported: authorization_code, refresh_token, client_credentials")
	}
}

// clientCredentialsGrant issues an access token, and no refresh token, to
// the integration itself: its virtual user is the configured user.
func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request) {
	_, secret, basic := r.BasicAuth()
	if u, err := url.QueryUnescape(secret); err == nil {
		secret = u
	}
	if s.opts.ClientSecret == "" || !basic ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	sc, ok := normaliseScope(r.PostForm.Get("scope"))
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "allowed scopes are restapi and openid")
		return
	}
	g := &grant{userID: s.opts.UserID, scope: sc, clientID: s.opts.ClientID}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	at := randomToken()
	s.auth.access[at] = issued{g: g, expires: now.Add(s.opts.AccessTokenTTL)}
	s.pruneLocked(now)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "token_type": "Bearer",
		"expires_in": int64(math.Ceil(s.opts.AccessTokenTTL.Seconds())), "scope": sc})
}

func (s *Server) exchangeCode(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	code, verifier := f.Get("code"), f.Get("code_verifier")
	if code == "" || f.Get("redirect_uri") == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code and redirect_uri are required")
		return
	}
	if !pkceVerifier.MatchString(verifier) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code_verifier is missing or malformed (RFC 7636 §4.1)")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.auth.codes[code]
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case c.used:
		// A replayed code means it leaked: end what it produced (RFC 6749 §4.1.2).
		if c.g != nil {
			c.g.revoked = true
		}
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	}
	// One attempt per code: a wrong verifier must not leave the code open to guessing.
	c.used = true
	switch {
	case s.now().After(c.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
	case c.clientID != s.opts.ClientID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code issued to another client")
	case c.redirectURI != f.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request")
	case subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(c.challenge)) != 1:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
	default:
		c.g = &grant{userID: c.userID, scope: c.scope, clientID: c.clientID}
		s.issueLocked(w, c.g, "")
	}
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request) {
	rt := r.PostForm.Get("refresh_token")
	if rt == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.auth.refresh[rt]
	switch {
	case !ok:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or rotated refresh token")
		return
	case t.g.revoked:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token revoked")
		return
	case s.now().After(t.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token expired")
		return
	case t.g.clientID != s.opts.ClientID:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token issued to another client")
		return
	}
	if sc := r.PostForm.Get("scope"); sc != "" {
		for _, x := range strings.Fields(sc) {
			if !slices.Contains(strings.Fields(t.g.scope), x) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "a refresh cannot widen the scope")
				return
			}
		}
	}
	if s.opts.NoRotation {
		s.issueLocked(w, t.g, rt)
		return
	}
	// Rotation: the presented refresh token dies here.
	delete(s.auth.refresh, rt)
	s.issueLocked(w, t.g, "")
}

// issueLocked writes a token response; s.mu is held. keep is a refresh token
// that stays in use (no rotation): its life is extended, since Provet's lasts
// 30 days after the latest access token, and the answer carries no new one.
func (s *Server) issueLocked(w http.ResponseWriter, g *grant, keep string) {
	now := s.now()
	at := randomToken()
	s.auth.access[at] = issued{g: g, expires: now.Add(s.opts.AccessTokenTTL)}
	body := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int64(math.Ceil(s.opts.AccessTokenTTL.Seconds())),
		"scope":        g.scope,
	}
	if keep != "" {
		s.auth.refresh[keep] = issued{g: g, expires: now.Add(s.opts.RefreshTokenTTL)}
	} else {
		rt := randomToken()
		s.auth.refresh[rt] = issued{g: g, expires: now.Add(s.opts.RefreshTokenTTL)}
		body["refresh_token"] = rt
	}
	s.pruneLocked(now)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, body)
}

// pruneLocked forgets dead tokens and codes so a long demo does not grow without bound.
func (s *Server) pruneLocked(now time.Time) {
	for k, t := range s.auth.access {
		if t.g.revoked || now.After(t.expires) {
			delete(s.auth.access, k)
		}
	}
	for k, t := range s.auth.refresh {
		if t.g.revoked || now.After(t.expires) {
			delete(s.auth.refresh, k)
		}
	}
	for k, c := range s.auth.codes {
		// Keep used codes a while after expiry so that a replay is still recognised.
		if now.After(c.expires.Add(10 * time.Minute)) {
			delete(s.auth.codes, k)
		}
	}
}

// handleRevoke is RFC 7009: 200 whether or not the token was known.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.revoke")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be form-encoded")
		return
	}
	if clientOf(r) != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	s.mu.Lock()
	if t, ok := s.auth.refresh[tok]; ok {
		t.g.revoked = true // RFC 7009 §2.1: its access tokens go too
		delete(s.auth.refresh, tok)
	}
	delete(s.auth.access, tok)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// RevokeAllTokens ends every session, as an administrator revoking the
// integration would.
func (s *Server) RevokeAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.auth.refresh {
		t.g.revoked = true
	}
	for _, t := range s.auth.access {
		t.g.revoked = true
	}
	for _, c := range s.auth.codes {
		c.used = true
	}
	s.auth.refresh = map[string]issued{}
	s.auth.access = map[string]issued{}
}

// bearer checks the Authorization header. It returns the grant, or writes a
// 401 with WWW-Authenticate (RFC 6750 §3) and returns nil.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*grant, string) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
		detail(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
		return nil, ""
	}
	s.mu.Lock()
	t, found := s.auth.access[tok]
	valid := found && !t.g.revoked && !s.now().After(t.expires)
	s.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token", error_description="The access token is invalid or expired"`)
		detail(w, http.StatusUnauthorized, "Invalid or expired token.")
		return nil, ""
	}
	return t.g, tok
}

func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.userinfo")
	g, _ := s.bearer(w, r)
	if g == nil {
		return
	}
	if !slices.Contains(strings.Fields(g.scope), "openid") {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid"`)
		detail(w, http.StatusForbidden, "The openid scope is required.")
		return
	}
	s.mu.Lock()
	u := s.data.users[g.userID]
	s.mu.Unlock()
	if u == nil {
		detail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"sub": strconv.Itoa(u.ID), "email": u.Email,
		"given_name": u.FirstName, "family_name": u.LastName, "name": u.FirstName + " " + u.LastName})
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	s.count("oauth.discovery")
	base := "http://" + r.Host + "/" + s.opts.ProvetID + "/oauth2/"
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base[:len(base)-1],
		"authorization_endpoint":                base + "authorize/",
		"token_endpoint":                        base + "token/",
		"revocation_endpoint":                   base + "revoke_token/",
		"userinfo_endpoint":                     base + "userinfo/",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      allowedScopes,
		"token_endpoint_auth_methods_supported": []string{"none"},
		"subject_types_supported":               []string{"public"},
	})
}

// IssueToken mints an access and refresh token for the signing-in user
// without the browser dance, for tests of API clients. scope "" means restapi.
func (s *Server) IssueToken(scope string) (access, refresh string, err error) {
	sc, ok := normaliseScope(scope)
	if !ok {
		return "", "", fmt.Errorf("scope %q: allowed scopes are restapi and openid", scope)
	}
	g := &grant{userID: s.opts.UserID, scope: sc, clientID: s.opts.ClientID}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	access, refresh = randomToken(), randomToken()
	s.auth.access[access] = issued{g: g, expires: now.Add(s.opts.AccessTokenTTL)}
	s.auth.refresh[refresh] = issued{g: g, expires: now.Add(s.opts.RefreshTokenTTL)}
	return access, refresh, nil
}
