package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
)

// This file reads bbolt's on-disk format (version 2) without bbolt. bbolt
// trusts its file: a damaged page makes it index past its memory map, which
// is a fault no recover() catches, or panic in goroutines of its own. So Open
// first walks the file here, where every offset is checked, and hands it to
// bbolt only when nothing bbolt will read is out of place. The same reader
// salvages what it can from a file that fails.

const (
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
	pageHeaderSize  = 16 // id u64, flags u16, count u16, overflow u32
	pageElemSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	metaChecksumEnd = 56 // the checksum covers the meta fields before it
	metaSize        = metaChecksumEnd + 8
	bucketHeader    = 16 // root pgid u64, sequence u64

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	leafIsBucket = 0x01

	noFreelist = ^uint64(0)

	// bbolt looks for a second meta page at 1 KiB, 2 KiB, ... 16 MiB; the
	// page sizes it can have written are in that range.
	minPageSize = 1 << 10
	maxPageSize = 1 << 24

	// maxTreeDepth bounds recursion on a damaged file; a real tree of a
	// few million keys is a handful of levels deep.
	maxTreeDepth = 64
)

// ne is the byte order bbolt writes: it stores its structs as they lie in
// memory.
var ne = binary.NativeEndian

// errNoHeader says the file holds no readable bbolt header at all: empty,
// cut short inside its first pages, or overwritten there.
var errNoHeader = errors.New("no readable database header")

type fileMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high water mark: pages [0, pgid) are in use or free
	txid     uint64
}

func parseMeta(b []byte) (fileMeta, bool) {
	if len(b) < pageHeaderSize+metaSize {
		return fileMeta{}, false
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return fileMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksumEnd])
	if h.Sum64() != ne.Uint64(m[metaChecksumEnd:]) {
		return fileMeta{}, false
	}
	return fileMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, true
}

// boltFile is a bbolt data file opened for checking or salvage.
type boltFile struct {
	r        io.ReaderAt
	size     int64
	pageSize int
	// metas are the valid meta pages, newest first; bbolt uses metas[0].
	metas []fileMeta
}

func readBoltFile(r io.ReaderAt, size int64) (*boltFile, error) {
	if size <= 0 {
		return nil, fmt.Errorf("the file is empty: %w", errNoHeader)
	}
	f := &boltFile{r: r, size: size}
	buf := make([]byte, pageHeaderSize+metaSize)
	read := func(off int64) (fileMeta, bool) {
		if off < 0 || off+int64(len(buf)) > size {
			return fileMeta{}, false
		}
		if _, err := r.ReadAt(buf, off); err != nil {
			return fileMeta{}, false
		}
		return parseMeta(buf)
	}
	// Find the page size the way bbolt does: from the first meta page, else
	// from a second one at any of the page sizes bbolt supports.
	if m, ok := read(0); ok {
		f.pageSize = int(m.pageSize)
	} else {
		for ps := int64(minPageSize); ps <= maxPageSize && ps < size; ps <<= 1 {
			if m, ok := read(ps); ok && int64(m.pageSize) == ps {
				f.pageSize = int(ps)
				break
			}
		}
	}
	ps := f.pageSize
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 || int64(2*ps) > size {
		return nil, fmt.Errorf("%d bytes without a valid meta page: %w", size, errNoHeader)
	}
	for id := range int64(2) {
		if m, ok := read(id * int64(ps)); ok && int(m.pageSize) == ps {
			f.metas = append(f.metas, m)
		}
	}
	if len(f.metas) == 2 && f.metas[1].txid > f.metas[0].txid {
		f.metas[0], f.metas[1] = f.metas[1], f.metas[0]
	}
	if len(f.metas) == 0 {
		return nil, fmt.Errorf("both meta pages are damaged: %w", errNoHeader)
	}
	return f, nil
}

// page is one page with its overflow pages, as read from the file.
type page struct {
	id       uint64
	flags    uint16
	count    int
	overflow uint64
	b        []byte
}

// readPage reads page id, refusing anything at or above the high water mark
// hwm or past the end of the file.
func (f *boltFile) readPage(id, hwm uint64) (page, error) {
	if id >= hwm {
		return page{}, fmt.Errorf("page %d is above the high water mark %d", id, hwm)
	}
	ps := uint64(f.pageSize)
	if id > uint64(f.size)/ps {
		return page{}, fmt.Errorf("page %d is past the end of the file", id)
	}
	var hdr [pageHeaderSize]byte
	if _, err := f.r.ReadAt(hdr[:], int64(id*ps)); err != nil {
		return page{}, fmt.Errorf("page %d: %w", id, err)
	}
	p := page{id: ne.Uint64(hdr[0:]), flags: ne.Uint16(hdr[8:]), count: int(ne.Uint16(hdr[10:])), overflow: uint64(ne.Uint32(hdr[12:]))}
	if p.id != id {
		return page{}, fmt.Errorf("page %d calls itself page %d", id, p.id)
	}
	if p.overflow >= hwm-id {
		return page{}, fmt.Errorf("page %d: %d overflow pages run past the high water mark", id, p.overflow)
	}
	end := (id + p.overflow + 1) * ps
	if end > uint64(f.size) {
		return page{}, fmt.Errorf("page %d runs past the end of the file", id)
	}
	p.b = make([]byte, end-id*ps)
	if _, err := f.r.ReadAt(p.b, int64(id*ps)); err != nil {
		return page{}, fmt.Errorf("page %d: %w", id, err)
	}
	return p, nil
}

