package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"github.com/vetbridge/vetbridge/app/signin"
)

// An install that IT manages signs in as the integration (Client
// Credentials): the secret goes to the keyring, never into config.json, and
// the next start needs nobody.
func TestClientCredentialsSignInKeepsTheSecretOutOfTheConfig(t *testing.T) {
	const secret = "integration-secret-4242"
	sim := provetsim.New(provetsim.Options{Referrals: 5, Seed: 3, ClientSecret: secret})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	keyring := &signin.MemoryStore{}
	open := func() *app.App {
		a, err := app.Open(app.Options{DataDir: dir, TokenStore: keyring})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open()
	p := a.Config().Provet
	p.Region, p.BaseURL, p.ProvetID, p.ClientID, p.Grant, p.ClientSecret = "custom", sim.URL(), sim.ProvetID(), sim.ClientID(), "client_credentials", secret
	ctx := context.Background()
	if _, err := a.SignIn(ctx, p, nil); err != nil {
		t.Fatalf("client credentials sign-in: %v", err)
	}
	if err := a.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Referrals(app.ReferralFilter{AllDays: true})); n == 0 {
		t.Fatal("nothing synced as the integration")
	}
	a.Close()
	b, err := os.ReadFile(filepath.Join(dir, app.ConfigFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), `"grant": "client_credentials"`) {
		t.Fatalf("config.json must name the grant and never hold the secret:\n%s", b)
	}
	a = open()
	defer a.Close()
	if err := a.SyncOnce(ctx); err != nil {
		t.Fatalf("after a restart the saved secret must sign in by itself: %v", err)
	}
}
