package worklist

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
)

func TestIndexCRUD(t *testing.T) {
	x := NewIndex()
	a, b, c := baseItem(), baseItem(), baseItem()
	a.Key, b.Key, c.Key = "a", "b", "c"
	b.StartDate, b.Modality = "20261123", "US"
	c.StartDate, c.StartTime = "20261122", "080000"
	if err := x.Put(a, b, c); err != nil {
		t.Fatal(err)
	}
	if err := x.Put(Item{}); err != ErrNoKey {
		t.Errorf("Put without key: %v", err)
	}
	if x.Len() != 3 {
		t.Fatalf("Len = %d", x.Len())
	}
	all := x.All()
	if all[0].Key != "c" || all[1].Key != "a" || all[2].Key != "b" {
		t.Errorf("All not in schedule order: %s %s %s", all[0].Key, all[1].Key, all[2].Key)
	}
	// Items are copied in and out.
	all[0].SpeciesCode.Value = "changed"
	if got, _ := indexGet(x, "c"); got.SpeciesCode.Value != "448771007" {
		t.Error("a caller's change reached the index")
	}
	// Moving an item to another day and modality re-files it.
	b.StartDate, b.Modality = "20261122", "DX"
	if err := x.Put(b); err != nil {
		t.Fatal(err)
	}
	day := Query{Keys: []Key{key(tagSPSStartDate, true, "20261122"), key(tagModality, true, "DX")}}
	if n := len(indexMatch(x, day)); n != 3 {
		t.Errorf("one-day DX query found %d, want 3", n)
	}
	x.Delete("a", "nonexistent")
	if _, ok := indexGet(x, "a"); ok || x.Len() != 2 {
		t.Error("Delete did not remove")
	}
	if err := x.ReplaceAll([]Item{a}); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 1 || len(indexMatch(x, Query{Keys: []Key{key(tagSPSStartDate, true, "20261123")}})) != 0 {
		t.Error("ReplaceAll left old items or old date buckets")
	}
}

// Queries and updates run together; run with -race where cgo is available.
func TestIndexConcurrent(t *testing.T) {
	x := NewIndex()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 2000; i++ {
			it := baseItem()
			it.Key = fmt.Sprint(i % 50)
			it.StartDate = fmt.Sprintf("202611%02d", 20+i%5)
			_ = x.Put(it)
			if i%7 == 0 {
				x.Delete(fmt.Sprint((i + 3) % 50))
			}
		}
	}()
	q := Query{Keys: []Key{key(tagSPSStartDate, true, "20261120-20261124"), key(tagPatientName, false, "MAKINEN")}}
	for i := 0; i < 200; i++ {
		for _, it := range indexMatch(x, q) {
			if it.PatientName != "Mäkinen^Pörri" {
				t.Fatal("torn item")
			}
		}
	}
	cancel()
	wg.Wait()
}

// lookupItems are items whose names, IDs and accession numbers exercise the
// lookups: accents, scripts, groups, empty and multi-valued values.
func lookupItems() []Item {
	names := []string{"Mäkinen^Pörri", "MAKINEN^PORRI", "Makinen", "Mäki^Rex", "Virtanen^Musti", "virtanen^mörkö",
		"Иванов^Шарик", "Smith^Rex=スミス^レックス", "  O'Brien^Max^^^ ", "", "^Rex", "=Doe^J", "Smith^Rex^Jr",
		"Smithers^Bella", "ABC Farms", "Yamada^Taro=Yamada^Taro", "Laine^^Rex", "Rex^Rex", "Koski^Rex^Remu"}
	ids := []string{"P-10042", `P-1 \ P-2`, "", " P-10042 ", "p-10042", "Q7"}
	var out []Item
	for i, n := range names {
		it := baseItem()
		it.Key = fmt.Sprintf("k%02d", i)
		it.PatientName = n
		it.PatientID = ids[i%len(ids)]
		it.AccessionNumber = fmt.Sprintf("ACC%d", i%5)
		it.RequestedProcedureID, it.SPSID = fmt.Sprintf("RP%d", i%3), fmt.Sprintf(" SPS%d", i%4)
		it.StudyInstanceUID = fmt.Sprintf("1.2.%d", i%6)
		it.OtherPatientIDs = [][]string{nil, {"985000000000001"}, {"985000000000002", "P-2"}, {""}}[i%4]
		it.StartDate = fmt.Sprintf("202611%02d", 15+i%10)
		it.Modality = []string{"DX", "US"}[i%2]
		out = append(out, it)
	}
	return out
}

