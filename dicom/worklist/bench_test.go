package worklist

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchIndex spreads n items over 200 days and four modalities, the way a
// busy clinic's history accumulates.
func benchIndex(b *testing.B, n int) *Index {
	b.Helper()
	mods := []string{"DX", "US", "CR", "CT"}
	day0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	items := make([]Item, n)
	for i := range items {
		it := baseItem()
		it.Key = fmt.Sprintf("wl:%d", i)
		it.PatientName = fmt.Sprintf("Owner%d^Pet%d", i%977, i)
		// An animal comes about three times; each order has its own IDs.
		it.PatientID, it.OtherPatientIDs = fmt.Sprintf("P%d", i/3), []string{fmt.Sprintf("985%012d", i/3)}
		it.AccessionNumber, it.RequestedProcedureID, it.SPSID = fmt.Sprintf("A%d", i), fmt.Sprintf("RP%d", i), fmt.Sprintf("SPS%d", i)
		it.StudyInstanceUID = DerivedStudyInstanceUID(it.Key)
		it.Modality = mods[(i/200)%len(mods)]
		it.StationAETitle = it.Modality + "1"
		it.StartDate = day0.AddDate(0, 0, i%200).Format("20060102")
		it.StartTime = fmt.Sprintf("%02d%02d00", 8+i%10, i%60)
		items[i] = it
	}
	x := NewIndex()
	if err := x.ReplaceAll(items); err != nil {
		b.Fatal(err)
	}
	return x
}

func oneDayQuery() Query {
	return Query{SPS: true, Keys: []Key{
		key(tagPatientName, false, ""), key(tagPatientID, false, ""),
		key(tagModality, true, "DX"), key(tagStationAE, true, "DX1"), key(tagSPSStartDate, true, "20261001"),
	}}
}

func benchmarkOneDay(b *testing.B, n int) {
	x := benchIndex(b, n)
	q := oneDayQuery()
	want := len(indexMatch(x, q))
	if want == 0 {
		b.Fatal("the one-day query matches nothing")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got := len(indexMatch(x, q)); got != want {
			b.Fatalf("got %d matches, want %d", got, want)
		}
	}
}

func BenchmarkMatchOneDay1k(b *testing.B)   { benchmarkOneDay(b, 1_000) }
func BenchmarkMatchOneDay100k(b *testing.B) { benchmarkOneDay(b, 100_000) }

// BenchmarkMatchBroad1k: a query with no date, no modality and a name
// wildcard visits every item.
func BenchmarkMatchBroad1k(b *testing.B) {
	x := benchIndex(b, 1_000)
	q := Query{SPS: true, Keys: []Key{key(tagPatientName, false, "OWNER1*"), key(tagModality, true, "")}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(indexMatch(x, q)) == 0 {
			b.Fatal("no match")
		}
	}
}

// BenchmarkFindOneDay100k is the whole server path: decode, profile, match,
// encode every answer.
func BenchmarkFindOneDay100k(b *testing.B) {
	x := benchIndex(b, 100_000)
	s := &Service{Index: x, Now: func() time.Time { return time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC) },
		Profile: func(string) Profile { return Profile{StationFromCalling: true, DaysBefore: 0, DaysAfter: 0} },
		Log:     discardLog}
	ident := newBuilder(false, true).el(tagPatientName, "PN", "").el(tagPatientID, "LO", "").
		seq(tagSPSSequence, func(d *dsBuilder) {
			d.el(tagModality, "CS", "").el(tagStationAE, "AE", "").el(tagSPSStartDate, "DA", "").el(tagSPSStartTime, "TM", "")
		}).b
	req := Request{CallingAE: "DX1", Implicit: true, Identifier: ident}
	n := 0
	send := func([]byte) error { n++; return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n = 0
		if st := s.Find(context.Background(), req, send); st != 0 || n == 0 {
			b.Fatalf("status %#x, %d answers", st, n)
		}
	}
}

