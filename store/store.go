// Package store is VetBridge's embedded database: the worklist items with their
// date and modality indexes, the outbox of status updates for Provet, MPPS
// instances, the notified set, a bounded query log, the devices seen and a small
// key/value area for sync cursors.
//
// It is a thin layer over bbolt. Values are opaque bytes (the app encodes them as
// JSON); the store only understands the few fields it must index. Every method is
// safe for concurrent use: bbolt allows many readers alongside one writer, so
// C-FIND lookups never wait for a sync to commit.
//
// Byte slices handed out by the store are copies: bbolt's slices point into its
// memory map and are only valid inside the transaction that produced them.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data directory.
const FileName = "vetbridge.db"

// SchemaVersion is the layout this code reads and writes. A file with a higher
// version was written by a newer VetBridge and is refused rather than
// misread.
const SchemaVersion = 1

// DefaultQueryLogLimit is how many query log entries are kept when
// Options.QueryLogLimit is zero.
const DefaultQueryLogLimit = 1000

// DefaultTimeout is how long Open waits for another process to release the
// database file when Options.Timeout is zero. Long enough to ride out a
// previous instance that is just exiting, short enough that a user who starts a
// second copy gets an answer instead of a frozen window.
const DefaultTimeout = time.Second

var (
	bucketMeta     = []byte("meta")     // internal: schema version
	bucketKV       = []byte("kv")       // app meta: sync cursors etc.
	bucketItems    = []byte("items")    // key -> encoded item record
	bucketByDate   = []byte("by_date")  // date \x00 key -> nil
	bucketByMod    = []byte("by_mod")   // modality \x00 key -> nil
	bucketOutbox   = []byte("outbox")   // id (uint64 BE) -> JSON outbox record
	bucketDedup    = []byte("dedup")    // dedup key -> id (uint64 BE)
	bucketSteps    = []byte("steps")    // SOP instance UID -> step bytes
	bucketNotified = []byte("notified") // key -> unix nanoseconds (uint64 BE)
	bucketQueries  = []byte("queries")  // seq (uint64 BE) -> query bytes
	bucketDevices  = []byte("devices")  // calling AE -> device bytes

	allBuckets = [][]byte{
		bucketMeta, bucketKV, bucketItems, bucketByDate, bucketByMod,
		bucketOutbox, bucketDedup, bucketSteps, bucketNotified, bucketQueries, bucketDevices,
	}

	keySchema = []byte("schema")
)

// ErrAlreadyRunning is returned (wrapped) by Open when another process holds the
// data directory.
var ErrAlreadyRunning = errors.New("data directory in use")

// ErrSchemaTooNew is returned (wrapped) by Open when the database was written by
// a newer VetBridge.
var ErrSchemaTooNew = errors.New("database schema is newer than this VetBridge")

// ErrNotFound is returned (wrapped) when an outbox entry to update does not exist.
var ErrNotFound = errors.New("not found")

// ErrCorrupt is returned (wrapped) when a stored record cannot be decoded. The
// worklist can be rebuilt from Provet: deleting the affected item, or moving
// the database file aside, recovers.
var ErrCorrupt = errors.New("corrupt record in the VetBridge database (delete the item or move " + FileName + " aside and resync from Provet)")

// ErrInvalid is returned (wrapped) when an argument cannot be stored, such as an
// empty key or a malformed date.
var ErrInvalid = errors.New("invalid argument")

// Options tune Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long to wait for the file lock; zero means DefaultTimeout.
	Timeout time.Duration
	// QueryLogLimit bounds the query log; zero means DefaultQueryLogLimit.
	QueryLogLimit int
}

// Store is an open VetBridge database.
type Store struct {
	db       *bolt.DB
	dir      string
	queryCap uint64
}

// Open opens (creating if needed) dir/vetbridge.db.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("open store: no data directory given: %w", ErrInvalid)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.QueryLogLimit <= 0 {
		opts.QueryLogLimit = DefaultQueryLogLimit
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s (check permissions or choose another data directory): %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("another VetBridge is already using %s; close it or choose another data directory: %w", dir, ErrAlreadyRunning)
		}
		return nil, fmt.Errorf("open database %s (if the file is damaged, move it aside and VetBridge will start empty and resync from Provet): %w", path, err)
	}
	s := &Store{db: db, dir: dir, queryCap: uint64(opts.QueryLogLimit)}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s in %s: %w", name, s.dir, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		if v == nil {
			return meta.Put(keySchema, u64(SchemaVersion))
		}
		if len(v) != 8 {
			return fmt.Errorf("schema marker in %s: %w", s.dir, ErrCorrupt)
		}
		if got := binary.BigEndian.Uint64(v); got > SchemaVersion {
			return fmt.Errorf("the database in %s was written by a newer VetBridge (schema %d, this version understands up to %d); update VetBridge or choose another data directory: %w",
				s.dir, got, SchemaVersion, ErrSchemaTooNew)
		}
		return nil
	})
}

// Close releases the database file. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database in %s: %w", s.dir, err)
	}
	return nil
}

