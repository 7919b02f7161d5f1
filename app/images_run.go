package app

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetbridge/vetbridge/app/devices"
	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// pacsSide is one App's PACS state: the Book (images, unmatched exams) and,
// while RunPACS runs, the poller.
//
// Lock order: never hold mu while calling into the App (a.mu), since
// Status holds a.mu while it asks PACSState.
type pacsSide struct {
	bookOnce sync.Once
	book     *imaging.Book
	bookErr  error
	opened   atomic.Pointer[imaging.Book] // book, once open

	mu      sync.Mutex
	clock   pacs.Clock
	running bool
	poller  *pacs.Poller
	client  pacs.Client
	refs    map[string]imaging.Ref // the latest round's referrals
	sig     string                 // what those referrals were, to notice a change
}

func (a *App) pacsSide() *pacsSide { return a.side }

// sideClock is the Book's and the poller's clock: whatever SetPACSClock set.
type sideClock struct{ s *pacsSide }

func (c sideClock) Now() time.Time                      { return c.s.getClock().Now() }
func (c sideClock) NewTimer(d time.Duration) pacs.Timer { return c.s.getClock().NewTimer(d) }

func (s *pacsSide) getClock() pacs.Clock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// SetPACSClock replaces the clock of the PACS poller and of completion by
// images, for tests and demonstrations; call it before Run.
func (a *App) SetPACSClock(c pacs.Clock) {
	s := a.pacsSide()
	s.mu.Lock()
	s.clock = c
	s.mu.Unlock()
}

// imagingBook opens the Book once per App.
func (a *App) imagingBook() (*imaging.Book, error) {
	s := a.pacsSide()
	s.bookOnce.Do(func() {
		s.book, s.bookErr = imaging.Open(imaging.Options{
			Meta: a.store, Clock: sideClock{s}, Log: a.log,
			Complete: a.completeByImages,
			OnChange: func() { a.hub.publish(Event{Kind: EventReferrals}) },
		})
		if s.bookErr == nil {
			s.opened.Store(s.book)
		}
	})
	return s.book, s.bookErr
}

// completeByImages is the Book's hand to the outbox.
func (a *App) completeByImages(key string) error {
	queued, err := a.out.CompleteByImages(key, "images in the PACS")
	if err == nil && queued {
		a.log.Info("order completed by its images in the PACS", "key", key)
	}
	return err
}

// RunPACS asks the configured PACS, in rounds, for today's referrals'
// images until ctx ends, and rebuilds the connection when the PACS settings
// change; without a PACS it waits for one to be configured. A second call
// while one runs only waits for ctx.
func (a *App) RunPACS(ctx context.Context) error {
	s := a.pacsSide()
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		<-ctx.Done()
		return nil
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running, s.poller, s.client = false, nil, nil
		s.mu.Unlock()
	}()
	if _, err := a.imagingBook(); err != nil {
		return err
	}
	changes := make(chan struct{}, 1)
	unsubscribe := a.Subscribe(func(e Event) {
		if e.Kind == EventStatus || e.Kind == EventReferrals {
			signal(changes)
		}
	})
	defer unsubscribe()
	for ctx.Err() == nil {
		a.pollPACS(ctx, changes)
	}
	return nil
}

// pacsTarget is what a poller is built from; a change rebuilds it.
type pacsTarget struct {
	cfg pacs.Config
	ae  string
}

func (a *App) pacsTarget() pacsTarget {
	c := a.Effective()
	return pacsTarget{c.PACS, c.DICOM.AETitle}
}

