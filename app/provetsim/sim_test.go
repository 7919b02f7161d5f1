package provetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

func TestFaults(t *testing.T) {
	// Debug logging wraps the ResponseWriter: faults must still reach the connection.
	var logs bytes.Buffer
	var logMu sync.Mutex
	s := start(t, Options{Referrals: 1, Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	at, _, _ := s.IssueToken("")
	defer func() {
		logMu.Lock()
		defer logMu.Unlock()
		if !strings.Contains(logs.String(), "path=/4/api/0.1/modality/ status=503") || strings.Contains(logs.String(), at) {
			t.Errorf("request log:\n%s", logs.String())
		}
	}()

	s.SetFaults(Faults{Outage: true})
	if r := get(t, s, at, "modality/", nil); r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("outage: %d", r.StatusCode)
	}
	// The control API stays reachable during an outage, or nobody could end it.
	resp, err := http.Get(s.BaseURL() + "/_sim/faults")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("control API during outage: %v %v", err, resp)
	}
	resp.Body.Close()

	s.SetFaults(Faults{ErrorRate: 1})
	if r := get(t, s, at, "modality/", nil); r.StatusCode < 500 {
		t.Fatalf("error rate 1: %d", r.StatusCode)
	}

	s.SetFaults(Faults{DropRate: 1})
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"api/0.1/modality/", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped connection answered %d", resp.StatusCode)
	}

	// A lost answer after the work was done: the PATCH is applied and recorded.
	s.SetFaults(Faults{DropResponseRate: 1})
	req, _ = http.NewRequest(http.MethodPatch, s.URL()+"api/0.1/diagnosticimaging_worklist/1/", strings.NewReader(`{"status":3}`))
	req.Header.Set("Authorization", "Bearer "+at)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost answer arrived: %d", resp.StatusCode)
	}
	if ps := s.Patches(); len(ps) != 1 || ps[0].Status != 200 || s.Items()[0].Status != StatusCompleted {
		t.Fatalf("PATCH behind a lost answer: %+v", ps)
	}

	s.SetFaults(Faults{Latency: 80 * time.Millisecond})
	t0 := time.Now()
	if r := get(t, s, at, "modality/", nil); r.StatusCode != 200 {
		t.Fatalf("latency only: %d", r.StatusCode)
	}
	if d := time.Since(t0); d < 80*time.Millisecond {
		t.Fatalf("latency fault took effect after %v", d)
	}

	// The same switches over HTTP, for scripts.
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, s.BaseURL()+"/_sim/faults", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := put(`{"outage":true,"latency":"1ms"}`); c != 200 || !s.Faults().Outage || s.Faults().Latency != time.Millisecond {
		t.Fatalf("PUT faults: %d %+v", c, s.Faults())
	}
	if c := put(`{"error_rate":2}`); c != 400 {
		t.Fatalf("error_rate 2 accepted: %d", c)
	}
	if c := put(`{}`); c != 200 || s.Faults() != (Faults{}) {
		t.Fatalf("clearing faults: %d %+v", c, s.Faults())
	}

	resp, err = http.Post(s.BaseURL()+"/_sim/revoke_all", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := get(t, s, at, "modality/", nil); r.StatusCode != 401 {
		t.Fatalf("token after revoke_all: %d", r.StatusCode)
	}
}

