package signin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrNoClientSecret is ClientCredentials' answer when no secret was given and
// none is saved; it matches ErrNotSignedIn and ErrNoToken too.
var ErrNoClientSecret = fmt.Errorf("no Provet client secret is saved: enter it in Settings: %w", ErrNotSignedIn)

// ErrClientRefused: Provet refused a client ID and secret just entered.
var ErrClientRefused = errors.New("Provet did not accept the client ID and secret")

// ClientCredentials signs in as the integration itself (OAuth2 Client
// Credentials), for installs that the clinic's IT manages: no technician,
// no browser. Provet recommends this grant for an integration layer; the
// API then acts as the integration's virtual user, with its permissions.
//
// With cfg.ClientSecret set, the secret is checked with Provet at once and
// kept in secrets only if Provet accepts it. With cfg.ClientSecret empty, the
// saved secret is used without contacting Provet, so start-up works offline;
// the first request fetches the token. Either way the session asks for a new
// access token when the old one expires (there is no refresh token), sends
// the client ID and secret with HTTP Basic as Provet prefers, and reports a
// refused secret as ErrSignInAgain through Config.OnSignInAgain.
func ClientCredentials(ctx context.Context, cfg Config, secrets TokenStore) (*Session, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return m.ClientCredentials(ctx, secrets)
}

// ClientCredentials is the package function for a Manager already built.
// secrets nil keeps the secret in memory only.
func (m *Manager) ClientCredentials(ctx context.Context, secrets TokenStore) (*Session, error) {
	if secrets == nil {
		secrets = &MemoryStore{}
	}
	s := &Session{m: m, grant: grantClient, store: secrets, tok: &oauth2.Token{}}
	if m.cfg.ClientSecret == "" {
		v, err := secrets.Load(ctx)
		if errors.Is(err, ErrNoToken) {
			return nil, ErrNoClientSecret
		}
		if err != nil {
			return nil, err
		}
		s.secret = v
		m.log.Info("using the saved Provet client secret", "store", secrets.Kind())
		return s, nil
	}
	s.secret = m.cfg.ClientSecret
	s.mu.Lock()
	t, err := s.fetchLocked(ctx)
	if err == nil {
		s.tok, s.refreshed = t, time.Now()
	}
	s.mu.Unlock()
	if err != nil {
		m.log.Warn("Provet did not accept the client credentials", "err", err)
		// Not a session that ended: this one never began.
		var re *oauth2.RetrieveError
		if errors.Is(err, ErrSignInAgain) && errors.As(err, &re) {
			return nil, &tokenError{kind: ErrClientRefused, detail: codeText(re) + "; check both in Provet's integration settings", cause: re}
		}
		return nil, err
	}
	if err := secrets.Save(ctx, s.secret); err != nil {
		m.log.Warn("the client secret could not be saved; after a restart it must be entered again", "store", secrets.Kind(), "err", err)
	}
	m.log.Info("signed in to Provet with the integration's client credentials", "store", secrets.Kind(), "access_token_expires", t.Expiry)
	return s, nil
}

// clientCredentials is the token request of the Client Credentials grant.
func (m *Manager) clientCredentials(secret string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID: m.cfg.ClientID, ClientSecret: secret, TokenURL: m.ep.Token, Scopes: m.cfg.Scopes,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
}
