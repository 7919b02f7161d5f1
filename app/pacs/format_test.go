package pacs_test

import (
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/pacs"
)

func TestLines(t *testing.T) {
	none := pacs.Match{Referral: pacs.Referral{Accession: "A7"}}
	two := pacs.Match{Referral: pacs.Referral{Accession: "A1"}, By: pacs.ByAccession, Studies: []pacs.Study{
		{Date: "20261120", Time: "091500", Series: 1, Instances: 4},
		{Date: "20261120", Time: "104233.5", Series: 1, Instances: 10},
	}}
	one := pacs.Match{Studies: []pacs.Study{{Date: "bad", Series: 1, Instances: 1}}}
	for _, tc := range []struct{ got, want string }{
		{none.Summary(time.UTC), "no images yet"},
		{two.Summary(time.UTC), "2 series, 14 images, 10:42"},
		{one.Summary(time.UTC), "1 series, 1 image"},
		{none.ImagesLine(), "A7 studies=0 series=0 instances=0"},
		{two.ImagesLine(), "A1 studies=2 series=2 instances=14"},
		{one.ImagesLine(), "- studies=1 series=1 instances=1"},
		{pacs.Study{Accession: "WALKIN-7", PatientID: "PAT 9", Date: "20261120", Modalities: []string{"CR", "DX"}, UID: "1.2"}.UnmatchedLine(),
			`WALKIN-7 patient_id="PAT 9" date=20261120 modality=CR\DX source=pacs study=1.2`},
		{pacs.Study{UID: "1.3"}.UnmatchedLine(), "- patient_id=- date=- modality=- source=pacs study=1.3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
