package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// itemsWithPatient filters findscu answers by Patient ID.
func itemsWithPatient(items []map[string]string, pid string) []map[string]string {
	var out []map[string]string
	for _, it := range items {
		if it["0010,0020"] == pid {
			out = append(out, it)
		}
	}
	return out
}

var vetKeys = []string{
	"-k", "PatientName", "-k", "PatientID", "-k", "PatientSpeciesDescription", "-k", "PatientBreedDescription",
	"-k", "PatientSexNeutered", "-k", "PatientSex", "-k", "ResponsiblePerson", "-k", "ResponsiblePersonRole",
	"-k", "ResponsibleOrganization", "-k", "PatientWeight", "-k", "AccessionNumber", "-k", "StudyInstanceUID",
	"-k", "RequestedProcedureID", "-k", "RequestedProcedureDescription",
	"-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
	"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
	"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
	"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID",
	"-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription",
}

func withModality(m string) []string {
	return append([]string{"-k", "ScheduledProcedureStepSequence[0].Modality=" + m}, vetKeys...)
}

// A referral created in Provet reaches a real DICOM client with every
// veterinary field; an update changes it; a cancellation and a deletion
// remove it.
func TestE2EReferralLifecycleWithFindscu(t *testing.T) {
	needDCMTK(t, "findscu")
	d := startTestDemo(t, 0, func(c *app.Config) {
		c.Reconcile = 0 // every poll reconciles, so deletions show at once
	}, nil)
	start := time.Now().Add(time.Hour)
	remarks := "Limping left hind"
	it, err := d.Sim.CreateReferral(provetsim.ReferralFields{Status: 1, Modality: "Ultrasound", TargetAreas: []string{"Abdomen"},
		Remarks: &remarks, Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	pid := fmt.Sprint(it.PatientID)
	var got []map[string]string
	waitFor(t, 10*time.Second, "the new referral on the worklist", func() bool {
		got = itemsWithPatient(findscu(t, d.port, withModality("US")...), pid)
		return len(got) == 1
	})
	ans := got[0]
	for tg, what := range map[string]string{
		"0010,0010": "patient's name", "0010,2201": "species", "0010,2292": "breed", "0010,0040": "sex",
		"0010,2203": "neutered state", "0008,0050": "accession", "0020,000d": "study instance UID",
		"0040,1001": "requested procedure ID", "0040,0009": "SPS ID", "0040,0001": "station AE",
		"0040,0002": "start date", "0032,1060": "requested procedure description",
	} {
		if ans[tg] == "" {
			t.Errorf("%s (%s) missing in %v", what, tg, ans)
		}
	}
	if !strings.Contains(ans["0010,0010"], "^") {
		t.Errorf("patient's name %q is not Owner^Pet", ans["0010,0010"])
	}
	if ans["0010,2297"] == "" && ans["0010,2299"] == "" {
		t.Errorf("neither responsible person nor organisation: %v", ans)
	}
	if ans["0040,0001"] != "US1" || !strings.Contains(ans["0032,1060"], "Abdomen") {
		t.Errorf("station %q, procedure %q", ans["0040,0001"], ans["0032,1060"])
	}
	if want := start.Local().Format("20060102"); ans["0040,0002"] != want {
		t.Errorf("start date %q, want the appointment's %q", ans["0040,0002"], want)
	}

	// An update moves it to the X-ray room.
	xray := "X-ray"
	if _, err := d.Sim.UpdateReferral(it.WorklistID, provetsim.ReferralUpdate{Modality: &xray}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the update", func() bool {
		return len(itemsWithPatient(findscu(t, d.port, withModality("DX")...), pid)) == 1 &&
			len(itemsWithPatient(findscu(t, d.port, withModality("US")...), pid)) == 0
	})

	// A cancellation removes it from the modalities.
	if _, err := d.Sim.CancelReferral(it.WorklistID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the cancellation", func() bool {
		return len(itemsWithPatient(findscu(t, d.port, withModality("DX")...), pid)) == 0
	})

	// A deletion, which Provet's delta lists never show, too.
	other, err := d.Sim.CreateReferral(provetsim.ReferralFields{Status: 1, Modality: "CT", Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	opid := fmt.Sprint(other.PatientID)
	waitFor(t, 10*time.Second, "the second referral", func() bool {
		return len(itemsWithPatient(findscu(t, d.port, withModality("CT")...), opid)) == 1
	})
	if err := d.Sim.DeleteReferral(other.WorklistID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the deletion", func() bool {
		return len(itemsWithPatient(findscu(t, d.port, withModality("CT")...), opid)) == 0
	})
	// Each new referral was notified exactly once.
	if n := len(d.notifier.all()); n != 2 {
		t.Errorf("%d notifications, want 2: %q", n, d.notifier.all())
	}
}

// mppsRig is a modality with an association to the demo.
type mppsRig struct {
	t    *testing.T
	as   *scu.Assoc
	big  bool
	impl bool
}

func dialMPPS(t *testing.T, port int) *mppsRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	as, err := scu.Dial(ctx, fmt.Sprintf("127.0.0.1:%d", port), scu.Options{CallingAE: "DX1", CalledAE: "VETBRIDGE"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = as.Release(context.Background()) })
	ts, ok := as.Syntax(dimse.MPPSSOPClass)
	if !ok {
		t.Fatal("MPPS not accepted")
	}
	return &mppsRig{t: t, as: as, big: ts.BigEndian, impl: ts.Implicit}
}

