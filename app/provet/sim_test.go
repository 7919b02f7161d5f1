package provet

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

// tokenBox is a token source whose token a forced refresh can replace, as
// the sign-in's is.
type tokenBox struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

func (b *tokenBox) Token() (*oauth2.Token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tok, nil
}

type simEnv struct {
	sim     *provetsim.Server
	clock   *fakeClock
	client  *Client
	reauths atomic.Int32
}

// startSim runs the simulator on loopback, signs in through its real
// Authorization Code + PKCE endpoints and returns a Client whose Reauth hook
// refreshes the token. The simulator and the client share one fake clock.
func startSim(t *testing.T, so provetsim.Options, tweak func(*Options)) *simEnv {
	t.Helper()
	env := &simEnv{clock: newFakeClock()}
	so.AutoApprove = true
	so.Now = env.clock.Now
	so.Logger = slog.New(slog.DiscardHandler)
	env.sim = provetsim.New(so)
	if err := env.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.sim.Close() })

	tenant, err := ResolveTenant("custom", env.sim.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{
		ClientID:    env.sim.ClientID(),
		RedirectURL: "http://127.0.0.1:50000/callback",
		Scopes:      []string{"restapi"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   tenant.OAuthEndpoint("authorize/"),
			TokenURL:  tenant.OAuthEndpoint("token/"),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	verifier := oauth2.GenerateVerifier()
	noRedirect := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := noRedirect.Get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	box := &tokenBox{tok: tok}
	o := Options{
		APIBase:    tenant.APIBase,
		HTTPClient: &http.Client{Transport: &oauth2.Transport{Source: box}},
		Reauth: func(ctx context.Context) error {
			env.reauths.Add(1)
			box.mu.Lock()
			rt := box.tok.RefreshToken
			box.mu.Unlock()
			fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
			if err != nil {
				return err
			}
			box.mu.Lock()
			box.tok = fresh
			box.mu.Unlock()
			return nil
		},
		RequestTimeout: 5 * time.Second,
		Now:            env.clock.Now,
		Sleep:          env.clock.Sleep,
		Logger:         slog.New(slog.DiscardHandler),
	}
	if tweak != nil {
		tweak(&o)
	}
	env.client, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestSimListing2500(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 2500, Seed: 42}, nil)
	want := map[int64]provetsim.Item{}
	for _, it := range env.sim.Items() {
		want[int64(it.WorklistID)] = it
	}
	for _, tt := range []struct{ pageSize, requests int }{{1000, 3}, {50, 50}} {
		before := env.sim.Requests()["worklist.list"]
		seen := map[int64]bool{}
		st, err := env.client.ListWorklist(context.Background(), WorklistQuery{PageSize: tt.pageSize}, func(it *WorklistItem) error {
			w, ok := want[it.ID]
			if !ok || seen[it.ID] {
				t.Errorf("item %d unexpected or repeated", it.ID)
			}
			seen[it.ID] = true
			if int(it.Patient.ID) != w.PatientID || int(it.Referral.ID) != w.ReferralID || int(it.StatusRaw[0]-'0') != w.Status || it.Status == StatusUnknown {
				t.Errorf("item %d decoded %+v, simulator has %+v", it.ID, it, w)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(want) || st.Filtered != 0 {
			t.Errorf("page_size %d: %d of %d items, stats %+v", tt.pageSize, len(seen), len(want), st)
		}
		if got := env.sim.Requests()["worklist.list"] - before; got != tt.requests {
			t.Errorf("page_size %d: %d list requests, want %d", tt.pageSize, got, tt.requests)
		}
	}
}

func TestSimDetailsAndPatch(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 20, Seed: 5}, nil)
	ctx := context.Background()
	c := env.client
	mods, err := c.Modalities(ctx)
	if err != nil || len(mods) == 0 {
		t.Fatalf("modalities %v %v", mods, err)
	}
	areas, err := c.TargetAreas(ctx)
	if err != nil || len(areas) == 0 {
		t.Fatalf("target areas %v %v", areas, err)
	}
	names := map[int64]string{}
	for _, m := range mods {
		names[m.ID] = m.Name
	}
	for _, w := range env.sim.Items() {
		it, err := c.WorklistItem(ctx, int64(w.WorklistID))
		if err != nil {
			t.Fatal(err)
		}
		if names[it.Modality.ID] != w.Modality {
			t.Errorf("item %d modality %q, simulator %q", it.ID, names[it.Modality.ID], w.Modality)
		}
		if len(it.TargetAreas) != len(w.TargetAreas) || it.Created.IsZero() || it.Modified.IsZero() {
			t.Errorf("item %d: %+v", it.ID, it)
		}
		ref, err := c.Referral(ctx, it.Referral.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Worklist.ID != it.ID || ref.Urgent != w.Urgent || int(ref.Appointment.ID) != w.AppointmentID {
			t.Errorf("referral %+v for %+v", ref, w)
		}
		if ref.Appointment.ID > 0 {
			a, err := c.Appointment(ctx, ref.Appointment.ID)
			if err != nil || a.Start.IsZero() || !a.End.After(a.Start) {
				t.Errorf("appointment %+v %v", a, err)
			}
		}
		p, err := c.Patient(ctx, it.Patient.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != w.PatientName || int(p.Client.ID) != w.ClientID || p.Species == "" {
			t.Errorf("patient %+v for %+v", p, w)
		}
		o, err := c.Owner(ctx, p.Client.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.DisplayName() == "" || len(o.Patients) == 0 {
			t.Errorf("owner %+v", o)
		}
		cons, err := c.Consultation(ctx, it.Consultation.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cons.Patients) == 0 || cons.Patients[0].Name == "" {
			t.Errorf("consultation %d: patients not exposed: %+v", cons.ID, cons.PatientRefs)
		}
		if it.RequestingUser.ID > 0 {
			u, err := c.User(ctx, it.RequestingUser.ID)
			if err != nil || u.FullName() == "" {
				t.Errorf("user %+v %v", u, err)
			}
		}
	}

	first := env.sim.Items()[0]
	it, err := c.SetWorklistStatus(ctx, int64(first.WorklistID), StatusCompleted)
	if err != nil || it.Status != StatusCompleted {
		t.Fatalf("%+v %v", it, err)
	}
	patches := env.sim.Patches()
	if len(patches) != 1 || !bytes.Equal(bytes.TrimSpace(patches[0].Body), []byte(`{"status":3}`)) {
		t.Errorf("patches %+v", patches)
	}
	for _, w := range env.sim.Items() {
		if w.WorklistID == first.WorklistID && w.Status != 3 {
			t.Errorf("simulator status %d after PATCH", w.Status)
		}
	}
	if _, err := c.WorklistItem(ctx, 999999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing item: %v", err)
	}
}

func TestSimDeltaSync(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 300, Seed: 9}, nil)
	ctx := context.Background()
	env.clock.Sleep(ctx, 10*time.Minute) // every generated change is now in the past
	since := env.clock.Now()
	env.clock.Sleep(ctx, time.Minute)
	changed := map[int64]bool{}
	for _, w := range env.sim.Items()[:7] {
		if _, err := env.sim.CompleteReferral(w.WorklistID); err != nil {
			t.Fatal(err)
		}
		changed[int64(w.WorklistID)] = true
	}
	made, err := env.sim.CreateReferral(provetsim.ReferralFields{Modality: "Ultrasound"})
	if err != nil {
		t.Fatal(err)
	}
	changed[int64(made.WorklistID)] = true
	items, st, err := env.client.Worklist(ctx, WorklistQuery{ModifiedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(changed) || st.Filtered != 0 {
		t.Fatalf("delta returned %d items (stats %+v), want %d", len(items), st, len(changed))
	}
	for _, it := range items {
		if !changed[it.ID] {
			t.Errorf("unchanged item %d in the delta", it.ID)
		}
	}
	open, _, err := env.client.Worklist(ctx, WorklistQuery{Statuses: []Status{StatusRequested, StatusInProgress}, IDAfter: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range open {
		if it.ID <= 100 || (it.Status != StatusRequested && it.Status != StatusInProgress) {
			t.Errorf("item %d status %v passed the filter", it.ID, it.Status)
		}
	}
}

func TestSimFaultsAndRateLimits(t *testing.T) {
	// Budgets scaled to 2% make the simulator throttle long before our own
	// limiter would; errors and dropped connections come on top.
	env := startSim(t, provetsim.Options{Referrals: 2500, Seed: 77, RateScale: 0.02}, func(o *Options) { o.MaxAttempts = 12 })
	env.sim.SetFaults(provetsim.Faults{ErrorRate: 0.2, DropRate: 0.1})
	seen := map[int64]int{}
	st, err := env.client.ListWorklist(context.Background(), WorklistQuery{PageSize: 50}, func(it *WorklistItem) error {
		seen[it.ID]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2500 || st.Delivered != 2500 {
		t.Fatalf("delivered %d distinct, stats %+v", len(seen), st)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("item %d delivered %d times", id, n)
		}
	}
	req := env.sim.Requests()["worklist.list"]
	if req <= 50 {
		t.Errorf("only %d list requests: the faults and limits were not exercised", req)
	}
	t.Logf("%d list requests for 50 pages under faults and 5/min budget; simulated time %v", req, env.clock.Now().Sub(newFakeClock().Now()))

	env.sim.SetFaults(provetsim.Faults{Outage: true})
	_, err = env.client.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrServer) {
		t.Errorf("outage: %v", err)
	}
}

func TestSimExpiredTokenRefreshesOnce(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 3, AccessTokenTTL: time.Minute}, nil)
	ctx := context.Background()
	if _, err := env.client.WorklistItem(ctx, 1); err != nil {
		t.Fatal(err)
	}
	env.clock.Sleep(ctx, 2*time.Minute) // the simulator's token expires; the client's clock does not know
	if _, err := env.client.WorklistItem(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := env.reauths.Load(); n != 1 {
		t.Errorf("reauths = %d, want 1", n)
	}
	env.sim.RevokeAllTokens() // the clinic revoked the integration: the refresh fails too
	_, err := env.client.WorklistItem(ctx, 3)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("after revocation: %v", err)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Errorf("the refresh failure's cause is lost: %v", err)
	}
}

func TestSimDiagnose(t *testing.T) {
	// Date headers carry real time, so skew is judged against the real clock.
	env := startSim(t, provetsim.Options{Referrals: 5, Seed: 1}, func(o *Options) { o.Now = time.Now })
	var out bytes.Buffer
	rep := Doctor(context.Background(), env.client, DoctorOptions{ConfirmedFingerprint: DefaultMapping().StatusFingerprint()})
	if err := rep.WriteText(&out); err != nil || !rep.OK() {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"127.0.0.1 is an IP address", "worklist.status", "understood", "Imaging referral", "Patient", "Client", "No problems found", "clock difference"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, w := range env.sim.Items() {
		if strings.Contains(s, w.PatientName) {
			t.Errorf("diagnostics printed the patient name %q", w.PatientName)
		}
	}

	// A mapping that does not fit the tenant is reported with what to change.
	m := DefaultMapping()
	if err := m.ApplyOverrides(map[string]string{"worklist.status": "state", "status.requested": "open", "status.in_progress": "busy", "status.completed": "done", "status.cancelled": "gone"}); err != nil {
		t.Fatal(err)
	}
	bad := startSim(t, provetsim.Options{Referrals: 5, Seed: 1}, func(o *Options) {
		o.Mapping = m
		o.Now = func() time.Time { return time.Now().Add(3 * time.Minute) }
	})
	out.Reset()
	err := Diagnose(context.Background(), bad.client, &out)
	if err == nil || !strings.Contains(out.String(), `has no key "state"`) || !strings.Contains(out.String(), "keys the mapping does not read: ") {
		t.Errorf("err = %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "status (") {
		t.Errorf("the unmapped status key is not listed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "WARNING  this computer's clock is 3m") {
		t.Errorf("a 3-minute clock skew is not reported:\n%s", out.String())
	}
}

func TestSimSlowAnswersHitTheDeadline(t *testing.T) {
	env := startSim(t, provetsim.Options{Referrals: 3}, func(o *Options) {
		o.RequestTimeout = 100 * time.Millisecond
		o.MaxAttempts = 2
	})
	env.sim.SetFaults(provetsim.Faults{Latency: 2 * time.Second})
	start := time.Now()
	_, err := env.client.WorklistItem(context.Background(), 1)
	if !errors.Is(err, ErrOffline) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("two attempts took %v despite a 100ms per-request deadline", el)
	}
	env.sim.SetFaults(provetsim.Faults{})
	if _, err := env.client.WorklistItem(context.Background(), 1); err != nil {
		t.Fatalf("after the latency ends: %v", err)
	}
}
