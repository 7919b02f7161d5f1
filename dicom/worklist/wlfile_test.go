package worklist

import (
	"bytes"
	"reflect"
	"testing"
)

func TestWriteReadFileRoundTrip(t *testing.T) {
	for _, name := range []string{"Mäkinen^Pörri", "Иванов^Шарик", "Smith^Rex"} {
		it := baseItem()
		it.PatientName = name
		it.RequestedProcedureDescription = "Thorax 2 views"
		it.RequestedProcedureCode = &Code{Value: "XR-TH", Scheme: "VB", Meaning: "Thorax"}
		it.SPSDescription, it.StationName, it.SPSLocation = "Thorax", "XRAY-1", "Room 2"
		it.RequestingPhysician, it.RequestedProcedurePriority, it.RequestedProcedureComments = "Laine^Outi", "HIGH", "sedated"
		it.PatientComments, it.AdmissionID = "bites", "C-991"
		var buf bytes.Buffer
		if err := WriteFile(&buf, it); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if string(b[128:132]) != "DICM" {
			t.Fatal("no Part-10 preamble")
		}
		got, err := ReadFile(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		want := it
		want.Key, want.Updated = "", got.Updated
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

func TestReadFileRejects(t *testing.T) {
	bad := append(make([]byte, 128), "DICM\x02\x00\x10\x00UI\x40\x00"...)
	if _, err := ReadFile(bytes.NewReader(bad)); err == nil {
		t.Error("a damaged header must fail")
	}
}
