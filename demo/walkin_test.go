package demo

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
)

// A walk-in exam for a patient found in Provet (by the animal's or the
// owner's name) is on the modalities' worklist within a second, under
// Provet's patient id, and nothing is sent to Provet for it.
func TestE2EWalkIn(t *testing.T) {
	needDCMTK(t, "findscu")
	p := startPACSDemo(t, nil, nil)
	items := p.Sim.Items()
	pet := items[0]
	c := p.control(t, true)
	ctx := context.Background()
	hits, err := c.SearchPatients(ctx, strings.ToLower(pet.PatientName[:3]))
	if err != nil {
		t.Fatal(err)
	}
	var hit app.PatientHit
	for _, h := range hits {
		if h.ID == int64(pet.PatientID) {
			hit = h
		}
	}
	if hit.ID == 0 || hit.Name != pet.PatientName || hit.Owner == "" {
		t.Fatalf("searching %q found %+v, want patient %d", pet.PatientName[:3], hits, pet.PatientID)
	}
	last := hit.Owner[strings.LastIndex(hit.Owner, " ")+1:]
	byOwner, err := c.SearchPatients(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range byOwner {
		found = found || h.ID == hit.ID
	}
	if !found {
		t.Errorf("searching the owner %q did not find %s: %+v", last, hit.Name, byOwner)
	}

	patches := len(p.Sim.Patches())
	start := time.Now()
	res, err := c.NewWalkIn(ctx, app.WalkIn{PatientID: hit.ID, Modality: "X-ray", Exam: "Thorax, 2 views"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Referral
	if res.InProvet || res.Note != "" {
		t.Errorf("without create_walk_ins: %+v", res)
	}
	var got map[string]string
	for _, it := range findscu(t, p.port, vetKeys...) {
		if it["0008,0050"] == r.AccessionNumber {
			got = it
		}
	}
	took := time.Since(start)
	t.Logf("walk-in created and found by findscu in %v", took.Round(time.Millisecond))
	if got == nil {
		t.Fatalf("findscu does not list the walk-in %s", r.AccessionNumber)
	}
	if took > time.Second {
		t.Errorf("the walk-in took %v to reach the worklist, want under a second", took)
	}
	// The server answered in Latin-1, which findscu prints as it came.
	name, _ := charmap.ISO8859_1.NewEncoder().String(pet.PatientName)
	if got["0010,0020"] != strconv.Itoa(pet.PatientID) || !strings.HasSuffix(got["0010,0010"], "^"+name) ||
		got["0040,0001"] != "DX1" || got["0032,1060"] != "Thorax, 2 views" {
		t.Errorf("the walk-in as the modality sees it: %v", got)
	}
	if n := len(p.Sim.Patches()); n != patches {
		t.Errorf("%d PATCHes went to Provet for a walk-in", n-patches)
	}
	if _, err := c.NewWalkIn(ctx, app.WalkIn{PatientID: 999999, Modality: "DX"}); err == nil {
		t.Error("a walk-in for a patient Provet does not know must fail")
	}
}

// With create_walk_ins the walk-in is an imaging order created in Provet:
// on the worklist at once under the identifiers sync gives it, and still
// one referral after the next sync.
func TestE2EWalkInCreatedInProvet(t *testing.T) {
	needDCMTK(t, "findscu")
	p := startPACSDemo(t, nil, func(c *app.Config) { c.Provet.CreateWalkIns = true })
	pet := p.Sim.Items()[0]
	before := len(p.Sim.Items())
	start := time.Now()
	res, err := p.control(t, true).NewWalkIn(context.Background(), app.WalkIn{PatientID: int64(pet.PatientID), Modality: "US"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	for _, it := range findscu(t, p.port, vetKeys...) {
		if it["0008,0050"] == res.Referral.AccessionNumber {
			got = it
		}
	}
	took := time.Since(start)
	if !res.InProvet || res.Referral.ProvetID == 0 || len(p.Sim.Items()) != before+1 || got == nil || took > time.Second {
		t.Fatalf("created %+v in %v; the simulator holds %d orders (before %d); findscu: %v", res, took, len(p.Sim.Items()), before, got)
	}
	if got["0010,0020"] != strconv.Itoa(pet.PatientID) || got["0040,0001"] != "US1" {
		t.Errorf("as the modality sees it: %v", got)
	}
	p.App.SyncNow()
	waitFor(t, 10*time.Second, "a sync after the walk-in", func() bool { return p.App.Status().LastSync.After(start) })
	n := 0
	for _, r := range p.App.Referrals(app.ReferralFilter{AllDays: true}) {
		if r.ProvetID == res.Referral.ProvetID {
			n++
			if r.AccessionNumber != res.Referral.AccessionNumber {
				t.Errorf("sync changed the accession from %s to %s", res.Referral.AccessionNumber, r.AccessionNumber)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d referrals for Provet order %d after the sync, want 1", n, res.Referral.ProvetID)
	}

	// A tenant that refuses: the exam stays in VetBridge, and says why.
	if err := p.Sim.SetQuirks(provetsim.Quirks{Forbidden: []string{"diagnosticimaging_worklist"}}); err != nil {
		t.Fatal(err)
	}
	res, err = p.control(t, true).NewWalkIn(context.Background(), app.WalkIn{PatientID: int64(pet.PatientID), Modality: "DX"})
	if err != nil || res.InProvet || !strings.Contains(res.Note, "stays in VetBridge as a walk-in") || len(p.Sim.Items()) != before+1 {
		t.Fatalf("refused by the tenant: %+v, %v", res, err)
	}
	if r, ok := p.App.Referral(res.Referral.Key); !ok || r.ProvetID != 0 {
		t.Errorf("the local walk-in: %+v", r)
	}
}
