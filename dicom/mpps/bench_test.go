package mpps

import (
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// BenchmarkCreate decodes and validates a typical N-CREATE (Explicit VR LE).
func BenchmarkCreate(b *testing.B) {
	data := encode(b, syntaxes[1], createDS(b).list())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, f := Create(testUID, data, false, false, false); f != nil {
			b.Fatal(f)
		}
	}
}

// BenchmarkSetCompleted decodes and applies the final N-SET of an exam.
func BenchmarkSetCompleted(b *testing.B) {
	cur, f := Create(testUID, encode(b, syntaxes[1], createDS(b).list()), false, false, false)
	if f != nil {
		b.Fatal(f)
	}
	data := encode(b, syntaxes[1], []*dicom.Element{
		el(b, tag.PerformedProcedureStepEndDate, s1("20260105")),
		el(b, tag.PerformedProcedureStepEndTime, s1("103000")),
		el(b, tag.PerformedProcedureStepStatus, s1("COMPLETED")),
	})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, f := Set(cur, data, false, false); f != nil {
			b.Fatal(f)
		}
	}
}
