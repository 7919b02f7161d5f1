package imaging

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/records"
)

// Summary is a referral's images in the PACS, for the detail pane and
// `vetbridge images`.
type Summary struct {
	Key       string `json:"key"`
	Accession string `json:"accession"`
	// Summary is the worklist row's words: "no images yet", "2 series, 14
	// images, 10:42".
	Summary string `json:"summary"`
	// StudyUID is the study the viewer opens; "" while there is none.
	StudyUID  string `json:"study_uid,omitempty"`
	Studies   int    `json:"studies"`
	Series    int    `json:"series"`
	Instances int    `json:"instances"`
	// MatchedBy says how the studies were found: "accession", "study-uid",
	// "patient-date", "linked" (the technician linked an unmatched exam),
	// or "" for none.
	MatchedBy string `json:"matched_by,omitempty"`
	Imaged    bool   `json:"imaged"`
	// CompletedByImages is set once the order was completed because its
	// images arrived and stopped coming.
	CompletedByImages bool      `json:"completed_by_images,omitempty"`
	CheckedAt         time.Time `json:"checked_at"`
	// Line is the `vetbridge images` line: "ACCESSION studies=S series=R instances=I".
	Line string `json:"line"`
}

func summaryOf(im Images) Summary {
	return Summary{
		Key: im.Key, Accession: im.Accession, Summary: im.Summary(time.Local), StudyUID: im.StudyUID(),
		Studies: len(im.Studies), Series: im.Series(), Instances: im.Instances(), MatchedBy: string(im.By),
		Imaged: im.Imaged(), CompletedByImages: im.Completed, CheckedAt: im.CheckedAt, Line: im.Line(),
	}
}

// Report is the answer to `vetbridge images`: one entry per referral, and
// Note when the PACS could not be asked (the entries are then as last seen).
type Report struct {
	Referrals []Summary `json:"referrals"`
	Note      string    `json:"note,omitempty"`
}

// UnmatchedReport is the answer to `vetbridge unmatched`; Note as in Report.
type UnmatchedReport struct {
	Exams []Exam `json:"exams"`
	Note  string `json:"note,omitempty"`
}

// Lines are what `vetbridge images` prints, one per referral.
func (r Report) Lines() []string {
	out := make([]string, len(r.Referrals))
	for i, s := range r.Referrals {
		out[i] = s.Line
	}
	return out
}

// Lines are what `vetbridge unmatched` prints, one per exam: the exam's
// line and the ID that links or dismisses it.
func (r UnmatchedReport) Lines() []string {
	out := make([]string, len(r.Exams))
	for i, e := range r.Exams {
		out[i] = e.Line() + " id=" + e.ID
	}
	return out
}

// ImagesFor asks the PACS now for one referral's images, for the detail
// pane. While the PACS is down it answers at once with what was last seen
// and an error saying since when the PACS is unreachable (wrapping
// pacs.ErrDown); without a PACS it returns pacs.ErrNotConfigured.
func (s *Side) ImagesFor(ctx context.Context, key string) (Summary, error) {
	rec, ok := s.o.Repo.Get(key)
	if !ok {
		return Summary{}, fmt.Errorf("this referral is no longer on the worklist")
	}
	book, err := s.Book()
	if err != nil {
		return Summary{}, err
	}
	ref := RefOf(rec, s.o.Config().DICOM).Referral
	var m pacs.Match
	if p := s.getPoller(); p != nil {
		m, err = p.Lookup(ctx, ref)
	} else {
		var c pacs.Client
		if c, err = s.client(); err == nil {
			m, err = pacs.Matcher{Client: c}.Match(ctx, ref)
		}
	}
	if err != nil {
		im, _ := book.Images(key)
		if im.Key == "" {
			im = Images{Key: key, Accession: rec.Item.AccessionNumber}
		}
		return summaryOf(im), err
	}
	im := book.Looked(m)
	s.o.OnImages()
	return summaryOf(im), nil
}

// client is a client for the configured PACS, for a one-off question.
func (s *Side) client() (pacs.Client, error) {
	c := s.o.Config()
	return pacs.New(c.PACS, pacs.Options{CallingAE: c.DICOM.AETitle, Timeout: 15 * time.Second, Logger: s.o.Log})
}

// Test checks a PACS configuration (Settings' Test button): C-ECHO and a
// study query over DICOM, a query over QIDO-RS. The error says what to fix.
func (s *Side) Test(ctx context.Context, cfg pacs.Config) error {
	c, err := pacs.New(cfg, pacs.Options{CallingAE: s.o.Config().DICOM.AETitle, Timeout: 10 * time.Second, Logger: s.o.Log})
	if err != nil {
		return err
	}
	return c.Ping(ctx)
}

// Report answers `vetbridge images`: today's referrals, or the one with
// the accession number (of any day). A running Side answers from its latest
// round and asks the PACS for what that round did not cover; otherwise the
// PACS is asked now.
func (s *Side) Report(ctx context.Context, accession string) (Report, error) {
	if !s.o.Config().PACS.Configured() {
		return Report{}, fmt.Errorf("%w (Settings > PACS)", pacs.ErrNotConfigured)
	}
	book, err := s.Book()
	if err != nil {
		return Report{}, err
	}
	refs, byKey := s.todaysRefs()
	if accession != "" {
		refs = filterAccession(refs, accession)
		if len(refs) == 0 {
			r, ok := s.refByAccession(accession)
			if !ok {
				return Report{}, fmt.Errorf("no referral with accession number %q is stored; the worklist window shows each referral's accession", accession)
			}
			refs = []pacs.Referral{r.Referral}
		}
	}
	note, err := s.refresh(ctx, book, refs, byKey)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Note: note}
	for _, r := range refs {
		im, ok := book.Images(r.Key)
		if !ok {
			im = Images{Key: r.Key, Accession: r.Accession}
		}
		rep.Referrals = append(rep.Referrals, summaryOf(im))
	}
	return rep, nil
}

