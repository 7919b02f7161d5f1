package worklist

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestParseCharset(t *testing.T) {
	cases := map[string]Charset{
		"": CharsetAuto, "auto": CharsetAuto, "Auto": CharsetAuto,
		"utf-8": CharsetUTF8, "ISO_IR 192": CharsetUTF8, "iso-ir-192": CharsetUTF8,
		"latin1": CharsetLatin1, "ISO_IR 100": CharsetLatin1, "ISO-8859-1": CharsetLatin1,
		"ascii": CharsetASCII, "ISO_IR 6": CharsetASCII,
	}
	for in, want := range cases {
		got, err := ParseCharset(in)
		if err != nil || got != want {
			t.Errorf("ParseCharset(%q) = %q, %v; want %q", in, got, err, want)
		}
		if got.String() == "" {
			t.Errorf("%q has no display name", got)
		}
	}
	if _, err := ParseCharset("EBCDIC"); err == nil || !strings.Contains(err.Error(), "use auto") {
		t.Errorf("an unknown charset must fail with advice: %v", err)
	}
}

func TestTagText(t *testing.T) {
	var tg Tag
	if err := tg.UnmarshalText([]byte("(0010,2201)")); err != nil || tg != 0x00102201 || tg.String() != "(0010,2201)" {
		t.Errorf("got %v, %v", tg, err)
	}
	for _, bad := range []string{"0010", "(zzzz,0010)", "(0010,1,2)"} {
		if err := tg.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	js, _ := json.Marshal(Key{Tag: 0x00400100})
	if !strings.Contains(string(js), `"(0040,0100)"`) {
		t.Errorf("tag in JSON: %s", js)
	}
}

// A bare data set (no Part-10 header), as some file-based servers keep
// them, in either little endian syntax.
func TestReadFileBareDataSet(t *testing.T) {
	it := baseItem()
	q := Query{SPS: true}
	for _, a := range attrs {
		if a.tag != tagSPSSequence {
			q.Keys = append(q.Keys, Key{Tag: a.tag, Name: a.keyword, VR: a.vr, InSPS: a.inSPS})
		}
	}
	for _, implicit := range []bool{false, true} {
		b, err := encode(it, q, CharsetLatin1, false, implicit)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("implicit=%v: %v", implicit, err)
		}
		if got.PatientName != it.PatientName || got.SpeciesDescription != "Dog" || got.StartTime != "093000" {
			t.Errorf("implicit=%v: %+v", implicit, got)
		}
	}
}

func TestExplainTimeWords(t *testing.T) {
	cases := []struct {
		keys []Key
		want string
	}{
		{[]Key{key(tagSPSStartTime, true, "13-")}, "scheduled at 09:30; the device asked for times from 13:00"},
		{[]Key{key(tagSPSStartTime, true, "1000-1200")}, "scheduled at 09:30; the device asked for times 10:00 to 12:00"},
		{[]Key{key(tagSPSStartDate, true, "20261120-20261121"), key(tagSPSStartTime, true, "0800-1000")},
			"scheduled on 2026-11-22 at 09:30; the device asked for 2026-11-20 08:00 to 2026-11-21 10:00"},
		{[]Key{key(tagSPSStartDate, true, "20261123-"), key(tagSPSStartTime, true, "0800-")},
			"scheduled on 2026-11-22 at 09:30; the device asked for from 2026-11-23 08:00"},
		{[]Key{key(tagSPSStartDate, true, "-20261121")}, "scheduled on 2026-11-22; the device asked for up to 2026-11-21"},
	}
	for _, c := range cases {
		rs := Explain(Query{Keys: c.keys}, baseItem())
		if len(rs) != 1 || rs[0].Text != c.want {
			t.Errorf("Explain = %+v\nwant %q", rs, c.want)
		}
	}
}
