package imaging_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/dicom/mpps"
	"github.com/vetbridge/vetbridge/store"
)

// clock is a pacs.Clock that moves only when the test says; the Book asks
// it for the time and never waits on its timers.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *clock) NewTimer(time.Duration) pacs.Timer { panic("the Book sets no timers") }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var day = time.Date(2026, 11, 20, 9, 0, 0, 0, time.Local)

type rig struct {
	st        *store.Store
	clock     *clock
	book      *imaging.Book
	completed []string
	changes   int
}

func open(t *testing.T, st *store.Store, c *clock) *rig {
	t.Helper()
	r := &rig{st: st, clock: c}
	b, err := imaging.Open(imaging.Options{Meta: st, Clock: c, Log: slog.New(slog.DiscardHandler),
		Complete: func(key string) error { r.completed = append(r.completed, key); return nil },
		OnChange: func() { r.changes++ }})
	if err != nil {
		t.Fatal(err)
	}
	r.book = b
	return r
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return open(t, st, &clock{now: day})
}

func study(uid, acc, pid string, series, instances int) pacs.Study {
	return pacs.Study{UID: uid, Accession: acc, PatientID: pid, PatientName: "Smith^Rex", Date: "20261120", Time: "104200",
		Modalities: []string{"DX"}, Series: series, Instances: instances}
}

func (r *rig) round(refs []imaging.Ref, studies ...pacs.Study) {
	prs := make([]pacs.Referral, len(refs))
	byKey := map[string]imaging.Ref{}
	for i, ref := range refs {
		prs[i] = ref.Referral
		byKey[ref.Key] = ref
	}
	matches, unmatched := pacs.Assign(studies, prs)
	r.book.Observe(pacs.Round{At: r.clock.Now(), Matches: matches, Unmatched: unmatched}, byKey)
}

func ref(key, acc string, on bool) imaging.Ref {
	return imaging.Ref{Referral: pacs.Referral{Key: key, Accession: acc, PatientID: "P-" + key, Date: day}, Open: true,
		Policy: imaging.Policy{CompleteByImages: on, Quiet: 10 * time.Minute}}
}

func lines(ex []imaging.Exam) string {
	var out []string
	for _, e := range ex {
		out = append(out, e.Line())
	}
	return strings.Join(out, "\n")
}

// A round gives each referral its counts and lists the studies no referral
// claims; a link moves one to a referral for good, a dismissal takes one
// off for good, and both survive a restart.
func TestLinkAndDismissSurviveRestart(t *testing.T) {
	r := newRig(t)
	refs := []imaging.Ref{ref("a", "ACC-1", false), ref("b", "ACC-2", false)}
	r.round(refs, study("1.1", "ACC-1", "P-a", 2, 14), study("1.7", "WALKIN-7", "P-9", 1, 2), study("1.8", "ODD-8", "P-8", 1, 1))
	im, _ := r.book.Images("a")
	if im.Line() != "ACC-1 studies=1 series=2 instances=14" || im.Summary(time.Local) != "2 series, 14 images, 10:42" || im.StudyUID() != "1.1" {
		t.Fatalf("a: %s / %s / %s", im.Line(), im.Summary(time.Local), im.StudyUID())
	}
	if im, _ := r.book.Images("b"); im.Summary(time.Local) != "no images yet" || im.Imaged() {
		t.Fatalf("b: %+v", im)
	}
	want := "WALKIN-7 patient_id=P-9 date=20261120 modality=DX source=pacs study=1.7\nODD-8 patient_id=P-8 date=20261120 modality=DX source=pacs study=1.8"
	if got := lines(r.book.Unmatched()); got != want {
		t.Fatalf("unmatched:\n%s\nwant:\n%s", got, want)
	}
	if err := r.book.Link("pacs:1.7", "b"); err != nil {
		t.Fatal(err)
	}
	if err := r.book.Dismiss("pacs:1.8"); err != nil {
		t.Fatal(err)
	}
	if err := r.book.Dismiss("pacs:1.8"); err == nil {
		t.Error("dismissing twice must say the exam is gone")
	}
	if im, _ := r.book.Images("b"); !im.Imaged() || im.By != imaging.ByLink || im.StudyUID() != "1.7" || im.Instances() != 2 {
		t.Fatalf("b after the link: %+v", im)
	}
	// The restarted Book asks the PACS again and keeps the decisions; the
	// PACS now holds more images of the linked study.
	r2 := open(t, r.st, r.clock)
	r2.round(refs, study("1.1", "ACC-1", "P-a", 2, 14), study("1.7", "WALKIN-7", "P-9", 1, 3), study("1.8", "ODD-8", "P-8", 1, 1))
	if got := lines(r2.book.Unmatched()); got != "" {
		t.Fatalf("after restart the decided exams are listed again:\n%s", got)
	}
	if im, _ := r2.book.Images("b"); im.Line() != "ACC-2 studies=1 series=1 instances=3" {
		t.Fatalf("b after restart: %s", im.Line())
	}
}

