package records

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/vetbridge/vetbridge/dicom/mpps"
	"github.com/vetbridge/vetbridge/dicom/worklist"
	"github.com/vetbridge/vetbridge/store"
)

// Repo keeps the records in the store and mirrors those on the worklist in
// the index the DICOM server answers from, so the two never disagree.
type Repo struct {
	st       *store.Store
	idx      *worklist.Index
	log      *slog.Logger
	onChange func()

	mu sync.Mutex
	// startKeys are the keys of the records Open found, until StartKeys
	// hands them over.
	startKeys []string
}

// Open loads every stored record into the index, so modalities are served
// the moment the server starts, before any contact with Provet. onChange
// runs after every change (nil: nothing); it must not block. Unreadable
// records are logged and skipped: the next sync writes them again.
func Open(st *store.Store, log *slog.Logger, onChange func()) (*Repo, error) {
	if onChange == nil {
		onChange = func() {}
	}
	r := &Repo{st: st, idx: worklist.NewIndex(), log: log, onChange: onChange}
	all, err := loadAll(st)
	if err != nil {
		return nil, fmt.Errorf("load the stored worklist: %w", err)
	}
	items := make([]worklist.Item, 0, len(all))
	r.startKeys = make([]string, 0, len(all))
	for i := range all {
		l := &all[i]
		if l.err != nil {
			log.Warn("skipping an unreadable stored referral", "key", l.key, "err", l.err)
			continue
		}
		if l.view.Item.Key != l.key {
			// The store's key is the one Get and Apply use; an item
			// without it would fail the whole load with ErrNoKey.
			l.view.Item.Key = l.key
		}
		if onWorklist(l.view.ProvetState) {
			// The item's key is the store's key; taking the item's
			// string shares its bytes with the index.
			r.startKeys = append(r.startKeys, l.view.Item.Key)
			items = append(items, l.view.Item)
		} else {
			// Not interned: its strings may share the record's bytes.
			r.startKeys = append(r.startKeys, strings.Clone(l.view.Item.Key))
		}
		*l = loaded{} // the index copies the item; free the rest as we go
	}
	all = nil
	if err := r.idx.ReplaceAll(items); err != nil {
		return nil, fmt.Errorf("load the stored worklist: %w", err)
	}
	// The load read most of the file through bbolt's map; the index now
	// holds what queries need, so those pages need not stay resident.
	st.ReleaseMapped()
	return r, nil
}

// StartKeys returns the keys of the readable records Open found, so a
// caller that needs them at start (which referrals the technician has
// already been shown) does not decode the whole store a second time. They
// are handed over once, then forgotten: later calls return nil.
func (r *Repo) StartKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.startKeys
	r.startKeys = nil
	return k
}

// Index is what the DICOM worklist service matches queries against.
func (r *Repo) Index() *worklist.Index { return r.idx }

// Store is the database underneath, for the sync cursor and the outbox.
func (r *Repo) Store() *store.Store { return r.st }

// Waiting counts the referrals scheduled and not yet started: the items
// the index holds (those on the worklist) whose step status is SCHEDULED
// or empty. The index keeps its counts by status as items come and go, so
// the count the tray asks for often costs nothing however large the
// worklist, and no set of keys is kept beside it.
func (r *Repo) Waiting() int {
	c := r.idx.StatusCounts()
	return c["SCHEDULED"] + c[""]
}

// Get returns one record by key.
func (r *Repo) Get(key string) (Record, bool) {
	si, ok, err := r.st.GetItem(key)
	if err != nil || !ok {
		return Record{}, false
	}
	rec, err := Decode(si.Data)
	return rec, err == nil
}

// Apply writes records and removes keys in one transaction, then mirrors
// both in the index.
func (r *Repo) Apply(puts []Record, deletes []string) error {
	items := make([]store.Item, 0, len(puts))
	for _, rec := range puts {
		b, err := rec.Encode()
		if err != nil {
			return err
		}
		items = append(items, store.Item{Key: rec.Item.Key, Date: rec.Item.StartDate, Refs: rec.refs(), Data: b})
	}
	if err := r.st.ApplyItems(items, deletes); err != nil {
		return fmt.Errorf("save the worklist: %w", err)
	}
	var onList []worklist.Item
	off := append([]string(nil), deletes...)
	for _, rec := range puts {
		if rec.OnWorklist() {
			onList = append(onList, rec.Item)
		} else {
			off = append(off, rec.Item.Key)
		}
	}
	r.idx.Delete(off...)
	if err := r.idx.Put(onList...); err != nil {
		return err
	}
	r.onChange()
	return nil
}

