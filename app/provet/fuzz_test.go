package provet

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzDecodeObjects feeds the same bytes to every decoder of Provet's
// published objects and to the page decoder: none may panic, and whatever
// decodes keeps valid raw JSON.
func FuzzDecodeObjects(f *testing.F) {
	f.Add([]byte(`{"id":7,"client":"https://h/1/api/0.1/client/3/","weight":"12.50","deceased":"2026-01-02","date_of_birth":"2019-04-01"}`))
	f.Add([]byte(`{"id":3,"phone_numbers":[{"id":1,"number":"+358","description":"m"}],"patients":["https://h/1/api/0.1/patient/7/"]}`))
	f.Add([]byte(`{"id":900,"patients":[{"id":7,"name":"Rex"},"https://h/1/api/0.1/patient/8/",null]}`))
	f.Add([]byte(`{"count":1,"next":null,"results":[{"id":1}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if p, err := DecodePatient(raw); err == nil && !json.Valid(p.Raw) {
			t.Fatal("patient raw JSON invalid")
		}
		if o, err := DecodeOwner(raw); err == nil {
			for _, ph := range o.Phones {
				if ph.Number == "" {
					t.Fatal("empty phone number kept")
				}
			}
		}
		if c, err := DecodeConsultation(raw); err == nil && len(c.Patients) > len(c.PatientRefs) {
			t.Fatal("more exposed patients than patient relations")
		}
		_, _ = DecodeUser(raw)
		_, _ = DecodeAppointment(raw)
		_, _ = decodeNamed(raw)
		var p page
		_ = json.Unmarshal(raw, &p)
	})
}

func FuzzIDFromURL(f *testing.F) {
	for _, s := range []string{"https://provetcloud.com/4/api/0.1/client/1/", "17", "https://h/x/", "%zz", "/a/0/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := IDFromURL(s)
		if err == nil && id <= 0 {
			t.Fatalf("IDFromURL(%q) = %d without error", s, id)
		}
	})
}

func FuzzResolveTenant(f *testing.F) {
	f.Add("custom", "https://awstest.provetcloud.com/5/api/0.1/", "")
	f.Add("eu", "", "4")
	f.Add("custom", "http://127.0.0.1:8080/3/oauth2/token/", "3")
	f.Fuzz(func(t *testing.T, region, raw, id string) {
		tn, err := ResolveTenant(region, raw, id)
		if err != nil {
			return
		}
		if !strings.HasSuffix(tn.APIBase, "/"+tn.ProvetID+"/api/0.1/") && !strings.HasSuffix(tn.APIBase, "/api/0.1/") {
			t.Fatalf("API base %q", tn.APIBase)
		}
		if !strings.HasPrefix(tn.APIBase, "https://") && !strings.HasPrefix(tn.APIBase, "http://") {
			t.Fatalf("API base %q has no scheme", tn.APIBase)
		}
		if tn.ProvetID == "" || strings.ContainsAny(tn.ProvetID, "/?#") {
			t.Fatalf("Provet ID %q", tn.ProvetID)
		}
		if _, err := New(Options{APIBase: tn.APIBase, HTTPClient: new(http.Client)}); err != nil {
			t.Fatalf("a resolved API base %q is refused by New: %v", tn.APIBase, err)
		}
	})
}

// FuzzJSONString checks the fast path for plain strings against the
// standard decoder.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"https://h/1/"`, `"a\"b"`, `"\u00e9"`, "\"\xff\"", "\"a\tb\"", `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		werr := json.Unmarshal(raw, &want)
		if werr != nil || len(raw) == 0 || raw[0] != '"' {
			return
		}
		got, err := jsonString(raw)
		if err != nil || got != want {
			t.Fatalf("jsonString(%q) = %q, %v; encoding/json says %q", raw, got, err, want)
		}
	})
}

// FuzzParseWebhook: any body, either encoding, never panics, and an accepted
// one always names a positive order id.
func FuzzParseWebhook(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("diagnosticimagingworklist_id=42&provet_id=4&event=delete"))
	f.Add("application/json", []byte(`{"diagnosticimagingworklist_id":"https://h/4/api/0.1/diagnosticimaging_worklist/5/","type":"update"}`))
	f.Add("", []byte(`{"diagnosticimagingworklist_id":1e3}`))
	f.Add("text/plain; charset=\"", []byte("diagnosticimagingworklist_id=%zz"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		ev, err := ParseWebhook(ctype, body)
		if err == nil && ev.WorklistID <= 0 {
			t.Fatalf("accepted a webhook with order id %d", ev.WorklistID)
		}
		if ev.Kind.String() == "" {
			t.Fatal("empty kind name")
		}
	})
}

// FuzzSurveyDecoders feeds one object to what the survey, doctor and sync
// use to read it partially: the raw status reader, the inline check and the
// relation decoder.
func FuzzSurveyDecoders(f *testing.F) {
	f.Add([]byte(`{"id":3,"status":2}`))
	f.Add([]byte(`{"url":"https://h/4/api/0.1/diagnosticimaging_worklist/8/","status":"done"}`))
	f.Add([]byte(`{"url":"https://h/4/api/0.1/patient/7/","name":"Rex","species":null}`))
	f.Add([]byte(`{"id":-1,"status":{"a":1}}`))
	m := DefaultMapping()
	f.Fuzz(func(t *testing.T, raw []byte) {
		if id, st, ok := m.rawStatus(raw); ok && (id <= 0 || st == "") {
			t.Fatalf("rawStatus accepted id %d, status %q", id, st)
		}
		ref, err := decodeRef(raw)
		if err != nil {
			return
		}
		for _, k := range []Kind{KindPatient, KindOwner, KindReferral, KindAppointment, KindUser, KindModality, KindTargetArea} {
			if m.InlineUsable(k, ref) && ref.Inline == nil {
				t.Fatalf("%s usable without an inlined object", k)
			}
		}
	})
}
