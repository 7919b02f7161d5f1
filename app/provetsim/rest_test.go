package provetsim

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

type worklistPage struct {
	Count    int            `json:"count"`
	NumPages int            `json:"num_pages"`
	Next     *string        `json:"next"`
	Previous *string        `json:"previous"`
	Results  []worklistJSON `json:"results"`
}

func TestPaginationFollowsAbsoluteNextLinks(t *testing.T) {
	s := start(t, Options{Referrals: 23, Seed: 7})
	at, _, _ := s.IssueToken("")
	var ids []int
	next := s.URL() + "api/0.1/diagnosticimaging_worklist/?page_size=5"
	pages := 0
	for next != "" {
		var p worklistPage
		if r := get(t, s, at, next, &p); r.StatusCode != 200 {
			t.Fatalf("%s: %d", next, r.StatusCode)
		}
		pages++
		if p.Count != 23 || p.NumPages != 5 {
			t.Fatalf("count %d num_pages %d, want 23 and 5", p.Count, p.NumPages)
		}
		if (pages == 1) != (p.Previous == nil) {
			t.Fatalf("page %d previous %v", pages, p.Previous)
		}
		for _, w := range p.Results {
			ids = append(ids, w.ID)
			if !strings.HasPrefix(w.URL, s.URL()) || !strings.HasSuffix(w.URL, "/") || w.Patient == nil || !strings.HasPrefix(*w.Patient, "http://") {
				t.Fatalf("relation URLs must be absolute with a trailing slash: %+v", w)
			}
		}
		next = ""
		if p.Next != nil {
			next = *p.Next
			if !strings.HasPrefix(next, "http://127.0.0.1:") {
				t.Fatalf("next %q is not absolute", next)
			}
		}
	}
	if pages != 5 || len(ids) != 23 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != 23 {
		t.Fatalf("pages %d ids %v: want every item once, in id order", pages, ids)
	}
	if r := get(t, s, at, "diagnosticimaging_worklist/?page=6&page_size=5", nil); r.StatusCode != 404 {
		t.Fatalf("page past the end: %d, want 404", r.StatusCode)
	}
	var big worklistPage
	get(t, s, at, "diagnosticimaging_worklist/?page_size=5000", &big)
	if big.NumPages != 1 || len(big.Results) != 23 {
		t.Fatalf("page_size over 1000 must clamp: %d pages, %d results", big.NumPages, len(big.Results))
	}
	var def worklistPage
	get(t, s, at, "diagnosticimaging_worklist/?page_size=junk", &def)
	if len(def.Results) != 23 || def.NumPages != 1 {
		t.Fatalf("default page size: %d results", len(def.Results))
	}
}

func TestWorklistFilters(t *testing.T) {
	clk := newClock()
	s := start(t, Options{Referrals: 30, Seed: 3, Now: clk.Now})
	at, _, _ := s.IssueToken("")
	list := func(q string) []worklistJSON {
		t.Helper()
		var p worklistPage
		if r := get(t, s, at, "diagnosticimaging_worklist/?page_size=1000&"+q, &p); r.StatusCode != 200 {
			t.Fatalf("%s: %d", q, r.StatusCode)
		}
		return p.Results
	}
	if got := list("id__gt=25"); len(got) != 5 || got[0].ID != 26 {
		t.Fatalf("id__gt=25: %d items", len(got))
	}
	for _, w := range list("status__in=3,4") {
		if w.Status != 3 && w.Status != 4 {
			t.Fatalf("status__in=3,4 returned status %d", w.Status)
		}
	}
	// Change two items later on; a delta sync from before the change sees only them.
	clk.Add(5 * time.Minute)
	since := clk.Now().In(time.FixedZone("", 2*3600))
	clk.Add(time.Minute)
	s.UpdateReferral(4, ReferralUpdate{Remarks: ptr("changed")})
	s.CancelReferral(9)
	for _, form := range []string{
		url.QueryEscape(since.Format("2006-01-02 15:04-07:00")), // Provet's documented form, '+' as %2B
		url.QueryEscape(since.Format(time.RFC3339)),
		url.QueryEscape(since.UTC().Format("2006-01-02T15:04:05.000000Z")),
	} {
		got := list("modified__gte=" + form)
		if len(got) != 2 || got[0].ID != 4 || got[1].ID != 9 || got[1].Status != StatusCancelled {
			t.Fatalf("modified__gte=%s: %d items %v", form, len(got), got)
		}
	}
	raw := since.Format("2006-01-02 15:04-07:00") // '+' not encoded: decodes as a space
	var errBody map[string][]string
	req := s.URL() + "api/0.1/diagnosticimaging_worklist/?modified__gte=" + strings.ReplaceAll(raw, " ", "%20")
	if r := get(t, s, at, req, &errBody); r.StatusCode != 400 {
		t.Fatalf("unencoded '+': status %d, want 400", r.StatusCode)
	}
	if got := list("unknown_filter=1"); len(got) != 30 {
		t.Fatalf("unknown filters must be ignored, got %d items", len(got))
	}
}

func ptr[T any](v T) *T { return &v }

