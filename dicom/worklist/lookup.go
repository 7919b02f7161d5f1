package worklist

import (
	"hash/maphash"
	"strings"
)

// A lookup files index entries under the values of some attributes, so a
// query that names a patient or an order looks at the few entries that can
// match instead of every entry of its dates (a name query over 100,000 items
// took 70 ms visiting each, an accession number 40 ms). It only narrows: the
// matcher still decides on every candidate, so a query answers exactly what
// a full scan answers, and a lookup may offer more candidates than match.
type lookup interface {
	add(e *entry)
	remove(e *entry)
	// candidates returns buckets holding every entry p can match, how many
	// entries they hold, and whether an entry may be in two of them; ok is
	// false when the lookup cannot narrow p.
	candidates(p *pred) (buckets [][]*entry, n int, twice func(*entry) bool, ok bool)
}

func newLookups() []lookup {
	return []lookup{newNameLookup(), newIDLookup()}
}

// nameLookup files entries by the first component of each folded group of
// their patient name (the owner's family name in the veterinary form), so a
// name pattern's leading literal finds its bucket or the buckets it begins.
type nameLookup struct {
	a *attr
	m map[string][]*entry
}

func newNameLookup() *nameLookup {
	return &nameLookup{a: lookupAttr(tagPatientName, false), m: map[string][]*entry{}}
}

func (l *nameLookup) groups(e *entry) []string { return e.names[l.a.nameSlot] }

