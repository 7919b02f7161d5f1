// Package signin signs the technician in to Provet Cloud with OAuth2
// Authorization Code + PKCE (S256) and a one-shot loopback callback (RFC 8252),
// keeps the refresh token in the OS keyring (or a private file where there is
// none) and hands out an http.Client whose tokens refresh themselves.
//
// Tokens, codes and verifiers are never logged.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Errors a caller may want to tell apart.
var (
	ErrStateMismatch = errors.New("the sign-in answer did not belong to this sign-in (state mismatch): start the sign-in again")
	ErrSignInAgain   = errors.New("the Provet session has ended: sign in again")
	// ErrNotSignedIn is Restore's answer when nothing is saved; it matches
	// ErrNoToken too.
	ErrNotSignedIn = fmt.Errorf("not signed in to Provet: %w", ErrNoToken)
	ErrSignedOut   = errors.New("signed out of Provet")
)

// RefusedError is Provet's answer when the sign-in did not go through at the
// authorization step (the user pressed Deny, the client is not allowed, ...).
type RefusedError struct {
	Code        string // RFC 6749 §4.1.2.1 error code, e.g. "access_denied"
	Description string
}

func (e *RefusedError) Error() string {
	s := "Provet refused the sign-in: " + e.Code
	if e.Description != "" {
		s += " — " + e.Description
	}
	if e.Code == "access_denied" {
		s += " (sign in again and choose Approve)"
	}
	return s
}

// Endpoints are the OAuth2 URLs of one Provet tenant.
type Endpoints struct {
	Authorize string
	Token     string
	Revoke    string
	UserInfo  string
}

// DeriveEndpoints builds the tenant's OAuth2 URLs from a base such as
// "https://provetcloud.com", "https://provetcloud.com/4/api/0.1/" or the
// simulator's "http://127.0.0.1:PORT/4/". provetID may be empty when base
// carries it as the first path segment. Plain http is refused except on
// loopback: the tokens would travel in clear.
func DeriveEndpoints(base, provetID string) (Endpoints, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" {
		return Endpoints{}, fmt.Errorf("Provet address %q: use the address shown in Provet's Settings > Integrations, e.g. https://provetcloud.com/1234/api/0.1/", base)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return Endpoints{}, fmt.Errorf("Provet address %q: use https (plain http is only accepted for a simulator on this computer)", base)
		}
	default:
		return Endpoints{}, fmt.Errorf("Provet address %q: it must start with https://", base)
	}
	first, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
	provetID = strings.Trim(provetID, "/ ")
	switch {
	case provetID == "" && first == "":
		return Endpoints{}, errors.New("the Provet ID is missing: enter the number in your Provet address (https://provetcloud.com/<Provet ID>/)")
	case provetID == "":
		provetID = first
	case first != "" && first != provetID:
		return Endpoints{}, fmt.Errorf("the Provet ID %q does not match the address %q: correct one of them", provetID, base)
	}
	o := u.Scheme + "://" + u.Host + "/" + url.PathEscape(provetID) + "/oauth2/"
	return Endpoints{Authorize: o + "authorize/", Token: o + "token/", Revoke: o + "revoke_token/", UserInfo: o + "userinfo/"}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config describes the integration and how to reach the technician.
type Config struct {
	BaseURL      string // Provet address; see DeriveEndpoints
	ProvetID     string
	ClientID     string
	ClientSecret string   // confidential integrations only; a desktop app normally has none
	Scopes       []string // default ["restapi"]; add "openid" to learn who signed in
	RedirectPort int      // 0: an ephemeral loopback port

	// Endpoint overrides; each one left empty is derived from BaseURL.
	AuthorizeURL, TokenURL, RevokeURL, UserInfoURL string

	// OpenURL shows the authorization page: the desktop app opens the
	// browser, a headless "vetbridge login" prints the address.
	OpenURL func(string) error
	// Store keeps the refresh token; nil keeps it in memory only.
	Store TokenStore
	// HTTPClient talks to the token, revocation and userinfo endpoints and
	// is the base of Session.Client; default: a client with a 30 s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// OnSignInAgain is called once when the session ends for good (the
	// refresh token was refused). It runs on the goroutine that noticed,
	// without locks held.
	OnSignInAgain func(error)
}

// Manager signs in and restores sessions for one configuration.
type Manager struct {
	cfg   Config
	ep    Endpoints
	store TokenStore
	http  *http.Client
	log   *slog.Logger
}

// New checks cfg and derives what is missing.
func New(cfg Config) (*Manager, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("the Provet client ID is missing: enter the one Provet support gave for this integration")
	}
	var ep Endpoints
	if cfg.AuthorizeURL == "" || cfg.TokenURL == "" || cfg.RevokeURL == "" || cfg.UserInfoURL == "" {
		var err error
		if ep, err = DeriveEndpoints(cfg.BaseURL, cfg.ProvetID); err != nil {
			return nil, err
		}
	}
	for _, o := range []struct {
		dst *string
		v   string
	}{{&ep.Authorize, cfg.AuthorizeURL}, {&ep.Token, cfg.TokenURL}, {&ep.Revoke, cfg.RevokeURL}, {&ep.UserInfo, cfg.UserInfoURL}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	if cfg.RedirectPort < 0 || cfg.RedirectPort > 65535 {
		return nil, fmt.Errorf("redirect port %d: use 0 (any free port) or a port from 1 to 65535", cfg.RedirectPort)
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"restapi"}
	}
	m := &Manager{cfg: cfg, ep: ep, store: cfg.Store, http: cfg.HTTPClient, log: cfg.Logger}
	if m.store == nil {
		m.store = &MemoryStore{}
	}
	if m.http == nil {
		m.http = &http.Client{Timeout: 30 * time.Second}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("component", "signin")
	return m, nil
}