func TestBearerRequired(t *testing.T) {
	s := start(t, Options{Referrals: 1})
	for _, tok := range []string{"", "not-a-token"} {
		r := get(t, s, tok, "diagnosticimaging_worklist/", nil)
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("token %q: %d %q", tok, r.StatusCode, r.Header.Get("WWW-Authenticate"))
		}
	}
}

func TestDetailEndpoints(t *testing.T) {
	s := start(t, Options{Referrals: 12, Seed: 11})
	at, _, _ := s.IssueToken("")
	var w worklistJSON
	if r := get(t, s, at, "diagnosticimaging_worklist/1/", &w); r.StatusCode != 200 {
		t.Fatalf("worklist detail: %d", r.StatusCode)
	}
	var ref referralJSON
	get(t, s, at, w.Referral, &ref)
	if ref.Worklist != w.URL || ref.Consultation != w.Consultation {
		t.Fatalf("referral %+v does not point back at %s", ref, w.URL)
	}
	var p patientJSON
	get(t, s, at, *w.Patient, &p)
	if p.Client != w.Client || p.Name == "" || p.Species == "" || !strings.HasSuffix(p.Created, "Z") {
		t.Fatalf("patient %+v", p)
	}
	var c clientJSON
	get(t, s, at, w.Client, &c)
	if !slices.Contains(c.Patients, *w.Patient) {
		t.Fatalf("client %s does not list patient %s", c.URL, *w.Patient)
	}
	var cons struct {
		Patients []map[string]any `json:"patients"`
	}
	get(t, s, at, w.Consultation+"?expose_patients", &cons)
	if len(cons.Patients) != 1 || cons.Patients[0]["name"] != p.Name {
		t.Fatalf("expose_patients did not inline the patient: %v", cons.Patients)
	}
	var u userJSON
	get(t, s, at, w.RequestingUser, &u)
	if u.LastName == "" {
		t.Fatalf("user %+v", u)
	}
	var mods struct {
		Results []namedJSON `json:"results"`
	}
	get(t, s, at, "modality/", &mods)
	if len(mods.Results) != 4 || mods.Results[0].Name != "X-ray" {
		t.Fatalf("modalities %+v", mods.Results)
	}
	for _, path := range []string{"patient/9999/", "diagnosticimaging_worklist/abc/", "appointment/0/"} {
		if r := get(t, s, at, path, nil); r.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, r.StatusCode)
		}
	}
	// An item with an appointment serves it.
	for _, it := range s.Items() {
		if it.AppointmentID != 0 {
			var a appointmentJSON
			if r := get(t, s, at, "appointment/"+strconv.Itoa(it.AppointmentID)+"/", &a); r.StatusCode != 200 || a.Start == "" {
				t.Fatalf("appointment: %d %+v", r.StatusCode, a)
			}
			break
		}
	}
}

func TestRateLimit(t *testing.T) {
	clk := newClock()
	// Budget for the worklist list: 250 * 0.02 = 5 per minute.
	s := start(t, Options{Referrals: 2, Now: clk.Now, RateScale: 0.02})
	at, _, _ := s.IssueToken("")
	for i := range 5 {
		if r := get(t, s, at, "diagnosticimaging_worklist/", nil); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
		clk.Add(time.Second)
	}
	r := get(t, s, at, "diagnosticimaging_worklist/", nil)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th request: %d, want 429", r.StatusCode)
	}
	// The oldest hit was at 0 s, now is 5 s: it leaves the window in 55 s.
	if ra := r.Header.Get("Retry-After"); ra != "55" {
		t.Fatalf("Retry-After %q, want 55", ra)
	}
	// Another endpoint and another token have budgets of their own.
	if r := get(t, s, at, "diagnosticimaging_worklist/1/", nil); r.StatusCode != 200 {
		t.Fatalf("detail while the list is throttled: %d", r.StatusCode)
	}
	other, _, _ := s.IssueToken("")
	if r := get(t, s, other, "diagnosticimaging_worklist/", nil); r.StatusCode != 200 {
		t.Fatalf("another token: %d", r.StatusCode)
	}
	clk.Add(56 * time.Second)
	if r := get(t, s, at, "diagnosticimaging_worklist/", nil); r.StatusCode != 200 {
		t.Fatalf("after the window moved: %d", r.StatusCode)
	}
	// A page of 200 costs 4 requests; 4 were used in the window, so it must wait.
	if r := get(t, s, at, "diagnosticimaging_worklist/?page_size=200", nil); r.StatusCode != 429 {
		t.Fatalf("page_size=200 over budget: %d", r.StatusCode)
	}
	if n := s.Requests()["worklist.list"]; n != 9 {
		t.Fatalf("worklist.list counter %d, want 9", n)
	}
}

// BenchmarkWorklistPage measures one full page (1000 items) through the real
// HTTP stack, so tests of sync speed know the simulator is not their bottleneck.
func BenchmarkWorklistPage(b *testing.B) {
	s := New(Options{Referrals: 1000, Seed: 1, RateScale: 1e6})
	if err := s.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	at, _, _ := s.IssueToken("")
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"api/0.1/diagnosticimaging_worklist/?page_size=1000", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(err, resp)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
