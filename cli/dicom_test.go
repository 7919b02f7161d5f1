package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/scu"
)

func TestWorklistQueryPadsTextWithSpaces(t *testing.T) {
	b, err := scu.EncodeWorklistQuery([]string{"ScheduledProcedureStepStartDate=20261120-20261126", "PatientName=Mäkinen*", "SPS>Modality=DX", "SPS>ScheduledProcedureStepStartDate=20261120-20261126"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("20261126\x00")) || !bytes.Contains(b, []byte("20261120-20261126 ")) {
		t.Fatalf("odd-length date range not padded with a space: %q", b)
	}
	var out strings.Builder
	if err := PrintDataSet(&out, b, false, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SpecificCharacterSet=ISO_IR 192", "PatientName=Mäkinen*", "SPS>Modality=DX", "SPS>ScheduledProcedureStepStartDate=20261120-20261126"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("decoded query lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := scu.EncodeWorklistQuery([]string{"NoSuchKeyword=1"}, false, false); err == nil {
		t.Error("an unknown keyword must be refused with a clear error")
	}
}
