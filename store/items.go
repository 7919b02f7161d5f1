package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Item is a worklist item as the store sees it: a unique key, the fields it
// indexes, and the app's encoding of everything else.
type Item struct {
	Key string
	// Date is the scheduled date as YYYYMMDD, or empty for an undated item.
	Date string
	// Modality is kept with the item as given; it is not indexed.
	Modality string
	// Refs are opaque strings the caller chooses to find the item by with
	// ItemByRef, such as "sps\x00" + a Scheduled Procedure Step ID: an MPPS
	// step finds its order through them without a full scan. The index holds
	// exactly the refs given at the item's last put.
	Refs []string
	Data []byte
}

// Limits keep index keys far below bbolt's 32 KiB key limit and reject input
// that cannot be a real worklist item before it reaches the file.
const (
	maxItemKey  = 1024
	maxModality = 64
	maxRef      = 256
	maxRefs     = 32
)

// Item record versions: 1 (schema 1) has no refs; 2 adds them. Both decode.
const (
	itemRecordV1      = 1
	itemRecordVersion = 2
)

// sep ends the indexed field in an index key. Dates and modalities may not
// contain it; item keys may, because they always come last.
const sep = 0x00

func validateItem(it Item) error {
	switch {
	case it.Key == "":
		return fmt.Errorf("worklist item with empty key: %w", ErrInvalid)
	case len(it.Key) > maxItemKey:
		return fmt.Errorf("worklist item key is %d bytes, more than %d: %w", len(it.Key), maxItemKey, ErrInvalid)
	case !validDate(it.Date):
		return fmt.Errorf("worklist item %q: date %q is not YYYYMMDD: %w", it.Key, it.Date, ErrInvalid)
	case len(it.Modality) > maxModality || bytes.IndexByte([]byte(it.Modality), sep) >= 0:
		return fmt.Errorf("worklist item %q: modality %q is too long or contains NUL: %w", it.Key, it.Modality, ErrInvalid)
	case len(it.Refs) > maxRefs:
		return fmt.Errorf("worklist item %q has %d refs, more than %d: %w", it.Key, len(it.Refs), maxRefs, ErrInvalid)
	}
	for _, r := range it.Refs {
		if r == "" || len(r) > maxRef {
			return fmt.Errorf("worklist item %q: ref %.40q is empty or longer than %d bytes: %w", it.Key, r, maxRef, ErrInvalid)
		}
	}
	return nil
}

// validDate accepts "" or eight ASCII digits; range scans rely on the byte
// order of such strings being the calendar order.
func validDate(d string) bool {
	if d == "" {
		return true
	}
	if len(d) != 8 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

// encodeItem lays out a record as: version byte, uvarint date length, date,
// uvarint modality length, modality, uvarint ref count, each ref as uvarint
// length and bytes, data. The indexed fields are kept in the record so that a
// later put or delete can find and remove the old index entries without
// trusting the caller.
func encodeItem(it Item) []byte {
	n := 1 + (3+len(it.Refs))*binary.MaxVarintLen64 + len(it.Date) + len(it.Modality) + len(it.Data)
	for _, r := range it.Refs {
		n += len(r)
	}
	b := make([]byte, 0, n)
	b = append(b, itemRecordVersion)
	b = binary.AppendUvarint(b, uint64(len(it.Date)))
	b = append(b, it.Date...)
	b = binary.AppendUvarint(b, uint64(len(it.Modality)))
	b = append(b, it.Modality...)
	b = binary.AppendUvarint(b, uint64(len(it.Refs)))
	for _, r := range it.Refs {
		b = binary.AppendUvarint(b, uint64(len(r)))
		b = append(b, r...)
	}
	return append(b, it.Data...)
}

var errCorruptItem = fmt.Errorf("worklist item record: %w", ErrCorrupt)

// decodeItem parses a record produced by encodeItem. The returned Data aliases
// rec; callers inside a transaction must copy it.
func decodeItem(key string, rec []byte) (Item, error) {
	if len(rec) < 1 || (rec[0] != itemRecordVersion && rec[0] != itemRecordV1) {
		return Item{}, errCorruptItem
	}
	rest := rec[1:]
	date, rest, ok := readField(rest, 8)
	if !ok || !validDate(string(date)) {
		return Item{}, errCorruptItem
	}
	mod, rest, ok := readField(rest, maxModality)
	if !ok {
		return Item{}, errCorruptItem
	}
	it := Item{Key: key, Date: string(date), Modality: string(mod)}
	if rec[0] == itemRecordVersion {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > maxRefs {
			return Item{}, errCorruptItem
		}
		rest = rest[w:]
		for range n {
			var r []byte
			if r, rest, ok = readField(rest, maxRef); !ok || len(r) == 0 {
				return Item{}, errCorruptItem
			}
			it.Refs = append(it.Refs, string(r))
		}
	}
	it.Data = rest
	return it, nil
}

// readField reads a uvarint length (at most limit) and that many bytes.
func readField(b []byte, limit uint64) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > limit || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

func indexKey(field, key string) []byte {
	k := make([]byte, 0, len(field)+1+len(key))
	k = append(k, field...)
	k = append(k, sep)
	return append(k, key...)
}

// splitIndexKey returns the item key part of an index key.
func splitIndexKey(k []byte) (field, key []byte, ok bool) {
	i := bytes.IndexByte(k, sep)
	if i < 0 {
		return nil, nil, false
	}
	return k[:i], k[i+1:], true
}

// refPrefix starts every index key of ref. The length comes first because
// refs, like item keys, may contain any byte: no separator could end them.
func refPrefix(ref string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(ref)), uint64(len(ref)))
	return append(k, ref...)
}