func TestMutationsBumpModifiedAndPatchesAreRecorded(t *testing.T) {
	clk := newClock()
	s := start(t, Options{Referrals: 5, Now: clk.Now})
	at, _, _ := s.IssueToken("")
	clk.Add(time.Minute)

	it, err := s.CreateReferral(ReferralFields{Modality: "Ultrasound", TargetAreas: []string{"Abdomen"}, Urgent: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if it.WorklistID != 6 || it.Modality != "Ultrasound" || !it.Urgent || it.Status != StatusRequested || !it.Modified.Equal(clk.Now()) {
		t.Fatalf("created %+v", it)
	}
	if _, err := s.CreateReferral(ReferralFields{Modality: "MRI"}); err == nil {
		t.Fatal("an unknown modality was accepted")
	}

	before := it.Modified
	up, err := s.UpdateReferral(6, ReferralUpdate{Modality: ptr("CT"), TargetAreas: []string{"Skull"}, PatientWeight: ptr(12.5)})
	if err != nil {
		t.Fatal(err)
	}
	if !up.Modified.After(before) {
		t.Fatal("an update on a frozen clock must still move modified forward")
	}
	var w worklistJSON
	get(t, s, at, "diagnosticimaging_worklist/6/", &w)
	if !strings.HasSuffix(w.Modality, "/modality/3/") || len(w.TargetAreas) != 1 || !strings.HasSuffix(w.TargetAreas[0], "/targetarea/4/") {
		t.Fatalf("update not served: %+v", w)
	}
	var p patientJSON
	get(t, s, at, *w.Patient, &p)
	if p.Weight == nil || *p.Weight != 12.5 {
		t.Fatalf("weight %v", p.Weight)
	}

	if c, _ := s.CancelReferral(6); c.Status != StatusCancelled {
		t.Fatalf("cancel: status %d", c.Status)
	}
	if c, _ := s.CompleteReferral(6); c.Status != StatusCompleted {
		t.Fatalf("complete: status %d", c.Status)
	}

	patch := func(id, body string) int {
		req, _ := http.NewRequest(http.MethodPatch, s.URL()+"api/0.1/diagnosticimaging_worklist/"+id+"/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+at)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := patch("2", `{"status": 2}`); c != 200 {
		t.Fatalf("PATCH: %d", c)
	}
	if c := patch("2", `{"status": 9}`); c != 400 {
		t.Fatalf("PATCH status 9: %d", c)
	}
	if c := patch("999", `{"status": 2}`); c != 404 {
		t.Fatalf("PATCH unknown: %d", c)
	}
	ps := s.Patches()
	if len(ps) != 3 || ps[0].WorklistID != 2 || string(ps[0].Body) != `{"status": 2}` || ps[0].Status != 200 ||
		ps[1].Status != 400 || ps[2].WorklistID != 999 || ps[2].Status != 404 {
		t.Fatalf("patches %+v", ps)
	}
	if items := s.Items(); items[1].Status != StatusInProgress {
		t.Fatalf("PATCH not applied: %+v", items[1])
	}

	if err := s.DeleteReferral(6); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, at, "diagnosticimaging_worklist/6/", nil); r.StatusCode != 404 {
		t.Fatalf("deleted item: %d", r.StatusCode)
	}
	if err := s.DeleteReferral(6); err == nil {
		t.Fatal("deleting twice succeeded")
	}
}

func TestSimHTTPMutations(t *testing.T) {
	s := start(t, Options{Referrals: 1})
	do := func(method, path, body string, into any) int {
		req, _ := http.NewRequest(method, s.BaseURL()+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if into != nil {
			b, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(b, into)
		}
		return resp.StatusCode
	}
	var it Item
	if c := do("POST", "/_sim/referrals", `{"modality":"X-ray","remarks":"Åsa's cat, Zoë"}`, &it); c != 201 || it.WorklistID != 2 {
		t.Fatalf("create: %d %+v", c, it)
	}
	if c := do("POST", "/_sim/referrals", ``, &it); c != 201 || it.WorklistID != 3 {
		t.Fatalf("create random: %d %+v", c, it)
	}
	if c := do("POST", "/_sim/referrals", `{"modalty":"X-ray"}`, nil); c != 400 {
		t.Fatalf("a misspelt field was accepted: %d", c)
	}
	if c := do("PATCH", "/_sim/referrals/2", `{"target_areas":["Thorax","Heart"]}`, &it); c != 200 || len(it.TargetAreas) != 2 {
		t.Fatalf("update: %d %+v", c, it)
	}
	if c := do("POST", "/_sim/referrals/2/cancel", ``, &it); c != 200 || it.Status != StatusCancelled {
		t.Fatalf("cancel: %d %+v", c, it)
	}
	if c := do("POST", "/_sim/referrals/2/complete", ``, &it); c != 200 || it.Status != StatusCompleted {
		t.Fatalf("complete: %d %+v", c, it)
	}
	if c := do("DELETE", "/_sim/referrals/2", ``, nil); c != 204 {
		t.Fatalf("delete: %d", c)
	}
	if c := do("DELETE", "/_sim/referrals/2", ``, nil); c != 404 {
		t.Fatalf("delete again: %d", c)
	}
	var items []Item
	if c := do("GET", "/_sim/referrals", ``, &items); c != 200 || len(items) != 2 {
		t.Fatalf("list: %d %d items", c, len(items))
	}
	var counts map[string]int
	if c := do("GET", "/_sim/requests", ``, &counts); c != 200 {
		t.Fatalf("requests: %d", c)
	}
}

func TestDemoTickerAddsReferralsUntilStopped(t *testing.T) {
	s := New(Options{Referrals: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.RunDemo(ctx, 20*time.Millisecond); close(done) }()
	deadline := time.Now().Add(2 * time.Second)
	for len(s.Items()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	n := len(s.Items())
	if n < 3 {
		t.Fatalf("demo added %d referrals in 2 s", n-1)
	}
	time.Sleep(50 * time.Millisecond)
	if len(s.Items()) != n {
		t.Fatal("demo kept adding after its context ended")
	}
}

func renderAll(s *Server) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := renderer{api: "http://h/4/api/0.1/", loc: s.opts.Location}
	var out []any
	for id := 1; id <= len(s.data.worklist); id++ {
		w := s.data.worklist[id]
		out = append(out, rr.worklist(w), rr.referral(s.data.referrals[w.ReferralID]), rr.patient(s.data.patients[w.PatientID]))
		out = append(out, rr.client(s.data.clients[w.ClientID], nil))
	}
	b, _ := json.Marshal(out)
	return b
}

func TestGeneratorIsDeterministicAndVaried(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC) }
	a := renderAll(New(Options{Referrals: 120, Seed: 42, Now: now}))
	b := renderAll(New(Options{Referrals: 120, Seed: 42, Now: now}))
	c := renderAll(New(Options{Referrals: 120, Seed: 43, Now: now}))
	if !bytes.Equal(a, b) {
		t.Fatal("same seed and now gave different data")
	}
	if bytes.Equal(a, c) {
		t.Fatal("another seed gave the same data")
	}

	s := New(Options{Referrals: 120, Seed: 42, Now: now})
	seen := map[string]bool{}
	s.mu.Lock()
	for _, cl := range s.data.clients {
		seen["type"+string(rune('0'+cl.CustomerType))] = true
		for _, r := range cl.FirstName + cl.LastName + cl.Organization {
			switch {
			case unicode.Is(unicode.Greek, r):
				seen["greek"] = true
			case unicode.Is(unicode.Cyrillic, r):
				seen["cyrillic"] = true
			case r > 0x7f:
				seen["non-ascii latin"] = true
			}
		}
	}
	for _, p := range s.data.patients {
		seen["gender "+p.Gender] = true
		seen["species "+p.Species] = true
		if p.Weight == nil {
			seen["null weight"] = true
		}
		if p.Microchip == "" {
			seen["no microchip"] = true
		}
	}
	day := startOfDay(now().In(s.opts.Location))
	for _, w := range s.data.worklist {
		seen["modality "+modalityNames[w.ModalityID-1]] = true
		dayOf := func(t time.Time) string {
			return strconv.Itoa(int(startOfDay(t.In(s.opts.Location)).Sub(day).Hours()) / 24)
		}
		r := s.data.referrals[w.ReferralID]
		if r.AppointmentID != 0 {
			seen["appointment"] = true
			a := s.data.appointments[r.AppointmentID]
			seen["appointment day "+dayOf(a.Start)] = true
		} else {
			seen["no appointment"] = true
		}
		if r.Urgent {
			seen["urgent"] = true
		}
		if w.SupervisingVetID == 0 {
			seen["no supervisor"] = true
		}
	}
	s.mu.Unlock()
	for _, want := range []string{"type0", "type1", "type3", "greek", "cyrillic", "non-ascii latin",
		"gender Castrated male", "gender Sterilised female", "species Dog (Canine - Domestic)",
		"species Horse (Equine)", "species Rabbit (Lagomorph)", "null weight", "no microchip",
		"modality X-ray", "modality Ultrasound", "modality CT", "modality Computed radiography",
		"appointment", "no appointment", "urgent", "no supervisor", "appointment day -1", "appointment day 0", "appointment day 1", "appointment day 3"} {
		if !seen[want] {
			t.Errorf("120 generated referrals lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("seen: %v", seen)
	}
	if !reflect.DeepEqual(New(Options{Referrals: 3, Seed: 1, Now: now}).Items(), New(Options{Referrals: 3, Seed: 1, Now: now}).Items()) {
		t.Fatal("Items differ for the same seed")
	}
}

func TestDemoSwitchOverHTTP(t *testing.T) {
	s := start(t, Options{Referrals: 1, Logger: slog.New(slog.DiscardHandler)})
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, s.BaseURL()+"/_sim/demo", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := put(`{"on":true,"every":"1ms"}`); c != 400 {
		t.Fatalf("a 1 ms demo interval was accepted: %d", c)
	}
	if c := put(`{"on":true,"every":"100ms"}`); c != 204 {
		t.Fatalf("demo on: %d", c)
	}
	deadline := time.Now().Add(time.Second)
	for len(s.Items()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := put(`{"on":false}`); c != 204 {
		t.Fatalf("demo off: %d", c)
	}
	n := len(s.Items())
	if n < 2 {
		t.Fatal("the demo added nothing in a second")
	}
	time.Sleep(250 * time.Millisecond)
	if len(s.Items()) != n {
		t.Fatal("the demo kept adding after it was switched off")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
