package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openT(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenCreatesFileAndSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s := openT(t, dir)
	if s.Dir() != dir {
		t.Fatalf("Dir() = %q, want %q", s.Dir(), dir)
	}
	if err := s.db.View(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s missing", b)
			}
		}
		if v := tx.Bucket(bucketMeta).Get(keySchema); !bytes.Equal(v, u64(SchemaVersion)) {
			return fmt.Errorf("schema marker %x", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := s.db.Path(); got != filepath.Join(dir, FileName) {
		t.Fatalf("database at %s", got)
	}
}

func TestOpenEmptyDir(t *testing.T) {
	if _, err := Open("", Options{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open(\"\") = %v, want ErrInvalid", err)
	}
}

func TestOpenTwiceIsAlreadyRunning(t *testing.T) {
	dir := t.TempDir()
	first := openT(t, dir)
	start := time.Now()
	second, err := Open(dir, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("second Open on the same directory succeeded")
	}
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Open: %v, want ErrAlreadyRunning", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "another VetBridge") {
		t.Fatalf("message does not tell the user what is wrong: %q", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v; it must give up after its timeout", d)
	}
	// Once the first instance closes, the directory is free again.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Open(dir, Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	third.Close()
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, u64(SchemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(dir, Options{})
	if err == nil {
		s2.Close()
		t.Fatal("opened a database with a newer schema")
	}
	want := fmt.Sprintf("written by a newer VetBridge (schema %d, this one reads up to %d); install the newer VetBridge again or move the file aside", SchemaVersion+1, SchemaVersion)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want ErrSchemaTooNew saying %q", err, want)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Fatalf("a newer schema is not damage: %v", err)
	}
	// Refused, not treated as damage: nothing was moved aside or rewritten.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != FileName {
		t.Fatalf("data directory holds %v after the refusal", entries)
	}
	// The refusal must have released the file lock.
	s3, err := Open(dir, Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s3.Close()
		}
		t.Fatalf("third Open: %v, want ErrSchemaTooNew (not a lock timeout)", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustNil(t, s.PutItem(Item{Key: "k1", Date: "20260105", Modality: "DX", Refs: []string{"sps\x00S1", "acc\x00A1"}, Data: []byte("one")}))
	id, _, err := s.Enqueue(Entry{DedupKey: "d1", Payload: []byte("p")})
	mustNil(t, err)
	mustNil(t, s.PutStepAndEnqueue("1.2.3", []byte("step"), nil))
	_, err = s.MarkNotified("k1")
	mustNil(t, err)
	mustNil(t, s.AppendQuery([]byte("q1")))
	mustNil(t, s.PutDevice("US1", []byte("dev")))
	mustNil(t, s.PutMeta("cursor", []byte("c")))
	mustNil(t, s.Close())

	s = openT(t, dir)
	it, ok, err := s.GetItem("k1")
	if err != nil || !ok || string(it.Data) != "one" || it.Date != "20260105" || it.Modality != "DX" ||
		!slices.Equal(it.Refs, []string{"sps\x00S1", "acc\x00A1"}) {
		t.Fatalf("item after reopen: %+v %v %v", it, ok, err)
	}
	eq(t, "by accession after reopen", byRef(t, s, "acc\x00A1"), []string{"k1"})
	if s.Recovery() != nil {
		t.Fatalf("a sound file reported a recovery: %+v", s.Recovery())
	}
	pend, err := s.PendingOutbox()
	if err != nil || len(pend) != 1 || pend[0].ID != id || string(pend[0].Payload) != "p" {
		t.Fatalf("outbox after reopen: %+v %v", pend, err)
	}
	if st, ok, _ := s.GetStep("1.2.3"); !ok || string(st) != "step" {
		t.Fatalf("step after reopen: %q %v", st, ok)
	}
	if ok, _ := s.WasNotified("k1"); !ok {
		t.Fatal("notified set lost on reopen")
	}
	if q, _ := s.RecentQueries(5); len(q) != 1 || string(q[0]) != "q1" {
		t.Fatalf("query log after reopen: %q", q)
	}
	if v, ok, _ := s.GetMeta("cursor"); !ok || string(v) != "c" {
		t.Fatalf("meta after reopen: %q %v", v, ok)
	}
	// Sequences continue rather than restart, so ids are never reused.
	id2, _, err := s.Enqueue(Entry{DedupKey: "d2"})
	mustNil(t, err)
	if id2 <= id {
		t.Fatalf("id after reopen %d not above %d", id2, id)
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func keysOf(items []Item) []string {
	var ks []string
	for _, it := range items {
		ks = append(ks, it.Key)
	}
	return ks
}

func byDate(t *testing.T, s *Store, from, to string) []string {
	t.Helper()
	var got []Item
	mustNil(t, s.ItemsByDate(from, to, func(it Item) error { got = append(got, it); return nil }))
	return keysOf(got)
}

// byRef returns the key ItemByRef finds for ref, as a list of zero or one.
func byRef(t *testing.T, s *Store, ref string) []string {
	t.Helper()
	it, ok, err := s.ItemByRef(ref)
	mustNil(t, err)
	if !ok {
		return nil
	}
	return []string{it.Key}
}

func allByRef(t *testing.T, s *Store, ref string) []string {
	t.Helper()
	var got []Item
	mustNil(t, s.ItemsByRef(ref, func(it Item) error { got = append(got, it); return nil }))
	return keysOf(got)
}

func all(t *testing.T, s *Store) []string {
	t.Helper()
	var got []Item
	mustNil(t, s.AllItems(func(it Item) error { got = append(got, it); return nil }))
	return keysOf(got)
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// indexSize counts entries in an index bucket, to prove no stale entries remain.
func indexSize(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	mustNil(t, s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, _ []byte) error { n++; return nil })
	}))
	return n
}

func TestItemsIndexes(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, it := range []Item{
		{Key: "a", Date: "20260101", Modality: "DX", Refs: []string{"sps\x00A1", "acc\x00X1"}, Data: []byte("A")},
		{Key: "b", Date: "20260102", Modality: "US", Refs: []string{"sps\x00B1"}},
		{Key: "c", Date: "20260102", Modality: "DX", Refs: []string{"sps\x00C1", "acc\x00X1"}},
		{Key: "d", Date: "20260110", Modality: "CT"},
		{Key: "u", Date: "", Modality: "DX", Refs: []string{"sps"}}, // unscheduled date
		// Keys and refs containing the separator must not confuse the indexes.
		{Key: "e\x00x", Date: "20260102", Modality: "D", Refs: []string{"sps\x00"}},
	} {
		mustNil(t, s.PutItem(it))
	}
	eq(t, "2nd only", byDate(t, s, "20260102", "20260102"), []string{"b", "c", "e\x00x"})
	eq(t, "1st-9th", byDate(t, s, "20260101", "20260109"), []string{"a", "b", "c", "e\x00x"})
	eq(t, "from 3rd", byDate(t, s, "20260103", ""), []string{"d"})
	eq(t, "up to 1st", byDate(t, s, "", "20260101"), []string{"u", "a"})
	eq(t, "empty range", byDate(t, s, "20260111", "20260131"), nil)
	eq(t, "reversed range", byDate(t, s, "20260110", "20260101"), nil)
	eq(t, "sps A1", byRef(t, s, "sps\x00A1"), []string{"a"})
	eq(t, "acc X1 (two items: first by key)", byRef(t, s, "acc\x00X1"), []string{"a"})
	// "sps" and "sps\x00" are prefixes of other refs: the index must not mix them.
	eq(t, "sps", byRef(t, s, "sps"), []string{"u"})
	eq(t, "sps NUL", byRef(t, s, "sps\x00"), []string{"e\x00x"})
	eq(t, "sps A", byRef(t, s, "sps\x00A"), nil)
	eq(t, "unknown", byRef(t, s, "sps\x00Z9"), nil)
	eq(t, "all with acc X1", allByRef(t, s, "acc\x00X1"), []string{"a", "c"})
	eq(t, "all with sps", allByRef(t, s, "sps"), []string{"u"})
	eq(t, "all unknown", allByRef(t, s, "acc\x00X"), nil)
	if it, _, _ := s.ItemByRef("sps\x00B1"); !slices.Equal(it.Refs, []string{"sps\x00B1"}) || it.Modality != "US" {
		t.Fatalf("ItemByRef item = %+v", it)
	}
	eq(t, "all", all(t, s), []string{"a", "b", "c", "d", "e\x00x", "u"})

	// Moving an item to another date and other refs moves its index entries.
	mustNil(t, s.PutItem(Item{Key: "a", Date: "20260110", Modality: "US", Refs: []string{"sps\x00A2"}, Data: []byte("A2")}))
	eq(t, "1st after move", byDate(t, s, "20260101", "20260101"), nil)
	eq(t, "10th after move", byDate(t, s, "20260110", "20260110"), []string{"a", "d"})
	eq(t, "old sps after move", byRef(t, s, "sps\x00A1"), nil)
	eq(t, "new sps after move", byRef(t, s, "sps\x00A2"), []string{"a"})
	eq(t, "acc X1 after move", byRef(t, s, "acc\x00X1"), []string{"c"})
	eq(t, "all acc X1 after move", allByRef(t, s, "acc\x00X1"), []string{"c"})
	it, ok, err := s.GetItem("a")
	if err != nil || !ok || string(it.Data) != "A2" {
		t.Fatalf("GetItem after move: %+v %v %v", it, ok, err)
	}
	if n := indexSize(t, s, bucketByDate); n != 6 {
		t.Fatalf("date index has %d entries, want 6", n)
	}
	if n := indexSize(t, s, bucketByRef); n != 6 {
		t.Fatalf("ref index has %d entries, want 6", n)
	}

	mustNil(t, s.DeleteItem("c"))
	mustNil(t, s.DeleteItem("missing"))
	if _, ok, _ := s.GetItem("c"); ok {
		t.Fatal("deleted item still there")
	}
	eq(t, "2nd after delete", byDate(t, s, "20260102", "20260102"), []string{"b", "e\x00x"})
	eq(t, "acc X1 after delete", byRef(t, s, "acc\x00X1"), nil)
	eq(t, "all acc X1 after delete", allByRef(t, s, "acc\x00X1"), nil)
	if n := indexSize(t, s, bucketByDate); n != 5 {
		t.Fatalf("date index has %d entries after delete, want 5", n)
	}
	if n := indexSize(t, s, bucketByRef); n != 4 {
		t.Fatalf("ref index has %d entries after delete, want 4", n)
	}
}

func TestItemValidation(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, it := range []Item{
		{Key: ""},
		{Key: strings.Repeat("k", maxItemKey+1)},
		{Key: "k", Date: "2026-01-01"},
		{Key: "k", Date: "2026010"},
		{Key: "k", Date: "2026010a"},
		{Key: "k", Modality: "D\x00X"},
		{Key: "k", Modality: strings.Repeat("M", maxModality+1)},
		{Key: "k", Refs: []string{""}},
		{Key: "k", Refs: []string{strings.Repeat("r", maxRef+1)}},
		{Key: "k", Refs: make([]string, maxRefs+1)},
	} {
		if err := s.PutItem(it); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutItem(%.20q, date %q, modality %.10q) = %v, want ErrInvalid", it.Key, it.Date, it.Modality, err)
		}
	}
	if err := s.ItemsByDate("2026", "", func(Item) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Errorf("ItemsByDate with bad date: %v", err)
	}
	eq(t, "all after rejected puts", all(t, s), nil)
}

