package worklist

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func addSeeds(f *testing.F, add func(b []byte, name string)) {
	files, _ := filepath.Glob("testdata/wlistqry/*.dcm")
	if len(files) == 0 {
		f.Fatal("no seed queries in testdata/wlistqry")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b, p)
	}
}

// FuzzDecodeQuery: no identifier may panic the decoder, whatever the syntax;
// anything it accepts must also match and encode without panicking.
func FuzzDecodeQuery(f *testing.F) {
	addSeeds(f, func(b []byte, name string) {
		f.Add(b, strings.Contains(name, ".tb."), strings.Contains(name, ".ti."))
	})
	sloppy := newBuilder(false, false)
	sloppy.el(tagSpecificCharacterSet, "CS", `ISO 2022 IR 6\ISO 2022 IR 87`).el(tagPatientName, "UN", "\x1b$B;3ED\x1b(B").
		seq(tagSPSSequence, func(b *dsBuilder) { b.el(tagModality, "CS", "dx").el(tagSPSStartDate, "DA", "2026-") })
	f.Add(sloppy.b, false, false)
	it := baseItem()
	f.Fuzz(func(t *testing.T, b []byte, bigEndian, implicit bool) {
		q, err := DecodeQuery(b, bigEndian, implicit)
		if err != nil {
			return
		}
		if m, rs := matches(q, it), Explain(q, it); m != (len(rs) == 0) {
			t.Fatalf("Matches = %v but Explain = %+v", m, rs)
		}
		if _, err := encode(it, q, CharsetAuto, bigEndian, implicit); err != nil && !(bigEndian && implicit) {
			t.Fatalf("a decoded query must encode: %v", err)
		}
	})
}

// FuzzReadFile: no file may panic ReadFile.
func FuzzReadFile(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteFile(&buf, baseItem()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	addSeeds(f, func(b []byte, name string) {
		if strings.Contains(name, ".te.") {
			f.Add(b)
		}
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ReadFile(bytes.NewReader(b))
	})
}