// Each calls fn for every stored record, in key order, until fn returns
// false. Unreadable records are skipped.
func (r *Repo) Each(fn func(Record) bool) error {
	return stopped(r.st.AllItems(eachDecoded(fn)))
}

// Day calls fn for the records scheduled on day (YYYYMMDD).
func (r *Repo) Day(day string, fn func(Record) bool) error {
	return stopped(r.st.ItemsByDate(day, day, eachDecoded(fn)))
}

// errStop ends a walk early; it never reaches a caller.
var errStop = errors.New("stop")

func stopped(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func eachDecoded(fn func(Record) bool) func(store.Item) error {
	return func(si store.Item) error {
		rec, err := Decode(si.Data)
		if err != nil {
			return nil
		}
		if !fn(rec) {
			return errStop
		}
		return nil
	}
}

// OnWorklist returns the records modalities are offered whose key starts
// with prefix: the open orders of one Provet tenant. It reads the index,
// not the whole store.
func (r *Repo) OnWorklist(prefix string) []Record {
	var out []Record
	for _, it := range r.idx.All() {
		if !strings.HasPrefix(it.Key, prefix) {
			continue
		}
		if rec, ok := r.Get(it.Key); ok {
			out = append(out, rec)
		}
	}
	return out
}

// ForStep finds the order an MPPS step performed, in mpps.Link's order: by
// SPS ID, then accession number, then Study Instance UID. Only orders still
// on the worklist are candidates: a step for an order Provet has closed must
// not move it again.
func (r *Repo) ForStep(step mpps.Step) (Record, bool) {
	refs := mpps.Link(step)
	if len(refs) == 0 {
		return Record{}, false
	}
	for _, ref := range refs {
		var found Record
		_ = r.st.ItemsByRef(refKey(ref.Field, ref.Value), func(si store.Item) error {
			if rec, err := Decode(si.Data); err == nil && rec.OnWorklist() {
				found = rec
				return errStop
			}
			return nil
		})
		if found.Item.Key != "" {
			return found, true
		}
	}
	return Record{}, false
}

// ByAccession finds a stored record, of any day, by accession number:
// through the reference index, or, for one typed in another case or stored
// before the index existed, by a walk.
func (r *Repo) ByAccession(accession string) (Record, bool) {
	var found Record
	_ = r.st.ItemsByRef(refKey(mpps.LinkAccession, accession), func(si store.Item) error {
		if rec, err := Decode(si.Data); err == nil {
			found = rec
			return errStop
		}
		return nil
	})
	if found.Item.Key == "" {
		_ = r.Each(func(rec Record) bool {
			if strings.EqualFold(rec.Item.AccessionNumber, accession) {
				found = rec
				return false
			}
			return true
		})
	}
	return found, found.Item.Key != ""
}

// refKey is how an identifier is indexed in the store: the kind, a NUL,
// the value, so an accession number can never match an SPS ID.
func refKey(kind mpps.LinkField, value string) string { return string(kind) + "\x00" + value }

// refs are the identifiers an MPPS step may name this order by.
func (r Record) refs() []string {
	var out []string
	for _, f := range []struct {
		kind  mpps.LinkField
		value string
	}{{mpps.LinkSPSID, r.Item.SPSID}, {mpps.LinkAccession, r.Item.AccessionNumber}, {mpps.LinkStudyUID, r.Item.StudyInstanceUID}} {
		if f.value != "" {
			out = append(out, refKey(f.kind, f.value))
		}
	}
	return out
}

// PruneBefore removes the records scheduled before day (YYYYMMDD) and
// returns how many went. Orders Provet still has open stay: removing them
// would only make the next reconcile fetch them again.
func (r *Repo) PruneBefore(day string) (int, error) {
	var old []string
	err := r.st.ItemsByDate("00000101", day, func(si store.Item) error {
		if si.Date >= day {
			return nil
		}
		if rec, err := Decode(si.Data); err == nil && rec.Source == SourceProvet && rec.OnWorklist() {
			return nil
		}
		old = append(old, si.Key)
		return nil
	})
	if err != nil || len(old) == 0 {
		return 0, err
	}
	return len(old), r.Apply(nil, old)
}
