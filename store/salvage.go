package store

import (
	"bytes"
	"encoding/binary"
)

// salvagedBucket is what could be read of one top-level bucket.
type salvagedBucket struct {
	seq  uint64
	keys [][]byte
	vals [][]byte
	// lost counts the pages and elements of the bucket that could not be
	// read: when it is not zero, more records may have existed.
	lost int
}

// salvage reads every key and value that can still be read from the named
// top-level buckets, skipping pages and elements that fail the checks. It
// walks from the newest meta page whose root can be read; an older root is
// never mixed in, or updates already sent would come back. A nil map means
// not even the root of the tree could be read.
func (f *boltFile) salvage(names [][]byte) map[string]*salvagedBucket {
	for _, m := range f.metas {
		w := &salvager{f: f, hwm: m.pgid, visited: map[uint64]bool{}}
		top := map[string][]byte{}
		ok := w.walk(m.root, 0, func(e elem) {
			if e.flags&leafIsBucket != 0 {
				top[string(e.key)] = e.value
			}
		})
		if !ok {
			continue
		}
		out := make(map[string]*salvagedBucket, len(names))
		for _, name := range names {
			sb := &salvagedBucket{}
			out[string(name)] = sb
			v, found := top[string(name)]
			if !found {
				sb.lost = w.lost // the bucket may have been on an unreadable page
				continue
			}
			w.readBucket(v, sb)
		}
		return out
	}
	return nil
}

type salvager struct {
	f       *boltFile
	hwm     uint64
	visited map[uint64]bool
	lost    int
}

// walk calls fn for every readable leaf element under page id and reports
// whether the page itself could be read.
func (w *salvager) walk(id uint64, depth int, fn func(elem)) bool {
	if depth > maxTreeDepth || w.visited[id] || id < 2 {
		w.lost++
		return false
	}
	w.visited[id] = true
	p, err := w.f.readPage(id, w.hwm)
	if err != nil {
		w.lost++
		return false
	}
	switch p.flags {
	case flagBranch:
		w.elements(p.b, p.count, true, func(e elem) { w.walk(e.child, depth+1, fn) })
	case flagLeaf:
		w.elements(p.b, p.count, false, fn)
	default:
		w.lost++
		return false
	}
	return true
}

// elements calls fn for each readable element, counting the others lost.
func (w *salvager) elements(b []byte, count int, branch bool, fn func(elem)) {
	err := elements(b, count, branch, func(_ int, e elem) error {
		fn(e)
		return nil
	}, func(int, error) error {
		w.lost++
		return nil
	})
	if err != nil {
		w.lost++
	}
}

// readBucket collects the plain records of a bucket; our buckets hold no
// sub-buckets, so a bucket entry inside one is damage and is skipped.
func (w *salvager) readBucket(v []byte, sb *salvagedBucket) {
	before := w.lost
	collect := func(e elem) {
		if e.flags&leafIsBucket != 0 {
			w.lost++
			return
		}
		sb.keys = append(sb.keys, bytes.Clone(e.key))
		sb.vals = append(sb.vals, append([]byte{}, e.value...))
	}
	defer func() { sb.lost += w.lost - before }()
	if len(v) < bucketHeader {
		w.lost++
		return
	}
	root := ne.Uint64(v)
	sb.seq = ne.Uint64(v[8:])
	if root != 0 {
		w.walk(root, 1, collect)
		return
	}
	in := v[bucketHeader:]
	if len(in) < pageHeaderSize || ne.Uint16(in[8:]) != flagLeaf {
		w.lost++
		return
	}
	w.elements(in, int(ne.Uint16(in[10:])), false, collect)
}

// salvageResult is a salvage sorted into what goes into the new database
// and the counts the recovery notice reports.
type salvageResult struct {
	buckets  map[string]*salvagedBucket // records to write, by bucket
	outboxID uint64                     // the outbox sequence to continue from
	rec      Recovery
}

// sortSalvage decides what of a salvage is kept. Waiting updates are kept
// when their record decodes; a dedup key whose pending update was lost is
// dropped, so a device that repeats the step can queue the update again.
// Worklist items and their indexes are not kept: Provet is their source,
// and a record that still decodes may carry flipped bytes no check can see.
func sortSalvage(found map[string]*salvagedBucket) salvageResult {
	res := salvageResult{buckets: map[string]*salvagedBucket{}}
	if found == nil {
		res.rec.Empty = true
		return res
	}
	get := func(name []byte) *salvagedBucket {
		if b := found[string(name)]; b != nil {
			return b
		}
		return &salvagedBucket{}
	}
	out, dedup := get(bucketOutbox), get(bucketDedup)
	kept := &salvagedBucket{}
	keptIDs := map[uint64]bool{}
	pending := map[uint64]bool{}
	res.outboxID = out.seq
	for i, k := range out.keys {
		if len(k) == 8 {
			pending[binary.BigEndian.Uint64(k)] = true
		}
		e, err := decodeOutbox(k, out.vals[i])
		if err != nil || e.DedupKey == "" {
			continue
		}
		keptIDs[e.ID] = true
		kept.keys, kept.vals = append(kept.keys, k), append(kept.vals, out.vals[i])
		res.outboxID = max(res.outboxID, e.ID)
	}
	keptDedup := &salvagedBucket{}
	for i, k := range dedup.keys {
		v := dedup.vals[i]
		if len(v) != 8 && len(v) != 16 {
			continue
		}
		id := binary.BigEndian.Uint64(v)
		res.outboxID = max(res.outboxID, id)
		if len(v) == 8 {
			pending[id] = true
			if !keptIDs[id] {
				continue
			}
		}
		keptDedup.keys, keptDedup.vals = append(keptDedup.keys, k), append(keptDedup.vals, v)
	}
	res.buckets[string(bucketOutbox)] = kept
	res.buckets[string(bucketDedup)] = keptDedup
	res.rec.OutboxKept = len(keptIDs)
	for id := range pending {
		if !keptIDs[id] {
			res.rec.OutboxLost++
		}
	}
	res.rec.OutboxUncertain = out.lost > 0 || dedup.lost > 0

	queries := &salvagedBucket{}
	q := get(bucketQueries)
	for i, k := range q.keys {
		if len(k) == 8 { // the log's trimming reads every key as a sequence number
			queries.keys, queries.vals = append(queries.keys, k), append(queries.vals, q.vals[i])
		}
	}
	queries.seq = q.seq
	res.buckets[string(bucketQueries)] = queries
	for _, name := range [][]byte{bucketKV, bucketSteps, bucketNotified, bucketDevices} {
		res.buckets[string(name)] = get(name)
	}
	res.rec.StepsKept = len(get(bucketSteps).keys)
	res.rec.DevicesKept = len(get(bucketDevices).keys)
	res.rec.MetaKept = len(get(bucketKV).keys)
	res.rec.ItemsDropped = len(get(bucketItems).keys)
	return res
}
