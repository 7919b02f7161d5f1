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
