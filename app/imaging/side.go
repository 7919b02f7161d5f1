package imaging

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetbridge/vetbridge/app/devices"
	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/app/provet"
	"github.com/vetbridge/vetbridge/app/records"
	"github.com/vetbridge/vetbridge/app/settings"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// SideOptions wire a Side to the installation it serves.
type SideOptions struct {
	Repo *records.Repo
	Meta Meta
	// Config is the configuration in use; the Side reads it for every
	// round and never while holding its own lock.
	Config func() settings.Config
	// Complete hands an order to the status outbox as completed (by names
	// why); queued is false when the outbox had nothing to do.
	Complete func(key, by string) (queued bool, err error)
	// OnImages runs when images or unmatched exams changed; OnState when
	// the PACS's reachability did. Neither may block.
	OnImages func()
	OnState  func()
	Log      *slog.Logger
}

// Side is one installation's PACS side: the Book (images, unmatched exams)
// and, while Run runs, the poller that asks the PACS about today's
// referrals.
//
// Lock order: mu is never held while calling Config or the callbacks, since
// the facade may hold its own lock while it asks State.
type Side struct {
	o SideOptions

	bookOnce sync.Once
	book     *Book
	bookErr  error
	opened   atomic.Pointer[Book] // book, once open

	changes chan struct{}

	mu      sync.Mutex
	clock   pacs.Clock
	running bool
	poller  *pacs.Poller
	refs    map[string]Ref // the latest round's referrals
	sig     string         // what those referrals were, to notice a change
}

// NewSide makes a Side; nothing is read or asked before it is used.
func NewSide(o SideOptions) *Side {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	for _, fn := range []*func(){&o.OnImages, &o.OnState} {
		if *fn == nil {
			*fn = func() {}
		}
	}
	return &Side{o: o, clock: pacs.SystemClock, changes: make(chan struct{}, 1)}
}

// SetClock replaces the clock of the poller and of completion by images,
// for tests and demonstrations; call it before Run.
func (s *Side) SetClock(c pacs.Clock) {
	s.mu.Lock()
	s.clock = c
	s.mu.Unlock()
}

// sideClock is the Book's and the poller's clock: whatever SetClock set.
type sideClock struct{ s *Side }

func (c sideClock) Now() time.Time                      { return c.s.getClock().Now() }
func (c sideClock) NewTimer(d time.Duration) pacs.Timer { return c.s.getClock().NewTimer(d) }

func (s *Side) getClock() pacs.Clock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// Book opens the Book once.
func (s *Side) Book() (*Book, error) {
	s.bookOnce.Do(func() {
		s.book, s.bookErr = Open(Options{
			Meta: s.o.Meta, Clock: sideClock{s}, Log: s.o.Log, Complete: s.complete, OnChange: s.o.OnImages,
		})
		if s.bookErr == nil {
			s.opened.Store(s.book)
		}
	})
	return s.book, s.bookErr
}

// complete is the Book's hand to the outbox.
func (s *Side) complete(key string) error {
	if s.o.Complete == nil {
		return nil
	}
	queued, err := s.o.Complete(key, "images in the PACS")
	if err == nil && queued {
		s.o.Log.Info("order completed by its images in the PACS", "key", key)
	}
	return err
}

// Changed tells a running Side that the settings or the referrals may have
// changed: a new PACS connection rebuilds the poller, new referrals of
// today cause a round at once. It never blocks.
func (s *Side) Changed() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// Run asks the configured PACS, in rounds, for today's referrals' images
// until ctx ends, and rebuilds the connection when the PACS settings
// change; without a PACS it waits for one to be configured. A second call
// while one runs only waits for ctx.
func (s *Side) Run(ctx context.Context) error {
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
		s.running, s.poller = false, nil
		s.mu.Unlock()
	}()
	if _, err := s.Book(); err != nil {
		return err
	}
	for ctx.Err() == nil {
		s.poll(ctx)
	}
	return nil
}

// target is what a poller is built from; a change rebuilds it.
type target struct {
	cfg pacs.Config
	ae  string
}

func (s *Side) target() target {
	c := s.o.Config()
	return target{c.PACS, c.DICOM.AETitle}
}

