// Package imaging keeps the PACS side's state: per referral, the images the
// PACS holds and when they last changed; the exams that belong to no
// referral (PACS studies no referral claims, MPPS steps that named no open
// order), with the technician's links and dismissals; and, for devices
// without MPPS, the moment a referral's images have been quiet long enough
// to complete its order.
//
// What must survive a restart (the unmatched exams, links, dismissals) is
// one small JSON record in the store's meta bucket, bounded in size; the
// images per referral are asked of the PACS again after a restart.
package imaging

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
	"github.com/vetbridge/vetbridge/dicom/mpps"
)

// DefaultQuiet is how long no new image may arrive before a referral's
// exam counts as finished, for devices completed by images.
const DefaultQuiet = 10 * time.Minute

// Bounds of the stored record: a clinic has a few unmatched exams a day;
// beyond these the oldest go, with a log line.
const (
	maxUnmatched = 500
	maxLinks     = 1000
	maxDismissed = 1000
	// keepDecisions is how long a link or dismissal is remembered; a study
	// older than that is no longer in the day's query anyway.
	keepDecisions = 90 * 24 * time.Hour
)

// metaKey names the stored record in the store's meta bucket.
const metaKey = "imaging/v1"

// Meta is the part of the store the Book keeps its record in.
type Meta interface {
	GetMeta(key string) ([]byte, bool, error)
	PutMeta(key string, value []byte) error
}

// Policy says whether a referral's order is completed by its images, and
// after how long without a new one.
type Policy struct {
	CompleteByImages bool
	Quiet            time.Duration // 0: DefaultQuiet
}

// Ref is a referral as the Book sees it at a round.
type Ref struct {
	pacs.Referral
	// Open means the order may still be completed: on the worklist, and
	// neither completed nor discontinued.
	Open   bool
	Policy Policy
}

// ByLink marks a referral's images found through the technician's link.
const ByLink pacs.MatchedBy = "linked"