// refresh makes sure the Book has seen refs: the running poller's rounds
// cover today's, a lookup the rest; without a poller one round is asked
// now. A PACS that cannot be asked gives a note, not an error, when
// something was seen before.
func (s *Side) refresh(ctx context.Context, book *Book, refs []pacs.Referral, today map[string]Ref) (string, error) {
	if p := s.getPoller(); p != nil {
		if st := p.State(); !st.Up {
			return st.String(), nil
		}
		for _, r := range refs {
			if _, ok := book.Images(r.Key); ok {
				continue
			}
			m, err := p.Lookup(ctx, r)
			if err != nil {
				return err.Error(), nil
			}
			book.Looked(m)
		}
		return "", nil
	}
	c, err := s.client()
	if err != nil {
		return "", err
	}
	all, _ := s.todaysRefs()
	for _, r := range refs {
		if _, ok := today[r.Key]; !ok {
			all = append(all, r)
		}
	}
	round, err := Ask(ctx, c, sideClock{s}.Now(), all)
	if err != nil {
		return "", err
	}
	round, _ = s.claimByStored(round, today)
	book.Observe(round, nil)
	return "", nil
}

func filterAccession(refs []pacs.Referral, accession string) []pacs.Referral {
	var out []pacs.Referral
	for _, r := range refs {
		if strings.EqualFold(r.Accession, accession) {
			out = append(out, r)
		}
	}
	return out
}

// refByAccession finds a stored referral of any day by accession number.
func (s *Side) refByAccession(accession string) (Ref, bool) {
	found, ok := s.o.Repo.ByAccession(accession)
	if !ok {
		return Ref{}, false
	}
	return RefOf(found, s.o.Config().DICOM), true
}

// UnmatchedReport answers `vetbridge unmatched` and the Unmatched view:
// today's PACS studies no referral claims, MPPS steps that named no open
// order, and earlier ones nobody linked or dismissed yet. Without a running
// poller the PACS is asked now; otherwise the latest round answers.
func (s *Side) UnmatchedReport(ctx context.Context) (UnmatchedReport, error) {
	book, err := s.Book()
	if err != nil {
		return UnmatchedReport{}, err
	}
	var rep UnmatchedReport
	if s.o.Config().PACS.Configured() {
		_, today := s.todaysRefs()
		note, err := s.refresh(ctx, book, nil, today)
		switch {
		case err != nil:
			rep.Note = "the PACS could not be asked: " + err.Error()
		case note != "":
			rep.Note = note
		}
	}
	rep.Exams = book.Unmatched()
	return rep, nil
}

// Unmatched lists the exams no referral claims, as last seen, for the
// Unmatched view.
func (s *Side) Unmatched() []Exam {
	book, err := s.Book()
	if err != nil {
		return nil
	}
	return book.Unmatched()
}

// Link assigns an unmatched exam to a referral, named by its key or
// accession number: the referral counts as imaged from then on and its
// viewer opens the exam's study.
func (s *Side) Link(id, referral string) error {
	key := referral
	if _, ok := s.o.Repo.Get(key); !ok {
		r, ok := s.refByAccession(referral)
		if !ok {
			return fmt.Errorf("no referral %q is stored: give its accession number as the worklist window shows it", referral)
		}
		key = r.Key
	}
	book, err := s.Book()
	if err != nil {
		return err
	}
	if err := book.Link(id, key); err != nil {
		return err
	}
	s.o.Log.Info("unmatched exam linked to a referral", "exam", id, "key", key)
	return nil
}

// Dismiss takes an exam off the unmatched list for good.
func (s *Side) Dismiss(id string) error {
	book, err := s.Book()
	if err != nil {
		return err
	}
	if err := book.Dismiss(id); err != nil {
		return err
	}
	s.o.Log.Info("unmatched exam dismissed", "exam", id)
	return nil
}

// AddImages fills a referral's images summary for the worklist row; it is
// left empty while the PACS has not been asked about the referral.
func (s *Side) AddImages(r *records.Referral) {
	// The Book is not opened here: the caller may be inside a store
	// walk, and opening reads the store.
	book := s.opened.Load()
	if book == nil {
		return
	}
	if im, ok := book.Images(r.Key); ok {
		r.Images = im.Summary(time.Local)
		r.ImagesStudyUID = im.StudyUID()
	}
}

// ErrNoImagesYet is the viewer's answer when the PACS holds nothing for the
// referral: opening it would show an empty page.
var ErrNoImagesYet = errors.New("no images in the PACS yet")

// ViewerStudy is the study UID the viewer link should use: the referral's
// matched (or linked) study when the PACS has been asked, fallback (the
// worklist's UID) otherwise. It fails with ErrNoImagesYet when the PACS was
// asked and holds nothing for the referral.
func (s *Side) ViewerStudy(key, fallback string) (string, error) {
	book := s.opened.Load()
	if book == nil || !s.o.Config().PACS.Configured() {
		return fallback, nil
	}
	im, ok := book.Images(key)
	switch {
	case !ok:
		return fallback, nil
	case !im.Imaged():
		return "", fmt.Errorf("%w for this referral (checked %s); try again when the modality has sent them", ErrNoImagesYet, im.CheckedAt.Format("15:04"))
	case im.StudyUID() != "":
		return im.StudyUID(), nil
	}
	return fallback, nil
}