func refKey(ref, key string) []byte {
	return append(refPrefix(ref), key...)
}

type itemTx struct {
	items, byDate, byRef *bolt.Bucket
}

func newItemTx(tx *bolt.Tx) itemTx {
	return itemTx{tx.Bucket(bucketItems), tx.Bucket(bucketByDate), tx.Bucket(bucketByRef)}
}

// removeIndexes drops the index entries of the stored version of key, if any.
func (t itemTx) removeIndexes(key string) (existed bool, err error) {
	rec := t.items.Get([]byte(key))
	if rec == nil {
		return false, nil
	}
	old, err := decodeItem(key, rec)
	if err != nil {
		// The record is unreadable, so its index entries cannot be located
		// directly; they are harmless because lookups resolve every index hit
		// through the items bucket and skip records that no longer carry the
		// indexed value.
		return true, nil
	}
	if err := t.byDate.Delete(indexKey(old.Date, key)); err != nil {
		return true, err
	}
	for _, r := range old.Refs {
		if err := t.byRef.Delete(refKey(r, key)); err != nil {
			return true, err
		}
	}
	return true, nil
}

func (t itemTx) put(it Item) error {
	if _, err := t.removeIndexes(it.Key); err != nil {
		return err
	}
	if err := t.items.Put([]byte(it.Key), encodeItem(it)); err != nil {
		return err
	}
	if err := t.byDate.Put(indexKey(it.Date, it.Key), nil); err != nil {
		return err
	}
	return t.indexRefs(it)
}

func (t itemTx) indexRefs(it Item) error {
	for _, r := range it.Refs {
		if err := t.byRef.Put(refKey(r, it.Key), nil); err != nil {
			return err
		}
	}
	return nil
}

// rebuildRefIndex empties the ref index and fills it from the stored items.
// Unreadable records are left out; Open's record check moves a file with
// such records aside anyway.
func rebuildRefIndex(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketByRef); err != nil {
		return fmt.Errorf("drop the ref index: %w", err)
	}
	if _, err := tx.CreateBucket(bucketByRef); err != nil {
		return fmt.Errorf("create the ref index: %w", err)
	}
	t := newItemTx(tx)
	return t.items.ForEach(func(k, v []byte) error {
		it, err := decodeItem(string(k), v)
		if err != nil {
			return nil
		}
		return t.indexRefs(it)
	})
}

func (t itemTx) delete(key string) error {
	existed, err := t.removeIndexes(key)
	if err != nil || !existed {
		return err
	}
	return t.items.Delete([]byte(key))
}

// PutItem inserts or replaces an item, moving its index entries if its date or
// refs changed.
func (s *Store) PutItem(it Item) error {
	if err := validateItem(it); err != nil {
		return fmt.Errorf("store worklist item: %w", err)
	}
	err := s.db.Update(func(tx *bolt.Tx) error { return newItemTx(tx).put(it) })
	if err != nil {
		return fmt.Errorf("store worklist item %q: %w", it.Key, err)
	}
	return nil
}

// DeleteItem removes an item; deleting a missing key is not an error.
func (s *Store) DeleteItem(key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return newItemTx(tx).delete(key) })
	if err != nil {
		return fmt.Errorf("delete worklist item %q: %w", key, err)
	}
	return nil
}