func (r *mppsRig) create(uid string, attrs map[tag.Tag]any) uint16 {
	r.t.Helper()
	resp, err := r.as.NCreate(context.Background(), dimse.MPPSSOPClass, uid, mppsDataSet(r.t, r.big, r.impl, attrs))
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.Status
}

func (r *mppsRig) set(uid string, attrs map[tag.Tag]any) uint16 {
	r.t.Helper()
	resp, err := r.as.NSet(context.Background(), dimse.MPPSSOPClass, uid, mppsDataSet(r.t, r.big, r.impl, attrs))
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.Status
}

func inProgress(ref app.Referral) map[tag.Tag]any {
	return map[tag.Tag]any{
		tag.PerformedProcedureStepID:        []string{"PPS1"},
		tag.PerformedStationAETitle:         []string{"DX1"},
		tag.PerformedProcedureStepStartDate: []string{time.Now().Format("20060102")},
		tag.PerformedProcedureStepStartTime: []string{time.Now().Format("150405")},
		tag.PerformedProcedureStepStatus:    []string{"IN PROGRESS"},
		tag.Modality:                        []string{ref.Modality},
		tag.PatientID:                       []string{ref.PatientID},
		tag.ScheduledStepAttributesSequence: nil, // filled per test
	}
}

func patchesFor(sim *provetsim.Server, id int) []int {
	var out []int
	for _, p := range sim.Patches() {
		if p.WorklistID == id {
			var body map[string]any
			_ = json.Unmarshal(p.Body, &body)
			if v, ok := body["status"].(float64); ok {
				out = append(out, int(v))
			}
		}
	}
	return out
}

// MPPS from a modality moves the order in Provet, once per transition, and
// every malformed or out-of-order request gets its proper status.
func TestE2EMPPSClosesTheLoop(t *testing.T) {
	d := startTestDemo(t, 6, nil, nil)
	refs := d.App.Referrals(app.ReferralFilter{AllDays: true})
	var open []app.Referral
	for _, r := range refs {
		if r.Status == "SCHEDULED" {
			open = append(open, r)
		}
	}
	if len(open) < 2 {
		t.Fatalf("need two scheduled referrals, have %d", len(open))
	}
	rig := dialMPPS(t, d.port)
	ref := func(r app.Referral) map[tag.Tag]any {
		rec, _ := d.App.Referral(r.Key)
		a := inProgress(r)
		a[tag.ScheduledStepAttributesSequence] = stepRef(t, rec.StudyInstanceUID, rec.AccessionNumber,
			rec.RequestedProcedureID, rec.SPSID)
		return a
	}

	r1 := open[0]
	uid := "1.2.826.0.1.3680043.10.1043.1"
	if st := rig.create(uid, ref(r1)); st != 0 {
		t.Fatalf("N-CREATE status 0x%04X", st)
	}
	waitFor(t, 10*time.Second, "the in-progress PATCH", func() bool { return len(patchesFor(d.Sim, r1.ProvetID)) == 1 })
	if got, _ := d.App.Referral(r1.Key); got.Status != "STARTED" {
		t.Errorf("local status %q, want STARTED", got.Status)
	}
	if st := rig.create(uid, ref(r1)); st != 0x0111 {
		t.Errorf("duplicate N-CREATE: 0x%04X, want 0x0111", st)
	}
	missing := ref(r1)
	delete(missing, tag.PerformedStationAETitle)
	resp, err := rig.as.NCreate(context.Background(), dimse.MPPSSOPClass, "1.2.826.0.1.3680043.10.1043.2",
		mppsDataSet(t, rig.big, rig.impl, missing))
	if err != nil || resp.Status != 0x0120 {
		t.Errorf("N-CREATE without Performed Station AE: %v 0x%04X, want 0x0120", err, resp.Status)
	} else if fmt.Sprintf("%08X", resp.AttributeIdentifiers) != "[00400241]" {
		t.Errorf("the refusal should name (0040,0241) in (0000,1005), got %08X", resp.AttributeIdentifiers)
	}
	bad := ref(r1)
	bad[tag.PerformedProcedureStepStatus] = []string{"COMPLETED"}
	if st := rig.create("1.2.826.0.1.3680043.10.1043.3", bad); st != 0x0106 {
		t.Errorf("N-CREATE already COMPLETED: 0x%04X, want 0x0106", st)
	}
	done := map[tag.Tag]any{
		tag.PerformedProcedureStepStatus:  []string{"COMPLETED"},
		tag.PerformedProcedureStepEndDate: []string{time.Now().Format("20060102")},
		tag.PerformedProcedureStepEndTime: []string{time.Now().Format("150405")},
	}
	if st := rig.set(uid, done); st != 0 {
		t.Fatalf("N-SET COMPLETED: 0x%04X", st)
	}
	waitFor(t, 10*time.Second, "the completed PATCH", func() bool { return len(patchesFor(d.Sim, r1.ProvetID)) == 2 })
	if st := rig.set(uid, done); st != 0x0110 {
		t.Errorf("N-SET after final: 0x%04X, want 0x0110", st)
	}
	if st := rig.set("1.2.826.0.1.3680043.10.1043.99", done); st != 0x0112 {
		t.Errorf("N-SET unknown instance: 0x%04X, want 0x0112", st)
	}

	// A discontinued exam puts the order back to requested, for a retake.
	r2 := open[1]
	uid2 := "1.2.826.0.1.3680043.10.1043.4"
	if st := rig.create(uid2, ref(r2)); st != 0 {
		t.Fatalf("N-CREATE 2: 0x%04X", st)
	}
	if st := rig.set(uid2, map[tag.Tag]any{tag.PerformedProcedureStepStatus: []string{"DISCONTINUED"}}); st != 0 {
		t.Fatalf("N-SET DISCONTINUED: 0x%04X", st)
	}
	waitFor(t, 10*time.Second, "both PATCHes for the discontinued exam", func() bool { return len(patchesFor(d.Sim, r2.ProvetID)) == 2 })
	time.Sleep(500 * time.Millisecond) // any duplicate would arrive now
	if p := patchesFor(d.Sim, r1.ProvetID); fmt.Sprint(p) != "[2 3]" {
		t.Errorf("PATCHes for the completed exam: %v, want [2 3] exactly once each", p)
	}
	if p := patchesFor(d.Sim, r2.ProvetID); fmt.Sprint(p) != "[2 1]" {
		t.Errorf("PATCHes for the discontinued exam: %v, want [2 1]", p)
	}
	if s := d.App.Status(); s.PendingUpdates != 0 {
		t.Errorf("%d updates still pending", s.PendingUpdates)
	}
}

