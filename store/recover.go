package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Recovery says what Open did about a damaged database file. The damaged
// file is never deleted: it is renamed beside the new one, so that nothing
// is lost that a later tool could still read.
type Recovery struct {
	// At is when the file was moved aside.
	At time.Time `json:"at"`
	// Empty is true when nothing could be read from the file: it was empty
	// (0 bytes), or its header or root was unreadable.
	Empty bool `json:"empty,omitempty"`
	// Reason is what was found wrong, in technical terms, for the log.
	Reason string `json:"reason"`
	// MovedTo is the damaged file's new path.
	MovedTo string `json:"moved_to"`
	// OutboxKept is how many status updates waiting for Provet were carried
	// over; OutboxLost how many are known to have existed and could not be
	// read. OutboxUncertain is set when parts of the outbox were unreadable,
	// so that more may have been lost than OutboxLost counts.
	OutboxKept      int  `json:"outbox_kept"`
	OutboxLost      int  `json:"outbox_lost"`
	OutboxUncertain bool `json:"outbox_uncertain,omitempty"`
	// StepsKept, DevicesKept and MetaKept count the performed procedure
	// steps, devices and settings (such as the sync position) carried over.
	StepsKept   int `json:"steps_kept"`
	DevicesKept int `json:"devices_kept"`
	MetaKept    int `json:"meta_kept"`
	// ItemsDropped counts the worklist items that were still readable and
	// were not carried over: the next sync rebuilds the worklist from Provet.
	ItemsDropped int `json:"items_dropped"`
}

// Message says in a sentence or three what happened, for the status line
// and the log.
func (r *Recovery) Message() string {
	var b strings.Builder
	what := "damaged"
	if r.Empty {
		what = "empty or unreadable"
	}
	fmt.Fprintf(&b, "The worklist database was %s; it was moved to %s and the worklist will be rebuilt from Provet. ", what, r.MovedTo)
	switch {
	case r.Empty:
		b.WriteString("Status updates that were waiting to be sent to Provet, if there were any, could not be read; check the exams done since the last sync in Provet.")
	case r.OutboxLost == 0 && !r.OutboxUncertain:
		fmt.Fprintf(&b, "%d of %d waiting status updates were kept.", r.OutboxKept, r.OutboxKept)
	case !r.OutboxUncertain:
		fmt.Fprintf(&b, "%d of %d waiting status updates were kept; check the others in Provet.", r.OutboxKept, r.OutboxKept+r.OutboxLost)
	default:
		fmt.Fprintf(&b, "%d waiting status updates were kept; part of the file could not be read, so others may have been lost: check the exams done since the last sync in Provet.", r.OutboxKept)
	}
	return b.String()
}

// Recovery returns what Open did about a damaged database file, or nil when
// the file was sound. The app shows Message in the status line and logs it.
func (s *Store) Recovery() *Recovery { return s.recovery }

// errDamage marks a failure that the file's content caused: the file is
// moved aside and rebuilt instead of failing Open.
type errDamage struct{ reason string }

func (e errDamage) Error() string { return e.reason }

func damage(format string, args ...any) error {
	return errDamage{fmt.Sprintf(format, args...)}
}

// salvageSuffix names the file a recovery builds before it takes the damaged
// file's place.
const salvageSuffix = ".salvaged"

// keyRecovery holds the recovery notice in the internal meta bucket until
// the next Open hands it to the app, so that a crash in the middle of a
// recovery does not lose the notice.
var keyRecovery = []byte("recovery")

// lockRetry is how often a held lock is tried again; bbolt uses the same.
const lockRetry = 50 * time.Millisecond

