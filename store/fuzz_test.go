package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzDecodeItem feeds arbitrary records to the item decoder: it must never
// panic or read past the record, and whatever it accepts must re-encode to
// the same bytes.
func FuzzDecodeItem(f *testing.F) {
	f.Add(encodeItem(Item{Key: "k", Date: "20260101", Modality: "DX", Data: []byte(`{"a":1}`)}))
	f.Add(encodeItem(Item{Key: "k"}))
	f.Add([]byte{itemRecordVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{itemRecordVersion, 8, '2'})
	f.Add([]byte{})
	f.Add(encodeItem(Item{Key: "k", Date: "20260101", Refs: []string{"sps\x00S1", "acc\x00A1"}, Data: []byte("d")}))
	f.Add([]byte{itemRecordV1, 8, '2', '0', '2', '6', '0', '1', '0', '1', 2, 'D', 'X', '{', '}'})
	f.Fuzz(func(t *testing.T, rec []byte) {
		it, err := decodeItem("k", rec)
		if err != nil {
			return
		}
		if !validDate(it.Date) || len(it.Modality) > maxModality || len(it.Refs) > maxRefs {
			t.Fatalf("decoder accepted bad fields: %q %q %d refs", it.Date, it.Modality, len(it.Refs))
		}
		for _, r := range it.Refs {
			if r == "" || len(r) > maxRef {
				t.Fatalf("decoder accepted ref %q", r)
			}
		}
		// Whatever decodes must survive a put: encoding it and decoding
		// again gives the same item.
		again, err := decodeItem("k", encodeItem(it))
		if err != nil || again.Date != it.Date || again.Modality != it.Modality ||
			!slices.Equal(again.Refs, it.Refs) || !bytes.Equal(again.Data, it.Data) {
			t.Fatalf("round trip of %+v gave %+v, %v", it, again, err)
		}
	})
}

// FuzzDecodeOutbox guards the outbox record decoder against corrupt records.
func FuzzDecodeOutbox(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte(`{"k":"a","p":"eA==","a":2,"n":"2026-01-01T00:00:00Z","e":"x","c":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte{1}, []byte(`{}`))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte(`{"k":`))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := decodeOutbox(k, v)
		if err != nil {
			return
		}
		if len(k) != 8 {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		if e.ID != binary.BigEndian.Uint64(k) {
			t.Fatalf("id %d from key %x", e.ID, k)
		}
	})
}

// seedFile is a small sound database file for the file fuzzers to mutate.
func seedFile(f *testing.F) []byte {
	f.Helper()
	dir := f.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 40 {
		if err := s.PutItem(Item{Key: fmt.Sprintf("k%02d", i), Date: "20261129", Refs: []string{fmt.Sprint("r", i)}, Data: bytes.Repeat([]byte{'x'}, 90)}); err != nil {
			f.Fatal(err)
		}
	}
	if _, _, err := s.Enqueue(Entry{DedupKey: "u/COMPLETED", Payload: []byte("{}")}); err != nil {
		f.Fatal(err)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	// bbolt grows files in large steps; the fuzzer works better on the
	// pages in use.
	bf, err := readBoltFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		f.Fatal(err)
	}
	return b[:int(bf.metas[0].pgid)*bf.pageSize]
}

// FuzzBoltFile feeds arbitrary files to the reader that judges and salvages
// a database before bbolt sees it: it must never panic, whatever the bytes.
func FuzzBoltFile(f *testing.F) {
	good := seedFile(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 8192))
	f.Fuzz(func(t *testing.T, b []byte) {
		bf, err := readBoltFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		_ = bf.check()
		sortSalvage(bf.salvage(allBuckets))
	})
}

// FuzzOpen writes arbitrary bytes as the database file and opens it: Open
// must never panic and never fail on damage, only recover from it.
func FuzzOpen(f *testing.F) {
	good := seedFile(f)
	f.Add(good)
	f.Add(good[:4096+100])
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x5a}, 3*4096))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, FileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{Timeout: time.Second})
		if errors.Is(err, ErrSchemaTooNew) {
			return
		}
		if err != nil {
			t.Fatalf("Open failed on damage instead of recovering: %v", err)
		}
		defer s.Close()
		if _, err := s.PendingOutbox(); err != nil {
			t.Fatalf("outbox unreadable after Open: %v", err)
		}
		if err := s.AllItems(func(Item) error { return nil }); err != nil {
			t.Fatalf("items unreadable after Open: %v", err)
		}
		if err := s.PutItem(Item{Key: "after", Refs: []string{"r"}}); err != nil {
			t.Fatalf("store not writable after Open: %v", err)
		}
	})
}
