package provetsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawList lists the worklist as generic objects.
func rawList(t *testing.T, s *Server, at, q string) []map[string]any {
	t.Helper()
	var p struct {
		Results []map[string]any `json:"results"`
	}
	if r := get(t, s, at, "diagnosticimaging_worklist/?page_size=1000&"+q, &p); r.StatusCode != 200 {
		t.Fatalf("%s: HTTP %d", q, r.StatusCode)
	}
	return p.Results
}

func patch(t *testing.T, s *Server, at string, id int, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPatch, s.URL()+"api/0.1/diagnosticimaging_worklist/"+itoa(id)+"/", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+at)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestShiftedStatusCodes(t *testing.T) {
	s := start(t, Options{Referrals: 20, Seed: 5, Quirks: Quirks{StatusCodes: ShiftedStatuses(1)}})
	at, _, _ := s.IssueToken("")
	items := s.Items()
	for i, o := range rawList(t, s, at, "") {
		if got, want := o["status"].(float64), float64(items[i].Status+1); got != want {
			t.Fatalf("item %d: wire status %v, want %v", items[i].WorklistID, got, want)
		}
		if items[i].WireStatus != items[i].Status+1 {
			t.Fatalf("Item.WireStatus %d for state %d", items[i].WireStatus, items[i].Status)
		}
	}
	// status__in speaks wire numbers: 2,3 are requested and in progress.
	for _, o := range rawList(t, s, at, "status__in=2,3") {
		if st := o["status"].(float64); st != 2 && st != 3 {
			t.Fatalf("status__in=2,3 returned %v", st)
		}
	}
	if n := len(rawList(t, s, at, "status__in=1")); n != 0 {
		t.Fatalf("status__in=1 (a number the tenant does not use) returned %d items", n)
	}
	id := items[0].WorklistID
	if c := patch(t, s, at, id, `{"status":4}`); c != 200 {
		t.Fatalf("PATCH 4: %d", c)
	}
	if c := patch(t, s, at, id, `{"status":1}`); c != 400 {
		t.Fatalf("PATCH 1 on a tenant numbering 2..5: %d, want 400", c)
	}
	if got := s.Items()[0].Status; got != StatusCompleted {
		t.Fatalf("after PATCH 4 the state is %d, want completed", got)
	}
	ps := s.Patches()
	if len(ps) != 2 || ps[0].Sent != 4 || ps[0].State != StatusCompleted || ps[1].Sent != 1 || ps[1].State != 0 || ps[1].Status != 400 {
		t.Fatalf("patches %+v", ps)
	}
}

func TestQuirksOmitKeysAndIgnoreFilters(t *testing.T) {
	clk := newClock()
	s := start(t, Options{Referrals: 12, Seed: 2, Now: clk.Now, Quirks: Quirks{OmitModified: true, OmitPatientLink: true}})
	at, _, _ := s.IssueToken("")
	for _, o := range rawList(t, s, at, "expose_patient") {
		if _, ok := o["modified"]; ok {
			t.Fatal("modified served despite OmitModified")
		}
		if _, ok := o["patient"]; ok {
			t.Fatal("patient served despite OmitPatientLink")
		}
		if _, ok := o["consultation"]; !ok {
			t.Fatal("consultation missing: the patient would be unreachable")
		}
	}
	future := url.QueryEscape(clk.Now().Add(24 * time.Hour).Format(time.RFC3339))
	if n := len(rawList(t, s, at, "modified__gte="+future)); n != 0 {
		t.Fatalf("honoured modified__gte in the future: %d items", n)
	}
	if err := s.SetQuirks(Quirks{IgnoreFilters: []string{"modified__gte", "status__in"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(rawList(t, s, at, "modified__gte="+future)); n != 12 {
		t.Fatalf("ignored modified__gte: %d items, want all 12", n)
	}
	if n := len(rawList(t, s, at, "status__in=99")); n != 12 {
		t.Fatalf("ignored status__in: %d items, want all 12", n)
	}
	if err := s.SetQuirks(Quirks{IgnoreFilters: []string{"nonsense"}}); err == nil {
		t.Fatal("an unknown filter name was accepted")
	}
}

func TestStatusInForms(t *testing.T) {
	s := start(t, Options{Referrals: 20, Seed: 9})
	at, _, _ := s.IssueToken("")
	count := func(q string) int { return len(rawList(t, s, at, q)) }
	comma, brackets := count("status__in=3,4"), count("status__in="+url.QueryEscape("[3,4]"))
	if comma != brackets || comma == 20 || comma == 0 {
		t.Fatalf("both forms by default: comma %d, brackets %d of 20", comma, brackets)
	}
	_ = s.SetQuirks(Quirks{StatusInForm: "brackets"})
	if count("status__in=3,4") != 20 || count("status__in="+url.QueryEscape("[3,4]")) != brackets {
		t.Fatal("brackets-only tenant must ignore the comma form and honour brackets")
	}
	_ = s.SetQuirks(Quirks{StatusInForm: "comma"})
	if count("status__in=3,4") != comma || count("status__in="+url.QueryEscape("[3,4]")) != 20 {
		t.Fatal("comma-only tenant must ignore the bracket form and honour commas")
	}
}

func TestQuirksExposeAndForbidden(t *testing.T) {
	s := start(t, Options{Referrals: 3, Seed: 1, Quirks: Quirks{IgnoreExposeOf: []string{"patient"}, PartialExpose: true,
		Forbidden: []string{"modality", "user"}}})
	at, _, _ := s.IssueToken("")
	o := rawList(t, s, at, "expose_patient&expose_client&expose_modality")[0]
	if _, ok := o["patient"].(string); !ok {
		t.Fatalf("patient inlined although its expose is ignored: %v", o["patient"])
	}
	c, ok := o["client"].(map[string]any)
	if !ok || c["id"] != nil || c["url"] == nil || c["lastname"] == nil || c["email"] != nil {
		t.Fatalf("partial client: %v", o["client"])
	}
	for path, want := range map[string]int{"modality/": 403, "user/1/": 403, "targetarea/": 200, "patient/1/": 200} {
		if r := get(t, s, at, path, nil); r.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, r.StatusCode, want)
		}
	}
	_ = s.SetQuirks(Quirks{IgnoreExpose: true})
	o = rawList(t, s, at, "expose_client")[0]
	if _, ok := o["client"].(string); !ok {
		t.Fatalf("IgnoreExpose still inlines: %v", o["client"])
	}
}

func TestQuirksOverHTTP(t *testing.T) {
	s := start(t, Options{Referrals: 1})
	put := func(body string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPut, s.BaseURL()+"/_sim/quirks", bytes.NewBufferString(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if c, b := put(`{"status_codes":{"requested":2,"in_progress":3,"completed":4,"cancelled":5},"forbidden":["targetarea"],"status_in_form":"brackets"}`); c != 200 {
		t.Fatalf("PUT quirks: %d %s", c, b)
	}
	q := s.Quirks()
	if q.StatusCodes != ShiftedStatuses(1) || q.Forbidden[0] != "targetarea" || q.StatusInForm != "brackets" {
		t.Fatalf("quirks %+v", q)
	}
	if c, _ := put(`{"status_codes":{"requested":2,"in_progress":2}}`); c != 400 {
		t.Fatalf("duplicate status codes accepted: %d", c)
	}
	if c, _ := put(`{"forbiden":["user"]}`); c != 400 {
		t.Fatalf("a misspelt quirk was accepted: %d", c)
	}
	if s.Quirks().StatusCodes != ShiftedStatuses(1) {
		t.Fatal("a refused PUT changed the quirks")
	}
}
