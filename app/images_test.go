package app

import (
	"context"
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
