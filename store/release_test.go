package store

import (
	"fmt"
	"testing"
)

// Releasing the mapped pages changes what the process holds, never what it
// reads: every item comes back the same, and the store still writes.
func TestReadsAfterReleaseMappedAreUnchanged(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var puts []Item
	for i := 0; i < 500; i++ {
		puts = append(puts, Item{Key: fmt.Sprintf("k%04d", i), Date: "20261129", Data: []byte(fmt.Sprintf("record %d", i))})
	}
	if err := s.ApplyItems(puts, nil); err != nil {
		t.Fatal(err)
	}
	s.ReleaseMapped()
	n := 0
	if err := s.AllItems(func(it Item) error {
		if want := fmt.Sprintf("record %d", n); string(it.Data) != want {
			t.Errorf("%s: %q after release, want %q", it.Key, it.Data, want)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(puts) {
		t.Fatalf("%d items after release, want %d", n, len(puts))
	}
	if err := s.PutItem(Item{Key: "after", Date: "20261129", Data: []byte("x")}); err != nil {
		t.Fatalf("write after release: %v", err)
	}
}