// The lookups only narrow: every query answers exactly the items a scan with
// Matches finds, before and after items change.
func TestIndexLookupsAgreeWithScan(t *testing.T) {
	items := lookupItems()
	x := NewIndex()
	if err := x.Put(items...); err != nil {
		t.Fatal(err)
	}
	queries := [][]Key{
		{key(tagPatientName, false, "MAKINEN")}, {key(tagPatientName, false, "mäkinen^p*")},
		{key(tagPatientName, false, "MAK*")}, {key(tagPatientName, false, "MAKI")}, {key(tagPatientName, false, "SMITH^*")},
		{key(tagPatientName, false, "SMITH^REX")}, {key(tagPatientName, false, "Smith*")}, {key(tagPatientName, false, "*^REX")},
		{key(tagPatientName, false, "^REX")}, {key(tagPatientName, false, "?AKINEN")}, {key(tagPatientName, false, "M?KINEN^P*")},
		{key(tagPatientName, false, "IVANOV")}, {key(tagPatientName, false, "Иванов*")}, {key(tagPatientName, false, "スミス")},
		{key(tagPatientName, false, "YAMADA=SMITH")}, {key(tagPatientName, false, `VIRTANEN\O'BRIEN^MAX`)},
		{key(tagPatientName, false, "abc farms")}, {key(tagPatientName, false, "=")}, {key(tagPatientName, false, "DOE")},
		{key(tagPatientID, false, "P-10042")}, {key(tagPatientID, false, "P-1")}, {key(tagPatientID, false, "P-2")},
		{key(tagPatientID, false, "P-1*")}, {key(tagPatientID, false, "p-*")}, {key(tagPatientID, false, "*2")},
		{key(tagPatientID, false, `Q7\P-2`)}, {key(tagAccessionNumber, false, "ACC3")}, {key(tagAccessionNumber, false, "ACC?")},
		{key(tagReqProcID, false, "RP1")}, {key(tagReqProcID, false, `RP2\RP1`)}, {key(tagSPSID, true, "SPS3")},
		{key(tagSPSID, true, "SPS*")}, {key(tagStudyInstanceUID, false, "1.2.4")},
		{key(tagStudyInstanceUID, false, `1.2.4\1.2.5\1.2.4`)}, {key(tagStudyInstanceUID, false, "1.2.*")},
		{key(tagOtherPatientIDs, false, "985000000000002")}, {key(tagOtherPatientIDs, false, "985*")},
		{key(tagOtherPatientIDs, false, "P-2")}, {key(tagPatientID, false, "985000000000001")},
		{key(tagPatientID, false, `P-2\P-2`)}, {key(tagPatientName, false, `MAKINEN\MAK*`)},
		{key(tagPatientName, false, "*^REX")}, {key(tagPatientName, false, "*^RE*")}, {key(tagPatientName, false, "**^REX")},
		{key(tagPatientName, false, "*^REX^JR")}, {key(tagPatientName, false, "*^R?X")}, {key(tagPatientName, false, "*^*")},
		{key(tagPatientName, false, "*^^REX")}, {key(tagPatientName, false, "*^MUSTI\\*^REX")}, {key(tagPatientName, false, "*^J")},
		{key(tagPatientName, false, "*^レックス")}, {key(tagPatientName, false, "*^PORRI=MAK*")}, {key(tagPatientName, false, "?*^REX")},
		{key(tagPatientName, false, "MAK*"), key(tagSPSStartDate, true, "20261115-20261117")},
		{key(tagPatientName, false, "SMITH*"), key(tagModality, true, "US")},
		{key(tagPatientName, false, "SMITH*"), key(tagPatientID, false, "P-1")},
	}
	check := func(t *testing.T, items []Item) {
		t.Helper()
		for _, keys := range queries {
			q := Query{SPS: true, Keys: keys}
			var want []string
			for _, it := range items {
				if matches(q, it) {
					want = append(want, it.Key)
				}
			}
			var got []string
			for _, it := range indexMatch(x, q) {
				got = append(got, it.Key)
			}
			sort.Strings(want)
			sort.Strings(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: index %v, scan %v", q.Readable(), got, want)
			}
		}
	}
	check(t, items)
	// Renamed, re-numbered and deleted items leave their old buckets.
	items[0].PatientName, items[1].PatientID, items[2].AccessionNumber = "Laine^Rex", "Z9", "ACC9"
	if err := x.Put(items[0], items[1], items[2]); err != nil {
		t.Fatal(err)
	}
	x.Delete(items[7].Key, items[12].Key)
	items = append(items[:7], append(items[8:12], items[13:]...)...)
	check(t, items)
	if err := x.ReplaceAll(items[:4]); err != nil {
		t.Fatal(err)
	}
	check(t, items[:4])
}

