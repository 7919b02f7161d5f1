package pacs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
)

// fakeDICOMweb serves canned QIDO-RS answers by path and records requests.
type fakeDICOMweb struct {
	mu     sync.Mutex
	asked  []string
	bodies map[string]string
}

func (f *fakeDICOMweb) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.asked = append(f.asked, r.URL.Path+"?"+r.URL.RawQuery)
	body, ok := f.bodies[r.URL.Path]
	f.mu.Unlock()
	if r.Header.Get("Accept") != "application/dicom+json" {
		http.Error(w, "bad Accept", http.StatusNotAcceptable)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/dicom+json")
	w.Write([]byte(body))
}

func qidoClient(t *testing.T, h http.Handler) pacs.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := pacs.New(pacs.Config{QIDOURL: srv.URL + "/dicom-web/"}, pacs.Options{Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A DICOMweb server that leaves the counts out is asked for the study's
// series, and for the instances of a series without its own count.
func TestQIDOCountsWhenThePACSOmitsThem(t *testing.T) {
	f := &fakeDICOMweb{bodies: map[string]string{
		"/dicom-web/studies": `[{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}, "00080050": {"vr": "SH", "Value": ["A1"]}}]`,
		"/dicom-web/studies/1.2.3/series": `[
			{"0020000E": {"vr": "UI", "Value": ["1.2.3.1"]}, "00080060": {"vr": "CS", "Value": ["DX"]}, "00201209": {"vr": "IS", "Value": [4]}},
			{"0020000E": {"vr": "UI", "Value": ["1.2.3.2"]}, "00080060": {"vr": "CS", "Value": ["CR"]}}]`,
		"/dicom-web/studies/1.2.3/series/1.2.3.2/instances": `[{}, {}, {}]`,
	}}
	c := qidoClient(t, f)
	got, err := c.Studies(context.Background(), pacs.Query{Accession: "A1", From: examDay, To: examDay.AddDate(0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	want := []pacs.Study{{UID: "1.2.3", Accession: "A1", Modalities: []string{"CR", "DX"}, Series: 2, Instances: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(f.asked) != 3 || !strings.Contains(f.asked[0], "AccessionNumber=A1") || !strings.Contains(f.asked[0], "StudyDate=20261120-20261122") ||
		!strings.Contains(f.asked[0], "includefield=00201206") || !strings.Contains(f.asked[0], "includefield=00201208") {
		t.Errorf("requests %v", f.asked)
	}
}

// A hostile answer cannot steer the follow-up requests elsewhere.
func TestQIDORefusesStrangeUIDs(t *testing.T) {
	f := &fakeDICOMweb{bodies: map[string]string{
		"/dicom-web/studies": `[{"0020000D": {"vr": "UI", "Value": ["../../admin"]}}]`,
	}}
	c := qidoClient(t, f)
	if _, err := c.Studies(context.Background(), pacs.Query{Accession: "A1"}); err == nil || !strings.Contains(err.Error(), "cannot count") {
		t.Fatalf("got %v", err)
	}
	if len(f.asked) != 1 {
		t.Errorf("requests %v", f.asked)
	}
}

func TestQIDOErrorsSayWhatToFix(t *testing.T) {
	cases := map[string]struct {
		h    http.HandlerFunc
		want string
	}{
		"not found": {func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, "check qido_url"},
		"auth":      {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }, "credentials"},
		"html": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, "instead of DICOM JSON"},
		"server error": {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }, "HTTP 502"},
		"garbage": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/dicom+json")
			w.Write([]byte("[{"))
		}, "not DICOM JSON"},
	}
	for name, tc := range cases {
		c := qidoClient(t, tc.h)
		if err := c.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := qidoClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	if got, err := c.Studies(context.Background(), pacs.Query{PatientID: "P"}); err != nil || len(got) != 0 {
		t.Errorf("204: %v, %v", got, err)
	}
	if _, err := c.Studies(context.Background(), pacs.Query{}); err != pacs.ErrEmptyQuery {
		t.Errorf("empty query: %v", err)
	}
}
