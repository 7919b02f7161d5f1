package provet

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDiagnoseTLS(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 2)
	tlsSrv := httptest.NewTLSServer(f.srv.Config.Handler)
	defer tlsSrv.Close()
	base := tlsSrv.URL + fakeBase

	// The test server's certificate is trusted by its own client only.
	trusted := newTestClient(t, base, clock, func(o *Options) {
		o.HTTPClient = tlsSrv.Client()
		o.Now = time.Now
	})
	var out bytes.Buffer
	_ = Diagnose(context.Background(), trusted, &out)
	if !strings.Contains(out.String(), "TLS 1.3, certificate for") {
		t.Errorf("TLS not reported:\n%s", out.String())
	}

	untrusted := newTestClient(t, base, clock, func(o *Options) { o.HTTPClient = &http.Client{} })
	out.Reset()
	err := Diagnose(context.Background(), untrusted, &out)
	if err == nil || !strings.Contains(out.String(), "TLS certificate of 127.0.0.1 is not trusted") {
		t.Errorf("err = %v\n%s", err, out.String())
	}
	// An untrusted certificate is not retried: retrying cannot fix it.
	if n := len(clock.Sleeps()); n != 0 {
		t.Errorf("slept %d times retrying an untrusted certificate", n)
	}
}

func TestDiagnoseDNSFailure(t *testing.T) {
	clock := newFakeClock()
	c := newTestClient(t, "https://provet.example/4/api/0.1/", clock, nil)
	c.lookupHost = func(ctx context.Context, host string) ([]string, error) {
		return nil, errors.New("no such host")
	}
	var out bytes.Buffer
	err := Diagnose(context.Background(), c, &out)
	if err == nil || !strings.Contains(out.String(), "cannot resolve provet.example") || !strings.Contains(out.String(), "DNS settings") {
		t.Errorf("err = %v\n%s", err, out.String())
	}
}

func TestDiagnoseEmptyWorklistAndPlainHTTP(t *testing.T) {
	clock := newFakeClock()
	f := newFakeProvet(t, clock, 0)
	c := newTestClient(t, f.base(), clock, func(o *Options) { o.Now = time.Now })
	var out bytes.Buffer
	if err := Diagnose(context.Background(), c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "worklist is empty") || !strings.Contains(out.String(), "plain HTTP to a local simulator") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestSummarizeHidesText(t *testing.T) {
	for raw, want := range map[string]string{
		`"Rex the dog"`:                 "text (11 chars)",
		`"https://h/1/api/0.1/user/5/"`: "URL …/5/",
		`"2026-11-22T10:00:00Z"`:        "2026-11-22T10:00:00Z",
		`3`:                             "3",
		`null`:                          "null",
		`[1,2]`:                         "array of 2",
		`{"a":1}`:                       "object",
		`"12.5"`:                        `"12.5"`,
	} {
		if got := summarize([]byte(raw)); got != want {
			t.Errorf("summarize(%s) = %q, want %q", raw, got, want)
		}
	}
}
