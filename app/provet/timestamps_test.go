package provet

import (
	"net/url"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	minus5 := time.FixedZone("", -5*3600)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-22T10:15:30.123456+02:00", time.Date(2026, 11, 22, 10, 15, 30, 123456000, plus2)},
		{"2026-11-22T10:15:30+02:00", time.Date(2026, 11, 22, 10, 15, 30, 0, plus2)},
		{"2026-11-22T10:15:30Z", time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)},
		{"2026-11-22T10:15:30.5Z", time.Date(2026, 11, 22, 10, 15, 30, 500000000, time.UTC)},
		{"2026-11-22T10:15:30.123456789-05:00", time.Date(2026, 11, 22, 10, 15, 30, 123456789, minus5)},
		{"2026-11-22 10:15:30.123456+02:00", time.Date(2026, 11, 22, 10, 15, 30, 123456000, plus2)},
		{"2026-11-22T10:15:30+0200", time.Date(2026, 11, 22, 10, 15, 30, 0, plus2)},
		{"2026-11-22T10:15:30+02", time.Date(2026, 11, 22, 10, 15, 30, 0, plus2)},
		{"2026-11-22T10:15+02:00", time.Date(2026, 11, 22, 10, 15, 0, 0, plus2)},
		{"2026-11-22 10:15+02:00", time.Date(2026, 11, 22, 10, 15, 0, 0, plus2)},
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{" 2026-11-22T10:15:30Z ", time.Date(2026, 11, 22, 10, 15, 30, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
		_, gotOff := got.Zone()
		_, wantOff := tt.want.Zone()
		if gotOff != wantOff {
			t.Errorf("ParseTime(%q) offset %d, want %d (the clinic's offset must survive)", tt.in, gotOff, wantOff)
		}
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range []string{
		"", "yesterday", "2026-13-01", "2026-11-31", "2026-11-22T10:15:30",
		"2026-11-22T25:00:00Z", "22/11/2026", "2026-11-22T10:15:30+02:00 extra stuff and more and more",
	} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestFilterTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	at := time.Date(2026, 11, 22, 10, 15, 59, 999, plus2)
	if got, want := FilterTime(at), "2026-11-22 10:15+02:00"; got != want {
		t.Errorf("FilterTime = %q, want %q", got, want)
	}
	if got, want := FilterTime(at.UTC()), "2026-11-22 08:15+00:00"; got != want {
		t.Errorf("FilterTime(UTC) = %q, want %q", got, want)
	}
	q := encodeQuery(url.Values{"modified__gte": {FilterTime(at)}, "id__gt": {"5"}})
	if want := "id__gt=5&modified__gte=2026-11-22%2010:15%2B02:00"; q != want && q != "id__gt=5&modified__gte=2026-11-22%2010%3A15%2B02%3A00" {
		t.Errorf("encoded query = %q", q)
	}
	back, err := url.ParseQuery(q)
	if err != nil || back.Get("modified__gte") != "2026-11-22 10:15+02:00" {
		t.Errorf("query does not decode back: %v %q", err, back.Get("modified__gte"))
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-11-22T10:15:30.123456+02:00", "2026-11-22T10:15:30Z", "2026-11-22 10:15+02:00",
		"2026-11-22", "2026-11-22T10:15:30+0200", "", "2026-11-22T10:15:30",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip through the canonical form.
		again, err := ParseTime(got.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatalf("ParseTime(%q) = %v, whose RFC 3339 form does not parse: %v", s, got, err)
		}
		if !again.Equal(got) {
			t.Fatalf("round trip of %q: %v != %v", s, again, got)
		}
	})
}