func BenchmarkEncodeAnswer(b *testing.B) {
	it := baseItem()
	q := Query{SPS: true, Keys: []Key{
		key(tagPatientName, false, ""), key(tagPatientID, false, ""), key(0x00100030, false, ""), key(0x00100040, false, ""),
		key(0x00101030, false, ""), key(0x00102201, false, ""), key(0x00102202, false, ""), key(0x00102292, false, ""),
		key(0x00102297, false, ""), key(tagStudyInstanceUID, false, ""), key(0x00080050, false, ""), key(tagReqProcID, false, ""),
		key(tagReqProcDescription, false, ""), key(0x00081110, false, ""), key(0x00081120, false, ""),
	}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := encode(it, q, CharsetAuto, false, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeQuery(b *testing.B) {
	ident := newBuilder(false, false).el(tagSpecificCharacterSet, "CS", "ISO_IR 100").el(tagPatientName, "PN", "M\xe4kinen*").
		el(tagPatientID, "LO", "").seq(tagSPSSequence, func(d *dsBuilder) {
		d.el(tagModality, "CS", "DX").el(tagStationAE, "AE", "DX1").el(tagSPSStartDate, "DA", "20261122").el(tagSPSStartTime, "TM", "")
	}).b
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := DecodeQuery(ident, false, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFindOneDay100kCold is BenchmarkFindOneDay100k with no answer
// reused: queries alternate between two transfer syntaxes, so each finds the
// other's answers cached. It is the cost of the first poll after the items
// changed, or of devices asking different keys in turn.
func BenchmarkFindOneDay100kCold(b *testing.B) {
	x := benchIndex(b, 100_000)
	s := &Service{Index: x, Now: func() time.Time { return time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC) },
		Profile: func(string) Profile { return Profile{StationFromCalling: true, DaysBefore: 0, DaysAfter: 0} },
		Log:     discardLog}
	var reqs [2]Request
	for i, implicit := range []bool{true, false} {
		ident := newBuilder(false, implicit).el(tagPatientName, "PN", "").el(tagPatientID, "LO", "").
			seq(tagSPSSequence, func(d *dsBuilder) {
				d.el(tagModality, "CS", "").el(tagStationAE, "AE", "").el(tagSPSStartDate, "DA", "").el(tagSPSStartTime, "TM", "")
			}).b
		reqs[i] = Request{CallingAE: "DX1", Implicit: implicit, Identifier: ident}
	}
	n, i := 0, 0
	send := func([]byte) error { n++; return nil }
	b.ReportAllocs()
	for b.Loop() {
		n = 0
		i++
		if st := s.Find(context.Background(), reqs[i%2], send); st != 0 || n == 0 {
			b.Fatalf("status %#x, %d answers", st, n)
		}
	}
}

// BenchmarkMatchName100k: a name query visits every item; the folded names
// are computed at Put, not per query.
func BenchmarkMatchName100k(b *testing.B) {
	x := benchIndex(b, 100_000)
	q := Query{SPS: true, Keys: []Key{key(tagPatientName, false, "owner1^P*"), key(tagModality, true, "")}}
	c := compile(q)
	b.ReportAllocs()
	for b.Loop() {
		if len(x.match(c)) == 0 {
			b.Fatal("no match")
		}
	}
}

// benchNow is inside benchIndex's 200 days.
func benchNow() time.Time { return time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC) }

// benchmarkFind runs one identifier through the whole server path with the
// default profile, as an unconfigured device or the console sends it.
func benchmarkFind(b *testing.B, ident []byte) {
	x := benchIndex(b, 100_000)
	s := &Service{Index: x, Now: benchNow, Log: discardLog}
	req := Request{CallingAE: "CONSOLE", Implicit: true, Identifier: ident}
	n := 0
	send := func([]byte) error { n++; return nil }
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n = 0
		if st := s.Find(context.Background(), req, send); st != 0 || n == 0 {
			b.Fatalf("status %#x, %d answers", st, n)
		}
	}
	b.ReportMetric(float64(n), "answers")
}

func findIdentifier(name string) []byte {
	return newBuilder(false, true).el(tagPatientName, "PN", name).el(tagPatientID, "LO", "").
		seq(tagSPSSequence, func(d *dsBuilder) {
			d.el(tagModality, "CS", "").el(tagStationAE, "AE", "").el(tagSPSStartDate, "DA", "").el(tagSPSStartTime, "TM", "")
		}).b
}

// BenchmarkNameQuery100k: an owner's name typed at the console, no date, so
// every date is searched.
func BenchmarkNameQuery100k(b *testing.B) { benchmarkFind(b, findIdentifier("OWNER12^*")) }

// BenchmarkAnimalQuery100k: an animal's name typed in a console's given-name
// field, as *^NAME*, no date.
func BenchmarkAnimalQuery100k(b *testing.B) { benchmarkFind(b, findIdentifier("*^PET1234*")) }

// BenchmarkBroadQuery100k: a device's routine poll, no keys, so the default
// window (yesterday to tomorrow) applies.
func BenchmarkBroadQuery100k(b *testing.B) { benchmarkFind(b, findIdentifier("")) }

// BenchmarkIndexMemory100k reports what the index holds per item, and the
// share of the name, patient ID and accession lookups.
func BenchmarkIndexMemory100k(b *testing.B) {
	const n = 100_000
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for b.Loop() {
		b.StopTimer()
		before := heap()
		x := benchIndex(b, n)
		withLookups := heap()
		x.lookups = nil
		without := heap()
		runtime.KeepAlive(x)
		b.ReportMetric(float64(withLookups-before)/n, "B/item")
		b.ReportMetric(float64(withLookups-without)/n, "lookupB/item")
		b.StartTimer()
	}
}
