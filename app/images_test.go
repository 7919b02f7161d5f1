package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/mpps"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

func openWithReferrals(t *testing.T, items ...worklist.Item) *App {
	t.Helper()
	a, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	var recs []records.Record
	for _, it := range items {
		recs = append(recs, records.Record{Item: it, Source: records.SourceProvet, ProvetState: "requested"})
	}
	if err := a.repo.Apply(recs, nil); err != nil {
		t.Fatal(err)
	}
	return a
}

// An MPPS step that named no open order is listed as unmatched with its
// device, is linked by accession number, and the referral then counts as
// imaged and its viewer opens the step's study.
func TestUnscheduledStepLinked(t *testing.T) {
	today := time.Now().Format("20060102")
	a := openWithReferrals(t, worklist.Item{Key: "provet:4:1", PatientID: "12", AccessionNumber: "4-1", StudyInstanceUID: "2.25.1",
		Modality: "US", StationAETitle: "US1", StartDate: today, StartTime: "101500"})
	cfg := a.Config()
	cfg.ViewerURL = "https://pacs.example/viewer?study={study_uid}"
	cfg.PACS = pacs.Config{QIDOURL: "http://127.0.0.1:1/dicom-web"}
	if err := a.SaveConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	a.listUnscheduled(mpps.Step{SOPInstanceUID: "1.2.9", PatientID: "12", StartDate: today, Modality: "US",
		ScheduledSteps: []mpps.ScheduledStepRef{{StudyInstanceUID: "2.25.77"}}}, "US1, 10.0.0.7")
	exams := a.UnmatchedExams()
	if len(exams) != 1 || exams[0].ID != "mpps:1.2.9" || exams[0].Device != "US1, 10.0.0.7" {
		t.Fatalf("unmatched %+v", exams)
	}
	if err := a.LinkUnmatched("mpps:1.2.9", "4-1"); err != nil {
		t.Fatal(err)
	}
	if len(a.UnmatchedExams()) != 0 {
		t.Error("a linked step is still listed")
	}
	uid, err := a.viewerStudy("provet:4:1", "2.25.1")
	if err != nil || uid != "2.25.77" {
		t.Errorf("viewer study %q, %v; want the linked step's", uid, err)
	}
	if err := a.LinkUnmatched("mpps:1.2.9", "4-1"); err == nil {
		t.Error("linking twice must say the exam is gone")
	}
	if err := a.LinkUnmatched("mpps:nope", "no-such-accession"); err == nil || !strings.Contains(err.Error(), "no referral") {
		t.Errorf("unknown referral: %v", err)
	}
}

// The viewer link says "no images in the PACS yet" once the PACS was asked
// and holds nothing, opens the matched study when it holds one, and keeps
// the worklist's study UID while the PACS was not asked or none is set.
func TestViewerStudy(t *testing.T) {
	today := time.Now()
	a := openWithReferrals(t,
		worklist.Item{Key: "k1", PatientID: "1", AccessionNumber: "A1", StudyInstanceUID: "2.25.1", StartDate: today.Format("20060102")},
		worklist.Item{Key: "k2", PatientID: "2", AccessionNumber: "A2", StudyInstanceUID: "2.25.2", StartDate: today.Format("20060102")})
	if uid, err := a.viewerStudy("k1", "2.25.1"); err != nil || uid != "2.25.1" {
		t.Fatalf("without a PACS: %q, %v", uid, err)
	}
	cfg := a.Config()
	cfg.PACS = pacs.Config{QIDOURL: "http://127.0.0.1:1/dicom-web"}
	if err := a.SaveConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	book, err := a.imagingBook()
	if err != nil {
		t.Fatal(err)
	}
	refs, byKey := a.todaysRefs()
	studies := []pacs.Study{{UID: "1.2.3", Accession: "A1", Date: today.Format("20060102"), Time: "104200", Series: 1, Instances: 4}}
	matches, unmatched := pacs.Assign(studies, refs)
	book.Observe(pacs.Round{At: today, Matches: matches, Unmatched: unmatched}, byKey)
	if uid, err := a.viewerStudy("k1", "2.25.1"); err != nil || uid != "1.2.3" {
		t.Errorf("with images: %q, %v", uid, err)
	}
	if _, err := a.viewerStudy("k2", "2.25.2"); !errors.Is(err, ErrNoImagesYet) {
		t.Errorf("without images: %v", err)
	}
	r, _ := a.Referral("k1")
	a.addImages(&r)
	if r.Images != "1 series, 4 images, 10:42" || r.ImagesStudyUID != "1.2.3" {
		t.Errorf("row: %q %q", r.Images, r.ImagesStudyUID)
	}
}

// A study done today for a referral scheduled on another day belongs to
// that referral, not to the unmatched list.
func TestStudyOfAnotherDaysReferral(t *testing.T) {
	now := time.Now()
	a := openWithReferrals(t,
		worklist.Item{Key: "today", PatientID: "1", AccessionNumber: "A1", StudyInstanceUID: "2.25.1", StartDate: now.Format("20060102")},
		worklist.Item{Key: "yesterday", PatientID: "2", AccessionNumber: "A2", StudyInstanceUID: "2.25.2", StartDate: now.AddDate(0, 0, -1).Format("20060102")})
	if _, err := a.imagingBook(); err != nil {
		t.Fatal(err)
	}
	refs := a.pacsReferrals()
	studies := []pacs.Study{
		{UID: "1.1", Accession: "A2", Date: now.Format("20060102"), Series: 1, Instances: 3},
		{UID: "2.25.2", Accession: "", Date: now.Format("20060102"), Series: 1, Instances: 1},
		{UID: "1.9", Accession: "NOBODY", Date: now.Format("20060102"), Series: 1, Instances: 1},
	}
	matches, unmatched := pacs.Assign(studies, refs)
	a.pacsRound(pacs.Round{At: now, Matches: matches, Unmatched: unmatched})
	ex := a.UnmatchedExams()
	if len(ex) != 1 || ex[0].ID != "pacs:1.9" {
		t.Fatalf("unmatched %+v", ex)
	}
	r, _ := a.Referral("yesterday")
	a.addImages(&r)
	if !strings.HasPrefix(r.Images, "2 series, 4 images") {
		t.Errorf("yesterday's referral: %q", r.Images)
	}
}
