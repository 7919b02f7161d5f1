package writeback

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// tenant is a Provet stand-in for one order: it answers reads with the
// order's status and PATCHes with what the test says.
type tenant struct {
	mu      sync.Mutex
	status  int
	patchOK bool
	patches []string
}

func (tn *tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodPatch {
		b, _ := io.ReadAll(r.Body)
		tn.patches = append(tn.patches, string(b))
		if !tn.patchOK {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":["This transition is not allowed."]}`)
			return
		}
		var body map[string]int
		_ = json.Unmarshal(b, &body)
		tn.status = body["status"]
	}
	fmt.Fprintf(w, `{"id":7,"url":"http://x/4/api/0.1/diagnosticimaging_worklist/7/","status":%d,"modified":"2026-11-29T10:00:00+02:00","created":"2026-11-29T09:00:00+02:00"}`, tn.status)
}

func (tn *tenant) sent() int {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return len(tn.patches)
}

type rig struct {
	w      *Writer
	tenant *tenant
	now    time.Time
	mu     sync.Mutex
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func newRig(t *testing.T, confirmed bool) *rig {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	repo, err := records.Open(st, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := records.Record{Source: records.SourceProvet, ProvetID: 7, ProvetState: "requested",
		Item: worklist.Item{Key: "provet:4:7", PatientName: "Smith^Rex", PatientID: "12", AccessionNumber: "4-7",
			SPSID: "SPS7", StudyInstanceUID: "2.25.7", Modality: "DX", StartDate: "20261129"}}
	if err := repo.Apply([]records.Record{rec}, nil); err != nil {
		t.Fatal(err)
	}
	tn := &tenant{status: 1}
	srv := httptest.NewServer(tn)
	t.Cleanup(srv.Close)
	client, err := provet.New(provet.Options{APIBase: srv.URL + "/4/api/0.1/", HTTPClient: srv.Client(), Logger: log,
		MaxAttempts: 1, StatusesConfirmed: func(string) bool { return confirmed }})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{tenant: tn, now: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	r.w = New(Options{Repo: repo, Client: func() *provet.Client { return client },
		Confirmed:      func() bool { return confirmed },
		OnDiscontinued: func() provet.Status { return provet.StatusRequested },
		Now:            r.clock, Log: log})
	return r
}

func TestRefusedUpdateWaitsForTheTechnician(t *testing.T) {
	r := newRig(t, true)
	until, err := r.w.MarkDone("provet:4:7", "Anna")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.w.drain(ctx)
	if r.tenant.sent() != 0 {
		t.Fatal("sent within the undo window")
	}
	r.advance(until.Sub(r.clock()))
	r.w.drain(ctx)
	st := r.w.State()
	if r.tenant.sent() != 1 || len(st.Parked) != 1 || !strings.Contains(st.Parked[0].Error, "This transition is not allowed") {
		t.Fatalf("after Provet's 400: %d PATCHes, state %+v; want one PATCH and the update parked with Provet's answer", r.tenant.sent(), st)
	}
	// Parked means not retried on its own, however long it waits.
	r.advance(24 * time.Hour)
	r.w.drain(ctx)
	if r.tenant.sent() != 1 {
		t.Fatalf("a refused update was retried on its own: %d PATCHes", r.tenant.sent())
	}
	r.tenant.mu.Lock()
	r.tenant.patchOK = true
	r.tenant.mu.Unlock()
	if err := r.w.Retry(st.Parked[0].ID); err != nil {
		t.Fatal(err)
	}
	r.w.drain(ctx)
	if st := r.w.State(); r.tenant.sent() != 2 || st.Pending != 0 || len(st.Parked) != 0 {
		t.Fatalf("after Retry: %d PATCHes, state %+v", r.tenant.sent(), st)
	}
}

func TestDroppedUpdateIsNeverSent(t *testing.T) {
	r := newRig(t, true)
	until, _ := r.w.MarkDone("provet:4:7", "Anna")
	r.advance(until.Sub(r.clock()))
	ctx := context.Background()
	r.w.drain(ctx)
	st := r.w.State()
	if len(st.Parked) != 1 {
		t.Fatalf("state %+v", st)
	}
	if err := r.w.Drop(st.Parked[0].ID); err != nil {
		t.Fatal(err)
	}
	r.w.drain(ctx)
	if st := r.w.State(); st.Pending != 0 || r.tenant.sent() != 1 {
		t.Fatalf("after Drop: state %+v, %d PATCHes", st, r.tenant.sent())
	}
}

func TestUndoWithinTheWindowSendsNothing(t *testing.T) {
	r := newRig(t, true)
	if _, err := r.w.MarkDone("provet:4:7", "Anna"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.w.o.Repo.Get("provet:4:7"); rec.Item.SPSStatus != "COMPLETED" || len(rec.Audit) != 1 || rec.Audit[0].By != "Anna" {
		t.Fatalf("after MarkDone: %+v", rec)
	}
	r.advance(UndoWindow / 2)
	if err := r.w.UndoMarkDone("provet:4:7"); err != nil {
		t.Fatal(err)
	}
	r.advance(UndoWindow)
	r.w.drain(context.Background())
	if r.tenant.sent() != 0 {
		t.Fatalf("an undone update was sent: %d PATCHes", r.tenant.sent())
	}
	if rec, _ := r.w.o.Repo.Get("provet:4:7"); rec.Item.SPSStatus != "SCHEDULED" {
		t.Fatalf("after undo the referral shows %q, want SCHEDULED again", rec.Item.SPSStatus)
	}
	if err := r.w.UndoMarkDone("provet:4:7"); err == nil {
		t.Error("a second undo must say it is too late")
	}
}

func TestUnconfirmedStatusesHoldEverything(t *testing.T) {
	r := newRig(t, false)
	r.tenant.patchOK = true
	until, _ := r.w.MarkDone("provet:4:7", "Anna")
	r.advance(until.Sub(r.clock()) + time.Hour)
	r.w.drain(context.Background())
	if st := r.w.State(); r.tenant.sent() != 0 || !st.Unconfirmed || st.Pending != 1 {
		t.Fatalf("unconfirmed: %d PATCHes, state %+v; want none sent, one waiting", r.tenant.sent(), st)
	}
}