// When Provet stops answering, the modalities keep their worklist; when it
// comes back, sync catches up without notifying anything twice.
func TestE2EOutageKeepsServingAndCatchesUp(t *testing.T) {
	needDCMTK(t, "findscu")
	d := startTestDemo(t, 8, nil, nil)
	before := findscu(t, d.port, vetKeys...)
	if len(before) == 0 {
		t.Fatal("nothing on the worklist before the outage")
	}
	notesBefore := len(d.notifier.all())
	d.Sim.SetFaults(provetsim.Faults{Outage: true})
	d.App.SyncNow()
	waitFor(t, 30*time.Second, "the offline state", func() bool { return d.App.Status().State == app.StateOffline })
	if msg := d.App.Status().Message; !strings.Contains(msg, "last sync") {
		t.Errorf("offline message should say the worklist is still served: %q", msg)
	}
	during := findscu(t, d.port, vetKeys...)
	if len(during) != len(before) {
		t.Fatalf("during the outage the modality got %d items, before %d", len(during), len(before))
	}
	start := time.Now().Add(30 * time.Minute)
	it, err := d.Sim.CreateReferral(provetsim.ReferralFields{Status: 1, Modality: "X-ray", Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	d.Sim.SetFaults(provetsim.Faults{})
	d.App.SyncNow()
	waitFor(t, 30*time.Second, "the catch-up", func() bool {
		return len(itemsWithPatient(findscu(t, d.port, withModality("DX")...), fmt.Sprint(it.PatientID))) == 1
	})
	waitFor(t, 10*time.Second, "the ok state", func() bool { return d.App.Status().State == app.StateOK })
	notes := d.notifier.all()[notesBefore:]
	if len(notes) != 1 {
		t.Errorf("after the outage %d notifications, want exactly 1: %q", len(notes), notes)
	}
}

// A change to the modality table applies to referrals already on the
// worklist, not only to the ones that change in Provet afterwards.
func TestE2EModalityTableChangeRemapsTheWorklist(t *testing.T) {
	d := startTestDemo(t, 0, nil, nil)
	start := time.Now().Add(time.Hour)
	it, err := d.Sim.CreateReferral(provetsim.ReferralFields{Status: 1, Modality: "Ultrasound", Start: &start})
	if err != nil {
		t.Fatal(err)
	}
	d.App.SyncNow()
	var key string
	waitFor(t, 10*time.Second, "the referral", func() bool {
		for _, r := range d.App.Referrals(app.ReferralFilter{AllDays: true}) {
			if r.ProvetID == it.WorklistID {
				key = r.Key
				return r.StationAE == "US1"
			}
		}
		return false
	})
	cfg := d.App.Config()
	cfg.PollInterval = app.Duration(5 * time.Second) // the test's fast poll is below what Settings allow
	for i, m := range cfg.ModalityMap {
		if m.Provet == "Ultrasound" {
			cfg.ModalityMap[i].StationAE = "US2"
		}
	}
	if err := d.App.SaveConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new station on the existing referral", func() bool {
		r, ok := d.App.Referral(key)
		return ok && r.StationAE == "US2"
	})
}
