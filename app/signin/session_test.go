package signin

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"golang.org/x/oauth2"
)

// apiClient is the Provet REST client the app builds on a session, so the
// tests see the error the app's status line is chosen from.
func apiClient(t *testing.T, h *harness, s *Session) *provet.Client {
	t.Helper()
	c, err := provet.New(provet.Options{
		APIBase: h.sim.URL() + "api/0.1/", HTTPClient: s.Client(), Reauth: s.ForceRefresh,
		MaxAttempts: 1, Logger: h.manager(t).log,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// restoreFrom restarts with what st holds.
func restoreFrom(t *testing.T, h *harness, st TokenStore) *Session {
	t.Helper()
	h.cfg.Store = st
	s, err := h.manager(t).Restore(context.Background())
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	return s
}

// withExpiredAccessToken saves st's sign-in as a run 10 hours ago would have
// left it.
func withExpiredAccessToken(t *testing.T, st TokenStore) {
	t.Helper()
	tok := savedTok(t, st)
	tok.Expiry = time.Now().Add(-time.Hour)
	if err := st.Save(context.Background(), encodeSaved(tok)); err != nil {
		t.Fatal(err)
	}
}

func TestRefusedRefreshSaysSignInAgainNotUnreachable(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	withExpiredAccessToken(t, h.store)
	s := restoreFrom(t, h, h.store)
	c := apiClient(t, h, s)
	h.sim.RevokeAllTokens() // or 30 days passed, or the token was used elsewhere
	ctx := context.Background()
	for i := range 2 { // the call that finds out, and any call after it
		_, err := c.Modalities(ctx)
		var re *oauth2.RetrieveError
		if !errors.Is(err, ErrSignInAgain) || errors.Is(err, ErrUnreachable) ||
			!errors.Is(err, provet.ErrUnauthorized) || errors.Is(err, provet.ErrOffline) ||
			!errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("call %d: %v; want 'sign in again' with Provet's invalid_grant, not 'cannot be reached'", i+1, err)
		}
		if !strings.Contains(err.Error(), "sign in again") || !strings.Contains(err.Error(), "Provet refused to renew the session: invalid_grant — ") {
			t.Fatalf("call %d: %q does not say it in words", i+1, err)
		}
	}
	if e := <-h.ended; !errors.Is(e, ErrSignInAgain) || len(h.ended) != 0 {
		t.Fatalf("OnSignInAgain got %v (and %d more)", e, len(h.ended))
	}
	if _, err := h.store.Load(ctx); !errors.Is(err, ErrNoToken) {
		t.Fatal("the refused sign-in is still saved")
	}
}

func TestUnreachableTokenEndpointKeepsTheSession(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	withExpiredAccessToken(t, h.store)
	s := restoreFrom(t, h, h.store)
	c := apiClient(t, h, s)
	h.rec.setDown(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	_, err := c.Modalities(context.Background())
	if !errors.Is(err, provet.ErrOffline) || !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrSignInAgain) || errors.Is(err, provet.ErrUnauthorized) {
		t.Fatalf("no network: %v; want 'cannot be reached'", err)
	}
	if err := s.ForceRefresh(context.Background()); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("ForceRefresh with no network: %v", err)
	}
	if !s.Valid() || len(h.ended) != 0 {
		t.Fatal("a network failure ended the session")
	}
	if _, err := h.store.Load(context.Background()); err != nil {
		t.Fatal("a network failure deleted the saved sign-in")
	}
	h.rec.setDown(nil)
	if _, err := c.Modalities(context.Background()); err != nil {
		t.Fatalf("back online: %v", err)
	}
}

func TestRestartReusesTheSavedAccessToken(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true, Referrals: 1})
	h.signIn(t)
	before, _ := h.store.Load(context.Background())
	for range 3 { // three restarts within the access token's life
		if code := apiStatus(t, restoreFrom(t, h, h.store), h.sim); code != 200 {
			t.Fatalf("restored session: HTTP %d", code)
		}
	}
	after, _ := h.store.Load(context.Background())
	if n := h.sim.Requests()["oauth.token"]; n != 1 || after != before {
		t.Fatalf("%d token requests over three restarts (want the sign-in's 1); saved sign-in changed: %v", n, after != before)
	}
	if !strings.Contains(h.logs.String(), "access_token_expires") {
		t.Fatal("the restart did not say it reused the access token")
	}
}

func TestExpiredSavedAccessTokenIsRenewedOnFirstUse(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	withExpiredAccessToken(t, h.store)
	old := savedTok(t, h.store)
	s := restoreFrom(t, h, h.store)
	if n := h.sim.Requests()["oauth.token"]; n != 1 {
		t.Fatalf("Restore contacted Provet: %d token requests", n)
	}
	if code := apiStatus(t, s, h.sim); code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	now := savedTok(t, h.store)
	if h.sim.Requests()["oauth.token"] != 2 || now.RefreshToken == old.RefreshToken || now.AccessToken == old.AccessToken || time.Until(now.Expiry) < 9*time.Hour {
		t.Fatal("the renewed pair was not saved")
	}
}

func TestRefreshTokenOnlyEntryOfEarlierVersionsStillWorks(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	legacy := &MemoryStore{}
	if err := legacy.Save(context.Background(), savedTok(t, h.store).RefreshToken); err != nil {
		t.Fatal(err)
	}
	s := restoreFrom(t, h, legacy)
	if code := apiStatus(t, s, h.sim); code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	v, _ := legacy.Load(context.Background())
	tok := savedTok(t, legacy)
	if !strings.HasPrefix(v, "{") || tok.AccessToken == "" || h.rec.secrets[tok.RefreshToken] != "refresh_token" {
		t.Fatal("the old entry was not replaced by the full record after the first refresh")
	}
}

