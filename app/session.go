package app

import (
	"context"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetlink"
)

// newLink builds the connection to Provet with the facade's callbacks.
func (a *App) newLink(opts Options) *provetlink.Link {
	return provetlink.New(provetlink.Options{
		DataDir: a.dir, Log: a.log, OpenURL: a.openURL, Tokens: opts.TokenStore, Confirmed: a.confirmedFingerprint,
		OnSignInAgain: func(err error) {
			a.log.Warn("Provet sign-in ended; the technician must sign in again", "err", err)
			a.setStatus(func(s *Status) {
				s.State = StateSignedOut
				s.Message = "The Provet sign-in has expired. Sign in again; the worklist is still served."
			})
			a.hub.publish(Event{Kind: EventSignInAgain, Message: "Sign in to Provet Cloud again."})
			a.notify("Sign in to Provet Cloud again", "The Provet sign-in has ended; new referrals arrive again once you sign in from the VetBridge menu.")
		},
		OnFileStore: func() {
			a.Announce("No system keyring found: the Provet sign-in is kept in a file in the data directory that only this user can read.")
		},
	})
}

// restoreSession resumes the stored sign-in at start-up, so a restart needs
// no browser.
func (a *App) restoreSession(ctx context.Context) {
	if who := a.link.Resume(ctx, a.Effective().Provet, a.currentMapping()); who != "" {
		a.signedIn(who)
	}
}

// signIn runs the sign-in and blocks until the technician finishes it, ctx
// ends or the wait times out; waiting (nil: none) receives the address to
// open by hand and when the wait ends.
func (a *App) signIn(ctx context.Context, waiting func(authURL string, until time.Time)) (string, error) {
	who, err := a.link.SignIn(ctx, a.Effective().Provet, a.currentMapping(), waiting)
	if err != nil {
		return "", err
	}
	a.signedIn(who)
	a.sync.Now()
	a.out.Wake()
	return who, nil
}

func (a *App) signedIn(who string) {
	a.setStatus(func(s *Status) {
		s.SignedInAs = who
		if s.State == StateSignedOut {
			s.State = StateOK
		}
		s.Message = ""
	})
}

// SignOut revokes the session at Provet and forgets it. The cached worklist
// stays served: the modalities should not notice.
func (a *App) SignOut(ctx context.Context) error {
	a.setStatus(func(s *Status) {
		s.State = StateSignedOut
		s.SignedInAs = ""
		s.Message = "Signed out. The worklist is still served from the last sync."
	})
	return a.link.SignOut(ctx)
}

// provetClient returns the API client, or nil when signed out.
func (a *App) provetClient() *provet.Client { return a.link.Client() }

func (a *App) currentMapping() *provet.Mapping {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mapping
}
