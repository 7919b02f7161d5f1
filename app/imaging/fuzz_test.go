package imaging_test

import (
	"log/slog"
	"testing"

	"github.com/vetbridge/vetbridge/app/imaging"
	"github.com/vetbridge/vetbridge/app/pacs"
)

// memMeta is a Meta holding one record in memory.
type memMeta map[string][]byte

func (m memMeta) GetMeta(key string) ([]byte, bool, error) { v, ok := m[key]; return v, ok, nil }
func (m memMeta) PutMeta(key string, v []byte) error       { m[key] = v; return nil }

// Whatever the stored record holds, Open neither fails nor panics, and the
// Book it gives lists, links and dismisses within its bounds.
func FuzzOpenStoredRecord(f *testing.F) {
	f.Add([]byte(`{"unmatched":{"pacs:1.2":{"id":"pacs:1.2","source":"pacs","study_uid":"1.2","seen":"2026-11-20T09:00:00Z"}},"links":{},"dismissed":{}}`))
	f.Add([]byte(`{"unmatched":null,"links":{"x":{"key":"k","exam":{"id":"x"}}}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		meta := memMeta{"imaging/v1": raw}
		b, err := imaging.Open(imaging.Options{Meta: meta, Clock: &clock{now: day}, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ex := b.Unmatched()
		if len(ex) > 500 {
			t.Fatalf("%d unmatched exams", len(ex))
		}
		for _, e := range ex {
			_ = e.Line()
			if err := b.Dismiss(e.ID); err != nil {
				t.Fatalf("dismiss %q: %v", e.ID, err)
			}
		}
		b.Observe(pacs.Round{At: day}, nil)
	})
}
