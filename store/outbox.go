package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Entry is a status update to enqueue for Provet.
type Entry struct {
	// DedupKey identifies the update (for example "<mpps uid>/COMPLETED"); the
	// outbox accepts each key once, ever, so retries and replays cannot send an
	// update twice.
	DedupKey string
	Payload  []byte
}

// OutboxEntry is a queued update with its delivery state.
type OutboxEntry struct {
	ID          uint64
	DedupKey    string
	Payload     []byte
	Attempts    int
	NextAttempt time.Time // zero: as soon as possible
	LastError   string
	Created     time.Time
}

// maxDedupKey keeps dedup keys well below bbolt's key size limit.
const maxDedupKey = 1024

// maxLastError bounds the stored error text: a misbehaving proxy can answer
// with a whole HTML page, and the entry is rewritten on every attempt.
const maxLastError = 2048

func truncateError(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	s = s[:maxLastError]
	// Back off to a rune boundary so the stored text stays valid UTF-8.
	for i := 0; i < utf8.UTFMax && len(s) > 0 && !utf8.ValidString(s); i++ {
		s = s[:len(s)-1]
	}
	return s
}

// outboxRecord is the on-disk form; JSON keeps it readable in a bbolt browser
// when a clinic's IT asks why an update did not reach Provet.
type outboxRecord struct {
	DedupKey    string    `json:"k"`
	Payload     []byte    `json:"p"`
	Attempts    int       `json:"a,omitempty"`
	NextAttempt time.Time `json:"n,omitzero"`
	LastError   string    `json:"e,omitempty"`
	Created     time.Time `json:"c"`
}

func validateEntry(e Entry) error {
	if e.DedupKey == "" {
		return fmt.Errorf("outbox entry without dedup key: %w", ErrInvalid)
	}
	if len(e.DedupKey) > maxDedupKey {
		return fmt.Errorf("outbox dedup key is %d bytes, more than %d: %w", len(e.DedupKey), maxDedupKey, ErrInvalid)
	}
	return nil
}

// enqueueTx adds e unless its dedup key was seen before, in which case it
// returns the id first given to that key and dup = true.
func enqueueTx(tx *bolt.Tx, e Entry, now time.Time) (uint64, bool, error) {
	if err := validateEntry(e); err != nil {
		return 0, false, err
	}
	dedup := tx.Bucket(bucketDedup)
	if v := dedup.Get([]byte(e.DedupKey)); v != nil {
		if len(v) != 8 && len(v) != 16 {
			return 0, false, fmt.Errorf("dedup record for %q: %w", e.DedupKey, ErrCorrupt)
		}
		return binary.BigEndian.Uint64(v), true, nil
	}
	out := tx.Bucket(bucketOutbox)
	id, err := out.NextSequence()
	if err != nil {
		return 0, false, err
	}
	rec, err := json.Marshal(outboxRecord{DedupKey: e.DedupKey, Payload: e.Payload, Created: now.UTC()})
	if err != nil {
		return 0, false, err
	}
	if err := out.Put(u64(id), rec); err != nil {
		return 0, false, err
	}
	if err := dedup.Put([]byte(e.DedupKey), u64(id)); err != nil {
		return 0, false, err
	}
	return id, false, nil
}

// Enqueue adds an update to the outbox. Enqueueing a DedupKey that is already
// pending or was already sent changes nothing and reports dup with the original
// id.
func (s *Store) Enqueue(e Entry) (id uint64, dup bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		id, dup, err = enqueueTx(tx, e, s.now())
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("queue update %q for Provet: %w", e.DedupKey, err)
	}
	return id, dup, nil
}

// PendingOutbox returns every update not yet marked sent, oldest first,
// including those whose NextAttempt is still in the future: the sender decides
// what is due.
func (s *Store) PendingOutbox() ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			e, err := decodeOutbox(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// decodeOutbox copies as it decodes: json.Unmarshal never aliases its input.
func decodeOutbox(k, v []byte) (OutboxEntry, error) {
	if len(k) != 8 {
		return OutboxEntry{}, fmt.Errorf("outbox key %x: %w", k, ErrCorrupt)
	}
	id := binary.BigEndian.Uint64(k)
	var r outboxRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return OutboxEntry{}, fmt.Errorf("outbox entry %d: %w (%v)", id, ErrCorrupt, err)
	}
	return OutboxEntry{
		ID: id, DedupKey: r.DedupKey, Payload: r.Payload, Attempts: r.Attempts,
		NextAttempt: r.NextAttempt, LastError: r.LastError, Created: r.Created,
	}, nil
}

// MarkSent removes a delivered update. Its dedup key stays known, so the same
// update enqueued again (say, a replayed N-SET) is recognised as a duplicate.
func (s *Store) MarkSent(id uint64) error {
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		v := b.Get(u64(id))
		if v == nil {
			return ErrNotFound
		}
		// Stamp the dedup record with the send time so PruneSent can age it
		// out. A corrupt entry is still dropped, without the stamp.
		var r outboxRecord
		if json.Unmarshal(v, &r) == nil && r.DedupKey != "" {
			rec := binary.BigEndian.AppendUint64(u64(id), uint64(now.UnixNano()))
			if err := tx.Bucket(bucketDedup).Put([]byte(r.DedupKey), rec); err != nil {
				return err
			}
		}
		return b.Delete(u64(id))
	})
	if err != nil {
		return fmt.Errorf("mark outbox entry %d sent: %w", id, err)
	}
	return nil
}

// MarkFailed records a failed delivery attempt and when to try again.
func (s *Store) MarkFailed(id uint64, errMsg string, next time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		v := b.Get(u64(id))
		if v == nil {
			return ErrNotFound
		}
		var r outboxRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("outbox entry: %w (%v)", ErrCorrupt, err)
		}
		r.Attempts++
		r.LastError = truncateError(errMsg)
		r.NextAttempt = next.UTC()
		rec, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(u64(id), rec)
	})
	if err != nil {
		return fmt.Errorf("record failed delivery of outbox entry %d: %w", id, err)
	}
	return nil
}

// PruneSent forgets the dedup keys of updates sent before the given time and
// returns how many it dropped; without it they accumulate, about a hundred
// bytes per exam. Once forgotten, a key can be enqueued again, so choose a
// horizon longer than any device could replay an old N-SET (months, not days).
// Keys of pending updates are never pruned.
func (s *Store) PruneSent(before time.Time) (int, error) {
	n, err := s.prune(bucketDedup, func(v []byte) bool {
		return len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) < before.UnixNano()
	})
	if err != nil {
		return 0, fmt.Errorf("prune sent outbox keys: %w", err)
	}
	return n, nil
}
