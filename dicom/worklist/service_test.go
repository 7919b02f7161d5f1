package worklist

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testService(t *testing.T, items ...Item) (*Service, *[]QueryRecord) {
	t.Helper()
	x := NewIndex()
	if err := x.Put(items...); err != nil {
		t.Fatal(err)
	}
	var recs []QueryRecord
	s := &Service{
		Index: x,
		Now:   func() time.Time { return mustTime(t, "2026-11-22T10:00:00+02:00") },
		Profile: func(ae string) Profile {
			if ae == "DX1" {
				return Profile{StationFromCalling: true, DaysBefore: 0, DaysAfter: 0, Charset: CharsetLatin1}
			}
			return DefaultProfile()
		},
		OnQuery: func(r QueryRecord) { recs = append(recs, r) },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return s, &recs
}

func clinicItems() []Item {
	mk := func(k, station, mod, date, status string) Item {
		it := baseItem()
		it.Key, it.StationAETitle, it.Modality, it.StartDate, it.SPSStatus = k, station, mod, date, status
		return it
	}
	return []Item{
		mk("today-dx", "DX1", "DX", "20261122", "SCHEDULED"),
		mk("today-us", "US1", "US", "20261122", "SCHEDULED"),
		mk("tomorrow-dx", "DX1", "DX", "20261123", "SCHEDULED"),
		mk("started-dx", "DX1", "DX", "20261122", "STARTED"),
		mk("nextweek-dx", "DX1", "DX", "20261129", "SCHEDULED"),
	}
}

func find(t *testing.T, s *Service, ctx context.Context, ae string, ident []byte) ([]Item, uint16) {
	t.Helper()
	var got []Item
	st := s.Find(ctx, Request{CallingAE: ae, CalledAE: "VETBRIDGE", Addr: "127.0.0.1:40000", Implicit: true, Identifier: ident},
		func(b []byte) error {
			_, it := answer(t, b, false, true)
			got = append(got, it)
			return nil
		})
	return got, st
}

func TestServiceProfiles(t *testing.T) {
	s, recs := testService(t, clinicItems()...)
	// A broad query: patient name and the SPS sequence, nothing else.
	ident := newBuilder(false, true).el(tagPatientName, "PN", "").el(tagPatientID, "LO", "").
		seq(tagSPSSequence, func(b *dsBuilder) {
			b.el(tagStationAE, "AE", "").el(tagModality, "CS", "").el(tagSPSStartDate, "DA", "")
		}).b

	// DX1: its own station, today only, started hidden, Latin-1.
	got, st := find(t, s, context.Background(), "DX1", ident)
	if st != StatusSuccess || len(got) != 1 || got[0].StationAETitle != "DX1" || got[0].StartDate != "20261122" {
		t.Fatalf("DX1 got status %#x, %d items %+v", st, len(got), got)
	}
	// Anyone else: default profile, yesterday..tomorrow, all stations.
	got, _ = find(t, s, context.Background(), "OTHER", ident)
	if len(got) != 3 {
		t.Errorf("default profile got %d items, want today-dx, today-us, tomorrow-dx", len(got))
	}
	r := (*recs)[0]
	if r.CallingAE != "DX1" || r.Matches != 1 || r.Status != 0 || r.Charset != "ISO_IR 100" {
		t.Errorf("record %+v", r)
	}
	// The record stores and explains: JSON round trip, then Explain says why
	// tomorrow's item was not listed.
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back QueryRecord
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Query, r.Query) {
		t.Errorf("query does not survive JSON:\n%+v\n%+v", back.Query, r.Query)
	}
	tomorrow, _ := indexGet(s.Index, "tomorrow-dx")
	rs := Explain(back.Query, tomorrow)
	if len(rs) != 1 || rs[0].Text != "scheduled tomorrow (2026-11-23); the device sent no date, patient or order number; its default window is 2026-11-22" {
		t.Errorf("Explain = %+v", rs)
	}
	started, _ := indexGet(s.Index, "started-dx")
	if rs := Explain(back.Query, started); len(rs) != 1 || rs[0].Text != "status STARTED is hidden for this device" {
		t.Errorf("Explain = %+v", rs)
	}
	us, _ := indexGet(s.Index, "today-us")
	if rs := Explain(back.Query, us); len(rs) != 1 || rs[0].Want != "DX1" {
		t.Errorf("Explain = %+v", rs)
	}
}

