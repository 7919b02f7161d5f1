// Package store is VetBridge's embedded database: the worklist items with their
// date and reference indexes, the outbox of status updates for Provet, MPPS
// instances, the notified set, a bounded query log, the devices seen and a small
// key/value area for sync cursors.
//
// It is a thin layer over bbolt. Values are opaque bytes (the app encodes them as
// JSON); the store only understands the few fields it must index. Every method is
// safe for concurrent use: bbolt allows many readers alongside one writer, so
// C-FIND lookups never wait for a sync to commit.
//
// Open checks the file before trusting it. A damaged or empty file is moved
// aside as vetbridge.db.damaged-<UTC time>, what can still be read of the
// outbox, the MPPS steps, the devices and the settings is carried into a new
// file, and Store.Recovery says so; the worklist itself is rebuilt by the next
// sync from Provet.
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
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file inside the data directory.
const FileName = "vetbridge.db"

// SchemaVersion is the layout this code reads and writes. A file with a higher
// version was written by a newer VetBridge and is refused rather than
// misread; an older one is migrated in place by Open.
//
//   - 1: items with date and modality indexes.
//   - 2: items carry Refs, indexed in by_ref; the modality index is gone.
const SchemaVersion = 2

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
	bucketByRef    = []byte("by_ref")   // uvarint len(ref), ref, key -> nil
	bucketOutbox   = []byte("outbox")   // id (uint64 BE) -> JSON outbox record
	bucketDedup    = []byte("dedup")    // dedup key -> id (uint64 BE)
	bucketSteps    = []byte("steps")    // SOP instance UID -> step bytes
	bucketNotified = []byte("notified") // key -> unix nanoseconds (uint64 BE)
	bucketQueries  = []byte("queries")  // seq (uint64 BE) -> query bytes
	bucketDevices  = []byte("devices")  // calling AE -> device bytes

	allBuckets = [][]byte{
		bucketMeta, bucketKV, bucketItems, bucketByDate, bucketByRef,
		bucketOutbox, bucketDedup, bucketSteps, bucketNotified, bucketQueries, bucketDevices,
	}

	keySchema = []byte("schema")

	// legacyByMod is schema 1's modality index, dropped by the migration.
	legacyByMod = []byte("by_mod")
)

// ErrAlreadyRunning is returned (wrapped) by Open when another process holds the
// data directory.
var ErrAlreadyRunning = errors.New("data directory in use")

// ErrSchemaTooNew is returned (wrapped) by Open when the database was written by
// a newer VetBridge. The file is left as it is: it is not damaged.
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
	// Now is the store's clock: it stamps outbox entries, sent updates, the
	// notified set and the name of a damaged file moved aside; nil means
	// time.Now.
	Now func() time.Time
}

// Store is an open VetBridge database.
type Store struct {
	db       *bolt.DB
	dir      string
	queryCap uint64
	recovery *Recovery
	now      func() time.Time
}

// Open opens (creating if needed) dir/vetbridge.db. A damaged or empty file
// does not fail Open: it is moved aside and replaced by a new file holding
// what could be salvaged, and Recovery reports it. Open fails with
// ErrAlreadyRunning when another process holds the file and with
// ErrSchemaTooNew when a newer VetBridge wrote it; neither counts as damage.
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s (check permissions or choose another data directory): %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	if err := finishRebuild(path); err != nil {
		return nil, err
	}
	if err := inspect(path, dir, opts); err != nil {
		return nil, err
	}
	judged, _ := os.Stat(path)
	s, err := openVerified(path, dir, opts)
	var d errDamage
	if errors.As(err, &d) {
		// bbolt or the record checks found what the file walk did not.
		if err := rebuildLocked(path, dir, judged, d.reason, opts); err != nil {
			return nil, err
		}
		s, err = openVerified(path, dir, opts)
		if errors.As(err, &d) {
			return nil, fmt.Errorf("the rebuilt database %s fails its own check (%s); move it aside to start empty: %w", path, d.reason, ErrCorrupt)
		}
	}
	return s, err
}

// openVerified opens a file that passed the walk with bbolt, checks it again
// through bbolt and migrates it; errDamage says the file must be rebuilt.
func openVerified(path, dir string, opts Options) (*Store, error) {
	db, err := boltOpen(path, dir, opts.Timeout)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, dir: dir, queryCap: uint64(opts.QueryLogLimit), now: opts.Now}
	// Nothing is written before the checks pass, so a damaged file is moved
	// aside exactly as it was found.
	version, err := s.schema()
	if err == nil {
		err = guard(s.verify)
	}
	if err == nil {
		err = guard(func() error { return s.upgrade(version) })
	}
	if err == nil {
		err = s.loadRecovery()
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// guard turns a panic or memory fault in fn, which reads the file through
// bbolt, into damage.
func guard(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = damage("reading the file failed: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return fn()
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			if errors.Is(err, berrors.ErrIncompatibleValue) {
				return damage("%s is a value where a bucket belongs", name)
			}
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// schema reads the file's schema version (0 for a new file) and refuses a
// file from a newer VetBridge before anything reads its records.
func (s *Store) schema() (uint64, error) {
	var version uint64
	err := guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				return nil
			}
			v := meta.Get(keySchema)
			if v == nil {
				return nil
			}
			if len(v) != 8 {
				return damage("the schema marker has %d bytes", len(v))
			}
			version = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	if version > SchemaVersion {
		return 0, fmt.Errorf("this database (%s) was written by a newer VetBridge (schema %d, this one reads up to %d); install the newer VetBridge again or move the file aside: %w",
			filepath.Join(s.dir, FileName), version, SchemaVersion, ErrSchemaTooNew)
	}
	return version, nil
}

// upgrade creates missing buckets and migrates an older layout; a file that
// needs neither is not written to.
func (s *Store) upgrade(version uint64) error {
	if version == SchemaVersion {
		complete := true
		_ = s.db.View(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				complete = complete && tx.Bucket(name) != nil
			}
			return nil
		})
		if complete {
			return nil
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		if version == SchemaVersion {
			return nil
		}
		if err := migrate(tx); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion))
	})
	if err != nil {
		return fmt.Errorf("prepare database in %s: %w", s.dir, err)
	}
	return nil
}

// migrate brings a schema 1 file (or a new, empty one) to this schema: the
// modality index goes, and the reference index is rebuilt from the items.
// Schema 1 items carry no references, so the index starts out empty for
// them; the app puts its items again with references on its next sync.
func migrate(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(legacyByMod); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return fmt.Errorf("drop the modality index: %w", err)
	}
	return rebuildRefIndex(tx)
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
			_, _, err := enqueueTx(tx, *e, s.now())
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
		return b.Put([]byte(key), u64(uint64(s.now().UnixNano())))
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