// Endpoints returns the URLs in use.
func (m *Manager) Endpoints() Endpoints { return m.ep }

// StoreKind says where the refresh token is kept ("keyring", "file", "memory").
func (m *Manager) StoreKind() string { return m.store.Kind() }

func (m *Manager) oauthConfig(redirect string) *oauth2.Config {
	style := oauth2.AuthStyleInParams // public client: client_id in the body
	if m.cfg.ClientSecret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID: m.cfg.ClientID, ClientSecret: m.cfg.ClientSecret, RedirectURL: redirect, Scopes: m.cfg.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: m.ep.Authorize, TokenURL: m.ep.Token, AuthStyle: style},
	}
}

// httpCtx makes x/oauth2 use our client.
func (m *Manager) httpCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, m.http)
}

type callbackResult struct {
	code string
	err  error
}

// SignIn runs the whole browser sign-in: it listens on 127.0.0.1 for the
// callback, shows the authorization page through OpenURL, waits for the
// answer (or ctx), exchanges the code with the PKCE verifier and saves the
// refresh token. Give ctx a deadline: a technician may walk away.
func (m *Manager) SignIn(ctx context.Context) (*Session, error) {
	if m.cfg.OpenURL == nil {
		return nil, errors.New("signin: Config.OpenURL is required to show the sign-in page")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.cfg.RedirectPort)))
	if err != nil {
		return nil, fmt.Errorf("cannot wait for the sign-in on 127.0.0.1 port %d (is another program using it? choose another redirect port in Settings): %w", m.cfg.RedirectPort, err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	conf := m.oauthConfig(redirect)

	results := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(state, results), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns when Shutdown/Close runs below
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	m.log.Info("waiting for the Provet sign-in in the browser", "callback", redirect)

	if err := m.cfg.OpenURL(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))); err != nil {
		return nil, fmt.Errorf("could not open the sign-in page (try `vetbridge login`, which prints its address): %w", err)
	}
	var res callbackResult
	select {
	case res = <-results:
	case <-ctx.Done():
		return nil, fmt.Errorf("the sign-in was not completed in the browser: %w", ctx.Err())
	}
	if res.err != nil {
		m.log.Warn("sign-in failed at the authorization step", "err", res.err)
		return nil, res.err
	}
	tok, err := conf.Exchange(m.httpCtx(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		err = describeTokenError("Provet did not accept the sign-in", err)
		m.log.Warn("code exchange failed", "err", err)
		return nil, err
	}
	s := newSession(m, tok)
	if err := m.store.Save(ctx, tok.RefreshToken); err != nil {
		// The session works now; only a restart would need a new sign-in.
		m.log.Warn("the sign-in could not be saved; after a restart you will have to sign in again", "store", m.store.Kind(), "err", err)
	}
	m.log.Info("signed in to Provet", "store", m.store.Kind(), "scope", tok.Extra("scope"))
	return s, nil
}

// Restore resumes the session saved by an earlier run. It does not contact
// Provet, so start-up works offline; the first request refreshes the access
// token, and a refused refresh token then reports ErrSignInAgain.
func (m *Manager) Restore(ctx context.Context) (*Session, error) {
	rt, err := m.store.Load(ctx)
	if errors.Is(err, ErrNoToken) {
		return nil, ErrNotSignedIn
	}
	if err != nil {
		return nil, err
	}
	m.log.Info("resuming the saved Provet sign-in", "store", m.store.Kind())
	return newSession(m, &oauth2.Token{RefreshToken: rt}), nil
}

// describeTokenError turns a token endpoint failure into words.
func describeTokenError(what string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		msg := re.ErrorCode
		if re.ErrorDescription != "" {
			msg += " — " + re.ErrorDescription
		}
		return fmt.Errorf("%s: %s: %w", what, msg, err)
	}
	return fmt.Errorf("%s (is Provet reachable?): %w", what, err)
}

func randomState() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// callbackHandler answers the browser's return from Provet exactly once. A
// request without any OAuth parameters (a prefetch, a stray tab) is answered
// but does not end the wait.
func callbackHandler(state string, results chan<- callbackResult) http.Handler {
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("code") && !q.Has("error") {
			page(w, http.StatusBadRequest, false, "This is not an answer from Provet. Return to VetBridge.")
			return
		}
		handled := false
		once.Do(func() {
			handled = true
			var res callbackResult
			switch {
			case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
				res.err = ErrStateMismatch
			case q.Get("error") != "":
				res.err = &RefusedError{Code: q.Get("error"), Description: q.Get("error_description")}
			case q.Get("code") == "":
				res.err = errors.New("Provet answered without a sign-in code: start the sign-in again")
			default:
				res.code = q.Get("code")
			}
			if res.err != nil {
				page(w, http.StatusBadRequest, false, res.err.Error())
			} else {
				page(w, http.StatusOK, true, "You are signed in to Provet Cloud. You can close this tab and return to VetBridge.")
			}
			results <- res
		})
		if !handled {
			page(w, http.StatusGone, false, "This sign-in has already finished. Return to VetBridge.")
		}
	})
	return mux
}

var pageT = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VetBridge sign-in</title></head>
<body style="font-family:sans-serif;max-width:32em;margin:3em auto">
<h1>{{if .OK}}Signed in{{else}}Sign-in failed{{end}}</h1><p>{{.Text}}</p></body></html>
`))

func page(w http.ResponseWriter, status int, ok bool, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the address bar holds the code
	w.WriteHeader(status)
	_ = pageT.Execute(w, map[string]any{"OK": ok, "Text": text})
}