// Images is what the PACS holds for one referral.
type Images struct {
	Key       string         `json:"key"`
	Accession string         `json:"accession"`
	By        pacs.MatchedBy `json:"by"`
	Studies   []pacs.Study   `json:"studies"`
	// Linked is set when the technician linked an exam to the referral;
	// the referral then counts as imaged even when the linked exam is an
	// MPPS step with no counts.
	Linked    bool      `json:"linked,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
	// Changed is when the counts last changed, by the Book's clock; the
	// quiet period runs from it.
	Changed time.Time `json:"changed,omitzero"`
	// Completed is set once the order was handed to the outbox as
	// completed by its images.
	Completed bool `json:"completed,omitempty"`
}

func (im Images) match() pacs.Match {
	return pacs.Match{Referral: pacs.Referral{Key: im.Key, Accession: im.Accession}, By: im.By, Studies: im.Studies}
}

// Series and Instances sum the studies' counts.
func (im Images) Series() int    { return im.match().Series() }
func (im Images) Instances() int { return im.match().Instances() }

// Imaged says whether the referral has images, or a linked exam.
func (im Images) Imaged() bool { return im.Instances() > 0 || im.Linked }

// Summary is the worklist row's words: "no images yet", "2 series, 14
// images, 10:42", or "linked exam" for a linked step without counts.
func (im Images) Summary(loc *time.Location) string {
	if im.Instances() == 0 && im.Linked {
		return "linked exam, no images in the PACS yet"
	}
	return im.match().Summary(loc)
}

// Line is the `vetbridge images` line: "ACCESSION studies=S series=R instances=I".
func (im Images) Line() string { return im.match().ImagesLine() }

// StudyUID is the study the viewer should open: the latest one with a UID.
func (im Images) StudyUID() string {
	var uid string
	var latest time.Time
	for _, s := range im.Studies {
		t, _ := s.Start(nil)
		if s.UID != "" && (uid == "" || t.After(latest)) {
			uid, latest = s.UID, t
		}
	}
	return uid
}

// Link is the technician's decision that an exam belongs to a referral.
type Link struct {
	Key  string    `json:"key"`
	Exam Exam      `json:"exam"`
	At   time.Time `json:"at"`
}

// record is what the Book stores. Maps are keyed by exam ID.
type record struct {
	Unmatched map[string]Exam      `json:"unmatched"`
	Links     map[string]Link      `json:"links"`
	Dismissed map[string]time.Time `json:"dismissed"`
}

// Options wire a Book.
type Options struct {
	Meta  Meta
	Clock pacs.Clock // nil: the system clock
	// Complete hands a referral's order to the outbox as completed by its
	// images; nil disables completion (a command that looks only).
	Complete func(key string) error
	// OnChange runs after the images or the unmatched exams changed; it
	// must not block.
	OnChange func()
	Log      *slog.Logger
}

// Book is the PACS side's state. It is safe for concurrent use.
type Book struct {
	o Options

	mu     sync.Mutex
	images map[string]Images // by referral key
	// completed holds the referrals handed to the outbox as completed by
	// their images: a round computed while the hand-over ran must not
	// forget it.
	completed map[string]bool
	rec       record
	stored    []byte // the record as last written, to skip writes of no change
}

// Open loads the stored record; an unreadable one is logged and replaced,
// since links and dismissals are conveniences the technician can redo.
func Open(o Options) (*Book, error) {
	if o.Clock == nil {
		o.Clock = pacs.SystemClock
	}
	if o.OnChange == nil {
		o.OnChange = func() {}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &Book{o: o, images: map[string]Images{}, completed: map[string]bool{}}
	raw, ok, err := o.Meta.GetMeta(metaKey)
	if err != nil {
		return nil, fmt.Errorf("read the unmatched exams: %w", err)
	}
	if ok {
		if err := json.Unmarshal(raw, &b.rec); err != nil {
			o.Log.Warn("the stored unmatched exams are unreadable and start empty", "err", err)
			b.rec = record{}
		} else {
			b.stored = raw
		}
	}
	if b.rec.Unmatched == nil {
		b.rec.Unmatched = map[string]Exam{}
	}
	if b.rec.Links == nil {
		b.rec.Links = map[string]Link{}
	}
	if b.rec.Dismissed == nil {
		b.rec.Dismissed = map[string]time.Time{}
	}
	// The map keys are the IDs the technician acts on.
	for id, e := range b.rec.Unmatched {
		e.ID = id
		b.rec.Unmatched[id] = e
	}
	b.prune()
	return b, nil
}

// Images returns what the Book knows of one referral's images.
func (b *Book) Images(key string) (Images, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	im, ok := b.images[key]
	im.Studies = slices.Clone(im.Studies)
	return im, ok
}

// Unmatched lists the exams no referral claims, oldest first.
func (b *Book) Unmatched() []Exam {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Collect(maps.Values(b.rec.Unmatched))
	slices.SortFunc(out, func(x, y Exam) int {
		return cmp.Or(cmp.Compare(x.Date, y.Date), cmp.Compare(x.Time, y.Time), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// LinkedTo returns the keys exams were linked to, by exam ID.
func (b *Book) LinkedTo(id string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.rec.Links[id]
	return l.Key, ok
}

// ErrNoExam is returned for an exam ID that is not in the unmatched list.
var ErrNoExam = errors.New("no such unmatched exam: it may have been linked or dismissed already; list them again")

// Link assigns an unmatched exam to a referral for good: the referral
// counts as imaged, and its viewer opens the exam's study. The caller
// checks that the referral exists.
func (b *Book) Link(id, key string) error {
	b.mu.Lock()
	e, ok := b.rec.Unmatched[id]
	if !ok {
		b.mu.Unlock()
		return ErrNoExam
	}
	now := b.o.Clock.Now()
	delete(b.rec.Unmatched, id)
	b.rec.Links[id] = Link{Key: key, Exam: e, At: now}
	im, ok := b.images[key]
	if !ok {
		im = Images{Key: key, CheckedAt: now}
	}
	im = b.withLinks(im, nil, now)
	// The quiet period of completion by images starts again: the
	// referral's images changed.
	im.Changed = now
	b.images[key] = im
	err := b.saveLocked()
	b.mu.Unlock()
	b.o.OnChange()
	return err
}

// Dismiss takes an exam off the unmatched list for good.
func (b *Book) Dismiss(id string) error {
	b.mu.Lock()
	if _, ok := b.rec.Unmatched[id]; !ok {
		b.mu.Unlock()
		return ErrNoExam
	}
	delete(b.rec.Unmatched, id)
	b.rec.Dismissed[id] = b.o.Clock.Now()
	err := b.saveLocked()
	b.mu.Unlock()
	b.o.OnChange()
	return err
}

// AddStep lists a performed step that named no open order.
func (b *Book) AddStep(st mpps.Step, by string) error {
	if st.SOPInstanceUID == "" {
		return fmt.Errorf("an MPPS step without an instance UID cannot be listed")
	}
	b.mu.Lock()
	e := ExamFromStep(st, by, b.o.Clock.Now())
	if _, done := b.decided(e.ID); done {
		b.mu.Unlock()
		return nil
	}
	if old, ok := b.rec.Unmatched[e.ID]; ok {
		e.Seen = old.Seen
	}
	b.rec.Unmatched[e.ID] = e
	err := b.saveLocked()
	b.mu.Unlock()
	b.o.OnChange()
	return err
}

// decided says whether the technician already linked or dismissed the exam.
func (b *Book) decided(id string) (string, bool) {
	if l, ok := b.rec.Links[id]; ok {
		return l.Key, true
	}
	_, ok := b.rec.Dismissed[id]
	return "", ok
}

// Observe takes in a round of the poller: refs are the referrals it asked
// about (by key). It updates the images per referral and the unmatched
// list, and completes the orders whose images have been quiet long enough.
func (b *Book) Observe(r pacs.Round, refs map[string]Ref) {
	b.mu.Lock()
	now := b.o.Clock.Now()
	claimed := b.linkedStudies()
	fresh := map[string]pacs.Study{}
	for _, m := range r.Matches {
		for _, s := range m.Studies {
			fresh[s.UID] = s
		}
	}
	for _, s := range r.Unmatched {
		fresh[s.UID] = s
	}
	changed := false
	images := make(map[string]Images, len(r.Matches))
	for _, m := range r.Matches {
		im := Images{Key: m.Referral.Key, Accession: m.Referral.Accession, By: m.By, CheckedAt: r.At}
		for _, s := range m.Studies {
			// An explicit link wins over another referral's patient-and-day match.
			if k, ok := claimed[s.UID]; !ok || k == im.Key {
				im.Studies = append(im.Studies, s)
			}
		}
		if len(im.Studies) == 0 {
			im.By = pacs.NotFound
		}
		im = b.withLinks(im, fresh, now)
		im = b.carry(im, now, &changed)
		images[im.Key] = im
	}
	b.images = images
	if b.noteUnmatched(r, now) {
		changed = true
	}
	due := b.due(refs, now)
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		b.o.Log.Warn("the unmatched exams could not be saved; they are listed again at the next round", "err", err)
	}
	for _, key := range due {
		b.complete(key)
	}
	if changed || len(due) > 0 {
		b.o.OnChange()
	}
}

// linkedStudies maps each linked study UID to its referral.
func (b *Book) linkedStudies() map[string]string {
	out := map[string]string{}
	for _, l := range b.rec.Links {
		if l.Exam.StudyUID != "" {
			out[l.Exam.StudyUID] = l.Key
		}
	}
	return out
}

// withLinks adds the exams linked to im's referral: the PACS's current
// counts when the round saw the study, the counts at linking otherwise.
func (b *Book) withLinks(im Images, fresh map[string]pacs.Study, now time.Time) Images {
	for _, l := range b.rec.Links {
		if l.Key != im.Key {
			continue
		}
		im.Linked = true
		if im.By == pacs.NotFound {
			im.By = ByLink
		}
		if l.Exam.StudyUID != "" && slices.ContainsFunc(im.Studies, func(s pacs.Study) bool { return s.UID == l.Exam.StudyUID }) {
			continue
		}
		s, ok := fresh[l.Exam.StudyUID]
		if !ok || l.Exam.StudyUID == "" {
			s = l.Exam.Study()
		}
		if s.UID != "" || s.Instances > 0 {
			im.Studies = append(im.Studies, s)
		}
	}
	return im
}

// carry keeps what the Book knew of the referral before this round: when
// its counts last changed, and whether it was completed.
func (b *Book) carry(im Images, now time.Time, changed *bool) Images {
	old, ok := b.images[im.Key]
	im.Completed = (ok && old.Completed) || b.completed[im.Key]
	switch {
	case !ok:
		im.Changed = now
		*changed = *changed || im.Imaged()
	case old.Instances() != im.Instances() || old.Series() != im.Series() || old.Linked != im.Linked ||
		old.StudyUID() != im.StudyUID():
		im.Changed = now
		*changed = true
	default:
		im.Changed = old.Changed
	}
	return im
}

// noteUnmatched lists the round's unclaimed studies, and takes off the list
// the studies of the round's day that some referral claims now. Exams of
// other days stay until the technician links or dismisses them.
func (b *Book) noteUnmatched(r pacs.Round, now time.Time) bool {
	changed := false
	day := r.At.Format("20060102")
	seen := map[string]bool{}
	for _, s := range r.Unmatched {
		e := ExamFromStudy(s, now)
		seen[e.ID] = true
		if _, done := b.decided(e.ID); done {
			continue
		}
		old, ok := b.rec.Unmatched[e.ID]
		if ok {
			e.Seen = old.Seen
		}
		if !ok || old.Instances != e.Instances || old.Series != e.Series || old.Accession != e.Accession {
			changed = true
		}
		b.rec.Unmatched[e.ID] = e
	}
	for id, e := range b.rec.Unmatched {
		if e.Source == SourcePACS && e.Date == day && !seen[id] {
			// A referral claims it now (it synced after the study came),
			// or the PACS no longer holds it.
			delete(b.rec.Unmatched, id)
			changed = true
		}
	}
	return changed
}

// due lists the referrals whose orders are to be completed by images now.
func (b *Book) due(refs map[string]Ref, now time.Time) []string {
	var out []string
	for key, im := range b.images {
		ref, ok := refs[key]
		if !ok || !ref.Open || !ref.Policy.CompleteByImages || im.Completed || !im.Imaged() {
			continue
		}
		quiet := cmp.Or(ref.Policy.Quiet, DefaultQuiet)
		if now.Sub(im.Changed) >= quiet {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// complete hands one order to the outbox; a failure is retried at the
// next round.
func (b *Book) complete(key string) {
	if b.o.Complete == nil {
		return
	}
	if err := b.o.Complete(key); err != nil {
		b.o.Log.Warn("order not yet completed by its images; retried at the next round", "key", key, "err", err)
		return
	}
	b.mu.Lock()
	b.completed[key] = true
	if im, ok := b.images[key]; ok {
		im.Completed = true
		b.images[key] = im
	}
	b.mu.Unlock()
}

// Looked stores one referral's fresh match (the detail pane's lookup)
// and returns its images.
func (b *Book) Looked(m pacs.Match) Images {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.o.Clock.Now()
	im := Images{Key: m.Referral.Key, Accession: m.Referral.Accession, By: m.By, Studies: m.Studies, CheckedAt: now}
	im = b.withLinks(im, nil, now)
	changed := false
	im = b.carry(im, now, &changed)
	if m.Referral.Key != "" {
		b.images[im.Key] = im
	}
	return im
}

// saveLocked prunes the record to its bounds and writes it when it changed.
func (b *Book) saveLocked() error {
	b.prune()
	raw, err := json.Marshal(b.rec)
	if err != nil {
		return err
	}
	if string(raw) == string(b.stored) {
		return nil
	}
	if err := b.o.Meta.PutMeta(metaKey, raw); err != nil {
		return fmt.Errorf("save the unmatched exams: %w", err)
	}
	b.stored = raw
	return nil
}

func (b *Book) prune() {
	now := b.o.Clock.Now()
	for id, l := range b.rec.Links {
		if now.Sub(l.At) > keepDecisions {
			delete(b.rec.Links, id)
		}
	}
	for id, at := range b.rec.Dismissed {
		if now.Sub(at) > keepDecisions {
			delete(b.rec.Dismissed, id)
		}
	}
	dropOldest(b.rec.Links, maxLinks, func(l Link) time.Time { return l.At }, nil)
	dropOldest(b.rec.Dismissed, maxDismissed, func(t time.Time) time.Time { return t }, nil)
	dropOldest(b.rec.Unmatched, maxUnmatched, func(e Exam) time.Time { return e.Seen }, func(e Exam) {
		b.o.Log.Warn("too many unmatched exams: the oldest leaves the list; link or dismiss them in the window",
			"exam", e.ID, "date", e.Date)
	})
}

// dropOldest keeps the newest limit entries of m.
func dropOldest[V any](m map[string]V, limit int, at func(V) time.Time, dropped func(V)) {
	if len(m) <= limit {
		return
	}
	ids := slices.Collect(maps.Keys(m))
	slices.SortFunc(ids, func(x, y string) int { return cmp.Or(at(m[x]).Compare(at(m[y])), cmp.Compare(x, y)) })
	for _, id := range ids[:len(ids)-limit] {
		if dropped != nil {
			dropped(m[id])
		}
		delete(m, id)
	}
}

// Ask runs one round without a poller, for a command run while VetBridge is
// not running: the day's studies, then each referral not found among them.
func Ask(ctx context.Context, c pacs.Client, now time.Time, refs []pacs.Referral) (pacs.Round, error) {
	m := pacs.Matcher{Client: c}
	day, err := m.Day(ctx, now, refs)
	if err != nil {
		return pacs.Round{}, err
	}
	for i, mt := range day.Matches {
		if mt.By != pacs.NotFound {
			continue
		}
		if day.Matches[i], err = m.Match(ctx, mt.Referral); err != nil {
			return pacs.Round{}, err
		}
	}
	return pacs.Round{At: now, Matches: day.Matches, Unmatched: day.Unmatched}, nil
}
