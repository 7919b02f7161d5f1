package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/pacs"
)

// A referral's images are seen with the right counts over DICOM and
// QIDO-RS; a study with an unknown accession is listed as unmatched and,
// once linked, makes the other referral count as imaged. The commands say
// the same through the running instance and with the data directory opened
// directly, and the link survives the restart.
func TestE2EPACSImagesAndUnmatched(t *testing.T) {
	for i, protocol := range []string{"DICOM", "QIDO-RS"} {
		t.Run(protocol, func(t *testing.T) {
			o := startOrthanc(t)
			p := startPACSDemo(t, nil, nil)
			imaged, other := p.referralToday(t, "X-ray"), p.referralToday(t, "Ultrasound")
			p.setPACS(t, o.config(protocol))
			want := other.AccessionNumber + " studies=0 series=0 instances=0"
			waitFor(t, 20*time.Second, "the first round", func() bool { return imagesLine(t, p.App, other.AccessionNumber) == want })

			unknownUID := fmt.Sprintf("1.2.826.0.1.3680043.10.2.%d", i)
			refUID := fmt.Sprintf("1.2.826.0.1.3680043.10.1.%d", i)
			walkIn := fmt.Sprintf("WALKIN-%d", i)
			start := time.Now()
			o.store(t, append(study(refUID, imaged.AccessionNumber, imaged.PatientID, "DX", 3, 2),
				study(unknownUID, walkIn, "PAT-9", "CR", 2)...))
			p.App.RefreshImages()
			want = imaged.AccessionNumber + " studies=1 series=2 instances=5"
			waitFor(t, 20*time.Second, "the images counted and the unknown study listed", func() bool {
				return imagesLine(t, p.App, imaged.AccessionNumber) == want && len(p.App.UnmatchedExams()) == 1
			})
			t.Logf("%s: images seen %v after storescu returned", protocol, time.Since(start).Round(time.Millisecond))

			c := p.control(t, true)
			before := images(t, c, "")
			if !slices.Contains(before, want) || !slices.Contains(before, other.AccessionNumber+" studies=0 series=0 instances=0") {
				t.Fatalf("images:\n%s", strings.Join(before, "\n"))
			}
			if got := images(t, c, imaged.AccessionNumber); fmt.Sprint(got) != fmt.Sprint([]string{want}) {
				t.Errorf("images --accession: %q", got)
			}
			today := time.Now().Format("20060102")
			wantUnmatched := fmt.Sprintf("%s patient_id=PAT-9 date=%s modality=CR source=pacs study=%s id=pacs:%s", walkIn, today, unknownUID, unknownUID)
			if got := unmatched(t, c); fmt.Sprint(got) != fmt.Sprint([]string{wantUnmatched}) {
				t.Fatalf("unmatched:\n%s\nwant\n%s", strings.Join(got, "\n"), wantUnmatched)
			}
			sum, err := p.App.ImagesFor(context.Background(), imaged.Key)
			if err != nil || sum.StudyUID != refUID || sum.MatchedBy != "accession" || !strings.HasPrefix(sum.Summary, "2 series, 5 images, ") {
				t.Errorf("detail pane: %+v, %v", sum, err)
			}

			if err := c.LinkUnmatched(context.Background(), "pacs:"+unknownUID, other.AccessionNumber); err != nil {
				t.Fatal(err)
			}
			linked := other.AccessionNumber + " studies=1 series=1 instances=2"
			if got := images(t, c, other.AccessionNumber); fmt.Sprint(got) != fmt.Sprint([]string{linked}) {
				t.Errorf("after linking: %q, want %q", got, linked)
			}
			if got := unmatched(t, c); len(got) != 0 {
				t.Errorf("still unmatched after linking: %q", got)
			}
			sum, err = p.App.ImagesFor(context.Background(), other.Key)
			if err != nil || !sum.Imaged || sum.StudyUID != unknownUID {
				t.Errorf("the linked referral: %+v, %v", sum, err)
			}
			running := images(t, c, "")

			// Without the app the commands ask the PACS themselves, and the
			// link still holds.
			p.shutdown()
			d := p.control(t, false)
			if got := images(t, d, ""); fmt.Sprint(got) != fmt.Sprint(running) {
				t.Errorf("images opened directly:\n%s\nwhile running:\n%s", strings.Join(got, "\n"), strings.Join(running, "\n"))
			}
			if got := unmatched(t, d); len(got) != 0 {
				t.Errorf("unmatched opened directly: %q", got)
			}
		})
	}
}

// The PACS going down leaves the worklist as it was, says so with the
// time it went down, and keeps the last counts seen.
func TestE2EPACSDown(t *testing.T) {
	needDCMTK(t, "findscu")
	o := startOrthanc(t)
	p := startPACSDemo(t, nil, nil)
	r := p.referralToday(t, "X-ray")
	o.store(t, study("1.2.826.0.1.3680043.10.3.1", r.AccessionNumber, r.PatientID, "DX", 2))
	p.setPACS(t, o.config("DICOM"))
	want := r.AccessionNumber + " studies=1 series=1 instances=2"
	waitFor(t, 20*time.Second, "the images counted", func() bool { return imagesLine(t, p.App, r.AccessionNumber) == want })
	worklist := findscu(t, p.port, vetKeys...)
	if len(itemsWithPatient(worklist, r.PatientID)) == 0 {
		t.Fatalf("the referral is not on the worklist: %v", worklist)
	}

	o.stop()
	p.App.RefreshImages()
	waitFor(t, 20*time.Second, "the outage noticed", func() bool { return p.App.PACSState() != "" })
	state := p.App.PACSState()
	if !strings.Contains(state, "PACS unreachable since "+time.Now().Format("15:")) || !strings.Contains(state, "cannot connect to the PACS") {
		t.Errorf("status: %q", state)
	}
	t.Log(state)
	if after := findscu(t, p.port, vetKeys...); len(after) != len(worklist) {
		t.Errorf("the worklist changed while the PACS was down: %d items, before %d", len(after), len(worklist))
	}
	rep, err := p.control(t, true).Images(context.Background(), r.AccessionNumber)
	if err != nil || fmt.Sprint(rep.Lines()) != fmt.Sprint([]string{want}) || !strings.Contains(rep.Note, "PACS unreachable since") {
		t.Errorf("images while down: %+v, %v", rep, err)
	}
	if _, err := p.App.ImagesFor(context.Background(), r.Key); !errors.Is(err, pacs.ErrDown) {
		t.Errorf("the detail pane while down: %v", err)
	}
	if _, err := p.App.ViewerURL(r.Key); err != nil {
		t.Errorf("the viewer link while the PACS is down: %v", err)
	}
	_ = app.ErrNoPACS
}