// pollPACS runs one poller for the current settings until they change or
// ctx ends.
func (a *App) pollPACS(ctx context.Context, changes <-chan struct{}) {
	s := a.pacsSide()
	target := a.pacsTarget()
	var client pacs.Client
	if target.cfg.Configured() {
		var err error
		client, err = pacs.New(target.cfg, pacs.Options{CallingAE: target.ae, Logger: a.log})
		if err != nil {
			a.log.Warn("PACS not asked", "err", err)
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if client == nil {
		close(done)
	} else {
		p := pacs.NewPoller(pacs.PollerConfig{
			Client: client, Referrals: a.pacsReferrals, Report: a.pacsRound,
			OnState: func(pacs.State) { a.hub.publish(Event{Kind: EventStatus}) },
			Clock:   sideClock{s}, Logger: a.log,
		})
		s.mu.Lock()
		s.poller, s.client = p, client
		s.mu.Unlock()
		go func() {
			defer close(done)
			_ = p.Run(pctx)
		}()
	}
	defer func() {
		cancel()
		<-done
		s.mu.Lock()
		s.poller, s.client = nil, nil
		s.mu.Unlock()
		a.hub.publish(Event{Kind: EventStatus})
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			if a.pacsTarget() != target {
				return
			}
			a.kickOnNewReferrals()
		}
	}
}

// kickOnNewReferrals asks for a round at once when today's referrals
// changed (a sync brought one, a walk-in was created); the Book's own
// updates change nothing here, so they cause no round.
func (a *App) kickOnNewReferrals() {
	refs, _ := a.todaysRefs()
	sig := refsSignature(refs)
	s := a.pacsSide()
	s.mu.Lock()
	p, old := s.poller, s.sig
	s.mu.Unlock()
	if p != nil && sig != old {
		p.Kick()
	}
}

func refsSignature(refs []pacs.Referral) string {
	var b strings.Builder
	for _, r := range refs {
		fmt.Fprintf(&b, "%s|%s|%s|%s;", r.Key, r.Accession, r.StudyUID, r.PatientID)
	}
	return b.String()
}

// RefreshImages asks the PACS about today's referrals now (the window's
// refresh); while the PACS is down it waits for the backoff.
func (a *App) RefreshImages() {
	s := a.pacsSide()
	s.mu.Lock()
	p := s.poller
	s.mu.Unlock()
	if p != nil {
		p.Kick()
	}
}

// pacsReferrals is the poller's list: today's referrals, except those
// Provet cancelled.
func (a *App) pacsReferrals() []pacs.Referral {
	refs, byKey := a.todaysRefs()
	s := a.pacsSide()
	s.mu.Lock()
	s.refs, s.sig = byKey, refsSignature(refs)
	s.mu.Unlock()
	return refs
}

// todaysRefs lists today's referrals for the PACS, with what completion by
// images needs to know of each.
func (a *App) todaysRefs() ([]pacs.Referral, map[string]imaging.Ref) {
	now := sideClock{a.pacsSide()}.Now()
	cfg := a.Effective().DICOM
	var refs []pacs.Referral
	byKey := map[string]imaging.Ref{}
	_ = a.repo.Day(now.Format("20060102"), func(rec records.Record) bool {
		if rec.ProvetState == provet.StatusCancelled.String() {
			return true
		}
		r := imagingRef(rec, cfg)
		refs = append(refs, r.Referral)
		byKey[r.Key] = r
		return true
	})
	slices.SortFunc(refs, func(x, y pacs.Referral) int { return strings.Compare(x.Key, y.Key) })
	return refs, byKey
}

// imagingRef is a record as the PACS side sees it.
func imagingRef(rec records.Record, cfg DICOMConfig) imaging.Ref {
	it := rec.Item
	day := rec.Scheduled()
	if day.IsZero() {
		day = rec.Arrived
	}
	open := rec.OnWorklist() && it.SPSStatus != "COMPLETED" && it.SPSStatus != "DISCONTINUED"
	return imaging.Ref{
		Referral: pacs.Referral{Key: it.Key, Accession: it.AccessionNumber, StudyUID: it.StudyInstanceUID,
			PatientID: it.PatientID, Date: day},
		Open:   open,
		Policy: completionPolicy(cfg, it.StationAETitle, it.Modality),
	}
}

// completionPolicy is the device profile's choice for a referral: the
// profile of its scheduled station, else one that serves its modality,
// else the default profile.
func completionPolicy(cfg DICOMConfig, stationAE, modality string) imaging.Policy {
	p, ok := devices.Profile(cfg, stationAE)
	if !ok || stationAE == "" {
		p = cfg.Default
		for _, q := range cfg.Profiles {
			if slices.ContainsFunc(q.Modalities, func(m string) bool { return strings.EqualFold(m, modality) }) {
				p = q
				break
			}
		}
	}
	return imaging.Policy{CompleteByImages: p.CompleteByImages, Quiet: time.Duration(p.QuietPeriod)}
}

// pacsRound takes in a poller round.
func (a *App) pacsRound(r pacs.Round) {
	book, err := a.imagingBook()
	if err != nil {
		return
	}
	s := a.pacsSide()
	s.mu.Lock()
	refs := s.refs
	s.mu.Unlock()
	r, refs = a.claimByStored(r, refs)
	book.Observe(r, refs)
}

// claimByStored gives the round's unclaimed studies to stored referrals of
// other days whose accession number or study UID they carry (an exam
// scheduled yesterday and done today): those are not unmatched exams.
func (a *App) claimByStored(r pacs.Round, refs map[string]imaging.Ref) (pacs.Round, map[string]imaging.Ref) {
	if len(r.Unmatched) == 0 {
		return r, refs
	}
	byAcc, byUID := map[string]records.Record{}, map[string]records.Record{}
	_ = a.repo.Each(func(rec records.Record) bool {
		if _, today := refs[rec.Item.Key]; !today && rec.ProvetState != provet.StatusCancelled.String() {
			if rec.Item.AccessionNumber != "" {
				byAcc[rec.Item.AccessionNumber] = rec
			}
			if rec.Item.StudyInstanceUID != "" {
				byUID[rec.Item.StudyInstanceUID] = rec
			}
		}
		return true
	})
	cfg := a.Effective().DICOM
	out := maps.Clone(refs)
	if out == nil {
		out = map[string]imaging.Ref{}
	}
	claimed := map[string]int{} // referral key → its index in r.Matches
	var unmatched []pacs.Study
	for _, st := range r.Unmatched {
		rec, by := byAcc[st.Accession], pacs.ByAccession
		if st.Accession == "" || rec.Item.Key == "" {
			rec, by = byUID[st.UID], pacs.ByStudyUID
		}
		if rec.Item.Key == "" || st.UID == "" && by == pacs.ByStudyUID {
			unmatched = append(unmatched, st)
			continue
		}
		if i, ok := claimed[rec.Item.Key]; ok {
			r.Matches[i].Studies = append(r.Matches[i].Studies, st)
			continue
		}
		ref := imagingRef(rec, cfg)
		out[ref.Key] = ref
		claimed[ref.Key] = len(r.Matches)
		r.Matches = append(slices.Clip(r.Matches), pacs.Match{Referral: ref.Referral, By: by, Studies: []pacs.Study{st}})
	}
	r.Unmatched = unmatched
	return r, out
}

// PACSState is the PACS's reachability in words for the status line: ""
// while it answers (or none is configured), "PACS unreachable since 10:42
// (...); next try at ..." while it does not.
func (a *App) PACSState() string {
	s := a.pacsSide()
	s.mu.Lock()
	p := s.poller
	s.mu.Unlock()
	if p == nil {
		return ""
	}
	if st := p.State(); !st.Up {
		return st.String() + "; the worklist is served as before."
	}
	return ""
}

// listUnscheduled puts an MPPS step that named no open order on the
// unmatched list.
func (a *App) listUnscheduled(step mpps.Step, by string) {
	book, err := a.imagingBook()
	if err == nil {
		err = book.AddStep(step, by)
	}
	if err != nil {
		a.log.Error("an exam without an order could not be listed as unmatched", "err", err)
	}
}
