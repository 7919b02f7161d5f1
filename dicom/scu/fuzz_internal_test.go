package scu

import (
	"testing"

	"github.com/vetbridge/vetbridge/dicom/dimse"
)

// FuzzStudyAnswer guards the reading of a PACS's C-FIND answers: whatever
// the bytes, decoding returns an error or a study, and counts are never
// negative.
func FuzzStudyAnswer(f *testing.F) {
	explicit := TransferSyntax{UID: dimse.ExplicitVRLittleEndian}
	for _, keys := range [][]string{
		{"StudyInstanceUID=1.2.3", "AccessionNumber=A1", "PatientName=Mäkinen^Rex", "ModalitiesInStudy=DX\\CR",
			"NumberOfStudyRelatedSeries=2", "NumberOfStudyRelatedInstances=14"},
		{"SeriesInstanceUID=1.2.3.4", "NumberOfSeriesRelatedInstances=-3"},
		{"NumberOfStudyRelatedSeries=+7", "NumberOfStudyRelatedInstances=x"},
	} {
		b, err := EncodeIdentifier(explicit, keys...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	f.Add([]byte{0x08, 0, 0x05, 0, 'C', 'S', 0x0a, 0, 'I', 'S', 'O', '_', 'I', 'R', ' ', '1', '0', '0'}, false)
	f.Fuzz(func(t *testing.T, b []byte, implicit bool) {
		ts := explicit
		if implicit {
			ts = TransferSyntax{UID: dimse.ImplicitVRLittleEndian, Implicit: true}
		}
		v, err := decodeValues(b, ts)
		if err != nil {
			return
		}
		s := v.study()
		if s.Series < 0 || s.Instances < 0 {
			t.Fatalf("negative counts %d/%d", s.Series, s.Instances)
		}
		if n, ok := v.count(tagNumberOfSeriesRelatedInstances); ok && n < 0 {
			t.Fatalf("negative series count %d", n)
		}
	})
}
