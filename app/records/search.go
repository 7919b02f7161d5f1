package records

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// FoldForSearch makes search case- and accent-insensitive, as the technician
// types "makinen" for Mäkinen and "gross" for Groß.
func FoldForSearch(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, strings.TrimSpace(s))
	if err != nil {
		out = s
	}
	return strings.NewReplacer("ß", "ss", "ẞ", "ss").Replace(strings.ToLower(out))
}