// elem is one branch or leaf element with its key and value in bounds.
type elem struct {
	flags uint32
	child uint64
	pos   uint64 // where the key starts, from the element's own offset
	key   []byte
	value []byte
}

// elements walks the elements of a branch or leaf page laid out in b (a
// whole page, or an inline bucket's page inside a value). bbolt writes the
// element array and then each key and value in element order, so keys and
// values that overlap the array or each other are damage; holding to that
// also bounds what a damaged page can make a salvage copy to the page's
// size. A bad element is reported to bad and skipped; a page whose element
// array does not fit is an error.
func elements(b []byte, count int, branch bool, fn func(i int, e elem) error, bad func(i int, err error) error) error {
	data := pageHeaderSize + count*pageElemSize
	if data > len(b) {
		return fmt.Errorf("%d elements overrun the page", count)
	}
	next := uint64(data)
	for i := range count {
		e, err := element(b, branch, i)
		if err == nil {
			start := uint64(pageHeaderSize+i*pageElemSize) + e.pos
			if start < next {
				err = fmt.Errorf("element %d overlaps another", i)
			} else {
				next = start + uint64(len(e.key)+len(e.value))
			}
		}
		if err != nil {
			if err := bad(i, err); err != nil {
				return err
			}
			continue
		}
		if err := fn(i, e); err != nil {
			return err
		}
	}
	return nil
}

// element decodes element i of a branch or leaf page laid out in b.
func element(b []byte, branch bool, i int) (elem, error) {
	off := pageHeaderSize + i*pageElemSize
	if off+pageElemSize > len(b) {
		return elem{}, fmt.Errorf("element %d lies past the page", i)
	}
	e := b[off : off+pageElemSize]
	var out elem
	var pos, ksize, vsize uint64
	if branch {
		pos, ksize, out.child = uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
	} else {
		out.flags = ne.Uint32(e[0:])
		pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
	}
	out.pos = pos
	start := uint64(off) + pos
	if ksize == 0 {
		return elem{}, fmt.Errorf("element %d has an empty key", i)
	}
	if start+ksize+vsize > uint64(len(b)) {
		return elem{}, fmt.Errorf("element %d points past the page", i)
	}
	out.key = b[start : start+ksize]
	out.value = b[start+ksize : start+ksize+vsize]
	return out, nil
}

// checker verifies a file the way bbolt's own consistency check does, and
// also every bound bbolt leaves unchecked.
type checker struct {
	f    *boltFile
	m    fileMeta
	seen []bool // pages reachable from the root, the metas and the freelist
}

// check verifies the tree, the freelist and the page accounting of the meta
// bbolt will use.
func (f *boltFile) check() error {
	m := f.metas[0]
	if m.pgid < 2 || m.pgid > uint64(f.size)/uint64(f.pageSize) {
		return fmt.Errorf("the file holds %d bytes but its header counts %d pages of %d bytes: the file was cut short",
			f.size, m.pgid, f.pageSize)
	}
	if m.root < 2 || (m.freelist != noFreelist && m.freelist < 2) {
		return fmt.Errorf("the header points into the meta pages")
	}
	c := &checker{f: f, m: m, seen: make([]bool, m.pgid)}
	c.seen[0], c.seen[1] = true, true
	if err := c.tree(m.root, nil, nil, 0, true); err != nil {
		return err
	}
	if m.freelist == noFreelist {
		return nil // bbolt rebuilds the freelist from the tree just checked
	}
	free, err := c.freelist()
	if err != nil {
		return err
	}
	for id, ok := range c.seen {
		if !ok && !free[uint64(id)] {
			return fmt.Errorf("page %d is neither in use nor free", id)
		}
	}
	return nil
}

func (c *checker) mark(p page) error {
	for id := p.id; id <= p.id+p.overflow; id++ {
		if c.seen[id] {
			return fmt.Errorf("page %d is referenced twice", id)
		}
		c.seen[id] = true
	}
	return nil
}

