package store

import (
	"fmt"
	"testing"
	"time"
)

const benchItems = 100_000

// benchDate spreads items over a year, about 274 a day: a busy referral
// hospital's worth of orders kept for a long time.
func benchDate(i int) string {
	d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%365)
	return d.Format("20060102")
}

var benchModalities = []string{"DX", "US", "CT", "CR"}

func benchItem(i int) Item {
	return Item{
		Key:      fmt.Sprintf("wl-%07d", i),
		Date:     benchDate(i),
		Modality: benchModalities[i%len(benchModalities)],
		Refs:     []string{fmt.Sprintf("acc\x00A%07d", i), fmt.Sprintf("sps\x00S%07d", i)},
		// Roughly the size of the app's JSON for one order.
		Data: fmt.Appendf(nil, `{"id":%d,"patient":"Bella","species":"Canine","breed":"Labrador Retriever","owner":"Smith^Jane","procedure":"Thorax 2 views","accession":"A%07d","study_uid":"2.25.%d"}`, i, i, i),
	}
}

func populated(b *testing.B) *Store {
	b.Helper()
	s := openT(b, b.TempDir())
	const batch = 10_000
	for start := 0; start < benchItems; start += batch {
		puts := make([]Item, 0, batch)
		for i := start; i < start+batch; i++ {
			puts = append(puts, benchItem(i))
		}
		if err := s.ApplyItems(puts, nil); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkPutItem measures one durable (fsynced) update of an existing item
// in a 100,000-item store, moving it to another date and modality.
func BenchmarkPutItem(b *testing.B) {
	s := populated(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		it := benchItem(i % benchItems)
		it.Date = benchDate(i + 1)
		it.Modality = benchModalities[(i+1)%len(benchModalities)]
		if err := s.PutItem(it); err != nil {
			b.Fatal(err)
		}
		i += 7919 // stride across the key space
	}
}

// BenchmarkApplyItems1000 measures a sync applying 1,000 changes in one
// transaction on a 100,000-item store; divide by 1,000 for the per-item cost.
func BenchmarkApplyItems1000(b *testing.B) {
	s := populated(b)
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		puts := make([]Item, 1000)
		for j := range puts {
			puts[j] = benchItem((round*1000 + j*97) % benchItems)
			puts[j].Date = benchDate(round + j)
		}
		if err := s.ApplyItems(puts, nil); err != nil {
			b.Fatal(err)
		}
		round++
	}
}

func benchByDate(b *testing.B, from, to string, want int) {
	s := populated(b)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := s.ItemsByDate(from, to, func(Item) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("got %d items, want %d", n, want)
		}
	}
}

// BenchmarkItemsByDateDay is the common C-FIND: today's items, out of 100,000.
func BenchmarkItemsByDateDay(b *testing.B) {
	benchByDate(b, "20260315", "20260315", 274)
}

// BenchmarkItemsByDateWeek is a week's items (about 1,900) out of 100,000.
func BenchmarkItemsByDateWeek(b *testing.B) {
	benchByDate(b, "20260315", "20260321", 1918)
}

// BenchmarkItemByRef is an MPPS step finding its order by accession number
// among 100,000 items.
func BenchmarkItemByRef(b *testing.B) {
	s := populated(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ref := fmt.Sprintf("acc\x00A%07d", (i*7919)%benchItems)
		if _, ok, err := s.ItemByRef(ref); err != nil || !ok {
			b.Fatalf("ItemByRef(%q) = %v, %v", ref, ok, err)
		}
		i++
	}
}
