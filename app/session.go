package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/app/signin"
)

// signinManager builds the OAuth2 client for the configured tenant. The token
// store is opened here, off the UI goroutine, because a locked keyring may
// take seconds to answer.
func (a *App) signinManager(ctx context.Context, cfg Config, waiting func(string, time.Time)) (*signin.Manager, provet.Tenant, error) {
	pc := cfg.Provet
	tenant, err := provet.ResolveTenant(pc.Region, pc.BaseURL, pc.ProvetID)
	if err != nil {
		return nil, tenant, err
	}
	ep, err := signin.DeriveEndpoints(tenant.OAuthBase, tenant.ProvetID)
	if err != nil {
		return nil, tenant, err
	}
	if pc.TokenURL != "" {
		ep.Token = pc.TokenURL
	}
	// One keyring entry per integration and tenant, so two clinics on one
	// computer never overwrite each other's sign-in.
	account := signin.Account(pc.ClientID, ep)
	a.mu.Lock()
	tokens := a.tokens
	if a.tokensAccount != account && !a.tokensFixed {
		tokens = nil
	}
	a.mu.Unlock()
	if tokens == nil {
		tokens = signin.OpenStore(ctx, a.dir, account, a.log)
		if tokens.Kind() == "file" {
			a.Announce("No system keyring found: the Provet sign-in is kept in a file in the data directory that only this user can read.")
		}
		a.mu.Lock()
		a.tokens, a.tokensAccount = tokens, account
		a.mu.Unlock()
	}
	m, err := signin.New(signin.Config{
		BaseURL:      tenant.OAuthBase,
		ProvetID:     tenant.ProvetID,
		ClientID:     pc.ClientID,
		ClientSecret: pc.ClientSecret,
		Scopes:       pc.Scopes,
		RedirectPort: pc.RedirectPort,
		AuthorizeURL: pc.AuthorizeURL,
		TokenURL:     pc.TokenURL,
		RevokeURL:    pc.RevokeURL,
		OpenURL:      a.openURL,
		OnURL:        waiting,
		Store:        tokens,
		Logger:       a.log,
		OnSignInAgain: func(err error) {
			a.log.Warn("Provet sign-in ended; the technician must sign in again", "err", err)
			a.dropSession()
			a.setStatus(func(s *Status) {
				s.State = StateSignedOut
				s.Message = "The Provet sign-in has expired. Sign in again; the worklist is still served."
			})
			a.hub.publish(Event{Kind: EventSignInAgain, Message: "Sign in to Provet Cloud again."})
			a.notify("Sign in to Provet Cloud again", "The Provet sign-in has ended; new referrals arrive again once you sign in from the VetBridge menu.")
		},
	})
	return m, tenant, err
}

// secretStore keeps a Client Credentials secret in the keyring entry of
// its integration and tenant (a 0600 file where there is no keyring).
func (a *App) secretStore(ctx context.Context, m *signin.Manager) signin.TokenStore {
	a.mu.Lock()
	fixed := a.tokensFixed
	tokens := a.tokens
	a.mu.Unlock()
	if fixed {
		return tokens // the demo's and the tests' memory store
	}
	return signin.OpenSecretStore(ctx, a.dir, signin.SecretAccount(a.Effective().Provet.ClientID, m.Endpoints()), a.log)
}

// restoreSession resumes the stored sign-in at start-up, so a restart needs
// no browser.
func (a *App) restoreSession(ctx context.Context) {
	cfg := a.Effective()
	if cfg.Provet.ClientID == "" || a.provetClient() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, tenant, err := a.signinManager(ctx, cfg, nil)
	if err != nil {
		a.log.Warn("Provet connection settings are incomplete", "err", err)
		return
	}
	var sess *signin.Session
	if cfg.Provet.Grant == settings.GrantClientCredentials {
		// The saved secret, without contacting Provet: start-up works offline.
		sess, err = m.ClientCredentials(ctx, a.secretStore(ctx, m))
	} else {
		sess, err = m.Restore(ctx)
	}
	if err != nil {
		if !errors.Is(err, signin.ErrNoToken) {
			a.log.Warn("could not resume the Provet sign-in", "err", err)
		}
		return
	}
	a.adoptSession(ctx, sess, tenant)
}