// tree checks the subtree at id, whose keys must lie in [lo, hi), and
// returns its largest key through the key order checks of its parent.
func (c *checker) tree(id uint64, lo, hi []byte, depth int, root bool) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: the tree is deeper than %d levels", id, maxTreeDepth)
	}
	p, err := c.f.readPage(id, c.m.pgid)
	if err != nil {
		return err
	}
	if err := c.mark(p); err != nil {
		return err
	}
	switch p.flags {
	case flagBranch:
		if p.count == 0 {
			return fmt.Errorf("page %d: branch page without children", id)
		}
		var elems []elem
		if err := elements(p.b, p.count, true, func(_ int, e elem) error {
			elems = append(elems, e)
			return nil
		}, strict); err != nil {
			return fmt.Errorf("page %d: %w", id, err)
		}
		for i, e := range elems {
			if err := ordered(lo, hi, e.key); err != nil {
				return fmt.Errorf("page %d element %d: %w", id, i, err)
			}
			if e.child < 2 {
				return fmt.Errorf("page %d element %d: child is a meta page", id, i)
			}
			next := hi
			if i+1 < len(elems) {
				next = elems[i+1].key
			}
			if err := c.tree(e.child, e.key, next, depth+1, root); err != nil {
				return err
			}
			lo = append(e.key[:len(e.key):len(e.key)], 0) // strictly after this key
		}
		return nil
	case flagLeaf:
		return c.leaf(p.b, id, p.count, lo, hi, depth, root)
	default:
		return fmt.Errorf("page %d: flags %#x where a branch or leaf page belongs", id, p.flags)
	}
}

// ordered reports whether k lies in [lo, hi).
func ordered(lo, hi, k []byte) error {
	if lo != nil && bytes.Compare(k, lo) < 0 {
		return errors.New("key out of order")
	}
	if hi != nil && bytes.Compare(k, hi) >= 0 {
		return errors.New("key out of order")
	}
	return nil
}

// leaf checks the elements of a leaf page (b is the page, or an inline
// bucket's embedded page) and descends into the buckets it holds.
func (c *checker) leaf(b []byte, id uint64, count int, lo, hi []byte, depth int, root bool) error {
	var prev []byte
	err := elements(b, count, false, func(i int, e elem) error {
		if err := ordered(lo, hi, e.key); err != nil || (prev != nil && bytes.Compare(prev, e.key) >= 0) {
			return fmt.Errorf("element %d: key out of order", i)
		}
		prev = e.key
		if e.flags&leafIsBucket == 0 {
			if root {
				return fmt.Errorf("element %d: a value where a bucket belongs", i)
			}
			return nil
		}
		if err := c.bucket(e.value, depth+1); err != nil {
			return fmt.Errorf("bucket %q: %w", e.key, err)
		}
		return nil
	}, strict)
	if err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	return nil
}

// strict makes any bad element fail the check.
func strict(_ int, err error) error { return err }

// bucket checks a bucket header and the bucket's tree, inline or on pages.
func (c *checker) bucket(v []byte, depth int) error {
	if len(v) < bucketHeader {
		return errors.New("bucket header cut short")
	}
	rootID := ne.Uint64(v)
	if rootID != 0 {
		if rootID < 2 {
			return errors.New("bucket root is a meta page")
		}
		return c.tree(rootID, nil, nil, depth, false)
	}
	in := v[bucketHeader:]
	if len(in) < pageHeaderSize {
		return errors.New("inline bucket cut short")
	}
	if flags := ne.Uint16(in[8:]); flags != flagLeaf {
		return fmt.Errorf("inline bucket with page flags %#x", flags)
	}
	count := int(ne.Uint16(in[10:]))
	// bbolt never writes a bucket inside an inline bucket.
	err := elements(in, count, false, func(_ int, e elem) error {
		if e.flags&leafIsBucket != 0 {
			return errors.New("inline bucket holds a bucket")
		}
		return nil
	}, strict)
	if err != nil {
		return err
	}
	return c.leaf(in, 0, count, nil, nil, depth, false)
}

// freelist reads the free page ids and checks each is a page that nothing
// uses and that no other entry lists.
func (c *checker) freelist() (map[uint64]bool, error) {
	p, err := c.f.readPage(c.m.freelist, c.m.pgid)
	if err != nil {
		return nil, fmt.Errorf("freelist: %w", err)
	}
	if p.flags != flagFreelist {
		return nil, fmt.Errorf("freelist page %d has flags %#x", p.id, p.flags)
	}
	if err := c.mark(p); err != nil {
		return nil, fmt.Errorf("freelist: %w", err)
	}
	ids, err := freeIDs(p)
	if err != nil {
		return nil, err
	}
	free := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		switch {
		case id < 2 || id >= c.m.pgid:
			return nil, fmt.Errorf("freelist lists page %d, outside the file", id)
		case c.seen[id]:
			return nil, fmt.Errorf("freelist lists page %d, which is in use", id)
		case free[id]:
			return nil, fmt.Errorf("freelist lists page %d twice", id)
		}
		free[id] = true
	}
	return free, nil
}

func freeIDs(p page) ([]uint64, error) {
	body := p.b[pageHeaderSize:]
	n := uint64(p.count)
	if n == 0xFFFF { // the real count is the first id slot
		if len(body) < 8 {
			return nil, errors.New("freelist count cut short")
		}
		n, body = ne.Uint64(body), body[8:]
	}
	if n > uint64(len(body))/8 {
		return nil, fmt.Errorf("freelist of %d ids overruns its page", n)
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = ne.Uint64(body[8*i:])
	}
	return ids, nil
}
