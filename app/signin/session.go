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

// Session is a signed-in technician. It is an oauth2.TokenSource whose access
// token refreshes itself; every rotated refresh token is saved before the new
// access token is handed out. Safe for concurrent use: refreshes are
// serialised, so two requests never spend the same refresh token.
type Session struct {
	m *Manager

	mu    sync.Mutex
	tok   *oauth2.Token
	ended error // ErrSignInAgain or ErrSignedOut once the session is over
	user  *User
	// refreshed is when the last refresh succeeded; a burst of 401s from
	// concurrent requests then costs one refresh, not one each.
	refreshed time.Time
}

// forceRefreshGrace is how recent a refresh must be for ForceRefresh to
// trust it instead of refreshing again.
const forceRefreshGrace = 2 * time.Second

func newSession(m *Manager, tok *oauth2.Token) *Session {
	return &Session{m: m, tok: tok}
}

// Token implements oauth2.TokenSource.
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

// refreshLocked runs the refresh grant with s.mu held. endedNow reports that
// this call found the session over for good.
func (s *Session) refreshLocked(ctx context.Context) (*oauth2.Token, bool, error) {
	old := s.tok.RefreshToken
	if old == "" {
		s.ended = ErrSignInAgain
		return nil, true, fmt.Errorf("no refresh token to renew the Provet session: %w", ErrSignInAgain)
	}
	src := s.m.oauthConfig("").TokenSource(s.m.httpCtx(ctx), &oauth2.Token{RefreshToken: old})
	t, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && (re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client") {
			s.ended = ErrSignInAgain
			if derr := s.m.store.Delete(ctx); derr != nil {
				s.m.log.Warn("could not forget the refused sign-in", "store", s.m.store.Kind(), "err", derr)
			}
			s.m.log.Warn("Provet refused to renew the session; the technician must sign in again", "error_code", re.ErrorCode)
			return nil, true, fmt.Errorf("%w (%s)", ErrSignInAgain, describeTokenError("renewing the Provet session", err))
		}
		// Network trouble or a 5xx: the session may still be good; try again later.
		return nil, false, describeTokenError("renewing the Provet session", err)
	}
	if t.RefreshToken != old {
		// Save before use: once Provet rotated, the old token is dead, and
		// losing the new one would mean signing in again after a restart.
		if err := s.m.store.Save(ctx, t.RefreshToken); err != nil {
			s.m.log.Warn("the renewed sign-in could not be saved; after a restart you may have to sign in again", "store", s.m.store.Kind(), "err", err)
		} else {
			s.m.log.Debug("Provet rotated the refresh token; saved", "store", s.m.store.Kind())
		}
	}
	s.tok = t
	s.refreshed = time.Now()
	s.m.log.Debug("Provet access token renewed", "expires", t.Expiry)
	c := *t
	return &c, false, nil
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

// SignOut revokes the refresh token at Provet (RFC 7009), which also ends its
// access tokens, and forgets it here. The local sign-out always happens; the
// returned error only says that Provet could not be told.
func (s *Session) SignOut(ctx context.Context) error {
	s.mu.Lock()
	tok := s.tok
	s.ended = ErrSignedOut
	s.tok = &oauth2.Token{}
	s.user = nil
	s.mu.Unlock()

	var errs []error
	if err := s.m.store.Delete(ctx); err != nil {
		errs = append(errs, err)
	}
	for _, t := range []struct{ v, hint string }{{tok.RefreshToken, "refresh_token"}, {tok.AccessToken, "access_token"}} {
		if t.v == "" {
			continue
		}
		if err := s.m.revoke(ctx, t.v, t.hint); err != nil {
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

func (m *Manager) revoke(ctx context.Context, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if m.cfg.ClientSecret == "" {
		form.Set("client_id", m.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.ep.Revoke, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revocation address %q: %w", m.ep.Revoke, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if m.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(m.cfg.ClientID), url.QueryEscape(m.cfg.ClientSecret))
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
