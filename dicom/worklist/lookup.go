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

// nameLookup files entries by the components of each folded group of their
// patient name: the first (the owner's family name in the veterinary form)
// in one table, the later ones (the animal's name) in another. A name
// pattern's leading literal finds its buckets in the first; a pattern
// *^LITERAL..., as a console sends for an animal's name, in the second.
type nameLookup struct {
	a     *attr
	first map[string][]*entry
	later map[string][]*entry
}

func newNameLookup() *nameLookup {
	return &nameLookup{a: lookupAttr(tagPatientName, false),
		first: map[string][]*entry{}, later: map[string][]*entry{}}
}

func (l *nameLookup) groups(e *entry) []string { return e.names[l.a.nameSlot] }

// components returns the distinct first and the distinct later components
// of e's name groups.
func (l *nameLookup) components(e *entry) (first, later []string) {
	for _, g := range l.groups(e) {
		f, rest, more := strings.Cut(g, "^")
		if !contains(first, f) {
			first = append(first, f)
		}
		for more {
			var c string
			c, rest, more = strings.Cut(rest, "^")
			if !contains(later, c) {
				later = append(later, c)
			}
		}
	}
	return first, later
}

func (l *nameLookup) add(e *entry) {
	first, later := l.components(e)
	file(l.first, first, e)
	file(l.later, later, e)
}

func (l *nameLookup) remove(e *entry) {
	first, later := l.components(e)
	unfile(l.first, first, e)
	unfile(l.later, later, e)
}

func file(m map[string][]*entry, keys []string, e *entry) {
	for _, k := range keys {
		m[k] = append(m[k], e)
	}
}

func unfile(m map[string][]*entry, keys []string, e *entry) {
	for _, k := range keys {
		if b := without(m[k], e); len(b) > 0 {
			m[k] = b
		} else {
			delete(m, k)
		}
	}
}

func (l *nameLookup) candidates(p *pred) ([][]*entry, int, func(*entry) bool, bool) {
	if p.a != l.a {
		return nil, 0, nil, false
	}
	var out [][]*entry
	n := 0
	usedLater := false
	for _, v := range p.vals {
		m := l.first
		key, exact, ok := componentKey(v)
		if !ok {
			after, isLater := laterPattern(v)
			if !isLater {
				return nil, 0, nil, false
			}
			if key, exact, ok = componentKey(after); !ok {
				return nil, 0, nil, false
			}
			m, usedLater = l.later, true
		}
		if exact {
			if b := m[key]; len(b) > 0 {
				out = append(out, b)
				n += len(b)
			}
			continue
		}
		for k, b := range m {
			if strings.HasPrefix(k, key) {
				out = append(out, b)
				n += len(b)
			}
		}
	}
	// Distinct keys of one table are distinct buckets, so only a name with
	// two groups or two later components, or two values, meets an entry twice.
	return out, n, func(e *entry) bool { return usedLater || len(p.vals) > 1 || len(l.groups(e)) > 1 }, true
}

// componentKey says under which key of its table a component matching
// pattern v (as compile prepared it) is filed. A group matches v or v^*
// (testName), and a glob match starts with the pattern's literal prefix, so
// the component is exactly that prefix's text before a ^, or v itself when v
// has no wildcard and no ^, or else begins with the literal prefix. A
// leading wildcard leaves nothing to look up.
func componentKey(v string) (key string, exact, ok bool) {
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

// laterPattern recognises *^R: a group matching it, or *^R^*, has a ^
// followed by text matching R (then the end, or a ^), so a later component
// is filed as componentKey(R) says.
func laterPattern(v string) (string, bool) {
	return strings.CutPrefix(strings.TrimLeft(v, "*"), "^")
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
