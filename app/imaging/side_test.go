package imaging

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// sideWith is a Side over a fresh store holding items as Provet orders,
// with cfg's settings.
func sideWith(t *testing.T, cfg *settings.Config, items ...worklist.Item) *Side {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	repo, err := records.Open(st, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []records.Record
	for _, it := range items {
		recs = append(recs, records.Record{Item: it, Source: records.SourceProvet, ProvetState: "requested"})
	}
	if err := repo.Apply(recs, nil); err != nil {
		t.Fatal(err)
	}
	return NewSide(SideOptions{Repo: repo, Meta: st, Config: func() settings.Config { return *cfg }})
}

// The viewer link says "no images in the PACS yet" once the PACS was asked
// and holds nothing, opens the matched study when it holds one, and keeps
// the worklist's study UID while the PACS was not asked or none is set.
func TestViewerStudy(t *testing.T) {
	today := time.Now()
	cfg := settings.Default()
	s := sideWith(t, &cfg,
		worklist.Item{Key: "k1", PatientID: "1", AccessionNumber: "A1", StudyInstanceUID: "2.25.1", StartDate: today.Format("20060102")},
		worklist.Item{Key: "k2", PatientID: "2", AccessionNumber: "A2", StudyInstanceUID: "2.25.2", StartDate: today.Format("20060102")})
	if uid, err := s.ViewerStudy("k1", "2.25.1"); err != nil || uid != "2.25.1" {
		t.Fatalf("without a PACS: %q, %v", uid, err)
	}
	cfg.PACS = pacs.Config{QIDOURL: "http://127.0.0.1:1/dicom-web"}
	book, err := s.Book()
	if err != nil {
		t.Fatal(err)
	}
	refs, byKey := s.todaysRefs()
	studies := []pacs.Study{{UID: "1.2.3", Accession: "A1", Date: today.Format("20060102"), Time: "104200", Series: 1, Instances: 4}}
	matches, unmatched := pacs.Assign(studies, refs)
	book.Observe(pacs.Round{At: today, Matches: matches, Unmatched: unmatched}, byKey)
	if uid, err := s.ViewerStudy("k1", "2.25.1"); err != nil || uid != "1.2.3" {
		t.Errorf("with images: %q, %v", uid, err)
	}
	if _, err := s.ViewerStudy("k2", "2.25.2"); !errors.Is(err, ErrNoImagesYet) {
		t.Errorf("without images: %v", err)
	}
	r := records.Referral{Key: "k1"}
	s.AddImages(&r)
	if r.Images != "1 series, 4 images, 10:42" || r.ImagesStudyUID != "1.2.3" {
		t.Errorf("row: %q %q", r.Images, r.ImagesStudyUID)
	}
}

// A study done today for a referral scheduled on another day belongs to
// that referral, not to the unmatched list.
func TestStudyOfAnotherDaysReferral(t *testing.T) {
	now := time.Now()
	cfg := settings.Default()
	s := sideWith(t, &cfg,
		worklist.Item{Key: "today", PatientID: "1", AccessionNumber: "A1", StudyInstanceUID: "2.25.1", StartDate: now.Format("20060102")},
		worklist.Item{Key: "yesterday", PatientID: "2", AccessionNumber: "A2", StudyInstanceUID: "2.25.2", StartDate: now.AddDate(0, 0, -1).Format("20060102")})
	if _, err := s.Book(); err != nil {
		t.Fatal(err)
	}
	refs := s.referrals()
	studies := []pacs.Study{
		{UID: "1.1", Accession: "A2", Date: now.Format("20060102"), Series: 1, Instances: 3},
		{UID: "2.25.2", Accession: "", Date: now.Format("20060102"), Series: 1, Instances: 1},
		{UID: "1.9", Accession: "NOBODY", Date: now.Format("20060102"), Series: 1, Instances: 1},
	}
	matches, unmatched := pacs.Assign(studies, refs)
	s.round(pacs.Round{At: now, Matches: matches, Unmatched: unmatched})
	ex := s.Unmatched()
	if len(ex) != 1 || ex[0].ID != "pacs:1.9" {
		t.Fatalf("unmatched %+v", ex)
	}
	r := records.Referral{Key: "yesterday"}
	s.AddImages(&r)
	if !strings.HasPrefix(r.Images, "2 series, 4 images") {
		t.Errorf("yesterday's referral: %q", r.Images)
	}
}

// The device policy: a referral's station profile decides, else a profile
// serving its modality, else the default profile; 0 quiet means the
// default quiet period.
func TestPolicyFor(t *testing.T) {
	cfg := settings.Default().DICOM
	cfg.Profiles = []settings.DeviceProfile{
		{CallingAE: "DX1", CompleteByImages: true, QuietPeriod: settings.Duration(5 * time.Minute)},
		{CallingAE: "US-CART", Modalities: []string{"us"}, CompleteByImages: true},
	}
	for _, c := range []struct {
		station, modality string
		want              Policy
	}{
		{"DX1", "DX", Policy{CompleteByImages: true, Quiet: 5 * time.Minute}},
		{"", "US", Policy{CompleteByImages: true}},
		{"US1", "US", Policy{CompleteByImages: true}},
		{"CR1", "CR", Policy{}},
	} {
		if got := PolicyFor(cfg, c.station, c.modality); got != c.want {
			t.Errorf("%s/%s: %+v, want %+v", c.station, c.modality, got, c.want)
		}
	}
}