// families returns the distinct first components of e's name groups.
func (l *nameLookup) families(e *entry) []string {
	var out []string
	for _, g := range l.groups(e) {
		f, _, _ := strings.Cut(g, "^")
		if !contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func (l *nameLookup) add(e *entry) {
	for _, f := range l.families(e) {
		l.m[f] = append(l.m[f], e)
	}
}

func (l *nameLookup) remove(e *entry) {
	for _, f := range l.families(e) {
		if b := without(l.m[f], e); len(b) > 0 {
			l.m[f] = b
		} else {
			delete(l.m, f)
		}
	}
}

func (l *nameLookup) candidates(p *pred) ([][]*entry, int, func(*entry) bool, bool) {
	if p.a != l.a {
		return nil, 0, nil, false
	}
	var out [][]*entry
	n := 0
	for _, v := range p.vals {
		key, exact, ok := familyKey(v)
		if !ok {
			return nil, 0, nil, false
		}
		if exact {
			if b := l.m[key]; len(b) > 0 {
				out = append(out, b)
				n += len(b)
			}
			continue
		}
		for k, b := range l.m {
			if strings.HasPrefix(k, key) {
				out = append(out, b)
				n += len(b)
			}
		}
	}
	// Distinct keys are distinct buckets, so only a name with two groups, or
	// two values picking the same bucket, meets an entry twice.
	return out, n, func(e *entry) bool { return len(p.vals) > 1 || len(l.groups(e)) > 1 }, true
}

// familyKey says where a name group matching pattern v (as compile prepared
// it) is filed. A group matches v or v^* (testName), and a glob match starts
// with the pattern's literal prefix, so the group's first component is
// exactly that prefix's text before a ^, or v itself when v has no wildcard
// and no ^, or else begins with the literal prefix. A leading wildcard leaves
// nothing to look up.
func familyKey(v string) (key string, exact, ok bool) {
	lit := v
	if i := strings.IndexAny(v, "*?"); i >= 0 {
		lit = v[:i]
	}
	if i := strings.IndexByte(lit, '^'); i >= 0 {
		return lit[:i], true, true
	}
	if lit == v {
		return v, true, true
	}
	return lit, false, lit != ""
}

// idLookup files entries under every identifier of a patient or an order
// they hold: Patient ID, microchips, accession number, requested procedure
// and step IDs, Study Instance UID, all in one table. A value is filed by
// its hash, which keeps the table to about 24 bytes a value; a value of
// another attribute, or a colliding hash, only adds a candidate the matcher
// then refuses.
type idLookup struct {
	attrs []*attr
	seed  maphash.Seed
	one   map[uint64]*entry   // a value one entry holds: the usual case
	more  map[uint64][]*entry // a value several entries hold (one animal, many exams)
}

func newIDLookup() *idLookup {
	l := &idLookup{seed: maphash.MakeSeed(), one: map[uint64]*entry{}, more: map[uint64][]*entry{}}
	for _, k := range []attrKey{{tagPatientID, false}, {tagOtherPatientIDs, false}, {tagAccessionNumber, false},
		{tagReqProcID, false}, {tagSPSID, true}, {tagStudyInstanceUID, false}} {
		l.attrs = append(l.attrs, attrIndex[k])
	}
	return l
}

// hashes returns the distinct hashes of e's identifiers, each value read as
// pred.test reads it.
func (l *idLookup) hashes(e *entry) []uint64 {
	var out []uint64
	file := func(v string) {
		if h := maphash.String(l.seed, v); !containsHash(out, h) {
			out = append(out, h)
		}
	}
	for _, a := range l.attrs {
		if a.kind == matchOtherIDs {
			for _, id := range *a.list(&e.Item) {
				if id != "" {
					file(id)
				}
			}
			continue
		}
		for _, v := range idValues(a.get(&e.Item)) {
			file(v)
		}
	}
	return out
}

// idValues splits a stored value the way pred.test reads it: `\`-separated
// values, trimmed, empty ones dropped (no pattern that filters matches them).
// A UID is compared whole, but no UID holds a `\`, so splitting changes
// nothing for it.
func idValues(v string) []string {
	var out []string
	for rest := strings.TrimSpace(v); rest != ""; {
		var h string
		h, rest, _ = strings.Cut(rest, `\`)
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func (l *idLookup) add(e *entry) {
	for _, h := range l.hashes(e) {
		if first, ok := l.one[h]; ok {
			delete(l.one, h)
			l.more[h] = []*entry{first, e}
		} else if b, ok := l.more[h]; ok {
			l.more[h] = append(b, e)
		} else {
			l.one[h] = e
		}
	}
}

func (l *idLookup) remove(e *entry) {
	for _, h := range l.hashes(e) {
		if l.one[h] == e {
			delete(l.one, h)
			continue
		}
		switch b := without(l.more[h], e); len(b) {
		case 0:
			delete(l.more, h)
		case 1:
			delete(l.more, h)
			l.one[h] = b[0]
		default:
			l.more[h] = b
		}
	}
}

func (l *idLookup) candidates(p *pred) ([][]*entry, int, func(*entry) bool, bool) {
	if !containsAttr(l.attrs, p.a) {
		return nil, 0, nil, false
	}
	vals := p.vals
	if p.a.kind == matchOtherIDs {
		vals = []string{p.key.Value} // pred.test globs the value as sent
	}
	var out [][]*entry
	n := 0
	for _, v := range vals {
		// A UID is compared exactly, so * and ? are plain characters there.
		if p.a.kind != matchUID && strings.ContainsAny(v, "*?") {
			return nil, 0, nil, false
		}
		h := maphash.String(l.seed, v)
		if e, ok := l.one[h]; ok {
			out = append(out, []*entry{e})
			n++
		} else if b := l.more[h]; len(b) > 0 {
			out = append(out, b)
			n += len(b)
		}
	}
	return out, n, func(*entry) bool { return true }, true
}

// without removes e from b, in place.
func without(b []*entry, e *entry) []*entry {
	for i := range b {
		if b[i] == e {
			last := len(b) - 1
			b[i], b[last] = b[last], nil
			return b[:last]
		}
	}
	return b
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsHash(list []uint64, h uint64) bool {
	for _, v := range list {
		if v == h {
			return true
		}
	}
	return false
}

func containsAttr(list []*attr, a *attr) bool {
	for _, v := range list {
		if v == a {
			return true
		}
	}
	return false
}