// Dir is the data directory the store was opened on.
func (s *Store) Dir() string { return s.dir }

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// clone copies a bbolt slice so it survives the transaction. nil stays nil.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// GetMeta returns the value stored under key and whether it exists.
func (s *Store) GetMeta(key string) ([]byte, bool, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = clone(tx.Bucket(bucketKV).Get([]byte(key)))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read setting %q: %w", key, err)
	}
	return out, out != nil, nil
}

// PutMeta stores value under key. A nil value deletes the key.
func (s *Store) PutMeta(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("store setting: empty key: %w", ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKV)
		if value == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("store setting %q: %w", key, err)
	}
	return nil
}

// GetStep returns the MPPS instance stored under uid.
func (s *Store) GetStep(uid string) ([]byte, bool, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = clone(tx.Bucket(bucketSteps).Get([]byte(uid)))
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read MPPS instance %s: %w", uid, err)
	}
	return out, out != nil, nil
}

// PutStepAndEnqueue stores an MPPS instance and, when e is not nil, enqueues its
// status update in the same transaction: after a crash either both are on disk
// or neither is, so an update is never lost and never sent twice. An e whose
// DedupKey is already known is silently skipped (the step is still stored).
func (s *Store) PutStepAndEnqueue(uid string, step []byte, e *Entry) error {
	if uid == "" {
		return fmt.Errorf("store MPPS instance: empty SOP instance UID: %w", ErrInvalid)
	}
	if e != nil && e.DedupKey == "" {
		return fmt.Errorf("store MPPS instance %s: outbox entry without dedup key: %w", uid, ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketSteps).Put([]byte(uid), step); err != nil {
			return err
		}
		if e != nil {
			_, _, err := enqueueTx(tx, *e, time.Now())
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store MPPS instance %s: %w", uid, err)
	}
	return nil
}

// MarkNotified records that the technician was told about key. first is true
// only for the call that added it, so concurrent pollers notify once.
func (s *Store) MarkNotified(key string) (first bool, err error) {
	if key == "" {
		return false, fmt.Errorf("mark notified: empty key: %w", ErrInvalid)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotified)
		if b.Get([]byte(key)) != nil {
			return nil
		}
		first = true
		return b.Put([]byte(key), u64(uint64(time.Now().UnixNano())))
	})
	if err != nil {
		return false, fmt.Errorf("mark %q notified: %w", key, err)
	}
	return first, nil
}

// PruneNotified forgets notifications recorded before the given time and
// returns how many it dropped, so the set does not grow without end. Prune
// only keys that cannot come back (orders long gone), or their technician
// will be told again.
func (s *Store) PruneNotified(before time.Time) (int, error) {
	n, err := s.prune(bucketNotified, func(v []byte) bool {
		return len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < before.UnixNano()
	})
	if err != nil {
		return 0, fmt.Errorf("prune notified set: %w", err)
	}
	return n, nil
}

// prune deletes every key of bucket whose value is stale, in one transaction.
func (s *Store) prune(bucket []byte, stale func(v []byte) bool) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil; {
			if stale(v) {
				next := append(clone(k), 0) // the smallest key after k
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				// Deleting under a cursor can make Next skip a key; seek instead.
				k, v = c.Seek(next)
				continue
			}
			k, v = c.Next()
		}
		return nil
	})
	return n, err
}

// WasNotified reports whether MarkNotified was called for key.
func (s *Store) WasNotified(key string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketNotified).Get([]byte(key)) != nil
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read notified %q: %w", key, err)
	}
	return ok, nil
}

// PutDevice records what was last seen from the device calling as callingAE.
func (s *Store) PutDevice(callingAE string, data []byte) error {
	if callingAE == "" {
		return fmt.Errorf("store device: empty calling AE title: %w", ErrInvalid)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDevices).Put([]byte(callingAE), data)
	})
	if err != nil {
		return fmt.Errorf("store device %q: %w", callingAE, err)
	}
	return nil
}

// Devices calls fn for every device in calling AE order, after the read
// transaction has ended (fn may call back into the store). An error from fn
// stops the walk and is returned.
func (s *Store) Devices(fn func(callingAE string, data []byte) error) error {
	type dev struct {
		ae   string
		data []byte
	}
	var devs []dev
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			devs = append(devs, dev{string(k), clone(v)})
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read devices: %w", err)
	}
	for _, d := range devs {
		if err := fn(d.ae, d.data); err != nil {
			return err
		}
	}
	return nil
}

// AppendQuery adds an entry to the query log, dropping the oldest entries
// beyond the configured limit.
func (s *Store) AppendQuery(data []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueries)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(u64(seq), data); err != nil {
			return err
		}
		// Sequence numbers are contiguous, so the window is [seq-cap+1, seq]:
		// delete from the front until the first key is inside it.
		c := b.Cursor()
		for k, _ := c.First(); k != nil && seq-binary.BigEndian.Uint64(k) >= s.queryCap; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append to query log: %w", err)
	}
	return nil
}

// RecentQueries returns up to n query log entries, newest first.
func (s *Store) RecentQueries(n int) ([][]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	out := make([][]byte, 0, min(n, int(s.queryCap)))
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueries).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			out = append(out, clone(v))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read query log: %w", err)
	}
	return out, nil
}