// A step that named no open order is listed with its device and kept
// across a restart until someone decides.
func TestUnscheduledStepListed(t *testing.T) {
	r := newRig(t)
	st := mpps.Step{SOPInstanceUID: "1.2.3", PatientID: "P 5", StartDate: "20261120", Modality: "US", PerformedStationAE: "US1",
		ScheduledSteps: []mpps.ScheduledStepRef{{StudyInstanceUID: "2.25.9"}}}
	if err := r.book.AddStep(st, "US1, 10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	r2 := open(t, r.st, r.clock)
	r2.round([]imaging.Ref{ref("a", "ACC-1", false)})
	want := `- patient_id="P 5" date=20261120 modality=US source=mpps device="US1, 10.0.0.9" step=1.2.3`
	if got := lines(r2.book.Unmatched()); got != want {
		t.Fatalf("unmatched %q, want %q", got, want)
	}
	if err := r2.book.Link("mpps:1.2.3", "a"); err != nil {
		t.Fatal(err)
	}
	if im, _ := r2.book.Images("a"); !im.Imaged() || im.StudyUID() != "2.25.9" || !strings.Contains(im.Summary(time.Local), "linked exam") {
		t.Fatalf("after linking the step: %+v %q", im, im.Summary(time.Local))
	}
	if err := r2.book.AddStep(st, "US1, 10.0.0.9"); err != nil || len(r2.book.Unmatched()) != 0 {
		t.Fatalf("a linked step came back: %v %+v", err, r2.book.Unmatched())
	}
}

// Completion by images waits for the quiet period after the last change,
// happens once, and only for referrals whose device has it on.
func TestCompletionAfterQuietPeriod(t *testing.T) {
	r := newRig(t)
	refs := []imaging.Ref{ref("on", "ACC-1", true), ref("off", "ACC-2", false), ref("empty", "ACC-3", true)}
	r.round(refs, study("1.1", "ACC-1", "x", 1, 3), study("1.2", "ACC-2", "y", 1, 3))
	r.clock.advance(9 * time.Minute)
	r.round(refs, study("1.1", "ACC-1", "x", 1, 5), study("1.2", "ACC-2", "y", 1, 3)) // more images came
	r.clock.advance(9 * time.Minute)
	r.round(refs, study("1.1", "ACC-1", "x", 1, 5), study("1.2", "ACC-2", "y", 1, 3))
	if len(r.completed) != 0 {
		t.Fatalf("completed %v before 10 quiet minutes", r.completed)
	}
	r.clock.advance(time.Minute)
	for range 3 {
		r.round(refs, study("1.1", "ACC-1", "x", 1, 5), study("1.2", "ACC-2", "y", 1, 3))
		r.clock.advance(time.Hour)
	}
	if fmt.Sprint(r.completed) != "[on]" {
		t.Fatalf("completed %v, want [on] once", r.completed)
	}
	// A closed order is not completed again.
	closed := ref("closed", "ACC-4", true)
	closed.Open = false
	r.round([]imaging.Ref{closed}, study("1.4", "ACC-4", "z", 1, 1))
	r.clock.advance(time.Hour)
	r.round([]imaging.Ref{closed}, study("1.4", "ACC-4", "z", 1, 1))
	if fmt.Sprint(r.completed) != "[on]" {
		t.Fatalf("completed %v", r.completed)
	}
	// The completed order has left the rounds; the detail pane's lookup
	// must still say it was completed by its images.
	m, _ := pacs.Assign([]pacs.Study{study("1.1", "ACC-1", "x", 1, 5)}, []pacs.Referral{refs[0].Referral})
	if im := r.book.Looked(m[0]); !im.Completed {
		t.Errorf("a lookup after the order left the rounds forgot its completion: %+v", im)
	}
}

// The stored record stays bounded: past the limit the oldest unmatched exam
// leaves the list.
func TestUnmatchedBounded(t *testing.T) {
	r := newRig(t)
	for i := range 510 {
		r.clock.advance(time.Second)
		if err := r.book.AddStep(mpps.Step{SOPInstanceUID: fmt.Sprintf("9.%d", i), StartDate: "20261120"}, "DX1"); err != nil {
			t.Fatal(err)
		}
	}
	ex := r.book.Unmatched()
	if len(ex) != 500 || ex[0].ID == "mpps:9.0" {
		t.Fatalf("%d exams kept, first %s", len(ex), ex[0].ID)
	}
	for _, e := range ex {
		if e.ID == "mpps:9.9" {
			t.Fatal("an old exam was kept over a newer one")
		}
	}
}
