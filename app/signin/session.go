package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// refreshTimeout bounds a refresh started from Token, which has no context.
const refreshTimeout = 30 * time.Second

// Session is a signed-in technician (or, with Client Credentials, the
// integration itself). It is an oauth2.TokenSource whose access token renews
// itself; with Authorization Code, every new token pair is saved before the
// new access token is handed out. Safe for concurrent use: renewals are
// serialised, so two requests never spend the same refresh token.
type Session struct {
	m     *Manager
	grant grantKind
	// store keeps what survives a restart: the token record (Authorization
	// Code) or the client secret (Client Credentials).
	store  TokenStore
	secret string // the client secret in use, if any

	mu    sync.Mutex
	tok   *oauth2.Token
	ended error // matches ErrSignInAgain or ErrSignedOut once the session is over
	user  *User
	// refreshed is when the last refresh succeeded; a burst of 401s from
	// concurrent requests then costs one refresh, not one each.
	refreshed time.Time
}

type grantKind int

const (
	grantCode   grantKind = iota // Authorization Code + PKCE: renew with the refresh token
	grantClient                  // Client Credentials: ask again with the secret
)

// forceRefreshGrace is how recent a refresh must be for ForceRefresh to
// trust it instead of refreshing again.
const forceRefreshGrace = 2 * time.Second

func newSession(m *Manager, tok *oauth2.Token) *Session {
	return &Session{m: m, grant: grantCode, store: m.store, secret: m.cfg.ClientSecret, tok: tok}
}

// Token implements oauth2.TokenSource. Its errors match ErrSignInAgain when
// the session has ended for good and ErrUnreachable when a later try may
// work.
func (s *Session) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
	defer cancel()
	return s.token(ctx, false)
}

// ForceRefresh renews the access token now, for an API client that was told
// 401 by Provet although the token looked valid (revoked, or a clock skew).
// Calls within two seconds of a successful refresh reuse it.
func (s *Session) ForceRefresh(ctx context.Context) error {
	_, err := s.token(ctx, true)
	return err
}

func (s *Session) token(ctx context.Context, force bool) (*oauth2.Token, error) {
	s.mu.Lock()
	if s.ended != nil {
		err := s.ended
		s.mu.Unlock()
		return nil, err
	}
	recent := !s.refreshed.IsZero() && time.Since(s.refreshed) < forceRefreshGrace
	if (!force || recent) && s.tok.Valid() {
		t := *s.tok
		s.mu.Unlock()
		return &t, nil
	}
	t, endedNow, err := s.refreshLocked(ctx)
	s.mu.Unlock()
	if endedNow && s.m.cfg.OnSignInAgain != nil {
		s.m.cfg.OnSignInAgain(err)
	}
	return t, err
}

// refreshLocked gets a new access token with s.mu held. endedNow reports
// that this call found the session over for good.
func (s *Session) refreshLocked(ctx context.Context) (*oauth2.Token, bool, error) {
	t, err := s.fetchLocked(ctx)
	if errors.Is(err, ErrSignInAgain) && s.adoptSavedLocked(ctx) {
		if s.tok.Valid() {
			s.refreshed = time.Now()
			c := *s.tok
			return &c, false, nil
		}
		t, err = s.fetchLocked(ctx)
	}
	if err != nil {
		if !errors.Is(err, ErrSignInAgain) {
			// Network trouble or a 5xx: the session may still be good.
			s.m.log.Warn("could not renew the Provet session; will try again", "err", err)
			return nil, false, err
		}
		s.ended = err
		s.forgetLocked(ctx)
		s.m.log.Warn("Provet refused to renew the session; sign in again", "err", err)
		return nil, true, err
	}
	s.persistLocked(ctx, t)
	s.tok = t
	s.refreshed = time.Now()
	s.m.log.Debug("Provet access token renewed", "expires", t.Expiry)
	c := *t
	return &c, false, nil
}

// adoptSavedLocked takes the saved sign-in when it is newer than ours:
// another VetBridge process on this computer (a command run beside the tray
// app) may have rotated the refresh token we just presented.
func (s *Session) adoptSavedLocked(ctx context.Context) bool {
	if s.grant != grantCode {
		return false
	}
	saved, err := s.loadSaved(ctx)
	if err != nil || saved.RefreshToken == "" || saved.RefreshToken == s.tok.RefreshToken {
		return false
	}
	s.m.log.Info("another VetBridge renewed the Provet sign-in; using its tokens", "store", s.store.Kind())
	s.tok = saved
	return true
}

