package records

import "testing"

// The technician types without accents or case: "makinen" finds Mäkinen,
// "gross" finds Groß.
func TestFoldForSearch(t *testing.T) {
	for in, want := range map[string]string{" Mäkinen ": "makinen", "Groß": "gross", "ÅSA-Öberg": "asa-oberg"} {
		if got := FoldForSearch(in); got != want {
			t.Errorf("%q folds to %q, want %q", in, got, want)
		}
	}
}
