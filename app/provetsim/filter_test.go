package provetsim

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseFilterTime(t *testing.T) {
	clinic := time.FixedZone("", 2*3600)
	want := time.Date(2026, 11, 22, 8, 30, 0, 0, time.UTC)
	for _, in := range []string{
		"2026-11-22 10:30+02:00",
		"2026-11-22 10:30:00+02:00",
		"2026-11-22T10:30:00.000000+02:00",
		"2026-11-22T08:30:00Z",
		"2026-11-22T08:30Z",
		"2026-11-22 10:30",      // no offset: the clinic's zone
		"2026-11-22T10:30:00.0", // same
		" 2026-11-22 03:30-05:00 ",
	} {
		got, err := ParseFilterTime(in, clinic)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	if got, err := ParseFilterTime("2026-11-22", clinic); err != nil || !got.Equal(time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("date only: %v %v", got, err)
	}
	_, err := ParseFilterTime("2026-11-22 10:30 02:00", clinic)
	if !errors.Is(err, errPlusAsSpace) {
		t.Errorf("'+' decoded as a space: %v, want the %%2B hint", err)
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01 10:00+02:00", "2026-11-22 25:00+02:00", strings.Repeat("9", 65)} {
		if _, err := ParseFilterTime(bad, clinic); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestParseWorklistFilterBounds(t *testing.T) {
	q := url.Values{"status__in": {strings.Repeat("1,", 20) + "1"}}
	if _, err := parseWorklistFilter(q, time.UTC, Quirks{}); err == nil {
		t.Fatal("a status__in of 21 values was accepted")
	}
	f, err := parseWorklistFilter(url.Values{"status__in": {"1, 2"}, "id__gt": {"7"}}, time.UTC, Quirks{})
	if err != nil || len(f.statusIn) != 2 || f.idGT != 7 {
		t.Fatalf("%+v %v", f, err)
	}
}

// FuzzFilterParsers guards the parsers that read untrusted query values: no
// panic, bounded input, and an accepted datetime survives a round trip
// through the documented format.
func FuzzFilterParsers(f *testing.F) {
	for _, s := range []string{"2026-11-22 10:30+02:00", "2026-11-22T08:30:00.123456Z", "2026-11-22 10:30 02:00",
		"2026-11-22", "1,2,3", "x", ""} {
		f.Add(s)
	}
	clinic := time.FixedZone("", 2*3600)
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := ParseFilterTime(s, clinic); err == nil {
			if len(s) > maxFilterValue {
				t.Fatalf("accepted %d characters", len(s))
			}
			again, err := ParseFilterTime(got.Format("2006-01-02T15:04:05.999999999Z07:00"), clinic)
			if err != nil || !again.Equal(got) {
				t.Fatalf("%q -> %v does not round-trip: %v %v", s, got, again, err)
			}
		}
		if list, err := parseIntList(s); err == nil && len(list) > maxStatusIn {
			t.Fatalf("%d values accepted", len(list))
		}
		for _, qk := range []Quirks{{}, {StatusInForm: "brackets", StatusCodes: ShiftedStatuses(1)}, {StatusInForm: "comma", IgnoreFilters: []string{"id__gt"}}} {
			f, err := parseWorklistFilter(url.Values{"modified__gte": {s}, "id__gt": {s}, "status__in": {s}, "status": {s}}, clinic, qk)
			for _, st := range f.statusIn {
				if err == nil && st != -1 && (st < StatusRequested || st > StatusCancelled) {
					t.Fatalf("status filter %q read as state %d", s, st)
				}
			}
		}
	})
}

// FuzzApplyPatch guards the PATCH body decoder: any body either changes the
// item to a valid status or is refused with 400, never anything else.
func FuzzApplyPatch(f *testing.F) {
	for _, s := range []string{`{"status": 2}`, `{"status": "2"}`, `{"status": 9}`, `{"status": null}`, `{}`, `[]`, `{"status": 2.5}`, ``} {
		f.Add([]byte(s))
	}
	s := New(Options{Referrals: 1})
	rr := renderer{api: "http://h/4/api/0.1/", loc: time.UTC, q: Quirks{StatusCodes: ShiftedStatuses(1)}}
	f.Fuzz(func(t *testing.T, body []byte) {
		s.mu.Lock()
		defer s.mu.Unlock()
		before := s.data.worklist[1].Status
		status, _ := s.applyPatchLocked(1, body, nil, rr)
		after := s.data.worklist[1].Status
		switch status {
		case 200:
			if after < StatusRequested || after > StatusCancelled {
				t.Fatalf("body %q set status %d", body, after)
			}
		case 400:
			if after != before {
				t.Fatalf("refused body %q changed the status", body)
			}
		default:
			t.Fatalf("body %q answered %d", body, status)
		}
	})
}

// FuzzQuirks guards PUT /_sim/quirks: whatever validates maps the four
// states to four distinct wire numbers and back.
func FuzzQuirks(f *testing.F) {
	for _, s := range []string{`{"status_codes":{"requested":2,"in_progress":3,"completed":4,"cancelled":5}}`,
		`{"status_codes":{"requested":2}}`, `{"forbidden":["user"],"status_in_form":"comma"}`, `{"ignore_filters":["x"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var q Quirks
		if json.Unmarshal(body, &q) != nil || q.Validate() != nil {
			return
		}
		for st := StatusRequested; st <= StatusCancelled; st++ {
			if back := q.StatusCodes.State(q.StatusCodes.Wire(st)); back != st {
				t.Fatalf("%+v: state %d → wire %d → state %d", q.StatusCodes, st, q.StatusCodes.Wire(st), back)
			}
		}
	})
}