// forgetLocked deletes a refused sign-in, so a restart does not present it
// again, unless the store already holds another one.
func (s *Session) forgetLocked(ctx context.Context) {
	if s.grant != grantCode {
		return // a refused client secret may be re-enabled by Provet's admin; IT replaces it
	}
	if saved, err := s.loadSaved(ctx); err == nil && saved.RefreshToken != "" && saved.RefreshToken != s.tok.RefreshToken {
		return
	}
	if err := s.store.Delete(ctx); err != nil {
		s.m.log.Warn("could not forget the refused sign-in", "store", s.store.Kind(), "err", err)
	}
}

func (s *Session) loadSaved(ctx context.Context) (*oauth2.Token, error) {
	v, err := s.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	return decodeSaved(v)
}

// fetchLocked asks the token endpoint for a new access token.
func (s *Session) fetchLocked(ctx context.Context) (*oauth2.Token, error) {
	ctx = s.m.httpCtx(ctx)
	if s.grant == grantClient {
		t, err := s.m.clientCredentials(s.secret).Token(ctx)
		if err != nil {
			return nil, tokenFailure("Provet refused the client ID and secret", "enter the current client secret in Settings", err)
		}
		t.RefreshToken = "" // nothing to renew with: the secret is asked again
		return t, nil
	}
	old := s.tok.RefreshToken
	if old == "" {
		return nil, &tokenError{kind: ErrSignInAgain, detail: "no refresh token was saved to renew the session with"}
	}
	t, err := s.m.oauthConfig("").TokenSource(ctx, &oauth2.Token{RefreshToken: old}).Token()
	if err != nil {
		return nil, tokenFailure("Provet refused to renew the session", "", err)
	}
	return t, nil
}

// persistLocked saves the token pair before anyone uses it: once Provet
// rotated, the old refresh token is dead, and losing the new one would mean
// signing in again after a restart. Client Credentials keep only the secret.
func (s *Session) persistLocked(ctx context.Context, t *oauth2.Token) {
	if s.grant != grantCode {
		return
	}
	err := s.store.Save(ctx, encodeSaved(t))
	if err != nil && s.store.Save(ctx, encodeRefreshOnly(t)) == nil {
		// A keyring may refuse the larger record; the refresh token alone
		// still spares a sign-in after a restart.
		s.m.log.Info("kept only the refresh token; a restart renews the access token", "store", s.store.Kind(), "err", err)
		return
	}
	if err != nil {
		s.m.log.Warn("the sign-in could not be saved; after a restart you may have to sign in again", "store", s.store.Kind(), "err", err)
		return
	}
	s.m.log.Debug("Provet sign-in saved", "store", s.store.Kind(), "rotated", t.RefreshToken != s.tok.RefreshToken)
}

// tokenError is a failed token request in words. It matches its kind
// (ErrSignInAgain or ErrUnreachable) and its cause with errors.Is and As;
// its text never carries Provet's raw answer.
type tokenError struct {
	kind   error
	detail string
	cause  error
}

func (e *tokenError) Error() string { return e.kind.Error() + " (" + e.detail + ")" }

