package worklist

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The DCMTK example queries, turned into raw data sets by dump2dcm -F in the
// three transfer syntaxes, must decode to the same query in each.
func TestDecodeDCMTKExampleQueries(t *testing.T) {
	files, err := filepath.Glob("testdata/wlistqry/*.ti.dcm")
	if err != nil || len(files) != 13 {
		t.Fatalf("want the 13 DCMTK example queries in testdata, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		base := strings.TrimSuffix(f, ".ti.dcm")
		var first Query
		for i, s := range syntaxes {
			b, err := os.ReadFile(base + map[string]string{"ImplicitLE": ".ti.dcm", "ExplicitLE": ".te.dcm", "ExplicitBE": ".tb.dcm"}[s.name])
			if err != nil {
				t.Fatal(err)
			}
			q := mustDecode(t, b, s.bigEndian, s.implicit)
			if i == 0 {
				first = q
				continue
			}
			if !reflect.DeepEqual(q, first) {
				t.Errorf("%s: %s decodes differently:\n%+v\n%+v", base, s.name, q, first)
			}
		}
	}
	read := func(name string) Query {
		b, err := os.ReadFile("testdata/wlistqry/" + name + ".te.dcm")
		if err != nil {
			t.Fatal(err)
		}
		return mustDecode(t, b, false, false)
	}
	q12 := read("wlistqry12")
	if got := keyValue(t, q12, tagStationAE, true); got != "AA4" {
		t.Errorf("wlistqry12 station = %q, want AA4", got)
	}
	if !q12.SPS {
		t.Error("wlistqry12 asks for the SPS sequence")
	}
	if got := keyValue(t, read("wlistqry4"), tagModality, true); got != "DD" {
		t.Errorf("wlistqry4 modality = %q", got)
	}
	if got := keyValue(t, read("wlistqry5"), tagSPSStartTime, true); got != "120000-" {
		t.Errorf("wlistqry5 time = %q", got)
	}
	q0 := read("wlistqry0")
	if k, ok := q0.Key(0x00321064, false); !ok || k.Code != nil || !k.Universal() {
		t.Errorf("wlistqry0 procedure code sequence = %+v, want a universal key", k)
	}
	q11 := read("wlistqry11")
	if k, ok := q11.Key(0x00102000, false); !ok || k.Name != "MedicalAlerts" {
		t.Errorf("an unsupported key must be kept to be returned empty: %+v", k)
	}
}

// A query as a sloppy device sends it: group lengths, private tags inside and
// outside the SPS, a standard key sent as UN, lower-case code strings, a
// non-standard charset spelling, and a broken date.
func TestDecodeSloppyQuery(t *testing.T) {
	b := newBuilder(false, false)
	b.el(0x00080000, "UL", "\x10\x00\x00\x00")
	b.el(tagSpecificCharacterSet, "CS", "ISO-IR 100")
	b.el(0x00090010, "LO", "ACME PRIVATE")
	b.el(0x00091001, "UN", "\x01\x02\x03\x04")
	// A private sequence of known length holding garbage, and a private
	// undefined-length UN sequence (implicit VR inside, per PS3.5).
	b.tag(0x00091010)
	b.b = append(b.b, 'S', 'Q', 0, 0, 6, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0, 1)
	b.tag(0x00091011)
	b.b = append(b.b, 'U', 'N', 0, 0, 0xff, 0xff, 0xff, 0xff)
	b.b = append(b.b, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff) // item
	b.b = append(b.b, 0x10, 0x00, 0x20, 0x00, 2, 0, 0, 0, 'X', ' ')   // (0010,0020) implicit
	b.b = append(b.b, 0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0)             // item delimiter
	b.b = append(b.b, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0)             // sequence delimiter
	b.el(tagPatientName, "UN", "M\xe4kinen^P\xf6rri")
	b.el(tagPatientID, "LO", "")
	b.el(0x00102201, "LO", "c\xe4t")
	b.seq(tagSPSSequence, func(s *dsBuilder) {
		s.el(0x00400000, "UL", "\x00\x00\x00\x00")
		s.el(tagModality, "CS", "dx ")
		s.el(tagStationAE, "AE", "")
		s.el(tagSPSStartDate, "DA", "20261345")
		s.el(tagSPSStatus, "CS", "scheduled")
		s.el(0x00430010, "LO", "GEMS_PRIVATE")
		s.el(0x00431001, "LO", "junk")
	})
	q := mustDecode(t, b.b, false, false)
	if q.CharacterSet != "ISO-IR 100" {
		t.Errorf("charset = %q", q.CharacterSet)
	}
	if got := keyValue(t, q, tagPatientName, false); got != "Mäkinen^Pörri" {
		t.Errorf("UN patient name = %q, want Mäkinen^Pörri", got)
	}
	if got := keyValue(t, q, 0x00102201, false); got != "cät" {
		t.Errorf("species = %q", got)
	}
	if got := keyValue(t, q, tagModality, true); got != "DX" {
		t.Errorf("modality = %q, want DX", got)
	}
	if got := keyValue(t, q, tagSPSStatus, true); got != "SCHEDULED" {
		t.Errorf("status = %q, want SCHEDULED", got)
	}
	if k, _ := q.Key(tagSPSStartDate, true); k.Note == "" {
		t.Errorf("a broken date must be noted and matched as universal: %+v", k)
	}
	for _, k := range q.Keys {
		if k.Tag.group()%2 == 1 || k.Tag.element() == 0 {
			t.Errorf("private or group length key %v kept", k.Tag)
		}
	}
	if len(q.Keys) != 7 {
		t.Errorf("got %d keys, want 7: %+v", len(q.Keys), q.Keys)
	}
	// A date that is not a date must not exclude anything.
	if !matches(q, Item{PatientName: "Mäkinen^Pörri", SpeciesDescription: "Cat", Modality: "DX", SPSStatus: "SCHEDULED", StationAETitle: "X"}) {
		t.Error("the sloppy query should match its item")
	}
}

func TestDecodeCharsets(t *testing.T) {
	const want = "Mäkinen^Pörri"
	latin1 := "M\xe4kinen^P\xf6rri"
	cases := []struct {
		charset, raw, want string
	}{
		{"ISO_IR 100", latin1, want},
		{"ISO-IR 100", latin1, want},
		{"ISO_IR100", latin1, want},
		{"latin1", latin1, want},
		{"ISO 2022 IR 100", latin1, want},
		{`ISO 2022 IR 6\ISO 2022 IR 100`, "\x1b-A" + latin1, want},
		{"ISO_IR 192", want, want},
		{"iso_ir 192", want, want},
		{"UTF-8", want, want},
		{"", want, want},             // undeclared but valid UTF-8
		{"", latin1, want},           // undeclared Latin-1
		{"WEIRD", latin1, want},      // unknown spelling
		{"ISO_IR 192", latin1, want}, // declared UTF-8, sent Latin-1
		{"ISO_IR 101", "Dvo\xf8\xe1k", "Dvořák"},
		{"ISO_IR 126", "\xcd\xdf\xea\xef\xf2", "Νίκος"},
		{"ISO_IR 144", "\xb8\xd2\xd0\xdd\xde\xd2", "Иванов"},
		{`\ISO 2022 IR 87`, "\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B", "山田^太郎"},
	}
	for _, c := range cases {
		t.Run(c.charset, func(t *testing.T) {
			for _, s := range syntaxes {
				b := newBuilder(s.bigEndian, s.implicit)
				if c.charset != "" {
					b.el(tagSpecificCharacterSet, "CS", c.charset)
				}
				b.el(tagPatientName, "PN", c.raw)
				q := mustDecode(t, b.b, s.bigEndian, s.implicit)
				if got := keyValue(t, q, tagPatientName, false); got != c.want {
					t.Errorf("%s: %q decoded as %q, want %q", s.name, c.raw, got, c.want)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Run("query/retrieve identifier", func(t *testing.T) {
		b := newBuilder(false, true).el(tagQueryRetrieveLevel, "CS", "STUDY").el(0x00080020, "DA", "")
		if _, err := DecodeQuery(b.b, false, true); !errors.Is(err, ErrNotWorklistQuery) {
			t.Errorf("err = %v, want ErrNotWorklistQuery", err)
		}
	})
	t.Run("stray level in a worklist query", func(t *testing.T) {
		b := newBuilder(false, true).el(tagQueryRetrieveLevel, "CS", "PATIENT").el(tagPatientName, "PN", "").
			seq(tagSPSSequence, func(b *dsBuilder) { b.el(tagModality, "CS", "DX") })
		if _, err := DecodeQuery(b.b, false, true); err != nil {
			t.Errorf("err = %v, want a worklist query", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := DecodeQuery(nil, false, true); !errors.Is(err, ErrNotWorklistQuery) {
			t.Errorf("err = %v, want ErrNotWorklistQuery", err)
		}
	})
	t.Run("huge length", func(t *testing.T) {
		b := newBuilder(false, false)
		b.tag(0x00091001)
		b.b = append(b.b, 'U', 'N', 0, 0, 0xf0, 0xff, 0xff, 0xff, 1, 2)
		if _, err := DecodeQuery(b.b, false, false); err == nil || errors.Is(err, ErrNotWorklistQuery) {
			t.Errorf("err = %v, want a data set error", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		b := newBuilder(false, false).el(tagPatientName, "PN", "SMITH^REX")
		if _, err := DecodeQuery(b.b[:len(b.b)-3], false, false); err == nil {
			t.Error("a truncated identifier must fail")
		}
	})
	t.Run("implicit big endian", func(t *testing.T) {
		b := newBuilder(true, false).el(tagPatientName, "PN", "")
		if _, err := DecodeQuery(b.b, true, true); err == nil {
			t.Error("implicit big endian does not exist")
		}
	})
	t.Run("implicit bytes on an explicit association", func(t *testing.T) {
		b := newBuilder(false, true).el(tagPatientName, "PN", "SMITH")
		if _, err := DecodeQuery(b.b, false, false); err == nil {
			t.Error("want an error naming the transfer syntax")
		}
	})
}