func TestItemDataIsCopied(t *testing.T) {
	s := openT(t, t.TempDir())
	data := []byte("original")
	mustNil(t, s.PutItem(Item{Key: "k", Date: "20260101", Data: data}))
	data[0] = 'X' // the caller reusing its buffer must not change the stored item
	var kept []Item
	mustNil(t, s.AllItems(func(it Item) error { kept = append(kept, it); return nil }))
	// Churn the database so that freed pages get reused, then check the
	// slices handed out earlier still hold their bytes.
	for i := range 200 {
		mustNil(t, s.PutItem(Item{Key: fmt.Sprintf("k%03d", i), Date: "20260101", Data: bytes.Repeat([]byte{'z'}, 512)}))
	}
	mustNil(t, s.PutItem(Item{Key: "k", Date: "20260101", Data: []byte("replaced")}))
	if string(kept[0].Data) != "original" {
		t.Fatalf("handed-out data changed to %q", kept[0].Data)
	}
}

func TestCallbacksStopAndMayReenter(t *testing.T) {
	s := openT(t, t.TempDir())
	for i := range 5 {
		mustNil(t, s.PutItem(Item{Key: fmt.Sprint(i), Date: "20260101", Modality: "DX", Refs: []string{"r"}}))
	}
	stop := errors.New("stop")
	for name, walk := range map[string]func(func(Item) error) error{
		"date": func(fn func(Item) error) error { return s.ItemsByDate("", "", fn) },
		"ref":  func(fn func(Item) error) error { return s.ItemsByRef("r", fn) },
		"all":  s.AllItems,
	} {
		n := 0
		err := walk(func(Item) error {
			n++
			if n == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 2 {
			t.Errorf("%s: err %v after %d calls, want stop after 2", name, err, n)
		}
	}
	// A callback that writes must not deadlock against its own read.
	done := make(chan error, 1)
	go func() {
		done <- s.AllItems(func(it Item) error { return s.DeleteItem(it.Key) })
	}()
	select {
	case err := <-done:
		mustNil(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("writing from a walk callback deadlocked")
	}
	eq(t, "after deleting from callback", all(t, s), nil)
}

func TestApplyItems(t *testing.T) {
	s := openT(t, t.TempDir())
	mustNil(t, s.PutItem(Item{Key: "old", Date: "20260101", Modality: "DX", Refs: []string{"r-old"}}))
	mustNil(t, s.PutItem(Item{Key: "keep", Date: "20260101", Modality: "DX", Refs: []string{"r-keep1"}}))
	mustNil(t, s.ApplyItems([]Item{
		{Key: "new1", Date: "20260102", Modality: "US", Refs: []string{"r-new"}},
		{Key: "keep", Date: "20260103", Modality: "US", Refs: []string{"r-keep2"}},
		{Key: "both", Date: "20260103", Modality: "US", Refs: []string{"r-both"}},
	}, []string{"old", "both", "never-existed"}))
	eq(t, "all", all(t, s), []string{"keep", "new1"})
	eq(t, "r-new", byRef(t, s, "r-new"), []string{"new1"})
	eq(t, "r-keep2", byRef(t, s, "r-keep2"), []string{"keep"})
	for _, gone := range []string{"r-old", "r-keep1", "r-both"} {
		eq(t, gone, byRef(t, s, gone), nil)
	}
	if n := indexSize(t, s, bucketByRef); n != 2 {
		t.Fatalf("ref index has %d entries, want 2", n)
	}
	eq(t, "3rd", byDate(t, s, "20260103", "20260103"), []string{"keep"})

	// One bad item rejects the whole batch: nothing of it is applied.
	err := s.ApplyItems([]Item{{Key: "x", Date: "20260101"}, {Key: "y", Date: "bad"}}, []string{"keep"})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("ApplyItems with bad item: %v", err)
	}
	eq(t, "all after rejected batch", all(t, s), []string{"keep", "new1"})
}

func TestOutbox(t *testing.T) {
	s := openT(t, t.TempDir())
	before := time.Now()
	id1, dup, err := s.Enqueue(Entry{DedupKey: "uid1/COMPLETED", Payload: []byte(`{"status":3}`)})
	if err != nil || dup || id1 == 0 {
		t.Fatalf("first Enqueue: %d %v %v", id1, dup, err)
	}
	id2, dup, err := s.Enqueue(Entry{DedupKey: "uid2/IN PROGRESS", Payload: []byte(`{"status":2}`)})
	if err != nil || dup || id2 <= id1 {
		t.Fatalf("second Enqueue: %d %v %v", id2, dup, err)
	}
	again, dup, err := s.Enqueue(Entry{DedupKey: "uid1/COMPLETED", Payload: []byte("different")})
	if err != nil || !dup || again != id1 {
		t.Fatalf("duplicate Enqueue: %d %v %v, want %d true", again, dup, err, id1)
	}
	if _, _, err := s.Enqueue(Entry{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Enqueue without key: %v", err)
	}
	if _, _, err := s.Enqueue(Entry{DedupKey: strings.Repeat("k", maxDedupKey+1)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Enqueue with huge key: %v", err)
	}

	pend, err := s.PendingOutbox()
	mustNil(t, err)
	if len(pend) != 2 || pend[0].ID != id1 || pend[1].ID != id2 {
		t.Fatalf("pending = %+v", pend)
	}
	p := pend[0]
	if p.DedupKey != "uid1/COMPLETED" || string(p.Payload) != `{"status":3}` || p.Attempts != 0 ||
		!p.NextAttempt.IsZero() || p.LastError != "" || p.Created.Before(before.Add(-time.Second)) || p.Created.After(time.Now()) {
		t.Fatalf("first pending entry = %+v", p)
	}

	next := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	mustNil(t, s.MarkFailed(id1, "HTTP 503", next))
	mustNil(t, s.MarkFailed(id1, "HTTP 502", next.Add(time.Minute)))
	pend, _ = s.PendingOutbox()
	if p := pend[0]; p.Attempts != 2 || p.LastError != "HTTP 502" || !p.NextAttempt.Equal(next.Add(time.Minute)) {
		t.Fatalf("after two failures: %+v", p)
	}
	mustNil(t, s.MarkFailed(id2, strings.Repeat("é", maxLastError), next))
	pend, _ = s.PendingOutbox()
	if le := pend[1].LastError; len(le) > maxLastError || !strings.HasPrefix(le, "éé") || strings.ContainsRune(le, '\uFFFD') {
		t.Fatalf("long error stored as %d bytes, valid prefix %v", len(le), strings.HasPrefix(le, "éé"))
	}

	mustNil(t, s.MarkSent(id1))
	pend, _ = s.PendingOutbox()
	if len(pend) != 1 || pend[0].ID != id2 {
		t.Fatalf("pending after MarkSent = %+v", pend)
	}
	// Sent is remembered: the same update is never queued again.
	again, dup, err = s.Enqueue(Entry{DedupKey: "uid1/COMPLETED"})
	if err != nil || !dup || again != id1 {
		t.Fatalf("Enqueue after sent: %d %v %v", again, dup, err)
	}
	if pend, _ = s.PendingOutbox(); len(pend) != 1 {
		t.Fatalf("re-enqueue after sent added an entry: %+v", pend)
	}
	if err := s.MarkSent(id1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkSent twice: %v", err)
	}
	if err := s.MarkFailed(999, "x", next); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MarkFailed unknown: %v", err)
	}
}

func TestPutStepAndEnqueue(t *testing.T) {
	s := openT(t, t.TempDir())
	if _, ok, err := s.GetStep("1.2.3"); ok || err != nil {
		t.Fatalf("GetStep on empty store: %v %v", ok, err)
	}
	mustNil(t, s.PutStepAndEnqueue("1.2.3", []byte("v1"), nil))
	if pend, _ := s.PendingOutbox(); len(pend) != 0 {
		t.Fatalf("nil entry enqueued %+v", pend)
	}
	mustNil(t, s.PutStepAndEnqueue("1.2.3", []byte("v2"), &Entry{DedupKey: "1.2.3/COMPLETED", Payload: []byte("p")}))
	st, ok, err := s.GetStep("1.2.3")
	if err != nil || !ok || string(st) != "v2" {
		t.Fatalf("GetStep = %q %v %v", st, ok, err)
	}
	pend, _ := s.PendingOutbox()
	if len(pend) != 1 || pend[0].DedupKey != "1.2.3/COMPLETED" {
		t.Fatalf("pending = %+v", pend)
	}
	// A replayed request stores the step but does not queue the update again.
	mustNil(t, s.PutStepAndEnqueue("1.2.3", []byte("v3"), &Entry{DedupKey: "1.2.3/COMPLETED", Payload: []byte("p")}))
	if pend, _ := s.PendingOutbox(); len(pend) != 1 {
		t.Fatalf("replay queued again: %+v", pend)
	}
	if st, _, _ := s.GetStep("1.2.3"); string(st) != "v3" {
		t.Fatalf("replayed step not stored: %q", st)
	}
	// An invalid entry rejects the step too: both or neither.
	if err := s.PutStepAndEnqueue("1.2.4", []byte("x"), &Entry{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid entry: %v", err)
	}
	if _, ok, _ := s.GetStep("1.2.4"); ok {
		t.Fatal("step stored although its entry was rejected")
	}
	if err := s.PutStepAndEnqueue("", nil, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty uid: %v", err)
	}
	// An empty step is still a stored step.
	mustNil(t, s.PutStepAndEnqueue("1.2.5", []byte{}, nil))
	if _, ok, _ := s.GetStep("1.2.5"); !ok {
		t.Fatal("empty step reported missing")
	}
}

func TestNotified(t *testing.T) {
	s := openT(t, t.TempDir())
	if ok, err := s.WasNotified("k"); ok || err != nil {
		t.Fatalf("WasNotified before: %v %v", ok, err)
	}
	if first, err := s.MarkNotified("k"); !first || err != nil {
		t.Fatalf("first MarkNotified: %v %v", first, err)
	}
	if first, err := s.MarkNotified("k"); first || err != nil {
		t.Fatalf("second MarkNotified: %v %v", first, err)
	}
	if ok, _ := s.WasNotified("k"); !ok {
		t.Fatal("WasNotified after mark = false")
	}
	if _, err := s.MarkNotified(""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}

	// Under concurrency exactly one caller is first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for range 16 {
		wg.Go(func() {
			first, err := s.MarkNotified("race")
			if err != nil {
				t.Error(err)
			}
			if first {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("%d callers were first, want 1", firsts)
	}
}

func TestQueryLogBounded(t *testing.T) {
	s, err := Open(t.TempDir(), Options{QueryLogLimit: 10})
	mustNil(t, err)
	defer s.Close()
	if q, err := s.RecentQueries(5); len(q) != 0 || err != nil {
		t.Fatalf("empty log: %q %v", q, err)
	}
	for i := range 25 {
		mustNil(t, s.AppendQuery(fmt.Appendf(nil, "q%d", i)))
	}
	q, err := s.RecentQueries(100)
	mustNil(t, err)
	var got []string
	for _, b := range q {
		got = append(got, string(b))
	}
	eq(t, "kept", got, []string{"q24", "q23", "q22", "q21", "q20", "q19", "q18", "q17", "q16", "q15"})
	if n := indexSize(t, s, bucketQueries); n != 10 {
		t.Fatalf("query bucket holds %d entries, want 10", n)
	}
	q, _ = s.RecentQueries(3)
	if len(q) != 3 || string(q[0]) != "q24" || string(q[2]) != "q22" {
		t.Fatalf("RecentQueries(3) = %q", q)
	}
	if q, _ := s.RecentQueries(0); q != nil {
		t.Fatalf("RecentQueries(0) = %q", q)
	}
}

func TestQueryLogDefaultLimit(t *testing.T) {
	s := openT(t, t.TempDir())
	for i := range DefaultQueryLogLimit + 5 {
		mustNil(t, s.AppendQuery(fmt.Appendf(nil, "%d", i)))
	}
	if n := indexSize(t, s, bucketQueries); n != DefaultQueryLogLimit {
		t.Fatalf("query bucket holds %d entries, want %d", n, DefaultQueryLogLimit)
	}
	q, _ := s.RecentQueries(DefaultQueryLogLimit + 5)
	if len(q) != DefaultQueryLogLimit || string(q[len(q)-1]) != "5" {
		t.Fatalf("got %d entries, oldest %q", len(q), q[len(q)-1])
	}
}

func TestDevices(t *testing.T) {
	s := openT(t, t.TempDir())
	mustNil(t, s.PutDevice("XRAY1", []byte("a")))
	mustNil(t, s.PutDevice("US1", []byte("b")))
	mustNil(t, s.PutDevice("XRAY1", []byte("c")))
	if err := s.PutDevice("", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty AE: %v", err)
	}
	var got []string
	mustNil(t, s.Devices(func(ae string, data []byte) error {
		got = append(got, ae+"="+string(data))
		return nil
	}))
	eq(t, "devices", got, []string{"US1=b", "XRAY1=c"})
	stop := errors.New("stop")
	if err := s.Devices(func(string, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Devices callback error: %v", err)
	}
}

func TestMeta(t *testing.T) {
	s := openT(t, t.TempDir())
	if _, ok, err := s.GetMeta("cursor"); ok || err != nil {
		t.Fatalf("missing meta: %v %v", ok, err)
	}
	mustNil(t, s.PutMeta("cursor", []byte("2026-01-01T00:00:00Z")))
	mustNil(t, s.PutMeta("empty", []byte{}))
	if v, ok, _ := s.GetMeta("cursor"); !ok || string(v) != "2026-01-01T00:00:00Z" {
		t.Fatalf("GetMeta = %q %v", v, ok)
	}
	if v, ok, _ := s.GetMeta("empty"); !ok || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, ok)
	}
	mustNil(t, s.PutMeta("cursor", nil))
	if _, ok, _ := s.GetMeta("cursor"); ok {
		t.Fatal("nil value did not delete")
	}
	if err := s.PutMeta("", []byte("x")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty key: %v", err)
	}
	// The app's keys live apart from the store's own schema marker.
	mustNil(t, s.PutMeta("schema", []byte("mine")))
	mustNil(t, s.Close())
	s2 := openT(t, s.Dir())
	if v, _, _ := s2.GetMeta("schema"); string(v) != "mine" {
		t.Fatalf("app meta 'schema' = %q", v)
	}
}

// TestConcurrentReadersAndWriter checks that readers see consistent snapshots
// while a writer runs: every item found by date also resolves by key with the
// same data.
func TestConcurrentReadersAndWriter(t *testing.T) {
	s := openT(t, t.TempDir())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(stop)
		for i := range 120 {
			k := fmt.Sprintf("k%02d", i%40)
			date := fmt.Sprintf("202601%02d", 1+i%28)
			if err := s.PutItem(Item{Key: k, Date: date, Modality: "DX", Data: []byte(date)}); err != nil {
				t.Error(err)
				return
			}
			if i%7 == 0 {
				if err := s.DeleteItem(k); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.ItemsByDate("20260101", "20260131", func(it Item) error {
					if string(it.Data) != it.Date {
						return fmt.Errorf("item %s: data %q under date %s", it.Key, it.Data, it.Date)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCorruptItemRecovers(t *testing.T) {
	s := openT(t, t.TempDir())
	mustNil(t, s.PutItem(Item{Key: "k", Date: "20260101", Modality: "DX", Refs: []string{"r1"}}))
	mustNil(t, s.PutItem(Item{Key: "ok", Date: "20260101", Modality: "DX", Refs: []string{"r1"}}))
	mustNil(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).Put([]byte("k"), []byte{0xEE, 1, 2})
	}))
	if _, _, err := s.GetItem("k"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetItem on corrupt record: %v", err)
	}
	if err := s.AllItems(func(Item) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("AllItems over corrupt record: %v", err)
	}
	// Replacing the record leaves its old index entries behind (they cannot
	// be read from it); lookups must not return the item under them.
	mustNil(t, s.PutItem(Item{Key: "k", Date: "20260202", Modality: "US", Refs: []string{"r2"}}))
	eq(t, "old date", byDate(t, s, "20260101", "20260101"), []string{"ok"})
	eq(t, "old ref", byRef(t, s, "r1"), []string{"ok"})
	eq(t, "new date", byDate(t, s, "20260202", "20260202"), []string{"k"})
	eq(t, "new ref", byRef(t, s, "r2"), []string{"k"})
	// Deleting a corrupt record works too.
	mustNil(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).Put([]byte("ok"), []byte{})
	}))
	mustNil(t, s.DeleteItem("ok"))
	eq(t, "all", all(t, s), []string{"k"})
}

func TestCorruptOutboxEntry(t *testing.T) {
	s := openT(t, t.TempDir())
	id, _, err := s.Enqueue(Entry{DedupKey: "a"})
	mustNil(t, err)
	mustNil(t, s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Put(u64(id), []byte("{"))
	}))
	if _, err := s.PendingOutbox(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("PendingOutbox: %v", err)
	}
	if err := s.MarkFailed(id, "x", time.Now()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("MarkFailed: %v", err)
	}
	// A corrupt entry can still be dropped so the queue moves on.
	mustNil(t, s.MarkSent(id))
	if p, err := s.PendingOutbox(); err != nil || len(p) != 0 {
		t.Fatalf("after dropping: %v %v", p, err)
	}
}

func TestPruneNotified(t *testing.T) {
	s := openT(t, t.TempDir())
	for _, k := range []string{"a", "b", "c", "d"} {
		_, err := s.MarkNotified(k)
		mustNil(t, err)
	}
	cut := time.Now()
	time.Sleep(2 * time.Millisecond) // the stamps are wall-clock nanoseconds
	_, err := s.MarkNotified("e")
	mustNil(t, err)
	n, err := s.PruneNotified(cut.Add(time.Millisecond))
	if err != nil || n != 4 {
		t.Fatalf("PruneNotified = %d, %v; want 4 (adjacent deletions must not be skipped)", n, err)
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if ok, _ := s.WasNotified(k); ok {
			t.Fatalf("%s survived pruning", k)
		}
	}
	if ok, _ := s.WasNotified("e"); !ok {
		t.Fatal("recent notification pruned")
	}
	if first, _ := s.MarkNotified("a"); !first {
		t.Fatal("a pruned key is not new again")
	}
}

func TestPruneSent(t *testing.T) {
	s := openT(t, t.TempDir())
	var ids []uint64
	for _, k := range []string{"s1", "s2", "s3", "pending"} {
		id, _, err := s.Enqueue(Entry{DedupKey: k})
		mustNil(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids[:3] {
		mustNil(t, s.MarkSent(id))
	}
	// Nothing was sent before an hour ago.
	if n, err := s.PruneSent(time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Fatalf("PruneSent(past) = %d, %v", n, err)
	}
	if _, dup, _ := s.Enqueue(Entry{DedupKey: "s1"}); !dup {
		t.Fatal("sent key forgotten before pruning")
	}
	n, err := s.PruneSent(time.Now().Add(time.Second))
	if err != nil || n != 3 {
		t.Fatalf("PruneSent = %d, %v; want 3", n, err)
	}
	// The pending update keeps its key; pruned keys can be queued again.
	if _, dup, _ := s.Enqueue(Entry{DedupKey: "pending"}); !dup {
		t.Fatal("pending key was pruned")
	}
	id, dup, err := s.Enqueue(Entry{DedupKey: "s2"})
	if err != nil || dup || id <= ids[3] {
		t.Fatalf("re-enqueue after pruning: %d %v %v", id, dup, err)
	}
}
