package worklist

import (
	"context"
	"fmt"
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
	if got, _ := x.Get("c"); got.SpeciesCode.Value != "448771007" {
		t.Error("a caller's change reached the index")
	}
	// Moving an item to another day and modality re-files it.
	b.StartDate, b.Modality = "20261122", "DX"
	if err := x.Put(b); err != nil {
		t.Fatal(err)
	}
	day := Query{Keys: []Key{key(tagSPSStartDate, true, "20261122"), key(tagModality, true, "DX")}}
	if n := len(x.Match(day)); n != 3 {
		t.Errorf("one-day DX query found %d, want 3", n)
	}
	x.Delete("a", "nonexistent")
	if _, ok := x.Get("a"); ok || x.Len() != 2 {
		t.Error("Delete did not remove")
	}
	if err := x.ReplaceAll([]Item{a}); err != nil {
		t.Fatal(err)
	}
	if x.Len() != 1 || len(x.Match(Query{Keys: []Key{key(tagSPSStartDate, true, "20261123")}})) != 0 {
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
		for _, it := range x.Match(q) {
			if it.PatientName != "Mäkinen^Pörri" {
				t.Fatal("torn item")
			}
		}
	}
	cancel()
	wg.Wait()
}
