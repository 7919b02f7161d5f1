package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/records"
)

// ErrNoPACS means no PACS is configured (Settings > PACS).
var ErrNoPACS = pacs.ErrNotConfigured

// ImagesSummary is a referral's images in the PACS, for the detail pane
// and `vetbridge images`.
type ImagesSummary struct {
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

func summaryOf(im imaging.Images) ImagesSummary {
	return ImagesSummary{
		Key: im.Key, Accession: im.Accession, Summary: im.Summary(time.Local), StudyUID: im.StudyUID(),
		Studies: len(im.Studies), Series: im.Series(), Instances: im.Instances(), MatchedBy: string(im.By),
		Imaged: im.Imaged(), CompletedByImages: im.Completed, CheckedAt: im.CheckedAt, Line: im.Line(),
	}
}

// ImagesFor asks the PACS now for one referral's images, for the detail
// pane. While the PACS is down it answers at once with what was last seen
// and an error saying since when the PACS is unreachable (wrapping
// pacs.ErrDown); without a PACS it returns ErrNoPACS.
func (a *App) ImagesFor(ctx context.Context, key string) (ImagesSummary, error) {
	rec, ok := a.repo.Get(key)
	if !ok {
		return ImagesSummary{}, fmt.Errorf("this referral is no longer on the worklist")
	}
	book, err := a.imagingBook()
	if err != nil {
		return ImagesSummary{}, err
	}
	ref := imagingRef(rec, a.Effective().DICOM).Referral
	s := a.pacsSide()
	s.mu.Lock()
	p := s.poller
	s.mu.Unlock()
	var m pacs.Match
	if p != nil {
		m, err = p.Lookup(ctx, ref)
	} else {
		var c pacs.Client
		if c, err = a.pacsClient(); err == nil {
			m, err = pacs.Matcher{Client: c}.Match(ctx, ref)
		}
	}
	if err != nil {
		im, _ := book.Images(key)
		if im.Key == "" {
			im = imaging.Images{Key: key, Accession: rec.Item.AccessionNumber}
		}
		return summaryOf(im), err
	}
	im := book.Looked(m)
	a.hub.publish(Event{Kind: EventReferrals})
	return summaryOf(im), nil
}

// pacsClient is a client for the configured PACS, for a one-off question.
func (a *App) pacsClient() (pacs.Client, error) {
	c := a.Effective()
	return pacs.New(c.PACS, pacs.Options{CallingAE: c.DICOM.AETitle, Timeout: 15 * time.Second, Logger: a.log})
}

// TestPACS checks a PACS configuration (Settings' Test button): C-ECHO and
// a study query over DICOM, a query over QIDO-RS. The error says what to fix.
func (a *App) TestPACS(ctx context.Context, cfg pacs.Config) error {
	c, err := pacs.New(cfg, pacs.Options{CallingAE: a.Effective().DICOM.AETitle, Timeout: 10 * time.Second, Logger: a.log})
	if err != nil {
		return err
	}
	return c.Ping(ctx)
}

// ImagesReport answers `vetbridge images`: today's referrals, or the one
// with the accession number (of any day). The running instance answers from
// its latest round and asks the PACS for what that round did not cover;
// opened directly, the PACS is asked now.
func (a *App) ImagesReport(ctx context.Context, accession string) (ImagesReport, error) {
	if !a.Effective().PACS.Configured() {
		return ImagesReport{}, fmt.Errorf("%w (Settings > PACS)", ErrNoPACS)
	}
	book, err := a.imagingBook()
	if err != nil {
		return ImagesReport{}, err
	}
	refs, byKey := a.todaysRefs()
	if accession != "" {
		refs = filterAccession(refs, accession)
		if len(refs) == 0 {
			r, ok := a.refByAccession(accession)
			if !ok {
				return ImagesReport{}, fmt.Errorf("no referral with accession number %q is stored; the worklist window shows each referral's accession", accession)
			}
			refs = []pacs.Referral{r.Referral}
		}
	}
	note, err := a.refreshImages(ctx, book, refs, byKey)
	if err != nil {
		return ImagesReport{}, err
	}
	rep := ImagesReport{Note: note}
	for _, r := range refs {
		im, ok := book.Images(r.Key)
		if !ok {
			im = imaging.Images{Key: r.Key, Accession: r.Accession}
		}
		rep.Referrals = append(rep.Referrals, summaryOf(im))
	}
	return rep, nil
}

// refreshImages makes sure the Book has seen refs: the running poller's
// rounds cover today's, a lookup the rest; without a poller one round is
// asked now. A PACS that cannot be asked gives a note, not an error, when
// something was seen before.
func (a *App) refreshImages(ctx context.Context, book *imaging.Book, refs []pacs.Referral, today map[string]imaging.Ref) (string, error) {
	s := a.pacsSide()
	s.mu.Lock()
	p := s.poller
	s.mu.Unlock()
	if p != nil {
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
	c, err := a.pacsClient()
	if err != nil {
		return "", err
	}
	all, _ := a.todaysRefs()
	for _, r := range refs {
		if _, ok := today[r.Key]; !ok {
			all = append(all, r)
		}
	}
	round, err := imaging.Ask(ctx, c, sideClock{s}.Now(), all)
	if err != nil {
		return "", err
	}
	round, _ = a.claimByStored(round, today)
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
func (a *App) refByAccession(accession string) (imaging.Ref, bool) {
	var found records.Record
	_ = a.repo.Each(func(rec records.Record) bool {
		if strings.EqualFold(rec.Item.AccessionNumber, accession) {
			found = rec
			return false
		}
		return true
	})
	if found.Item.Key == "" {
		return imaging.Ref{}, false
	}
	return imagingRef(found, a.Effective().DICOM), true
}

// UnmatchedReport answers `vetbridge unmatched` and the Unmatched view:
// today's PACS studies no referral claims, MPPS steps that named no open
// order, and earlier ones nobody linked or dismissed yet. Opened directly,
// the PACS is asked now; the running instance answers from its latest round.
func (a *App) UnmatchedReport(ctx context.Context) (UnmatchedReport, error) {
	book, err := a.imagingBook()
	if err != nil {
		return UnmatchedReport{}, err
	}
	var rep UnmatchedReport
	if a.Effective().PACS.Configured() {
		_, today := a.todaysRefs()
		note, err := a.refreshImages(ctx, book, nil, today)
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

// UnmatchedExams lists the exams no referral claims, as last seen, for the
// Unmatched view (which refreshes on EventReferrals).
func (a *App) UnmatchedExams() []UnmatchedExam {
	book, err := a.imagingBook()
	if err != nil {
		return nil
	}
	return book.Unmatched()
}

// LinkUnmatched assigns an unmatched exam to a referral, named by its key
// or accession number: the referral counts as imaged from then on and its
// viewer opens the exam's study.
func (a *App) LinkUnmatched(id, referral string) error {
	key := referral
	if _, ok := a.repo.Get(key); !ok {
		r, ok := a.refByAccession(referral)
		if !ok {
			return fmt.Errorf("no referral %q is stored: give its accession number as the worklist window shows it", referral)
		}
		key = r.Key
	}
	book, err := a.imagingBook()
	if err != nil {
		return err
	}
	if err := book.Link(id, key); err != nil {
		return err
	}
	a.log.Info("unmatched exam linked to a referral", "exam", id, "key", key)
	return nil
}

// DismissUnmatched takes an exam off the unmatched list for good.
func (a *App) DismissUnmatched(id string) error {
	book, err := a.imagingBook()
	if err != nil {
		return err
	}
	if err := book.Dismiss(id); err != nil {
		return err
	}
	a.log.Info("unmatched exam dismissed", "exam", id)
	return nil
}

// addImages fills a referral's images summary for the worklist row; it is
// left empty while the PACS has not been asked about the referral.
func (a *App) addImages(r *Referral) {
	// The Book is not opened here: the caller may be inside a store
	// walk, and opening reads the store.
	book := a.pacsSide().opened.Load()
	if book == nil {
		return
	}
	if im, ok := book.Images(r.Key); ok {
		r.Images = im.Summary(time.Local)
		r.ImagesStudyUID = im.StudyUID()
	}
}

// ErrNoImagesYet is ViewerURL's answer when the PACS holds nothing for the
// referral: opening the viewer would show an empty page.
var ErrNoImagesYet = errors.New("no images in the PACS yet")

// viewerStudy is the study UID the viewer link should use: the referral's
// matched (or linked) study when the PACS has been asked, the worklist's
// UID otherwise. It fails with ErrNoImagesYet when the PACS was asked and
// holds nothing for the referral.
func (a *App) viewerStudy(key, fallback string) (string, error) {
	book := a.pacsSide().opened.Load()
	if book == nil || !a.Effective().PACS.Configured() {
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