func (e *tokenError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// refusedCodes are RFC 6749 §5.2 answers that no retry changes.
var refusedCodes = map[string]bool{
	"invalid_grant": true, "invalid_client": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true,
}

// tokenFailure sorts a failed token request into "sign in again" (Provet
// refused what we presented) and "try again later" (everything else).
func tokenFailure(refused, hint string, err error) error {
	var re *oauth2.RetrieveError
	isRE := errors.As(err, &re)
	if isRE && refusedCodes[re.ErrorCode] {
		d := refused + ": " + codeText(re)
		if hint != "" {
			d += "; " + hint
		}
		return &tokenError{kind: ErrSignInAgain, detail: d, cause: err}
	}
	d := "asking for a new access token: " + err.Error()
	if isRE && re.Response != nil {
		d = fmt.Sprintf("asking for a new access token: Provet answered HTTP %d", re.Response.StatusCode)
		if re.ErrorCode != "" {
			d += ": " + codeText(re)
		}
	}
	return &tokenError{kind: ErrUnreachable, detail: d, cause: err}
}

func codeText(re *oauth2.RetrieveError) string {
	if re.ErrorDescription != "" {
		return re.ErrorCode + " — " + re.ErrorDescription
	}
	return re.ErrorCode
}

// Client returns an http.Client, built on Config.HTTPClient, that
// authenticates every request and refreshes the token when needed. Unlike
// oauth2.NewClient it keeps no token cache of its own, so a ForceRefresh is
// seen by the very next request.
func (s *Session) Client() *http.Client {
	base := s.m.http
	return &http.Client{
		Transport:     &oauth2.Transport{Base: base.Transport, Source: s},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}
}

// Valid reports whether the session can still be used (it was not refused
// by Provet or signed out).
func (s *Session) Valid() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended == nil
}

// SignOut revokes the tokens at Provet (RFC 7009) and forgets the saved
// sign-in here; with Client Credentials that is the client secret, so a
// restart does not sign in by itself. The local sign-out always happens; the
// returned error only says that Provet could not be told.
func (s *Session) SignOut(ctx context.Context) error {
	s.mu.Lock()
	tok := s.tok
	s.ended = ErrSignedOut
	s.tok = &oauth2.Token{}
	s.user = nil
	s.mu.Unlock()

	var errs []error
	if err := s.store.Delete(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, t := range []struct{ v, hint string }{{tok.RefreshToken, "refresh_token"}, {tok.AccessToken, "access_token"}} {
		if t.v == "" {
			continue
		}
		if err := s.m.revoke(ctx, t.v, t.hint, s.secret); err != nil {
			errs = append(errs, err)
			break // the refresh token's revocation is what matters; no point hammering
		}
	}
	s.m.log.Info("signed out of Provet")
	if len(errs) > 0 {
		return fmt.Errorf("signed out on this computer, but not everything was cleaned up: %w", errors.Join(errs...))
	}
	return nil
}

func (m *Manager) revoke(ctx context.Context, token, hint, secret string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if secret == "" {
		form.Set("client_id", m.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.ep.Revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revocation address %q: %w", m.ep.Revoke, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(m.cfg.ClientID), url.QueryEscape(secret))
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return fmt.Errorf("Provet could not be told about the sign-out (offline?): %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Provet answered the sign-out with HTTP %d", resp.StatusCode)
	}
	return nil
}

// User is who is signed in, from Provet's userinfo (needs the openid scope).
type User struct {
	Subject    string `json:"sub"`
	Name       string `json:"name"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Email      string `json:"email"`
}

// Display is the name to show, falling back to the e-mail address.
func (u User) Display() string {
	if n := strings.TrimSpace(u.Name); n != "" {
		return n
	}
	if n := strings.TrimSpace(u.GivenName + " " + u.FamilyName); n != "" {
		return n
	}
	return u.Email
}

// ErrNoUserInfo means Provet would not say who is signed in, usually because
// the openid scope was not requested.
var ErrNoUserInfo = errors.New("Provet does not say who is signed in (add the openid scope to see the name)")

// User asks Provet who is signed in; the answer is cached for the session.
func (s *Session) User(ctx context.Context) (User, error) {
	s.mu.Lock()
	if s.user != nil {
		u := *s.user
		s.mu.Unlock()
		return u, nil
	}
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.m.ep.UserInfo, nil)
	if err != nil {
		return User{}, fmt.Errorf("userinfo address %q: %w", s.m.ep.UserInfo, err)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return User{}, fmt.Errorf("asking Provet who is signed in: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound:
		return User{}, ErrNoUserInfo
	case resp.StatusCode != http.StatusOK:
		return User{}, fmt.Errorf("asking Provet who is signed in: HTTP %d", resp.StatusCode)
	}
	var u User
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&u); err != nil {
		return User{}, fmt.Errorf("Provet's userinfo answer could not be read: %w", err)
	}
	s.mu.Lock()
	s.user = &u
	s.mu.Unlock()
	return u, nil
}
