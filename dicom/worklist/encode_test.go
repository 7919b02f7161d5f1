package worklist

import (
	"bytes"
	"strings"
	"testing"
)

// answer decodes an encoded answer back into tags and the item it describes.
func answer(t *testing.T, b []byte, bigEndian, implicit bool) (dataSet, Item) {
	t.Helper()
	ds, err := readDataSet(b, bigEndian, implicit)
	if err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	return ds, buildItem(ds)
}

func topTags(ds dataSet) []Tag {
	var out []Tag
	for _, el := range ds.elems {
		out = append(out, elemTag(el))
	}
	return out
}

func TestEncodeReturnsOnlyRequestedKeys(t *testing.T) {
	it := baseItem()
	for _, s := range syntaxes {
		t.Run(s.name, func(t *testing.T) {
			q := Query{SPS: true, Keys: []Key{
				key(tagPatientName, false, ""),
				key(tagPatientID, false, ""),
				key(0x00102201, false, ""),
				key(0x00102202, false, ""),
				key(0x00101002, false, ""),
				key(0x00101030, false, ""),
				key(0x00081110, false, ""),
				{Tag: 0x00102000, Name: "MedicalAlerts", VR: "LO"},
				key(tagModality, true, "DX"),
				key(tagSPSStartDate, true, ""),
				{Tag: 0x00400012, Name: "PreMedication", VR: "LO", InSPS: true},
				{Tag: tagStationAE, Name: "ScheduledStationAETitle", VR: "AE", InSPS: true, Value: "DX1", Profile: true, Injected: true},
			}}
			b, err := encode(it, q, CharsetUTF8, s.bigEndian, s.implicit)
			if err != nil {
				t.Fatal(err)
			}
			ds, got := answer(t, b, s.bigEndian, s.implicit)
			want := []Tag{0x00081110, tagPatientName, tagPatientID, 0x00101002, 0x00101030, 0x00102000, 0x00102201, 0x00102202, tagSPSSequence}
			if gotTags := topTags(ds); !equalTags(gotTags, want) {
				t.Errorf("top-level tags %v, want %v", gotTags, want)
			}
			if strings.Join(ds.charset, `\`) != "ISO_IR 192" {
				t.Errorf("non-ASCII answer must carry (0008,0005): %q", ds.charset)
			}
			if got.PatientName != it.PatientName || got.SpeciesDescription != "Dog" || got.PatientWeightKg != 12.5 ||
				got.SpeciesCode == nil || *got.SpeciesCode != *it.SpeciesCode || len(got.OtherPatientIDs) != 1 {
				t.Errorf("answer lost values: %+v", got)
			}
			if got.Modality != "DX" || got.StartDate != "20261122" || got.StationAETitle != "" {
				t.Errorf("SPS: modality %q date %q station %q (station was not requested)", got.Modality, got.StartDate, got.StationAETitle)
			}
			for _, el := range ds.elems {
				if elemTag(el) == tagSPSSequence {
					items := seqItems(el)
					if len(items) != 1 || len(items[0]) != 3 {
						t.Errorf("SPS item has %d elements, want modality, date and pre-medication", len(items[0]))
					}
				}
				if elemTag(el) == 0x00081110 && len(seqItems(el)) != 0 {
					t.Error("Referenced Study Sequence must be present and empty")
				}
			}
		})
	}
}

func equalTags(a, b []Tag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeType1Fallbacks(t *testing.T) {
	it := Item{Key: "provet:wl:77", AccessionNumber: "A77", Modality: "us", StartDate: "20261122"}
	q := Query{SPS: true, CallingAE: "US1", Keys: []Key{
		key(tagPatientName, false, ""), key(tagPatientID, false, ""),
		key(tagStudyInstanceUID, false, ""), key(tagReqProcID, false, ""), key(tagReqProcDescription, false, ""),
		key(tagSPSID, true, ""), key(tagSPSDescription, true, ""), key(tagStationAE, true, ""),
		key(tagSPSStartDate, true, ""), key(tagSPSStartTime, true, ""), key(tagModality, true, ""),
	}}
	b1, err := encode(it, q, CharsetAuto, false, true)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := encode(it, q, CharsetAuto, false, true)
	if !bytes.Equal(b1, b2) {
		t.Error("fallbacks must be deterministic")
	}
	_, got := answer(t, b1, false, true)
	if got.StudyInstanceUID != DerivedStudyInstanceUID("provet:wl:77") || !strings.HasPrefix(got.StudyInstanceUID, "2.25.") || len(got.StudyInstanceUID) > 64 {
		t.Errorf("study UID %q", got.StudyInstanceUID)
	}
	if got.RequestedProcedureID != "A77" || got.SPSID != "A77" {
		t.Errorf("procedure ID %q, SPS ID %q, want the accession number", got.RequestedProcedureID, got.SPSID)
	}
	if got.PatientID == "" || got.PatientName == "" || got.RequestedProcedureDescription == "" || got.SPSDescription == "" {
		t.Errorf("empty Type 1 value: %+v", got)
	}
	if got.StationAETitle != "US1" || got.StartTime != "000000" || got.Modality != "us" {
		t.Errorf("station %q time %q modality %q", got.StationAETitle, got.StartTime, got.Modality)
	}
	if DerivedStudyInstanceUID("a") == DerivedStudyInstanceUID("b") {
		t.Error("derived UIDs must differ per item")
	}
}

func TestEncodeCharsets(t *testing.T) {
	q := func(declared string) Query {
		return Query{CharacterSet: declared, Keys: []Key{key(tagPatientName, false, "")}}
	}
	cases := []struct {
		name, patient string
		cs            Charset
		declared      string
		wantCS        string // "" = no (0008,0005)
		wantRaw       string
	}{
		{"auto latin1 fits", "Mäkinen^Pörri", CharsetAuto, "", "ISO_IR 100", "M\xe4kinen^P\xf6rri"},
		{"auto utf8 query", "Mäkinen^Pörri", CharsetAuto, "ISO_IR 192", "ISO_IR 192", "Mäkinen^Pörri"},
		{"auto sloppy utf8 query", "Mäkinen^Pörri", CharsetAuto, "utf-8", "ISO_IR 192", "Mäkinen^Pörri"},
		{"auto greek", "Παπαδόπουλος^Άρης", CharsetAuto, "ISO_IR 100", "ISO_IR 192", "Παπαδόπουλος^Άρης"},
		{"auto cyrillic", "Иванов^Шарик", CharsetAuto, "", "ISO_IR 192", "Иванов^Шарик"},
		{"auto ascii", "Smith^Rex", CharsetAuto, "", "", "Smith^Rex"},
		{"latin1 cyrillic transliterated", "Иванов^Шарик", CharsetLatin1, "", "", "Ivanov^Sharik"},
		{"ascii", "Mäkinen^Pörri", CharsetASCII, "", "", "Makinen^Porri"},
		{"ascii greek", "Παπαδόπουλος", CharsetASCII, "", "", "Papadopoulos"},
		{"ascii sharp s", "Weiß^Strolch", CharsetASCII, "", "", "Weiss^Strolch"},
		{"utf8 forced", "Mäkinen", CharsetUTF8, "", "ISO_IR 192", "Mäkinen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			it := baseItem()
			it.PatientName = c.patient
			b, err := encode(it, q(c.declared), c.cs, false, false)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := readDataSet(b, false, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ds.charset, `\`); got != c.wantCS {
				t.Errorf("(0008,0005) = %q, want %q", got, c.wantCS)
			}
			if !bytes.Contains(b, []byte(c.wantRaw)) {
				t.Errorf("answer bytes lack %q: %q", c.wantRaw, b)
			}
		})
	}
}

func TestEncodeClipsOverlongValues(t *testing.T) {
	it := baseItem()
	it.AccessionNumber = strings.Repeat("A", 40)
	b, err := encode(it, Query{Keys: []Key{key(0x00080050, false, "")}}, CharsetAuto, false, false)
	if err != nil {
		t.Fatal(err)
	}
	_, got := answer(t, b, false, false)
	if len(got.AccessionNumber) != 16 {
		t.Errorf("SH sent with %d characters", len(got.AccessionNumber))
	}
}
