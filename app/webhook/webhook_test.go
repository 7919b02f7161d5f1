package webhook

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// Provet retries a webhook until it gets a quick 200, and fires both the
// create and the update hook for a new order: each POST must answer at once
// and only ask for a sync, never do the work itself.
func TestWebhookTriggersOneSyncAndAnswersAtOnce(t *testing.T) {
	var triggered atomic.Int32
	h := Handler(func() string { return "s3cret" }, func(id int64) {
		if id == 17 {
			triggered.Add(1)
		}
	}, slog.New(slog.DiscardHandler))
	post := func(target string) int {
		body := url.Values{"diagnosticimagingworklist_id": {"17"}, "provet_id": {"4"}}.Encode()
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post("/hook"); code != http.StatusForbidden {
		t.Fatalf("without the secret: %d, want 403", code)
	}
	if triggered.Load() != 0 {
		t.Fatal("a refused hook must not trigger a sync")
	}
	for i := 0; i < 2; i++ { // create and update hooks for one order
		if code := post("/hook?token=s3cret"); code != http.StatusOK {
			t.Fatalf("hook %d: %d, want 200", i, code)
		}
	}
	if n := triggered.Load(); n != 2 {
		t.Fatalf("two accepted hooks named order 17 %d times, want 2 (the sync engine reads it once)", n)
	}
	bad := httptest.NewRequest(http.MethodPost, "/hook?token=s3cret", strings.NewReader(`{"something":"else"}`))
	bad.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, bad)
	if rec.Code != http.StatusBadRequest || triggered.Load() != 2 {
		t.Fatalf("a body naming no order: %d, want 400 and no read", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hook?token=s3cret", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", rec.Code)
	}
}