// poll runs one poller for the current settings until they change or ctx
// ends.
func (s *Side) poll(ctx context.Context) {
	tg := s.target()
	var client pacs.Client
	if tg.cfg.Configured() {
		var err error
		if client, err = pacs.New(tg.cfg, pacs.Options{CallingAE: tg.ae, Logger: s.o.Log}); err != nil {
			s.o.Log.Warn("PACS not asked", "err", err)
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if client == nil {
		close(done)
	} else {
		p := pacs.NewPoller(pacs.PollerConfig{
			Client: client, Referrals: s.referrals, Report: s.round,
			OnState: func(pacs.State) { s.o.OnState() }, Clock: sideClock{s}, Logger: s.o.Log,
		})
		s.setPoller(p)
		go func() {
			defer close(done)
			_ = p.Run(pctx)
		}()
	}
	defer func() {
		cancel()
		<-done
		s.setPoller(nil)
		s.o.OnState()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changes:
			if s.target() != tg {
				return
			}
			s.kickOnNewReferrals()
		}
	}
}

func (s *Side) setPoller(p *pacs.Poller) {
	s.mu.Lock()
	s.poller = p
	s.mu.Unlock()
}

func (s *Side) getPoller() *pacs.Poller {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poller
}

// kickOnNewReferrals asks for a round at once when today's referrals
// changed (a sync brought one, a walk-in was created); the Book's own
// updates change nothing here, so they cause no round.
func (s *Side) kickOnNewReferrals() {
	refs, _ := s.todaysRefs()
	sig := refsSignature(refs)
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

// Refresh asks the PACS about today's referrals now (the window's
// refresh); while the PACS is down it waits for the backoff.
func (s *Side) Refresh() {
	if p := s.getPoller(); p != nil {
		p.Kick()
	}
}

// referrals is the poller's list: today's referrals, except those Provet
// cancelled.
func (s *Side) referrals() []pacs.Referral {
	refs, byKey := s.todaysRefs()
	s.mu.Lock()
	s.refs, s.sig = byKey, refsSignature(refs)
	s.mu.Unlock()
	return refs
}

// todaysRefs lists today's referrals for the PACS, with what completion by
// images needs to know of each.
func (s *Side) todaysRefs() ([]pacs.Referral, map[string]Ref) {
	now := sideClock{s}.Now()
	cfg := s.o.Config().DICOM
	var refs []pacs.Referral
	byKey := map[string]Ref{}
	_ = s.o.Repo.Day(now.Format("20060102"), func(rec records.Record) bool {
		if rec.ProvetState == provet.StatusCancelled.String() {
			return true
		}
		r := RefOf(rec, cfg)
		refs = append(refs, r.Referral)
		byKey[r.Key] = r
		return true
	})
	slices.SortFunc(refs, func(x, y pacs.Referral) int { return strings.Compare(x.Key, y.Key) })
	return refs, byKey
}

// RefOf is a stored referral as the PACS side sees it, with the completion
// policy of its device.
func RefOf(rec records.Record, cfg settings.DICOMConfig) Ref {
	it := rec.Item
	day := rec.Scheduled()
	if day.IsZero() {
		day = rec.Arrived
	}
	open := rec.OnWorklist() && it.SPSStatus != "COMPLETED" && it.SPSStatus != "DISCONTINUED"
	return Ref{
		Referral: pacs.Referral{Key: it.Key, Accession: it.AccessionNumber, StudyUID: it.StudyInstanceUID,
			PatientID: it.PatientID, Date: day},
		Open:   open,
		Policy: PolicyFor(cfg, it.StationAETitle, it.Modality),
	}
}

// PolicyFor is the device profile's choice for a referral: the profile of
// its scheduled station, else one that serves its modality, else the
// default profile.
func PolicyFor(cfg settings.DICOMConfig, stationAE, modality string) Policy {
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
	return Policy{CompleteByImages: p.CompleteByImages, Quiet: time.Duration(p.QuietPeriod)}
}

// round takes in a poller round.
func (s *Side) round(r pacs.Round) {
	book, err := s.Book()
	if err != nil {
		return
	}
	s.mu.Lock()
	refs := s.refs
	s.mu.Unlock()
	r, refs = s.claimByStored(r, refs)
	book.Observe(r, refs)
}

// claimByStored gives the round's unclaimed studies to stored referrals of
// other days whose accession number or study UID they carry (an exam
// scheduled yesterday and done today): those are not unmatched exams.
func (s *Side) claimByStored(r pacs.Round, refs map[string]Ref) (pacs.Round, map[string]Ref) {
	if len(r.Unmatched) == 0 {
		return r, refs
	}
	byAcc, byUID := map[string]records.Record{}, map[string]records.Record{}
	_ = s.o.Repo.Each(func(rec records.Record) bool {
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
	cfg := s.o.Config().DICOM
	out := maps.Clone(refs)
	if out == nil {
		out = map[string]Ref{}
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
		ref := RefOf(rec, cfg)
		out[ref.Key] = ref
		claimed[ref.Key] = len(r.Matches)
		r.Matches = append(slices.Clip(r.Matches), pacs.Match{Referral: ref.Referral, By: by, Studies: []pacs.Study{st}})
	}
	r.Unmatched = unmatched
	return r, out
}

// State is the PACS's reachability in words for the status line: "" while
// it answers (or none is configured), "PACS unreachable since 10:42 (...);
// next try at ..." while it does not. It reads no configuration, so a
// caller may hold its own lock.
func (s *Side) State() string {
	p := s.getPoller()
	if p == nil {
		return ""
	}
	if st := p.State(); !st.Up {
		return st.String() + "; the worklist is served as before."
	}
	return ""
}

// ListStep puts an MPPS step that named no open order on the unmatched
// list.
func (s *Side) ListStep(step mpps.Step, by string) {
	book, err := s.Book()
	if err == nil {
		err = book.AddStep(step, by)
	}
	if err != nil {
		s.o.Log.Error("an exam without an order could not be listed as unmatched", "err", err)
	}
}