func TestServiceStatuses(t *testing.T) {
	s, recs := testService(t, clinicItems()...)
	if _, st := find(t, s, context.Background(), "X", newBuilder(false, true).el(tagQueryRetrieveLevel, "CS", "STUDY").b); st != StatusNotWorklist {
		t.Errorf("Q/R identifier: status %#x, want A900", st)
	}
	if _, st := find(t, s, context.Background(), "X", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}); st != StatusUnableToProcess {
		t.Errorf("garbage: status %#x, want C000", st)
	}
	if len(*recs) != 2 || (*recs)[1].Error == "" {
		t.Errorf("failed queries must be recorded with their error: %+v", *recs)
	}

	ident := newBuilder(false, true).el(tagPatientName, "PN", "").b
	// Cancellation between answers stops the stream.
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	st := s.Find(ctx, Request{CallingAE: "X", Implicit: true, Identifier: ident}, func([]byte) error {
		n++
		cancel()
		return nil
	})
	if st != StatusCancel || n != 1 {
		t.Errorf("cancelled: status %#x after %d answers", st, n)
	}
	// A failing send stops at once.
	n = 0
	st = s.Find(context.Background(), Request{CallingAE: "X", Implicit: true, Identifier: ident}, func([]byte) error {
		n++
		return errors.New("association gone")
	})
	if st != StatusUnableToProcess || n != 1 {
		t.Errorf("send failure: status %#x after %d answers", st, n)
	}
}

func TestProfileApply(t *testing.T) {
	now := mustTime(t, "2026-11-22T10:00:00Z")
	q := Query{SPS: true, Keys: []Key{key(tagStationAE, true, "*"), key(tagSPSStartTime, true, "08-12")}}
	got := Profile{StationFromCalling: true, DaysBefore: 2, DaysAfter: -1, ShowStarted: true, Modalities: []string{"us"}}.Apply(q, "US1", now)
	st, _ := got.Key(tagStationAE, true)
	if st.Value != "US1" || !st.Profile || st.Injected {
		t.Errorf("station key %+v: sent by the device, so returned, valued by the profile", st)
	}
	dk, _ := got.Key(tagSPSStartDate, true)
	if dk.Value != "20261120-" || !dk.Injected {
		t.Errorf("date key %+v", dk)
	}
	if got.HiddenStatuses != nil || got.Modalities[0] != "us" || got.Today != "20261122" {
		t.Errorf("profile fields %+v", got)
	}
	if k, _ := q.Key(tagStationAE, true); k.Value != "*" {
		t.Error("Apply changed the original query")
	}
	// A time of day with the profile's window is matched per day, not as one period.
	it := baseItem()
	it.StartDate, it.StartTime = "20261121", "070000"
	if matches(got, it) {
		t.Error("07:00 must not match a device asking for 08-12")
	}
	it.StartTime, it.Modality, it.StationAETitle = "110000", "US", "US1"
	if !matches(got, it) {
		t.Errorf("should match: %+v", Explain(got, it))
	}
	none := Profile{DaysBefore: -1, DaysAfter: -1, ShowStarted: true}.Apply(Query{}, "", now)
	if len(none.Keys) != 0 {
		t.Errorf("a profile without window added %+v", none.Keys)
	}
}

func TestProfileHonoursAskedStatus(t *testing.T) {
	now := mustTime(t, "2026-11-22T10:00:00Z")
	q := DefaultProfile().Apply(Query{Keys: []Key{key(tagSPSStatus, true, "STARTED")}}, "X", now)
	it := baseItem()
	it.SPSStatus = "STARTED"
	if !matches(q, it) {
		t.Errorf("a device asking for STARTED must see started items: %+v", Explain(q, it))
	}
}

// Every DCMTK example query, in every transfer syntax, gets a success and
// answers that parse.
func TestServiceAnswersDCMTKExampleQueries(t *testing.T) {
	s, _ := testService(t, clinicItems()...)
	files, _ := filepath.Glob("testdata/wlistqry/*.dcm")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		be, impl := strings.Contains(f, ".tb."), strings.Contains(f, ".ti.")
		n := 0
		st := s.Find(context.Background(), Request{CallingAE: "OTHER", BigEndian: be, Implicit: impl, Identifier: b},
			func(ans []byte) error {
				n++
				if _, err := readDataSet(ans, be, impl); err != nil {
					t.Errorf("%s: answer does not parse: %v", f, err)
				}
				return nil
			})
		if st != StatusSuccess {
			t.Errorf("%s: status %#x", f, st)
		}
		if strings.Contains(f, "wlistqry3.") && n != 3 {
			t.Errorf("%s: a name-only query got %d answers, want the 3 in the default window", f, n)
		}
	}
}

