// Package provetlink is VetBridge's connection to one Provet Cloud tenant:
// the sign-in (Authorization Code with PKCE, or Client Credentials) for the
// configured tenant, its tokens in the keyring entry of that integration
// and tenant, resuming it at start, and the API client it yields, built so
// that no status is written before the tenant's status values are
// confirmed.
package provetlink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/app/signin"
)

// Options wire a Link.
type Options struct {
	DataDir string
	Log     *slog.Logger
	// OpenURL opens the sign-in page in the browser; nil when none can be.
	OpenURL func(string) error
	// Tokens, when set, keeps the sign-in for good (the demo's and tests'
	// memory store); nil opens the keyring entry of each tenant.
	Tokens signin.TokenStore
	// Confirmed says whether the status mapping with this fingerprint was
	// confirmed; the client refuses status writes otherwise.
	Confirmed func(fingerprint string) bool
	// OnSignInAgain runs when Provet ends the sign-in for good.
	OnSignInAgain func(error)
	// OnFileStore runs when no keyring exists and tokens go to a file.
	OnFileStore func()
}

// Link is the connection; safe for concurrent use.
type Link struct {
	o Options

	mu            sync.Mutex
	tokens        signin.TokenStore
	tokensAccount string
	session       *signin.Session
	client        *provet.Client
}

// New returns a Link that is not signed in.
func New(o Options) *Link { return &Link{o: o, tokens: o.Tokens} }

// Client is the API client, nil while signed out.
func (l *Link) Client() *provet.Client {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.client
}

// Drop forgets the session without revoking it (the tenant changed).
func (l *Link) Drop() {
	l.mu.Lock()
	l.session, l.client = nil, nil
	l.mu.Unlock()
}

// manager builds the OAuth2 client for the configured tenant. The token
// store is opened here, off the UI goroutine, because a locked keyring may
// take seconds to answer.
func (l *Link) manager(ctx context.Context, pc settings.ProvetConfig, waiting func(string, time.Time)) (*signin.Manager, provet.Tenant, error) {
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
	m, err := signin.New(signin.Config{
		BaseURL: tenant.OAuthBase, ProvetID: tenant.ProvetID, ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
		Scopes: pc.Scopes, RedirectPort: pc.RedirectPort, AuthorizeURL: pc.AuthorizeURL, TokenURL: pc.TokenURL,
		RevokeURL: pc.RevokeURL, OpenURL: l.o.OpenURL, OnURL: waiting,
		Store: l.tokenStore(ctx, signin.Account(pc.ClientID, ep)), Logger: l.o.Log,
		OnSignInAgain: func(err error) {
			l.Drop()
			if l.o.OnSignInAgain != nil {
				l.o.OnSignInAgain(err)
			}
		},
	})
	return m, tenant, err
}

// tokenStore is the keyring entry of one integration and tenant, so two
// clinics on one computer never overwrite each other's sign-in.
func (l *Link) tokenStore(ctx context.Context, account string) signin.TokenStore {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.o.Tokens != nil {
		return l.o.Tokens
	}
	if l.tokens == nil || l.tokensAccount != account {
		l.tokens, l.tokensAccount = signin.OpenStore(ctx, l.o.DataDir, account, l.o.Log), account
		if l.tokens.Kind() == "file" && l.o.OnFileStore != nil {
			l.o.OnFileStore()
		}
	}
	return l.tokens
}

// secretStore keeps a Client Credentials secret in the keyring entry of
// its integration and tenant (a 0600 file where there is no keyring).
func (l *Link) secretStore(ctx context.Context, pc settings.ProvetConfig, m *signin.Manager) signin.TokenStore {
	if l.o.Tokens != nil {
		return l.o.Tokens
	}
	return signin.OpenSecretStore(ctx, l.o.DataDir, signin.SecretAccount(pc.ClientID, m.Endpoints()), l.o.Log)
}

