package worklist

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/unicode/norm"
)

// Charset is the character set of the answers sent to one device. Its value is
// the DICOM defined term, so a Charset can be written into (0008,0005) as is.
type Charset string

const (
	// CharsetAuto answers a query that declared ISO_IR 192 in UTF-8, otherwise
	// in Latin-1 when every text value fits, otherwise in UTF-8.
	CharsetAuto Charset = ""
	// CharsetUTF8 is ISO_IR 192.
	CharsetUTF8 Charset = "ISO_IR 192"
	// CharsetLatin1 is ISO_IR 100. Text that does not fit is transliterated.
	CharsetLatin1 Charset = "ISO_IR 100"
	// CharsetASCII is the default repertoire: Mäkinen is sent as Makinen, for
	// devices that garble anything else.
	CharsetASCII Charset = "ISO_IR 6"
)

// ParseCharset reads a charset name from configuration. It accepts "auto",
// "utf-8", "latin1", "ascii" and the DICOM spellings, sloppy or not.
func ParseCharset(s string) (Charset, error) {
	switch canonicalCharsetName(s) {
	case "", "AUTO":
		return CharsetAuto, nil
	case "ISOIR192", "UTF8":
		return CharsetUTF8, nil
	case "ISOIR100", "ISO2022IR100", "LATIN1", "ISO88591":
		return CharsetLatin1, nil
	case "ISOIR6", "ISO2022IR6", "ASCII", "USASCII":
		return CharsetASCII, nil
	}
	return CharsetAuto, fmt.Errorf("character set %q is not one VetBridge can send; use auto, utf-8, latin1 or ascii", s)
}

// String returns a name fit for a settings screen and logs.
func (c Charset) String() string {
	switch c {
	case CharsetAuto:
		return "auto"
	case CharsetUTF8:
		return "UTF-8 (ISO_IR 192)"
	case CharsetLatin1:
		return "Latin-1 (ISO_IR 100)"
	case CharsetASCII:
		return "ASCII (ISO_IR 6)"
	}
	return string(c)
}

// canonicalCharsetName folds the spellings devices actually send ("ISO-IR 100",
// "ISO_IR100", "iso_ir 192", "UTF-8") onto one key by dropping everything but
// letters and digits.
func canonicalCharsetName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// textDecoder turns the raw bytes of a text value into UTF-8.
type textDecoder struct {
	enc      encoding.Encoding // nil: ASCII or UTF-8
	utf8     bool              // the query declared UTF-8
	iso2022  bool              // values may carry ISO 2022 escape sequences to strip
	stateful bool              // the decoder interprets escape sequences itself
}

// newTextDecoder picks a decoder for the values of (0008,0005). An unknown
// spelling is not an error: the text is then taken as UTF-8 when it is valid
// UTF-8 and as Latin-1 otherwise, which is what such devices almost always mean.
func newTextDecoder(values []string) textDecoder {
	var d textDecoder
	for _, v := range values {
		name := canonicalCharsetName(v)
		if strings.HasPrefix(name, "ISO2022") {
			d.iso2022 = true
		}
		switch name {
		case "", "ISOIR6", "ISO2022IR6", "ASCII", "USASCII":
			// G0 only; a later value names the extension.
		case "ISOIR192", "UTF8":
			d.utf8 = true
		case "ISOIR100", "ISO2022IR100", "LATIN1", "ISO88591":
			d.enc = charmap.ISO8859_1
		case "ISOIR101", "ISO2022IR101", "LATIN2", "ISO88592":
			d.enc = charmap.ISO8859_2
		case "ISOIR109", "ISO2022IR109", "LATIN3", "ISO88593":
			d.enc = charmap.ISO8859_3
		case "ISOIR110", "ISO2022IR110", "LATIN4", "ISO88594":
			d.enc = charmap.ISO8859_4
		case "ISOIR144", "ISO2022IR144", "ISO88595":
			d.enc = charmap.ISO8859_5
		case "ISOIR127", "ISO2022IR127", "ISO88596":
			d.enc = charmap.ISO8859_6
		case "ISOIR126", "ISO2022IR126", "ISO88597":
			d.enc = charmap.ISO8859_7
		case "ISOIR138", "ISO2022IR138", "ISO88598":
			d.enc = charmap.ISO8859_8
		case "ISOIR148", "ISO2022IR148", "LATIN5", "ISO88599":
			d.enc = charmap.ISO8859_9
		case "ISOIR203", "ISO2022IR203", "LATIN9", "ISO885915":
			d.enc = charmap.ISO8859_15
		case "ISOIR166", "ISO2022IR166", "TIS620":
			d.enc = charmap.Windows874
		case "ISOIR13", "ISO2022IR13", "SHIFTJIS":
			d.enc = japanese.ShiftJIS
		case "ISO2022IR87", "ISO2022IR159":
			d.enc, d.stateful = japanese.ISO2022JP, true
		case "ISO2022IR149", "EUCKR":
			d.enc = korean.EUCKR
		case "GB18030":
			d.enc = simplifiedchinese.GB18030
		case "GBK", "ISO2022IR58":
			d.enc = simplifiedchinese.GBK
		}
	}
	return d
}

