package worklist

import (
	"errors"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Index holds the items served to modalities, organised by scheduled date and
// modality so a one-day query looks at that day only, and by patient name and
// by every patient and order identifier so a query for one patient or order
// looks at the few items that can match, whatever their dates. It is safe for
// concurrent use: queries take a read lock only while selecting, never while
// answers are sent, so a slow device never holds up a sync.
type Index struct {
	mu sync.RWMutex
	content
}

// content is everything an Index holds, so ReplaceAll can swap it whole.
type content struct {
	byKey  map[string]*entry
	byDate map[string]map[string]map[string]*entry // date → modality → key
	dates  []string                                // sorted keys of byDate ("" = undated)
	// lookups narrow queries that name a patient or an order (see lookup).
	lookups []lookup
	// statuses counts items by folded SPS status, for StatusCounts.
	statuses map[string]int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{content: newContent()}
}

func newContent() content {
	return content{
		byKey:    map[string]*entry{},
		byDate:   map[string]map[string]map[string]*entry{},
		lookups:  newLookups(),
		statuses: map[string]int{},
	}
}

// entry is an indexed item with what matching needs precomputed once, at Put,
// rather than for every item of every query: the accent- and case-folded name
// groups (folding cost about 1 µs a name, which made a name query over
// 100,000 items take 135 ms). Entries are never changed after Put: a new
// version of an item is a new entry.
type entry struct {
	Item
	// names holds, per name attribute (attr.nameSlot), the folded,
	// trimmed, non-empty groups of the value (alphabetic=ideographic=phonetic).
	names [nameSlots][]string
	// answer is the last answer encoded for this item, reused while queries
	// keep the same shape (answerPlan.cacheKey): a modality polls with the
	// same return keys all day, so an unchanged item is encoded once, not
	// once per poll. A changed item is a new entry with no answer.
	answer atomic.Pointer[cachedAnswer]
}

type cachedAnswer struct {
	key string
	cs  Charset
	b   []byte
}

func newEntry(it *Item) *entry {
	e := &entry{Item: *it}
	for i := range attrs {
		a := &attrs[i]
		if a.nameSlot < 0 {
			continue
		}
		e.names[a.nameSlot] = foldNameGroups(a.get(&e.Item))
	}
	return e
}

// ErrNoKey is returned for an item without a Key.
var ErrNoKey = errors.New("worklist item has no key")

func bucketDate(it *entry) string {
	if d := strings.TrimSpace(it.StartDate); validDate(d) {
		return d
	}
	return ""
}

func bucketModality(it *entry) string { return strings.ToUpper(strings.TrimSpace(it.Modality)) }

// cloneItem copies what an Item shares by pointer, so the index never sees a
// caller's later changes.
func cloneItem(it Item) *Item {
	c := it
	c.OtherPatientIDs = append([]string(nil), it.OtherPatientIDs...)
	for _, p := range []**Code{&c.SpeciesCode, &c.BreedCode, &c.RequestedProcedureCode} {
		if *p != nil {
			cc := **p
			*p = &cc
		}
	}
	return &c
}

// Put adds or replaces items by Key.
func (x *Index) Put(items ...Item) error {
	for i := range items {
		if items[i].Key == "" {
			return ErrNoKey
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := range items {
		x.put(newEntry(cloneItem(items[i])))
	}
	return nil
}

func (x *Index) put(it *entry) {
	x.remove(it.Key)
	x.byKey[it.Key] = it
	d, m := bucketDate(it), bucketModality(it)
	day, ok := x.byDate[d]
	if !ok {
		day = map[string]map[string]*entry{}
		x.byDate[d] = day
		i := sort.SearchStrings(x.dates, d)
		x.dates = append(x.dates, "")
		copy(x.dates[i+1:], x.dates[i:])
		x.dates[i] = d
	}
	mod, ok := day[m]
	if !ok {
		mod = map[string]*entry{}
		day[m] = mod
	}
	mod[it.Key] = it
	for _, l := range x.lookups {
		l.add(it)
	}
	x.statuses[foldStatus(it.SPSStatus)]++
}

func (x *Index) remove(key string) {
	old, ok := x.byKey[key]
	if !ok {
		return
	}
	delete(x.byKey, key)
	d, m := bucketDate(old), bucketModality(old)
	day := x.byDate[d]
	delete(day[m], key)
	if len(day[m]) == 0 {
		delete(day, m)
	}
	if len(day) == 0 {
		delete(x.byDate, d)
		i := sort.SearchStrings(x.dates, d)
		if i < len(x.dates) && x.dates[i] == d {
			x.dates = append(x.dates[:i], x.dates[i+1:]...)
		}
	}
	for _, l := range x.lookups {
		l.remove(old)
	}
	st := foldStatus(old.SPSStatus)
	if x.statuses[st]--; x.statuses[st] <= 0 {
		delete(x.statuses, st)
	}
}

func foldStatus(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// Delete removes items by Key; unknown keys are ignored.
func (x *Index) Delete(keys ...string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, k := range keys {
		x.remove(k)
	}
}

// ReplaceAll makes items the whole content, atomically for queries.
func (x *Index) ReplaceAll(items []Item) error {
	fresh := NewIndex()
	if err := fresh.Put(items...); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.content = fresh.content
	return nil
}

// Len returns the number of items.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byKey)
}

// StatusCounts returns how many items have each Scheduled Procedure Step
// status, upper-cased and trimmed ("" counts items with no status). The
// counts are kept by Put and Delete, so this costs a copy of a map of a few
// entries however many items the index holds.
func (x *Index) StatusCounts() map[string]int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return maps.Clone(x.statuses)
}

// All returns every item in schedule order.
func (x *Index) All() []Item {
	x.mu.RLock()
	out := make([]*entry, 0, len(x.byKey))
	for _, it := range x.byKey {
		out = append(out, it)
	}
	x.mu.RUnlock()
	return sortedCopies(sortItems(out))
}

func (x *Index) match(c *compiled) []*entry {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if buckets, twice, ok := x.narrow(c); ok {
		return matchBuckets(c, buckets, twice)
	}
	var out []*entry
	x.walk(c, func(mod map[string]*entry) {
		for _, it := range mod {
			if c.matchesEntry(it) {
				out = append(out, it)
			}
		}
	})
	return out
}

// walk calls visit with each modality bucket of the days c can match.
func (x *Index) walk(c *compiled, visit func(map[string]*entry)) {
	visitDay := func(day map[string]map[string]*entry) {
		if c.modality != "" {
			if mod, ok := day[c.modality]; ok {
				visit(mod)
			}
			return
		}
		for _, mod := range day {
			visit(mod)
		}
	}
	if !c.hasDate {
		for _, d := range x.dates {
			visitDay(x.byDate[d])
		}
		return
	}
	// Undated items never match a date key, so "" is skipped.
	start := sort.SearchStrings(x.dates, maxStr(c.dateLo, "0"))
	for i := start; i < len(x.dates); i++ {
		d := x.dates[i]
		if c.dateHi != "" && d > c.dateHi {
			break
		}
		visitDay(x.byDate[d])
	}
}

// walkSize is how many entries walk would visit for c.
func (x *Index) walkSize(c *compiled) int {
	if !c.hasDate && c.modality == "" {
		return len(x.byKey)
	}
	n := 0
	x.walk(c, func(mod map[string]*entry) { n += len(mod) })
	return n
}

// narrow picks, among the lookups that can serve one of c's keys, the one
// with the fewest candidates, if it has fewer than the date walk would visit.
func (x *Index) narrow(c *compiled) (buckets [][]*entry, twice func(*entry) bool, ok bool) {
	bestN := -1
	for i := range c.preds {
		p := &c.preds[i]
		if p.kind != predKey {
			continue
		}
		for _, l := range x.lookups {
			if b, n, tw, ok := l.candidates(p); ok && (bestN < 0 || n < bestN) {
				buckets, twice, bestN = b, tw, n
			}
		}
	}
	if bestN < 0 || bestN >= x.walkSize(c) {
		return nil, nil, false
	}
	return buckets, twice, true
}

// matchBuckets matches the entries of buckets, each once: twice says which
// entries may be in more than one bucket.
func matchBuckets(c *compiled, buckets [][]*entry, twice func(*entry) bool) []*entry {
	var out []*entry
	var seen map[*entry]bool
	for _, b := range buckets {
		for _, e := range b {
			if len(buckets) > 1 && twice(e) {
				if seen[e] {
					continue
				}
				if seen == nil {
					seen = map[*entry]bool{}
				}
				seen[e] = true
			}
			if c.matchesEntry(e) {
				out = append(out, e)
			}
		}
	}
	return out
}

func maxStr(a, b string) string {
	if a > b {
		return a
	}
	return b
}

// sortItems orders by schedule: date, time, then key for a stable answer.
func sortItems(its []*entry) []*entry {
	sort.Slice(its, func(i, j int) bool {
		a, b := its[i], its[j]
		if a.StartDate != b.StartDate {
			return a.StartDate < b.StartDate
		}
		if a.StartTime != b.StartTime {
			return a.StartTime < b.StartTime
		}
		return a.Key < b.Key
	})
	return its
}

// sortedCopies copies deeply, so callers own what they get.
func sortedCopies(its []*entry) []Item {
	out := make([]Item, len(its))
	for i, it := range its {
		out[i] = *cloneItem(it.Item)
	}
	return out
}
