package store

import (
	"bytes"
	"encoding/binary"
	"testing"
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
	f.Fuzz(func(t *testing.T, rec []byte) {
		it, err := decodeItem("k", rec)
		if err != nil {
			return
		}
		if len(it.Date) > 8 || len(it.Modality) > maxModality {
			t.Fatalf("decoder accepted oversized fields: %q %q", it.Date, it.Modality)
		}
		if again := encodeItem(it); !bytes.Equal(again, rec) {
			// Non-minimal uvarints decode fine but re-encode shorter.
			if len(again) >= len(rec) {
				t.Fatalf("re-encoding %x gave %x", rec, again)
			}
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
