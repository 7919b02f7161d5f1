// Package signin signs the technician in to Provet Cloud with OAuth2
// Authorization Code + PKCE (S256) and a one-shot loopback callback (RFC 8252),
// or an IT-managed install with Client Credentials; keeps the tokens (or the
// client secret) in the OS keyring, or a private file where there is none;
// and hands out an http.Client whose tokens renew themselves.
//
// Tokens, codes and verifiers are never logged.
package signin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Errors a caller may want to tell apart.
var (
	// ErrStateMismatch: a browser brought an answer that belonged to another
	// sign-in; it was ignored and the wait went on.
	ErrStateMismatch = errors.New("an answer from another sign-in (an old browser tab?) was ignored")
	// ErrSignInAgain: Provet refused the saved sign-in (invalid_grant: the
	// refresh token expired, was revoked or was already used; or the client
	// is no longer allowed). Retrying cannot help; the technician must sign
	// in again. Such an error also carries Provet's *oauth2.RetrieveError.
	ErrSignInAgain = errors.New("the Provet session has ended: sign in again")
	// ErrUnreachable: renewing the session failed for a reason that may pass
	// (no network, a timeout, Provet down or answering nonsense). The session
	// stays; the next request tries again.
	ErrUnreachable = errors.New("Provet Cloud cannot be reached")
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
	BaseURL  string // Provet address; see DeriveEndpoints
	ProvetID string
	ClientID string
	// ClientSecret: for Authorization Code only a confidential integration
	// has one; for ClientCredentials it is a secret just entered (empty:
	// use the saved one). Config's LogValue leaves it out.
	ClientSecret string
	Scopes       []string // default ["restapi"]; add "openid" to learn who signed in
	RedirectPort int      // 0: an ephemeral loopback port

	// Endpoint overrides; each one left empty is derived from BaseURL.
	AuthorizeURL, TokenURL, RevokeURL, UserInfoURL string

	// OpenURL shows the authorization page: the desktop app opens the
	// browser. With OnURL set, a browser that cannot be opened does not end
	// the sign-in: the technician copies the address instead.
	OpenURL func(string) error
	// OnURL hands the authorization page's address and the moment the wait
	// ends to the caller before the browser opens, so a window can show the
	// address with a Copy button and a countdown, and a headless "vetbridge
	// login" can print it. At least one of OpenURL and OnURL is required.
	// It runs on SignIn's goroutine: hand the values over and return.
	OnURL func(authURL string, deadline time.Time)
	// SignInWait bounds the wait for the browser's answer; default
	// DefaultSignInWait. A shorter deadline on SignIn's ctx wins.
	SignInWait time.Duration
	// Store keeps the sign-in (refresh token, access token and its expiry)
	// between runs; nil keeps it in memory only.
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

// LogValue shows the configuration without its client secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL), slog.String("provet_id", c.ProvetID),
		slog.String("client_id", c.ClientID), slog.Bool("client_secret_set", c.ClientSecret != ""),
		slog.Any("scopes", c.Scopes), slog.Int("redirect_port", c.RedirectPort), slog.Duration("sign_in_wait", c.SignInWait))
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
	if cfg.SignInWait < 0 {
		return nil, fmt.Errorf("sign-in wait %v: use a positive duration, or 0 for %s", cfg.SignInWait, inWords(DefaultSignInWait))
	}
	if cfg.SignInWait == 0 {
		cfg.SignInWait = DefaultSignInWait
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

// DefaultSignInWait is how long a sign-in waits for the browser: enough to
// type a password and find a second factor, short enough that a forgotten
// sign-in does not hold the callback port for long.
const DefaultSignInWait = 5 * time.Minute

// SignInWait is how long SignIn waits for the browser.
func (m *Manager) SignInWait() time.Duration { return m.cfg.SignInWait }

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

// SignIn runs the whole browser sign-in: it listens on 127.0.0.1 for the
// callback, hands the authorization page to OnURL and OpenURL, waits for the
// answer (at most SignInWait, or until ctx ends), exchanges the code with the
// PKCE verifier and saves the tokens.
func (m *Manager) SignIn(ctx context.Context) (*Session, error) {
	if m.cfg.OpenURL == nil && m.cfg.OnURL == nil {
		return nil, errors.New("signin: Config.OpenURL or Config.OnURL is required to show the sign-in page")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.cfg.RedirectPort)))
	if err != nil {
		return nil, fmt.Errorf("cannot wait for the sign-in on 127.0.0.1 port %d (is another program using it? choose another redirect port in Settings): %w", m.cfg.RedirectPort, err)
	}
	host := ln.Addr().String()
	redirect := "http://" + host + "/callback"
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	conf := m.oauthConfig(redirect)

	cb := newCallback(state, host)
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns when Shutdown/Close runs below
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	wctx, cancel := context.WithTimeoutCause(ctx, m.cfg.SignInWait, ErrSignInTimeout)
	defer cancel()
	deadline, _ := wctx.Deadline()
	m.log.Info("waiting for the Provet sign-in in the browser", "callback", redirect, "until", deadline.Format(time.TimeOnly))

	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
	if m.cfg.OnURL != nil {
		m.cfg.OnURL(authURL, deadline)
	}
	if m.cfg.OpenURL != nil {
		if err := m.cfg.OpenURL(authURL); err != nil {
			if m.cfg.OnURL == nil {
				return nil, fmt.Errorf("could not open the sign-in page (try `vetbridge login`, which prints its address): %w", err)
			}
			m.log.Warn("no browser opened; the sign-in address is shown for copying", "err", err)
		}
	}
	res, err := cb.wait(wctx, m.cfg.SignInWait)
	if err != nil {
		m.log.Warn("sign-in did not complete", "err", err)
		return nil, err
	}
	tok, err := m.exchange(ctx, conf, res.code, verifier)
	res.verdict <- err // before the deferred Shutdown, which waits for that page
	if err != nil {
		return nil, err
	}
	s := newSession(m, tok)
	s.mu.Lock()
	s.persistLocked(ctx, tok)
	s.mu.Unlock()
	m.log.Info("signed in to Provet", "store", m.store.Kind(), "scope", tok.Extra("scope"), "access_token_expires", tok.Expiry)
	return s, nil
}