// lockExisting opens and locks path as bbolt would, so that no other
// VetBridge can write the file while it is judged. It returns nil when there
// is no file, and an ErrAlreadyRunning error when the lock stays held.
func lockExisting(path, dir string, timeout time.Duration) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("open database %s (check its permissions): %w", path, err)
		}
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock database %s: %w", path, err)
		}
		if ok {
			// Another VetBridge may have moved the file aside while we
			// waited: the lock must be on the file the path names now.
			fi, err1 := f.Stat()
			pi, err2 := os.Stat(path)
			if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
				return f, nil
			}
			unlockClose(f)
			continue
		}
		f.Close()
		if time.Now().After(deadline) {
			return nil, alreadyRunning(dir)
		}
		time.Sleep(lockRetry)
	}
}

func alreadyRunning(dir string) error {
	return fmt.Errorf("another VetBridge is already using %s; close it or choose another data directory: %w", dir, ErrAlreadyRunning)
}

func unlockClose(f *os.File) {
	_ = unlock(f)
	_ = f.Close()
}

// inspect walks an existing database file under its lock and, when it is
// damaged, moves it aside and puts a rebuilt one in its place.
func inspect(path, dir string, opts Options) error {
	f, err := lockExisting(path, dir, opts.Timeout)
	if f == nil || err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		unlockClose(f)
		return fmt.Errorf("read database %s: %w", path, err)
	}
	bf, err := readBoltFile(f, info.Size())
	if err == nil {
		err = bf.check()
	}
	if err == nil {
		unlockClose(f)
		return nil
	}
	return rebuild(path, f, bf, err.Error(), opts)
}

// rebuildLocked is rebuild for damage that bbolt or the record checks found
// in the file judged was, after the walk passed it.
func rebuildLocked(path, dir string, judged os.FileInfo, reason string, opts Options) error {
	f, err := lockExisting(path, dir, opts.Timeout)
	if err != nil || f == nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		unlockClose(f)
		return fmt.Errorf("read database %s: %w", path, err)
	}
	if judged == nil || !os.SameFile(info, judged) {
		unlockClose(f)
		return nil // another VetBridge rebuilt it meanwhile
	}
	bf, _ := readBoltFile(f, info.Size())
	return rebuild(path, f, bf, reason, opts)
}

// rebuild salvages what it can from the locked damaged file f (bf is nil
// when not even its header could be read), writes that to a new file, moves
// the damaged one aside and the new one into its place. It consumes f.
func rebuild(path string, f *os.File, bf *boltFile, reason string, opts Options) error {
	var found map[string]*salvagedBucket
	if bf != nil {
		found = bf.salvage(allBuckets)
	}
	res := sortSalvage(found)
	res.rec.Reason = reason
	res.rec.At = opts.Now().UTC()
	aside, err := asideName(path, res.rec.At)
	if err != nil {
		unlockClose(f)
		return err
	}
	res.rec.MovedTo = aside
	tmp := path + salvageSuffix
	if err := writeSalvage(tmp, res); err != nil {
		unlockClose(f)
		return fmt.Errorf("the database %s is damaged (%s) and a repaired copy could not be written (free some disk space, or move the file aside to start empty): %w", path, reason, err)
	}
	// Windows renames no file that is open, so there the lock goes first
	// and a VetBridge starting at that moment makes the rename fail. Other
	// systems keep the lock until the new file is in place: a VetBridge
	// waiting for it then finds the path naming another file and starts over.
	if runtime.GOOS == "windows" {
		unlockClose(f)
	} else {
		defer unlockClose(f)
	}
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("the database %s is damaged (%s) and could not be moved aside (close any program that has it open, or move it aside yourself): %w", path, reason, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("put the repaired database in place of %s: %w", path, err)
	}
	return nil
}