// A query that names a patient by a leading literal, or an ID exactly, is
// answered from the lookups; a leading wildcard or a narrow day walks dates.
func TestIndexNarrows(t *testing.T) {
	x := NewIndex()
	var items []Item
	for i := range 400 {
		it := baseItem()
		it.Key = fmt.Sprint(i)
		it.PatientName = fmt.Sprintf("Owner%d^Pet%d", i%40, i)
		it.PatientID, it.AccessionNumber = fmt.Sprintf("P%d", i%100), fmt.Sprintf("A%d", i)
		it.StartDate = fmt.Sprintf("202611%02d", 1+i%20)
		items = append(items, it)
	}
	if err := x.Put(items...); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		keys []Key
		n    int // candidates, -1 when the dates are walked
	}{
		{[]Key{key(tagPatientName, false, "OWNER7")}, 10},
		{[]Key{key(tagPatientName, false, "owner7^*")}, 10},
		{[]Key{key(tagPatientName, false, "OWNER3*")}, 110}, // OWNER3, OWNER30..39
		{[]Key{key(tagPatientName, false, "OWNER3*"), key(tagPatientID, false, "P5")}, 4},
		{[]Key{key(tagAccessionNumber, false, "A17")}, 1},
		{[]Key{key(tagAccessionNumber, false, `A17\P5`)}, 5},
		{[]Key{key(tagAccessionNumber, false, "A1*")}, -1},
		{[]Key{key(tagStudyInstanceUID, false, "1.2.*")}, 0}, // * is a character in a UID
		{[]Key{key(tagPatientName, false, "*^PET7")}, 1},
		{[]Key{key(tagPatientName, false, "*^PET7*")}, 11}, // PET7, PET70..79
		{[]Key{key(tagPatientName, false, "*PET7")}, -1},
		{[]Key{key(tagPatientName, false, "OWNER3*"), key(tagSPSStartDate, true, "20261105")}, -1},
	}
	for _, c := range cases {
		q := Query{Keys: c.keys}
		x.mu.RLock()
		b, _, ok := x.narrow(compile(q))
		x.mu.RUnlock()
		n := -1
		if ok {
			n = 0
			for _, bucket := range b {
				n += len(bucket)
			}
		}
		if n != c.n {
			t.Errorf("%s: %d candidates, want %d", q.Readable(), n, c.n)
		}
	}
}

// StatusCounts follows every change without visiting the items.
func TestIndexStatusCounts(t *testing.T) {
	x := NewIndex()
	a, b, c := baseItem(), baseItem(), baseItem()
	a.Key, b.Key, c.Key = "a", "b", "c"
	b.SPSStatus, c.SPSStatus = " started", ""
	if err := x.Put(a, b, c); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"SCHEDULED": 1, "STARTED": 1, "": 1}
	if got := x.StatusCounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("StatusCounts = %v, want %v", got, want)
	}
	a.SPSStatus = "COMPLETED"
	_ = x.Put(a)
	x.Delete("c", "c")
	want = map[string]int{"COMPLETED": 1, "STARTED": 1}
	got := x.StatusCounts()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after changes StatusCounts = %v, want %v", got, want)
	}
	got["COMPLETED"] = 9
	if err := x.ReplaceAll([]Item{c}); err != nil {
		t.Fatal(err)
	}
	if got := x.StatusCounts(); !reflect.DeepEqual(got, map[string]int{"": 1}) {
		t.Errorf("after ReplaceAll StatusCounts = %v", got)
	}
}
