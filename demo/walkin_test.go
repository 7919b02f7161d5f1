package demo

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/vetbridge/vetbridge/app"
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
	r, err := c.NewWalkIn(ctx, app.WalkIn{PatientID: hit.ID, Modality: "X-ray", Exam: "Thorax, 2 views"})
	if err != nil {
		t.Fatal(err)
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