// exchange trades the code for tokens, proving with the verifier that this
// app asked for it.
func (m *Manager) exchange(ctx context.Context, conf *oauth2.Config, code, verifier string) (*oauth2.Token, error) {
	tok, err := conf.Exchange(m.httpCtx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			err = describeTokenError("Provet did not accept the sign-in", err)
		} else {
			err = fmt.Errorf("%w: the sign-in could not be completed, start it again: %w", ErrUnreachable, err)
		}
		m.log.Warn("code exchange failed", "err", err)
		return nil, err
	}
	return tok, nil
}

// Restore resumes the session saved by an earlier run. It does not contact
// Provet, so start-up works offline. A saved access token that is still valid
// is used as it is; otherwise the first request refreshes it, and a refused
// refresh token then reports ErrSignInAgain.
func (m *Manager) Restore(ctx context.Context) (*Session, error) {
	v, err := m.store.Load(ctx)
	if errors.Is(err, ErrNoToken) {
		return nil, ErrNotSignedIn
	}
	if err != nil {
		return nil, err
	}
	tok, err := decodeSaved(v)
	if errors.Is(err, ErrNoToken) {
		return nil, ErrNotSignedIn
	}
	if err != nil {
		m.log.Warn("the saved Provet sign-in is damaged", "store", m.store.Kind())
		return nil, fmt.Errorf("%w (kept in the %s)", err, m.store.Kind())
	}
	if tok.Valid() {
		m.log.Info("resuming the saved Provet sign-in", "store", m.store.Kind(), "access_token_expires", tok.Expiry)
	} else {
		m.log.Info("resuming the saved Provet sign-in; the first request renews it", "store", m.store.Kind())
	}
	return newSession(m, tok), nil
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
