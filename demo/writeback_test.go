package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
)

// scheduled returns the demo's scheduled referrals.
func scheduled(t *testing.T, d *testDemo) []app.Referral {
	t.Helper()
	var out []app.Referral
	for _, r := range d.App.Referrals(app.ReferralFilter{AllDays: true}) {
		if r.Status == "SCHEDULED" {
			out = append(out, r)
		}
	}
	if len(out) < 2 {
		t.Fatalf("need two scheduled referrals, have %d", len(out))
	}
	return out
}

// stepFor is an MPPS N-CREATE data set that names the referral's step.
func stepFor(t *testing.T, d *testDemo, r app.Referral) map[tag.Tag]any {
	rec, _ := d.App.Referral(r.Key)
	a := inProgress(r)
	a[tag.ScheduledStepAttributesSequence] = stepRef(t, rec.StudyInstanceUID, rec.AccessionNumber, rec.RequestedProcedureID, rec.SPSID)
	return a
}

var completed = map[tag.Tag]any{tag.PerformedProcedureStepStatus: []string{"COMPLETED"}}

// settle waits until the outbox is empty, then a little longer for any
// late duplicate.
func settle(t *testing.T, d *testDemo) {
	t.Helper()
	waitFor(t, 20*time.Second, "the outbox to empty", func() bool { return d.App.Status().PendingUpdates == 0 })
}

// Reproduced before: Provet unreachable when the exam starts, back before it
// ends. The order must end completed in Provet, never completed then in
// progress.
func TestE2EOutageNeverSendsStatusesBackwards(t *testing.T) {
	d := startTestDemo(t, 6, nil, nil)
	r := scheduled(t, d)[0]
	rig := dialMPPS(t, d.port)
	d.Sim.SetFaults(provetsim.Faults{Outage: true})
	uid := "1.2.826.0.1.3680043.10.1043.200"
	if st := rig.create(uid, stepFor(t, d, r)); st != 0 {
		t.Fatalf("N-CREATE: 0x%04X", st)
	}
	d.Sim.SetFaults(provetsim.Faults{})
	if st := rig.set(uid, completed); st != 0 {
		t.Fatalf("N-SET: 0x%04X", st)
	}
	settle(t, d)
	p := fmt.Sprint(patchesFor(d.Sim, r.ProvetID))
	if p != "[3]" && p != "[2 3]" {
		t.Errorf("PATCHes %s, want [3] or [2 3]", p)
	}
	for _, it := range d.Sim.Items() {
		if it.WorklistID == r.ProvetID && it.Status != 3 {
			t.Errorf("Provet holds status %d, want completed (3)", it.Status)
		}
	}
	// The audit trail names the device and its address.
	got, _ := d.App.Referral(r.Key)
	h := strings.Join(got.History, "\n")
	if !strings.Contains(h, "Started by DX1, 127.0.0.1") || !strings.Contains(h, "Completed by DX1, 127.0.0.1") {
		t.Errorf("history %q, want who started and completed the exam", got.History)
	}
}

// An order Provet has cancelled is never reopened by a late MPPS.
func TestE2ENeverReopensWhatProvetClosed(t *testing.T) {
	d := startTestDemo(t, 6, func(c *app.Config) { c.PollInterval = app.Duration(time.Hour) }, nil)
	r := scheduled(t, d)[0]
	if _, err := d.Sim.CancelReferral(r.ProvetID); err != nil {
		t.Fatal(err)
	}
	rig := dialMPPS(t, d.port)
	uid := "1.2.826.0.1.3680043.10.1043.201"
	if st := rig.create(uid, stepFor(t, d, r)); st != 0 {
		t.Fatalf("N-CREATE: 0x%04X", st)
	}
	if st := rig.set(uid, completed); st != 0 {
		t.Fatalf("N-SET: 0x%04X", st)
	}
	settle(t, d)
	if p := patchesFor(d.Sim, r.ProvetID); len(p) != 0 {
		t.Errorf("PATCHes %v for an order Provet cancelled, want none", p)
	}
}

// A tenant whose status numbers are not the ones VetBridge assumes: nothing
// is written until someone confirms the values, and the technician is told.
func TestE2EUnconfirmedStatusesWriteNothing(t *testing.T) {
	d := startTestDemo(t, 12, nil, func(o *provetsim.Options) { o.Quirks.StatusCodes = provetsim.ShiftedStatuses(1) })
	open := d.App.Referrals(app.ReferralFilter{AllDays: true})
	if len(open) == 0 {
		t.Fatal("no referral on the worklist")
	}
	r := open[0]
	if _, err := d.App.MarkDone(context.Background(), r.Key); err != nil {
		t.Fatal(err)
	}
	rig := dialMPPS(t, d.port)
	uid := "1.2.826.0.1.3680043.10.1043.202"
	if len(open) > 1 {
		if st := rig.create(uid, stepFor(t, d, open[1])); st != 0 {
			t.Fatalf("N-CREATE: 0x%04X", st)
		}
	}
	waitFor(t, 30*time.Second, "the status line to say why updates wait", func() bool {
		return strings.Contains(d.App.Status().Message, "wait until Provet's status values are confirmed")
	})
	if n := len(d.Sim.Patches()); n != 0 {
		t.Errorf("%d PATCHes sent although nobody confirmed the status values", n)
	}
	rep, err := d.App.Statuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Every value means something to the mapping, only not the right
	// thing: the survey must make a person look ("nothing reads as
	// requested") instead of passing silently.
	if rep.Confirmed || len(rep.Survey.Concerns()) == 0 {
		t.Errorf("the survey of a shifted tenant must raise a concern and show nothing confirmed: %+v", rep)
	}
}

// A delete hook removes the order from the worklist at once.
func TestE2EDeleteHookRemovesTheOrderAtOnce(t *testing.T) {
	port := freePort(t)
	d := startTestDemo(t, 6, func(c *app.Config) {
		c.PollInterval = app.Duration(time.Hour)
		c.Webhook.Listen = fmt.Sprintf("127.0.0.1:%d", port)
		c.Webhook.Secret = "a-long-enough-secret"
	}, nil)
	r := scheduled(t, d)[0]
	if err := d.Sim.DeleteReferral(r.ProvetID); err != nil {
		t.Fatal(err)
	}
	body := url.Values{"diagnosticimagingworklist_id": {fmt.Sprint(r.ProvetID)}, "provet_id": {d.Sim.ProvetID()}}.Encode()
	var resp *http.Response
	waitFor(t, 10*time.Second, "the webhook receiver", func() bool {
		var err error
		resp, err = http.Post(fmt.Sprintf("http://127.0.0.1:%d/hook?token=a-long-enough-secret", port),
			"application/x-www-form-urlencoded", strings.NewReader(body))
		return err == nil
	})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	waitFor(t, 10*time.Second, "the deleted order to leave the worklist", func() bool {
		_, ok := d.App.Referral(r.Key)
		return !ok
	})
}