// ApplyItems applies a sync's changes in one transaction: either all of them
// are on disk afterwards or none is. Deletes run after puts, so a key in both
// lists ends up deleted.
func (s *Store) ApplyItems(puts []Item, deletes []string) error {
	for _, it := range puts {
		if err := validateItem(it); err != nil {
			return fmt.Errorf("apply worklist changes: %w", err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		t := newItemTx(tx)
		for _, it := range puts {
			if err := t.put(it); err != nil {
				return fmt.Errorf("item %q: %w", it.Key, err)
			}
		}
		for _, k := range deletes {
			if err := t.delete(k); err != nil {
				return fmt.Errorf("delete %q: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("apply %d worklist changes: %w", len(puts)+len(deletes), err)
	}
	return nil
}

// GetItem returns the item stored under key.
func (s *Store) GetItem(key string) (Item, bool, error) {
	var (
		it    Item
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		rec := tx.Bucket(bucketItems).Get([]byte(key))
		if rec == nil {
			return nil
		}
		d, err := decodeItem(key, rec)
		if err != nil {
			return err
		}
		d.Data = clone(d.Data)
		it, found = d, true
		return nil
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("read worklist item %q: %w", key, err)
	}
	return it, found, nil
}

// ItemsByDate calls fn, in date then key order, for every item dated from..to
// inclusive (YYYYMMDD). An empty from has no lower bound and then also yields
// undated items; an empty to has no upper bound. fn runs after the read
// transaction has ended, on a consistent snapshot, so it may call back into the
// store. An error from fn stops the walk and is returned.
func (s *Store) ItemsByDate(from, to string, fn func(Item) error) error {
	if !validDate(from) || !validDate(to) {
		return fmt.Errorf("worklist date range %q-%q is not YYYYMMDD: %w", from, to, ErrInvalid)
	}
	var items []Item
	err := s.db.View(func(tx *bolt.Tx) error {
		itemsB := tx.Bucket(bucketItems)
		c := tx.Bucket(bucketByDate).Cursor()
		var start []byte
		if from != "" {
			start = []byte(from)
		}
		for k, _ := c.Seek(start); k != nil; k, _ = c.Next() {
			date, key, ok := splitIndexKey(k)
			if !ok {
				continue
			}
			if to != "" && string(date) > to {
				break
			}
			it, ok, err := resolve(itemsB, key)
			if ok && it.Date != string(date) {
				ok = false
			}
			if err != nil {
				return err
			}
			if ok {
				items = append(items, it)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read worklist items for %s-%s: %w", from, to, err)
	}
	return each(items, fn)
}

// ItemByRef returns the first item, in key order, that was last put with
// ref among its Refs. Items stored by a VetBridge before refs existed are
// found only once they are put again with refs.
func (s *Store) ItemByRef(ref string) (Item, bool, error) {
	var (
		it    Item
		found bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		return refMatches(tx, ref, func(m Item) bool {
			it, found = m, true
			return false
		})
	})
	if err != nil {
		return Item{}, false, fmt.Errorf("find worklist item by ref %q: %w", ref, err)
	}
	return it, found, nil
}

// ItemsByRef calls fn, in key order, for every item last put with ref among
// its Refs: an accession number can name a closed order and its open
// repeat. Like ItemsByDate, fn runs outside the read transaction.
func (s *Store) ItemsByRef(ref string, fn func(Item) error) error {
	var items []Item
	err := s.db.View(func(tx *bolt.Tx) error {
		return refMatches(tx, ref, func(m Item) bool {
			items = append(items, m)
			return true
		})
	})
	if err != nil {
		return fmt.Errorf("find worklist items by ref %q: %w", ref, err)
	}
	return each(items, fn)
}

// refMatches calls match for each item indexed under ref that still carries
// it, until match returns false.
func refMatches(tx *bolt.Tx, ref string, match func(Item) bool) error {
	itemsB := tx.Bucket(bucketItems)
	prefix := refPrefix(ref)
	c := tx.Bucket(bucketByRef).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		it, ok, err := resolve(itemsB, k[len(prefix):])
		if err != nil {
			return err
		}
		if ok && slices.Contains(it.Refs, ref) && !match(it) {
			return nil
		}
	}
	return nil
}

// AllItems calls fn, in key order, for every item. Like ItemsByDate, fn runs
// outside the read transaction.
func (s *Store) AllItems(fn func(Item) error) error {
	var items []Item
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketItems)
		return b.ForEach(func(k, v []byte) error {
			it, err := decodeItem(string(k), v)
			if err != nil {
				return fmt.Errorf("item %q: %w", k, err)
			}
			it.Data = clone(it.Data)
			items = append(items, it)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read worklist items: %w", err)
	}
	return each(items, fn)
}

// resolve looks up an index hit. Callers also check that the record still
// carries the indexed value: an entry left behind by an unreadable record is
// skipped rather than failing the whole query or returning a wrong match.
func resolve(items *bolt.Bucket, key []byte) (Item, bool, error) {
	rec := items.Get(key)
	if rec == nil {
		return Item{}, false, nil
	}
	it, err := decodeItem(string(key), rec)
	if err != nil {
		return Item{}, false, fmt.Errorf("item %q: %w", key, err)
	}
	it.Data = clone(it.Data)
	return it, true, nil
}

func each(items []Item, fn func(Item) error) error {
	for _, it := range items {
		if err := fn(it); err != nil {
			return err
		}
	}
	return nil
}
