package provet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vetbridge/vetbridge/app/provetsim"
)

// An order created for a walk-in is in Provet as requested, for the
// patient and modality asked; nothing is created while the status values
// are unconfirmed.
func TestCreateWorklistItem(t *testing.T) {
	confirmed := false
	env := startSim(t, provetsim.Options{Referrals: 3, Seed: 5}, func(o *Options) {
		o.StatusesConfirmed = func(string) bool { return confirmed }
	})
	ctx := context.Background()
	pet := env.sim.Items()[0]
	o := NewOrder{PatientID: int64(pet.PatientID), ClientID: int64(pet.ClientID), ModalityID: 2}
	if _, err := env.client.CreateWorklistItem(ctx, o); !errors.Is(err, ErrStatusesUnconfirmed) {
		t.Fatalf("unconfirmed: %v", err)
	}
	before := len(env.sim.Items())
	confirmed = true
	it, err := env.client.CreateWorklistItem(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if it.Status != StatusRequested || it.Patient.ID != o.PatientID || it.Modality.ID != 2 || len(env.sim.Items()) != before+1 {
		t.Fatalf("created %+v; the simulator holds %d orders, before %d", it, len(env.sim.Items()), before)
	}
	if _, err := env.client.CreateWorklistItem(ctx, NewOrder{PatientID: 999999, ModalityID: 2}); !errors.Is(err, ErrRejected) {
		t.Errorf("unknown patient: %v", err)
	}
}

// A tenant whose API does not create orders refuses at once, and a
// failing server is asked exactly once: a retry could create a second order.
func TestCreateWorklistItemNeverRetried(t *testing.T) {
	for _, tc := range []struct {
		status int
		kind   error
	}{{http.StatusMethodNotAllowed, ErrRejected}, {http.StatusBadGateway, ErrServer}} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(`{"detail":"Method \"POST\" not allowed."}`))
		}))
		c, err := New(Options{APIBase: srv.URL + "/4/api/0.1/", HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateWorklistItem(context.Background(), NewOrder{PatientID: 1, ModalityID: 1})
		if !errors.Is(err, tc.kind) || calls.Load() != 1 || (tc.status == 405 && !strings.Contains(err.Error(), "not allowed")) {
			t.Errorf("%d: %v after %d calls", tc.status, err, calls.Load())
		}
		srv.Close()
	}
}