// decode never fails: a value that does not decode is better shown garbled
// than dropped, and one bad value must not sink the whole query.
func (d textDecoder) decode(raw string) string {
	if isPlainASCII(raw) {
		return raw
	}
	if d.iso2022 && !d.stateful {
		raw = stripEscapes(raw)
	}
	switch {
	case d.utf8 || d.enc == nil:
		if utf8.ValidString(raw) {
			return raw
		}
		s, _ := charmap.ISO8859_1.NewDecoder().String(raw)
		return s
	default:
		s, err := d.enc.NewDecoder().String(raw)
		if err != nil {
			s, _ = charmap.ISO8859_1.NewDecoder().String(raw)
		}
		return s
	}
}

// isPlainASCII reports printable ASCII without escape sequences, the common
// case that needs no decoding at all.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0x1b {
			return false
		}
	}
	return true
}

// stripEscapes removes ISO 2022 designation sequences (ESC, intermediates
// 0x20-0x2F, one final byte), leaving the G1 bytes for the single-byte decoder.
func stripEscapes(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= 0x20 && s[j] <= 0x2f {
			j++
		}
		if j < len(s) {
			j++ // final byte
		}
		i = j - 1
	}
	return b.String()
}

// fitsLatin1 reports whether s can be sent as ISO_IR 100 without loss.
func fitsLatin1(s string) bool {
	for _, r := range s {
		if r > 0xff || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// toCharset converts UTF-8 text to the bytes of cs. Latin-1 text that does not
// fit is transliterated rather than replaced by '?', so Ivanov stays readable.
func toCharset(s string, cs Charset) string {
	if isPlainASCII(s) {
		return s
	}
	switch cs {
	case CharsetLatin1:
		// Greek digraphs first, as transliterate does: letter by letter, ου
		// would become "oy" and the name on the device would not match the
		// name the technician searches for.
		s = greekDigraphs.Replace(s)
		var b []byte
		for _, r := range s {
			switch {
			case r < 0x80 || (r >= 0xa0 && r <= 0xff):
				b = append(b, byte(r))
			default:
				b = append(b, transliterate(string(r), false)...)
			}
		}
		return string(b)
	case CharsetASCII:
		return transliterate(s, false)
	}
	return s
}

// transliterate maps text to ASCII: accents dropped by canonical
// decomposition, ligatures and non-decomposable Latin letters spelled out, Greek
// and Cyrillic romanised (ELOT 743 and ICAO 9303, the passport conventions).
// Runes with no mapping become '?' or, when keep is set, stay as they are
// (upper-cased): matching uses that so a Japanese name still only matches itself.
func transliterate(s string, keep bool) string {
	s = greekDigraphs.Replace(s)
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x80 {
			b = append(b, byte(r))
			continue
		}
		if t, ok := translitTable[r]; ok {
			b = append(b, t...)
			continue
		}
		if lower := unicode.ToLower(r); lower != r {
			if t, ok := translitTable[lower]; ok {
				b = append(b, capitalize(t)...)
				continue
			}
		}
		if d := norm.NFD.PropertiesString(string(r)).Decomposition(); len(d) > 0 {
			base, _ := utf8.DecodeRune(d)
			if base < 0x80 {
				b = append(b, byte(base))
				continue
			}
			if t, ok := translitTable[unicode.ToLower(base)]; ok {
				if unicode.IsUpper(base) {
					t = capitalize(t)
				}
				b = append(b, t...)
				continue
			}
		}
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if keep {
			b = utf8.AppendRune(b, unicode.ToUpper(r))
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// greekDigraphs: ELOT 743 spells ου as "ou", not letter by letter.
var greekDigraphs = strings.NewReplacer("ου", "ou", "ού", "ou", "Ου", "Ou", "Ού", "Ou", "ΟΥ", "OU")

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// translitTable holds lower-case letters only; upper case is derived.
var translitTable = map[rune]string{
	'ß': "ss", 'æ': "ae", 'ø': "o", 'œ': "oe", 'đ': "d", 'ł': "l", 'þ': "th", 'ð': "d", 'ı': "i", 'ŋ': "ng",
	'ẞ': "SS", 'Æ': "AE", 'Ø': "O", 'Œ': "OE", 'Đ': "D", 'Ł': "L", 'Þ': "TH", 'Ð': "D",
	// Greek, ELOT 743.
	'α': "a", 'β': "v", 'γ': "g", 'δ': "d", 'ε': "e", 'ζ': "z", 'η': "i", 'θ': "th", 'ι': "i", 'κ': "k",
	'λ': "l", 'μ': "m", 'ν': "n", 'ξ': "x", 'ο': "o", 'π': "p", 'ρ': "r", 'σ': "s", 'ς': "s", 'τ': "t",
	'υ': "y", 'φ': "f", 'χ': "ch", 'ψ': "ps", 'ω': "o",
	// Cyrillic, ICAO 9303.
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z", 'и': "i",
	'й': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t",
	'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "ie", 'ы': "y",
	'ь': "", 'э': "e", 'ю': "iu", 'я': "ia", 'і': "i", 'ї': "i", 'є': "ie", 'ґ': "g", 'ў': "u",
}