// asideName picks a name for the damaged file that no earlier recovery used.
func asideName(path string, at time.Time) (string, error) {
	base := path + ".damaged-" + at.Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
		if i > 100 {
			return "", fmt.Errorf("too many damaged copies named %s-*; move some out of %s", base, filepath.Dir(path))
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// writeSalvage creates a database holding the salvaged records and the
// recovery notice.
func writeSalvage(tmp string, res salvageResult) error {
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	notice, err := json.Marshal(res.rec)
	if err != nil {
		_ = db.Close()
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchema, u64(SchemaVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyRecovery, notice); err != nil {
			return err
		}
		for name, sb := range res.buckets {
			b := tx.Bucket([]byte(name))
			for i, k := range sb.keys {
				if err := b.Put(k, sb.vals[i]); err != nil {
					return err
				}
			}
			if err := b.SetSequence(sb.seq); err != nil {
				return err
			}
		}
		// Outbox ids are never reused, even those of entries that were lost.
		return tx.Bucket(bucketOutbox).SetSequence(res.outboxID)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// finishRebuild completes a recovery that stopped between moving the
// damaged file aside and moving the rebuilt one into place.
func finishRebuild(path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tmp := path + salvageSuffix
	if _, err := os.Lstat(tmp); err != nil {
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("put the repaired database %s in place: %w", tmp, err)
	}
	return nil
}

// boltOpen opens the file with bbolt, turning a panic or memory fault inside
// bbolt into damage. The file was walked first, so this is a second line.
func boltOpen(path, dir string, timeout time.Duration) (db *bolt.DB, err error) {
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				_ = file.Close() // releases the lock bbolt took
			}
			db, err = nil, damage("the database library failed on the file: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, alreadyRunning(dir)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, damage("the database library refused the file: %v", err)
	}
	return nil, fmt.Errorf("open database %s (check the disk and its permissions): %w", path, err)
}

// verify runs bbolt's consistency check and reads every record the store
// must be able to decode, turning any failure into damage.
// Call it through guard.
func (s *Store) verify() error {
	return s.db.View(func(tx *bolt.Tx) error {
		// Check reports on a channel from a goroutine of its own, which
		// recovers its own panics; drain it so that goroutine ends.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return damage("consistency check: %v", first)
		}
		return checkRecords(tx)
	})
}

// checkRecords decodes the records that a read would otherwise fail on for
// ever after: worklist items, outbox entries, dedup stamps and query log
// sequence numbers.
func checkRecords(tx *bolt.Tx) error {
	for _, c := range []struct {
		bucket []byte
		check  func(k, v []byte) error
	}{
		{bucketItems, func(k, v []byte) error {
			if _, err := decodeItem(string(k), v); err != nil {
				return damage("worklist item %q: %v", k, err)
			}
			return nil
		}},
		{bucketOutbox, func(k, v []byte) error {
			if _, err := decodeOutbox(k, v); err != nil {
				return damage("%v", err)
			}
			return nil
		}},
		{bucketDedup, func(k, v []byte) error {
			if len(v) != 8 && len(v) != 16 {
				return damage("dedup record %q has %d bytes", k, len(v))
			}
			return nil
		}},
		{bucketQueries, func(k, _ []byte) error {
			if len(k) != 8 {
				return damage("query log key %x", k)
			}
			return nil
		}},
	} {
		// A missing bucket is created later; a value in its place is not.
		if b := tx.Bucket(c.bucket); b != nil {
			if err := b.ForEach(c.check); err != nil {
				return err
			}
		} else if tx.Cursor().Bucket().Get(c.bucket) != nil {
			return damage("%s is a value where a bucket belongs", c.bucket)
		}
	}
	return nil
}

// loadRecovery reads a recovery notice left in the file by this or an
// earlier Open. It stays there until DismissRecovery, so a command that
// happens to open the store first does not take it from the app.
func (s *Store) loadRecovery() error {
	var notice []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		notice = clone(tx.Bucket(bucketMeta).Get(keyRecovery))
		return nil
	}); err != nil || notice == nil {
		return err
	}
	var r Recovery
	if err := json.Unmarshal(notice, &r); err != nil {
		r = Recovery{Reason: "an earlier recovery left an unreadable notice"}
	}
	s.recovery = &r
	return nil
}

// DismissRecovery forgets the recovery notice once the app has logged and
// shown it; until then every Open reports it again.
func (s *Store) DismissRecovery() error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyRecovery) })
	if err != nil {
		return fmt.Errorf("forget the database recovery notice: %w", err)
	}
	s.recovery = nil
	return nil
}