// A query that names a patient or an order searches every date; the
// profile's default window is for broad queries only.
func TestProfileWindowOnlyForBroadQueries(t *testing.T) {
	now := mustTime(t, "2026-11-22T10:00:00Z")
	p := DefaultProfile()
	window := func(keys ...Key) string {
		q := p.Apply(Query{SPS: true, Keys: append(keys, key(tagSPSStartDate, true, ""))}, "X", now)
		dk, _ := q.Key(tagSPSStartDate, true)
		return dk.Value
	}
	for _, k := range []Key{
		key(tagPatientName, false, "OWNER*"), key(tagPatientID, false, "P-10042"),
		key(tagOtherPatientIDs, false, "985112345678901"), key(tagAccessionNumber, false, "ACC1"),
		key(tagReqProcID, false, "RP1001"), key(tagStudyInstanceUID, false, "1.2.3"), key(tagSPSID, true, "SPS1001"),
	} {
		if w := window(k); w != "" {
			t.Errorf("%s: window %q, want every date", k.Name, w)
		}
	}
	profileSet := key(tagPatientID, false, "P-10042")
	profileSet.Profile = true
	for _, keys := range [][]Key{
		nil,
		{key(tagPatientName, false, "*")},
		{key(tagPatientName, false, " ")},
		{key(tagAccessionNumber, false, "**")},
		{key(tagPatientName, false, "*^*")},
		{key(tagPatientName, false, `?\^=*`)},
		{key(tagModality, true, "DX")},
		{key(0x00102201, false, "Dog")},                      // a species is not a patient
		{{Tag: tagPatientID, InSPS: true, Value: "P-10042"}}, // not a key at that level
		{{Tag: tagSPSID, Value: "SPS1001"}},                  // nor this one
		{profileSet},                                         // the device did not ask
	} {
		if w := window(keys...); w != "20261121-20261123" {
			t.Errorf("%v: window %q, want the profile's", keys, w)
		}
	}
	// The device's own date is always honoured.
	q := p.Apply(Query{Keys: []Key{key(tagPatientName, false, "OWNER*"), key(tagSPSStartDate, true, "20261101")}}, "X", now)
	if dk, _ := q.Key(tagSPSStartDate, true); dk.Value != "20261101" || dk.Profile {
		t.Errorf("date key %+v", dk)
	}
}

// The console case: an owner's exam booked three days ago and still open is
// found by name or accession, not by a routine poll; Explain says the same.
func TestServiceFindsOpenExamByPatientOnAnyDate(t *testing.T) {
	open := baseItem()
	open.Key, open.PatientName, open.AccessionNumber, open.StartDate = "open", "Owner^Rex", "ACC-OLD", "20261119"
	started := open
	started.Key, started.AccessionNumber, started.SPSStatus = "started", "ACC-STARTED", "STARTED"
	today := baseItem()
	today.Key = "today"
	s, recs := testService(t, open, started, today)
	ident := func(name, acc string) []byte {
		return newBuilder(false, true).el(0x00080050, "SH", acc).el(tagPatientName, "PN", name).
			seq(tagSPSSequence, func(b *dsBuilder) { b.el(tagModality, "CS", "").el(tagSPSStartDate, "DA", "") }).b
	}
	keys := func(items []Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.AccessionNumber)
		}
		return out
	}
	if got, _ := find(t, s, context.Background(), "CONSOLE", ident("OWNER*", "")); !reflect.DeepEqual(keys(got), []string{"ACC-OLD"}) {
		t.Errorf("name search found %v, want the open exam of three days ago (not the started one)", keys(got))
	}
	byName := (*recs)[len(*recs)-1]
	if got, _ := find(t, s, context.Background(), "CONSOLE", ident("", "ACC-OLD")); !reflect.DeepEqual(keys(got), []string{"ACC-OLD"}) {
		t.Errorf("accession search found %v", keys(got))
	}
	if got, _ := find(t, s, context.Background(), "CONSOLE", ident("", "")); !reflect.DeepEqual(keys(got), []string{today.AccessionNumber}) {
		t.Errorf("broad poll found %v, want today's only", keys(got))
	}
	broad := (*recs)[len(*recs)-1]
	if rs := Explain(byName.Query, open); len(rs) != 0 {
		t.Errorf("Explain of the name search: %+v, want a match", rs)
	}
	rs := Explain(broad.Query, open)
	if len(rs) != 1 || rs[0].Text != "scheduled on 2026-11-19; the device sent no date, patient or order number; its default window is 2026-11-21 to 2026-11-23" {
		t.Errorf("Explain of the poll: %+v", rs)
	}
}
