package store

import (
	"bytes"
	"encoding/binary"
	"slices"
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
