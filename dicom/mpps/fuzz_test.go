package mpps

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// FuzzCreateSet feeds arbitrary bytes to N-CREATE and N-SET decoding in every
// syntax. Beyond not panicking or exhausting memory, whatever is accepted must
// satisfy the state machine's invariants.
func FuzzCreateSet(f *testing.F) {
	for _, sx := range syntaxes {
		f.Add(encode(f, sx, createDS(f).list()), sx.bigEndian, sx.implicit)
	}
	f.Add(definedLengthCreate(), false, false)
	f.Add([]byte{}, false, true)
	f.Add([]byte{0x40, 0, 0x52, 0x02, 'C', 'S', 10, 0, 'C', 'O', 'M', 'P', 'L', 'E', 'T', 'E', 'D', ' '}, false, false)
	f.Fuzz(func(t *testing.T, data []byte, bigEndian, implicit bool) {
		st, fl := Create(testUID, data, bigEndian, implicit, false)
		if fl != nil {
			if fl.Status == StatusSuccess || len(fl.Comment) > 64 {
				t.Fatalf("bad failure %+v", fl)
			}
		} else {
			if st.Status != InProgress || st.PPSID == "" || st.PerformedStationAE == "" ||
				!validDate(st.StartDate) || !validTime(st.StartTime) || len(st.ScheduledSteps) == 0 {
				t.Fatalf("accepted an invalid N-CREATE: %+v", st)
			}
			for _, r := range st.ScheduledSteps {
				if r.StudyInstanceUID == "" {
					t.Fatalf("accepted a scheduled step without study UID: %+v", st)
				}
			}
		}
		cur := Step{SOPInstanceUID: testUID, Status: InProgress, PPSID: "PPS1", PerformedStationAE: "XRAY1",
			StartDate: "20260105", StartTime: "101500",
			ScheduledSteps: []ScheduledStepRef{{StudyInstanceUID: "2.25.1", AccessionNumber: "ACC1", SPSID: "SPS1"}}}
		next, fl := Set(cur, data, bigEndian, implicit)
		if fl != nil {
			return
		}
		switch next.Status {
		case InProgress, Completed, Discontinued:
		default:
			t.Fatalf("N-SET produced status %q", next.Status)
		}
		if next.PPSID != cur.PPSID || next.PerformedStationAE != cur.PerformedStationAE ||
			!slices.Equal(next.ScheduledSteps, cur.ScheduledSteps) {
			t.Fatalf("N-SET changed identity: %+v", next)
		}
		if next.Final() && (!validDate(next.EndDate) || !validTime(next.EndTime)) {
			t.Fatalf("final step without valid end: %+v", next)
		}
	})
}

// FuzzGuard runs the library, without the panic safety net, on everything the
// guard accepts: a panic here is a structure the guard lets through but the
// library cannot handle.
func FuzzGuard(f *testing.F) {
	for _, sx := range syntaxes {
		f.Add(encode(f, sx, createDS(f).list()), sx.bigEndian, sx.implicit)
	}
	f.Add(definedLengthCreate(), false, false)
	f.Fuzz(func(t *testing.T, data []byte, bigEndian, implicit bool) {
		if bigEndian && implicit {
			return
		}
		var bo binary.ByteOrder = binary.LittleEndian
		if bigEndian {
			bo = binary.BigEndian
		}
		g := guard{bo: bo, implicit: implicit, budget: maxValues}
		if _, err := g.dataset(data, 0, tag.Tag{}); err != nil {
			return
		}
		_, _ = parse(data, bo, implicit)
	})
}