// signIn runs the browser sign-in and blocks until the technician finishes
// it, ctx ends or the wait times out; waiting (nil: none) receives the
// address to open by hand and when the wait ends.
func (a *App) signIn(ctx context.Context, waiting func(authURL string, until time.Time)) (string, error) {
	cfg := a.Effective()
	if cfg.Provet.ClientID == "" {
		return "", fmt.Errorf("enter the Provet client ID in Settings before signing in")
	}
	if a.openURL == nil && waiting == nil && cfg.Provet.Grant != settings.GrantClientCredentials {
		return "", fmt.Errorf("no browser can be opened here; run `vetbridge login` to get the address to open")
	}
	m, tenant, err := a.signinManager(ctx, cfg, waiting)
	if err != nil {
		return "", err
	}
	var sess *signin.Session
	if cfg.Provet.Grant == settings.GrantClientCredentials {
		sess, err = m.ClientCredentials(ctx, a.secretStore(ctx, m))
	} else {
		sess, err = m.SignIn(ctx)
	}
	if err != nil {
		return "", err
	}
	who := a.adoptSession(ctx, sess, tenant)
	a.sync.Now()
	a.out.Wake()
	return who, nil
}

func (a *App) adoptSession(ctx context.Context, sess *signin.Session, tenant provet.Tenant) string {
	a.mu.Lock()
	mapping := a.mapping
	a.mu.Unlock()
	client, err := provet.New(provet.Options{
		APIBase:    tenant.APIBase,
		HTTPClient: sess.Client(),
		Reauth:     sess.ForceRefresh,
		Mapping:    mapping,
		Logger:     a.log,
		UserAgent:  "VetBridge",
		// Sync polls again soon and the outbox retries on its own schedule,
		// so a call gives up early and the technician sees "offline" within
		// seconds instead of minutes.
		MaxAttempts: 3,
		// The client refuses any status write until the mapping's status
		// values are confirmed: a second lock behind the outbox's.
		StatusesConfirmed: a.confirmedFingerprint,
	})
	if err != nil {
		a.log.Error("cannot build the Provet client", "err", err)
		return ""
	}
	who := ""
	if u, err := sess.User(ctx); err == nil {
		who = u.Display()
	}
	if who == "" {
		// Without the openid scope Provet names nobody; the client id at
		// least says which integration is signed in.
		who = "Provet (integration " + a.Effective().Provet.ClientID + ")"
	}
	a.mu.Lock()
	a.session, a.client = sess, client
	a.mu.Unlock()
	a.setStatus(func(s *Status) {
		s.SignedInAs = who
		if s.State == StateSignedOut {
			s.State = StateOK
		}
		s.Message = ""
	})
	a.log.Info("signed in to Provet Cloud", "api", tenant.APIBase)
	return who
}

// SignOut revokes the session at Provet and forgets it. The cached worklist
// stays served: the modalities should not notice.
func (a *App) SignOut(ctx context.Context) error {
	a.mu.Lock()
	sess := a.session
	a.mu.Unlock()
	a.dropSession()
	a.setStatus(func(s *Status) {
		s.State = StateSignedOut
		s.SignedInAs = ""
		s.Message = "Signed out. The worklist is still served from the last sync."
	})
	if sess == nil {
		return nil
	}
	if err := sess.SignOut(ctx); err != nil {
		return fmt.Errorf("signed out here, but Provet did not confirm the revocation (it expires by itself): %w", err)
	}
	return nil
}

func (a *App) dropSession() {
	a.mu.Lock()
	a.session, a.client = nil, nil
	a.mu.Unlock()
}

// provetClient returns the API client, or nil when signed out.
func (a *App) provetClient() *provet.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.client
}