// Resume restores the stored sign-in at start, so a restart needs no
// browser; it reports who is signed in, or "" when nobody is.
func (l *Link) Resume(ctx context.Context, pc settings.ProvetConfig, mapping *provet.Mapping) string {
	if pc.ClientID == "" || l.Client() != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, tenant, err := l.manager(ctx, pc, nil)
	if err != nil {
		l.o.Log.Warn("Provet connection settings are incomplete", "err", err)
		return ""
	}
	var sess *signin.Session
	if pc.Grant == settings.GrantClientCredentials {
		// The saved secret, without contacting Provet: start-up works offline.
		sess, err = m.ClientCredentials(ctx, l.secretStore(ctx, pc, m))
	} else {
		sess, err = m.Restore(ctx)
	}
	if err != nil {
		if !errors.Is(err, signin.ErrNoToken) {
			l.o.Log.Warn("could not resume the Provet sign-in", "err", err)
		}
		return ""
	}
	return l.adopt(ctx, sess, tenant, pc, mapping)
}

// SignIn runs the sign-in and blocks until it is done, ctx ends or the
// wait times out; waiting (nil: none) receives the address to open by hand
// and when the wait ends. It returns who signed in.
func (l *Link) SignIn(ctx context.Context, pc settings.ProvetConfig, mapping *provet.Mapping, waiting func(string, time.Time)) (string, error) {
	if pc.ClientID == "" {
		return "", fmt.Errorf("enter the Provet client ID in Settings before signing in")
	}
	cc := pc.Grant == settings.GrantClientCredentials
	if l.o.OpenURL == nil && waiting == nil && !cc {
		return "", fmt.Errorf("no browser can be opened here; run `vetbridge login` to get the address to open")
	}
	m, tenant, err := l.manager(ctx, pc, waiting)
	if err != nil {
		return "", err
	}
	var sess *signin.Session
	if cc {
		sess, err = m.ClientCredentials(ctx, l.secretStore(ctx, pc, m))
	} else {
		sess, err = m.SignIn(ctx)
	}
	if err != nil {
		return "", err
	}
	return l.adopt(ctx, sess, tenant, pc, mapping), nil
}

func (l *Link) adopt(ctx context.Context, sess *signin.Session, tenant provet.Tenant, pc settings.ProvetConfig, mapping *provet.Mapping) string {
	client, err := provet.New(provet.Options{
		APIBase: tenant.APIBase, HTTPClient: sess.Client(), Reauth: sess.ForceRefresh, Mapping: mapping,
		Logger: l.o.Log, UserAgent: "VetBridge",
		// Sync polls again soon and the outbox retries on its own schedule,
		// so a call gives up early and the technician sees "offline" within
		// seconds instead of minutes.
		MaxAttempts: 3,
		// The client refuses any status write until the mapping's status
		// values are confirmed: a second lock behind the outbox's.
		StatusesConfirmed: l.o.Confirmed,
	})
	if err != nil {
		l.o.Log.Error("cannot build the Provet client", "err", err)
		return ""
	}
	who := ""
	if u, err := sess.User(ctx); err == nil {
		who = u.Display()
	}
	if who == "" {
		// Without the openid scope Provet names nobody; the client id at
		// least says which integration is signed in.
		who = "Provet (integration " + pc.ClientID + ")"
	}
	l.mu.Lock()
	l.session, l.client = sess, client
	l.mu.Unlock()
	l.o.Log.Info("signed in to Provet Cloud", "api", tenant.APIBase)
	return who
}

// SignOut revokes the session at Provet and forgets it.
func (l *Link) SignOut(ctx context.Context) error {
	l.mu.Lock()
	sess := l.session
	l.mu.Unlock()
	l.Drop()
	if sess == nil {
		return nil
	}
	if err := sess.SignOut(ctx); err != nil {
		return fmt.Errorf("signed out here, but Provet did not confirm the revocation (it expires by itself): %w", err)
	}
	return nil
}