// pickyStore refuses values the way a keyring with a size limit does.
type pickyStore struct {
	MemoryStore
	refuse func(string) bool
}

func (p *pickyStore) Save(ctx context.Context, v string) error {
	if p.refuse(v) {
		return errors.New("data passed to Set was too big")
	}
	return p.MemoryStore.Save(ctx, v)
}

func TestKeyringThatRefusesTheRecordStillKeepsTheRefreshToken(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	picky := &pickyStore{refuse: func(v string) bool { return strings.Contains(v, "access_token") }}
	h.cfg.Store = picky
	h.signIn(t)
	tok := savedTok(t, picky)
	if tok.AccessToken != "" || h.rec.secrets[tok.RefreshToken] != "refresh_token" {
		t.Fatal("the refresh token was not kept when the full record was refused")
	}
	if code := apiStatus(t, restoreFrom(t, h, picky), h.sim); code != 200 {
		t.Fatalf("HTTP %d after a restart", code)
	}
}

func TestDamagedSavedSignInAsksToSignInAgain(t *testing.T) {
	h := newHarness(t, provetsim.Options{})
	st := &MemoryStore{}
	secret := `{"v":1,"refresh_token":"secret-refresh-value"`
	h.rec.note("damaged record", "secret-refresh-value")
	if err := st.Save(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	h.cfg.Store = st
	_, err := h.manager(t).Restore(context.Background())
	if err == nil || errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "sign in again") || strings.Contains(err.Error(), "secret-refresh-value") {
		t.Fatalf("damaged record: %v", err)
	}
}

func TestSavedRecordRoundTrip(t *testing.T) {
	exp := time.Date(2026, 11, 29, 20, 0, 0, 0, time.FixedZone("EET", 2*3600))
	for _, in := range []*oauth2.Token{
		{RefreshToken: "r1", AccessToken: "a1", TokenType: "Bearer", Expiry: exp},
		{RefreshToken: "r2"},
		{RefreshToken: "r3", AccessToken: "a3"}, // no expiry: the access token is not kept
	} {
		out, err := decodeSaved(encodeSaved(in))
		if err != nil || out.RefreshToken != in.RefreshToken || !out.Expiry.Equal(in.Expiry) {
			t.Fatalf("%+v → %+v %v", in, out, err)
		}
		if wantAT := in.AccessToken; in.Expiry.IsZero() && out.AccessToken != "" || !in.Expiry.IsZero() && out.AccessToken != wantAT {
			t.Fatalf("%+v → access token %q", in, out.AccessToken)
		}
	}
	for v, want := range map[string]error{"": ErrNoToken, "  \n": ErrNoToken, `{"v":1}`: ErrNoToken, "{": errDamaged, `{"v":0,"refresh_token":"x"}`: errDamaged, "two words": errDamaged} {
		if _, err := decodeSaved(v); !errors.Is(err, want) {
			t.Errorf("decodeSaved(%q): %v, want %v", v, err, want)
		}
	}
	if tok, err := decodeSaved("bare-refresh-token\n"); err != nil || tok.RefreshToken != "bare-refresh-token" || tok.AccessToken != "" {
		t.Fatalf("legacy entry: %+v %v", tok, err)
	}
}

func TestSecondProcessAdoptsTheRotatedSignInInsteadOfEndingIt(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	withExpiredAccessToken(t, h.store)
	tray := restoreFrom(t, h, h.store)
	command := restoreFrom(t, h, h.store) // both start from the same saved sign-in
	if err := tray.ForceRefresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := savedTok(t, h.store)
	// The command presents the refresh token the tray app just spent.
	if code := apiStatus(t, command, h.sim); code != 200 {
		t.Fatalf("second process: HTTP %d", code)
	}
	if !command.Valid() || len(h.ended) != 0 {
		t.Fatal("the second process ended a sign-in that another process had renewed")
	}
	if now := savedTok(t, h.store); now.RefreshToken != rotated.RefreshToken {
		t.Fatal("the renewed sign-in was deleted or replaced")
	}
	if n := h.sim.Requests()["oauth.token"]; n != 3 {
		t.Fatalf("%d token requests; want sign-in, the tray's refresh and the refused one", n)
	}
	if code := apiStatus(t, tray, h.sim); code != 200 {
		t.Fatalf("first process: HTTP %d", code)
	}
}

func TestAdoptedSignInThatProvetRefusesIsForgotten(t *testing.T) {
	h := newHarness(t, provetsim.Options{AutoApprove: true})
	h.signIn(t)
	withExpiredAccessToken(t, h.store)
	s := restoreFrom(t, h, h.store)
	h.sim.RevokeAllTokens()
	// Another process saved a sign-in meanwhile; this session tries it once
	// (its access token is expired), Provet refuses it too, and only then
	// is the saved sign-in deleted.
	newer := &oauth2.Token{RefreshToken: "refresh-saved-by-another-process", AccessToken: "a", Expiry: time.Now().Add(-time.Minute)}
	h.rec.note("refresh_token", newer.RefreshToken)
	if err := h.store.Save(context.Background(), encodeSaved(newer)); err != nil {
		t.Fatal(err)
	}
	if err := s.ForceRefresh(context.Background()); !errors.Is(err, ErrSignInAgain) {
		t.Fatalf("err %v", err)
	}
	<-h.ended
	if _, err := h.store.Load(context.Background()); !errors.Is(err, ErrNoToken) {
		t.Fatal("a sign-in that Provet refused too was kept")
	}
	if n := h.sim.Requests()["oauth.token"]; n != 3 {
		t.Fatalf("%d token requests; want the sign-in and one per refresh token tried", n)
	}
}
