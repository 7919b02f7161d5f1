package mpps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom/pkg/tag"
)

// Hand-built encodings, to reach the shapes the library's writer never
// produces: defined-length sequences and items, and hostile lengths.

func exLE(t tag.Tag, vr string, val []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, t.Group)
	b = binary.LittleEndian.AppendUint16(b, t.Element)
	b = append(b, vr...)
	if longVR[vr] {
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(val)))
	} else {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	}
	return append(b, val...)
}

func imLE(t tag.Tag, vl uint32, val []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, t.Group)
	b = binary.LittleEndian.AppendUint16(b, t.Element)
	b = binary.LittleEndian.AppendUint32(b, vl)
	return append(b, val...)
}

func pad(s string) []byte {
	if len(s)%2 == 1 {
		s += " "
	}
	return []byte(s)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// definedLengthCreate is a valid N-CREATE in Explicit VR LE whose scheduled
// step sequence and item have defined lengths, as DCMTK writes by default.
func definedLengthCreate() []byte {
	item := cat(
		exLE(tag.AccessionNumber, "SH", pad("ACC1")),
		exLE(tag.StudyInstanceUID, "UI", []byte("2.25.1\x00")),
		exLE(tag.ScheduledProcedureStepID, "SH", pad("SPS1")),
	)
	seq := imLE(tag.Item, uint32(len(item)), item)
	return cat(
		exLE(tag.PerformedStationAETitle, "AE", pad("XRAY1")),
		exLE(tag.PerformedProcedureStepStartDate, "DA", pad("20260105")),
		exLE(tag.PerformedProcedureStepStartTime, "TM", pad("101500")),
		exLE(tag.PerformedProcedureStepStatus, "CS", pad("IN PROGRESS")),
		exLE(tag.PerformedProcedureStepID, "SH", pad("PPS1")),
		exLE(tag.ScheduledStepAttributesSequence, "SQ", seq),
	)
}

func TestDefinedLengthSequences(t *testing.T) {
	st, f := Create(testUID, definedLengthCreate(), false, false, false)
	checkFailure(t, f, 0, 0, nil)
	if len(st.ScheduledSteps) != 1 || st.ScheduledSteps[0] != (ScheduledStepRef{StudyInstanceUID: "2.25.1", AccessionNumber: "ACC1", SPSID: "SPS1"}) {
		t.Fatalf("scheduled steps %+v", st.ScheduledSteps)
	}
}

func TestGuardRejects(t *testing.T) {
	deep := exLE(tag.PerformedProcedureStepID, "SH", pad("X"))
	for range maxDepth + 1 {
		item := imLE(tag.Item, uint32(len(deep)), deep)
		deep = exLE(tag.ScheduledStepAttributesSequence, "SQ", item)
	}
	cases := []struct {
		name     string
		data     []byte
		implicit bool
	}{
		{"huge explicit length", cat(exLE(tag.PatientName, "PN", pad("A")), []byte{0x40, 0, 0x54, 0x02, 'U', 'T', 0, 0, 0xf0, 0xff, 0xff, 0xff, 'x', 'x'}), false},
		{"huge implicit length", imLE(tag.PatientName, 0xfffffff0, []byte("xx")), true},
		{"0xFFFF short length is undefined to the library", []byte{0x40, 0, 0x44, 0x02, 'D', 'A', 0xff, 0xff, '2', '0'}, false},
		{"undefined length string", imLE(tag.PatientName, undefinedLength, []byte("xxxxxxxx")), true},
		{"unsupported VR", []byte{0x40, 0, 0x53, 0x02, 'S', 'V', 8, 0, 1, 2, 3, 4, 5, 6, 7, 8}, false},
		{"lower-case VR", []byte{0x40, 0, 0x53, 0x02, 'c', 's', 2, 0, 'X', ' '}, false},
		{"non-item in defined-length sequence", exLE(tag.ScheduledStepAttributesSequence, "SQ", exLE(tag.PatientID, "LO", pad("P"))), false},
		{"item longer than its sequence", exLE(tag.ScheduledStepAttributesSequence, "SQ", imLE(tag.Item, 100, nil)), false},
		{"sequence without delimiter", cat([]byte{0x40, 0, 0x70, 0x02, 'S', 'Q', 0, 0, 0xff, 0xff, 0xff, 0xff}, imLE(tag.Item, 0, nil)), false},
		{"delimiter with a length", cat([]byte{0x40, 0, 0x70, 0x02, 'S', 'Q', 0, 0, 0xff, 0xff, 0xff, 0xff}, imLE(tag.SequenceDelimitationItem, 0x7fffffff, nil)), false},
		{"top-level item", imLE(tag.Item, 0, nil), true},
		{"character set as a sequence", []byte{0x08, 0, 0x05, 0, 'S', 'Q', 0, 0, 0, 0, 0, 0}, false},
		{"pixel data", imLE(tag.PixelData, 4, []byte{1, 2, 3, 4}), true},
		{"nesting too deep", deep, false},
		{"too many values", exLE(tag.PerformedProcedureStepDescription, "UT", bytes.Repeat([]byte{'\\'}, maxValues+2)), false},
		{"truncated header", []byte{0x40, 0, 0x53, 0x02, 'C'}, false},
		{"trailing garbage", cat(exLE(tag.PatientID, "LO", pad("P")), []byte{1, 2, 3}), false},
		{"too large", make([]byte, MaxDataSetSize+2), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decode(c.data, false, c.implicit)
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decode: %v, want a malformed data set error", err)
			}
			_, f := Create(testUID, c.data, false, c.implicit, false)
			checkFailure(t, f, StatusProcessingFailure, 0, nil)
		})
	}
}

