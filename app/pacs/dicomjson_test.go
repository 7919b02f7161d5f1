package pacs

import (
	"reflect"
	"strings"
	"testing"
)

const sampleJSON = `[{
 "00080020": {"vr": "DA", "Value": ["20261120"]},
 "00080030": {"vr": "TM", "Value": ["104200.123"]},
 "00080050": {"vr": "SH", "Value": ["ACC-1001"]},
 "00080061": {"vr": "CS", "Value": ["DX", null, "CR"]},
 "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Mäkinen^Rex", "Ideographic": "x"}]},
 "00100020": {"vr": "LO", "Value": ["PAT-1"]},
 "0020000d": {"vr": "UI", "Value": ["1.2.3"]},
 "00201206": {"vr": "IS", "Value": [2]},
 "00201208": {"vr": "IS", "Value": ["14"]},
 "00081190": {"vr": "UR", "Value": ["http://pacs/studies/1.2.3"]},
 "7FE00010": {"vr": "OB", "InlineBinary": "AAEC"},
 "nonsense": {"vr": "LO", "Value": ["ignored"]}
},
{"0020000D": {"vr": "UI", "Value": ["1.2.4"]}, "00201206": {"vr": "IS", "Value": [-1]}, "00201208": {"vr": "IS"}}]`

func TestDecodeDatasets(t *testing.T) {
	ds, err := decodeDatasets(strings.NewReader(sampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("%d entries", len(ds))
	}
	s, counted := ds[0].study()
	want := Study{UID: "1.2.3", Accession: "ACC-1001", PatientID: "PAT-1", PatientName: "Mäkinen^Rex", Date: "20261120",
		Time: "104200.123", Modalities: []string{"DX", "CR"}, Series: 2, Instances: 14}
	if !counted || !reflect.DeepEqual(s, want) {
		t.Errorf("study %+v counted=%v\nwant %+v", s, counted, want)
	}
	if s, counted := ds[1].study(); counted || s.UID != "1.2.4" {
		t.Errorf("a negative or missing count was taken: %+v", s)
	}
	if _, ok := ds[0]["NONSENSE"]; ok {
		t.Error("a non-tag key was kept")
	}
}

func TestDecodeDatasetsRejects(t *testing.T) {
	for _, body := range []string{`{"not": "an array"}`, `<html>`, `[{"00100010": {"vr": "PN", "Value": "x"}}]`} {
		if _, err := decodeDatasets(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", body)
		}
	}
	if ds, err := decodeDatasets(strings.NewReader("  \n")); err != nil || ds != nil {
		t.Errorf("empty body: %v, %v", ds, err)
	}
	big := "[" + strings.Repeat(" ", maxJSONBytes) + "]"
	if _, err := decodeDatasets(strings.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized body: %v", err)
	}
}

func TestStudyStart(t *testing.T) {
	for _, tc := range []struct{ date, time, want string }{
		{"20261120", "104200.5", "2026-11-20 10:42:00"},
		{"20261120", "1042", "2026-11-20 10:42:00"},
		{"20261120", "", "2026-11-20 00:00:00"},
		{"20261120", "99", "2026-11-20 00:00:00"},
	} {
		got, ok := Study{Date: tc.date, Time: tc.time}.Start(nil)
		if !ok || got.Format("2006-01-02 15:04:05") != tc.want {
			t.Errorf("%s %s: %v %v, want %s", tc.date, tc.time, got, ok, tc.want)
		}
	}
	if _, ok := (Study{Date: "2026-11-20"}).Start(nil); ok {
		t.Error("a malformed date was accepted")
	}
}

// FuzzDecodeDatasets guards the DICOM JSON decoder against whatever a
// PACS, or something posing as one, answers.
func FuzzDecodeDatasets(f *testing.F) {
	f.Add([]byte(sampleJSON))
	f.Add([]byte(`[{"00201209": {"vr": "IS", "Value": [1e400]}}]`))
	f.Add([]byte(`[{"00100010": {"vr": "PN", "Value": [{"Alphabetic": 5}]}}, null]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := decodeDatasets(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, d := range ds {
			s, counted := d.study()
			if counted && (s.Series < 0 || s.Instances < 0) {
				t.Fatalf("negative counts %+v", s)
			}
			for k := range d {
				if len(k) != 8 || strings.ToUpper(k) != k {
					t.Fatalf("key %q kept", k)
				}
			}
		}
	})
}