// TestHostileLengthsAllocateLittle checks the point of the guard: declared
// lengths never turn into allocations, including the library's transfer
// syntax guess, which reads the first element under syntaxes other than the
// real one.
func TestHostileLengthsAllocateLittle(t *testing.T) {
	// Valid Explicit VR LE whose first element, misread as Implicit VR,
	// declares 0xFFFE5343 bytes: the guess would allocate 4 GiB unaided.
	first := exLE(tag.Modality, "CS", pad("DX"+strings.Repeat(" ", 0xfff0)))
	valid := cat(first, definedLengthCreate())
	hostile := cat(exLE(tag.PatientName, "PN", pad("A")), []byte{0x40, 0, 0x54, 0x02, 'U', 'T', 0, 0, 0xf0, 0xff, 0xff, 0xff, 'x', 'x'})
	for _, c := range []struct {
		name string
		data []byte
		ok   bool
	}{{"misread first element", valid, true}, {"huge declared length", hostile, false}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			st, f := Create(testUID, c.data, false, false, false)
			if (f == nil) != c.ok {
				t.Fatalf("%s: failure %v, want ok=%v", c.name, f, c.ok)
			}
			if c.ok && st.Modality != "DX" {
				t.Fatalf("%s: modality %q", c.name, st.Modality)
			}
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
			t.Fatalf("%s: 10 decodes allocated %d MiB", c.name, got>>20)
		}
	}
}

// TestDCMTKEncodings decodes N-CREATE data sets written by DCMTK's dump2dcm
// in every syntax, with defined and undefined lengths and with group length
// elements, the shapes real modalities send.
func TestDCMTKEncodings(t *testing.T) {
	bin, err := exec.LookPath("dump2dcm")
	if err != nil {
		t.Skip("dump2dcm (DCMTK) not installed; install the dcmtk package to run this interoperability test")
	}
	dump := `(0008,0005) CS [ISO_IR 100]
(0008,0060) CS [US]
(0010,0010) PN [Rex]
(0010,0020) LO [P9]
(0040,0241) AE [ECHO1]
(0040,0244) DA [20260106]
(0040,0245) TM [0930]
(0040,0252) CS [IN PROGRESS]
(0040,0253) SH [PPS9]
(0040,0270) SQ (Sequence with undefined length #=2)
  (fffe,e000) na (Item with undefined length #=3)
    (0008,0050) SH [ACC9]
    (0020,000d) UI [1.2.826.0.1.3680043.10.999.9]
    (0040,0009) SH [SPS9]
  (fffe,e00d) na (ItemDelimitationItem)
  (fffe,e000) na (Item with undefined length #=1)
    (0020,000d) UI [1.2.826.0.1.3680043.10.999.10]
  (fffe,e00d) na (ItemDelimitationItem)
(fffe,e0dd) na (SequenceDelimitationItem)
`
	dir := t.TempDir()
	in := filepath.Join(dir, "create.dump")
	if err := os.WriteFile(in, []byte(dump), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []struct {
		flag           string
		bigEndian, imp bool
	}{{"+te", false, false}, {"+tb", true, false}, {"+ti", false, true}} {
		for _, extra := range [][]string{{"+e"}, {"-e"}, {"+e", "+g"}} {
			name := ts.flag + strings.Join(extra, "")
			t.Run(name, func(t *testing.T) {
				out := filepath.Join(dir, name+".dcm")
				args := append([]string{"-q", "-F", ts.flag}, extra...)
				args = append(args, in, out)
				if msg, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					t.Fatalf("dump2dcm %v: %v\n%s", args, err, msg)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				st, f := Create(testUID, data, ts.bigEndian, ts.imp, false)
				checkFailure(t, f, 0, 0, nil)
				want := []ScheduledStepRef{
					{StudyInstanceUID: "1.2.826.0.1.3680043.10.999.9", AccessionNumber: "ACC9", SPSID: "SPS9"},
					{StudyInstanceUID: "1.2.826.0.1.3680043.10.999.10"},
				}
				if st.PPSID != "PPS9" || st.PatientName != "Rex" || st.Modality != "US" || st.StartTime != "0930" ||
					len(st.ScheduledSteps) != 2 || st.ScheduledSteps[0] != want[0] || st.ScheduledSteps[1] != want[1] {
					t.Fatalf("decoded %+v", st)
				}
			})
		}
	}
}
