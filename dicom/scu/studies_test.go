package scu_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scu"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

var syntaxes = map[string]scu.TransferSyntax{
	"explicit LE": {UID: dimse.ExplicitVRLittleEndian},
	"implicit LE": {UID: dimse.ImplicitVRLittleEndian, Implicit: true},
	"explicit BE": {UID: dimse.ExplicitVRBigEndian, BigEndian: true},
}

func TestEncodeIdentifierRoundTrip(t *testing.T) {
	for name, ts := range syntaxes {
		t.Run(name, func(t *testing.T) {
			b, err := scu.EncodeIdentifier(ts, "StudyDate=20261101-20261129", "QueryRetrieveLevel=STUDY",
				"PatientName=Mäkinen^Rex", "AccessionNumber=A12", "StudyInstanceUID=1.2.3", "NumberOfStudyRelatedSeries",
				"PatientID=P1", "PatientID=ignored duplicate")
			if err != nil {
				t.Fatal(err)
			}
			got := keysOf(t, b, ts)
			want := map[string]string{
				"SpecificCharacterSet": "ISO_IR 192", "StudyDate": "20261101-20261129", "QueryRetrieveLevel": "STUDY",
				"AccessionNumber": "A12", "PatientName": "Mäkinen^Rex", "PatientID": "P1", "StudyInstanceUID": "1.2.3",
				"NumberOfStudyRelatedSeries": "",
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %v\nwant    %v", got, want)
			}
		})
	}
}

// Odd-length text pads with a space and UIDs with NUL (PS3.5 6.2), and a
// return key has no value at all.
func TestEncodeIdentifierPadding(t *testing.T) {
	b, err := scu.EncodeIdentifier(syntaxes["explicit LE"], "AccessionNumber=A1234", "StudyInstanceUID=1.2.345", "PatientID")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{[]byte("SH\x06\x00A1234 "), []byte("UI\x08\x001.2.345\x00"), []byte("LO\x00\x00")} {
		if !bytes.Contains(b, want) {
			t.Errorf("identifier % X lacks % X", b, want)
		}
	}
	if bytes.Contains(b, []byte("ISO_IR")) {
		t.Error("an ASCII query declared a character set")
	}
}

func TestEncodeIdentifierRejects(t *testing.T) {
	for _, k := range []string{"NoSuchKeyword=1", "ReferencedStudySequence"} {
		if _, err := scu.EncodeIdentifier(syntaxes["explicit LE"], k); err == nil {
			t.Errorf("%s: accepted", k)
		}
	}
	if _, err := scu.EncodeIdentifier(scu.TransferSyntax{BigEndian: true, Implicit: true}, "PatientID"); err == nil {
		t.Error("implicit big endian accepted")
	}
}

func keysOf(t *testing.T, b []byte, ts scu.TransferSyntax) map[string]string {
	t.Helper()
	q, err := worklist.DecodeQuery(b, ts.BigEndian, ts.Implicit)
	if err != nil && !errors.Is(err, worklist.ErrNotWorklistQuery) {
		t.Fatal(err)
	}
	out := map[string]string{}
	if q.CharacterSet != "" {
		out["SpecificCharacterSet"] = q.CharacterSet
	}
	for _, k := range q.Keys {
		out[k.Name] = k.Value
	}
	return out
}

// qrSCP is a scripted Study Root server: answer gets the decoded keys of
// each C-FIND and returns the answers as findscu-style keys plus a final
// status. It serves one association and records the levels queried.
type qrSCP struct {
	answer func(keys map[string]string) ([][]string, uint16)
	mu     sync.Mutex
	levels []string
}

func (s *qrSCP) start(t *testing.T) string {
	return fakeSCP(t, func(c net.Conn) {
		rq := readRQ(c)
		if rq == nil {
			return
		}
		acceptAll(c, rq, 0)
		var asm dimse.Assembler
		for {
			p, err := pdu.Read(c, 1<<20, nil)
			if err != nil {
				return
			}
			switch p := p.(type) {
			case *pdu.ReleaseRQ:
				b, _ := (&pdu.ReleaseRP{}).Append(nil)
				c.Write(b)
				return
			case *pdu.PDataTF:
				msgs, err := asm.Add(p.PDVs)
				if err != nil {
					t.Errorf("fake SCP: %v", err)
					return
				}
				for _, m := range msgs {
					s.serve(t, c, m)
				}
			default:
				return
			}
		}
	})
}

func (s *qrSCP) serve(t *testing.T, c net.Conn, m dimse.Message) {
	ts := syntaxes["explicit LE"] // acceptAll takes the first proposed syntax
	keys := keysOf(t, m.Data, ts)
	s.mu.Lock()
	s.levels = append(s.levels, keys["QueryRetrieveLevel"])
	s.mu.Unlock()
	answers, status := s.answer(keys)
	var pdvs []pdu.PDV
	add := func(cmd *dimse.Command, data []byte) {
		enc, _ := cmd.Encode(nil)
		pdvs = append(pdvs, pdu.PDV{ContextID: m.ContextID, Command: true, Last: true, Data: enc})
		if data != nil {
			pdvs = append(pdvs, pdu.PDV{ContextID: m.ContextID, Last: true, Data: data})
		}
	}
	for _, a := range answers {
		b, err := scu.EncodeIdentifier(ts, a...)
		if err != nil {
			t.Errorf("fake SCP: %v", err)
		}
		add(&dimse.Command{CommandField: dimse.CFindRSP, MessageIDBeingRespondedTo: m.Command.MessageID, Status: dimse.StatusPending, HasDataSet: true}, b)
	}
	add(&dimse.Command{CommandField: dimse.CFindRSP, MessageIDBeingRespondedTo: m.Command.MessageID, Status: status}, nil)
	b, _ := (&pdu.PDataTF{PDVs: pdvs}).Append(nil)
	c.Write(b)
}

func dialQR(t *testing.T, addr string) *scu.Assoc {
	t.Helper()
	a, err := scu.Dial(context.Background(), addr, scu.Options{Contexts: scu.QueryContexts(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Release(context.Background()) })
	return a
}

// A PACS that returns no counts at STUDY level is asked per study at SERIES
// level, and per series at IMAGE level when the series has no count.
func TestFindStudiesCountsWhenThePACSOmitsThem(t *testing.T) {
	s := &qrSCP{answer: func(k map[string]string) ([][]string, uint16) {
		switch k["QueryRetrieveLevel"] {
		case "STUDY":
			if k["AccessionNumber"] != "A1" || k["StudyDate"] != "20261129" {
				t.Errorf("study keys %v", k)
			}
			return [][]string{
				{"StudyInstanceUID=1.1", "AccessionNumber=A1", "PatientID=P1", "PatientName=Smith^Rex", "StudyDate=20261129", "StudyTime=104200"},
				{"StudyInstanceUID=1.2", "AccessionNumber=A1", "ModalitiesInStudy=US", "NumberOfStudyRelatedSeries=1", "NumberOfStudyRelatedInstances=7"},
			}, dimse.StatusSuccess
		case "SERIES":
			if k["StudyInstanceUID"] != "1.1" {
				t.Errorf("series query for study %q; the counted one must not be asked", k["StudyInstanceUID"])
			}
			return [][]string{
				{"SeriesInstanceUID=1.1.1", "Modality=DX", "NumberOfSeriesRelatedInstances=3"},
				{"SeriesInstanceUID=1.1.2", "Modality=CR"},
			}, dimse.StatusSuccess
		case "IMAGE":
			if k["SeriesInstanceUID"] != "1.1.2" || k["StudyInstanceUID"] != "1.1" {
				t.Errorf("image keys %v", k)
			}
			return [][]string{{"SOPInstanceUID=1.1.2.1"}, {"SOPInstanceUID=1.1.2.2"}}, dimse.StatusSuccess
		}
		return nil, dimse.StatusIdentifierDoesNotMatch
	}}
	a := dialQR(t, s.start(t))
	got, err := a.FindStudies(context.Background(), scu.StudyQuery{AccessionNumber: "A1", StudyDate: "20261129"})
	if err != nil {
		t.Fatal(err)
	}
	want := []scu.Study{
		{StudyInstanceUID: "1.1", AccessionNumber: "A1", PatientID: "P1", PatientName: "Smith^Rex", StudyDate: "20261129", StudyTime: "104200",
			Modalities: []string{"CR", "DX"}, Series: 2, Instances: 5, CountedAt: scu.CountedByImage},
		{StudyInstanceUID: "1.2", AccessionNumber: "A1", Modalities: []string{"US"}, Series: 1, Instances: 7, CountedAt: scu.CountedByStudy},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if strings.Join(s.levels, ",") != "STUDY,SERIES,IMAGE" {
		t.Errorf("levels queried: %v", s.levels)
	}
}

func TestFindStudiesFailureStatus(t *testing.T) {
	s := &qrSCP{answer: func(map[string]string) ([][]string, uint16) { return nil, dimse.StatusOutOfResources }}
	a := dialQR(t, s.start(t))
	_, err := a.FindStudies(context.Background(), scu.StudyQuery{})
	var fs *scu.FindStatusError
	if !errors.As(err, &fs) || fs.Status != dimse.StatusOutOfResources || !strings.Contains(err.Error(), "narrower") {
		t.Fatalf("got %v", err)
	}
}

func TestFindStudiesWithoutStudyRootContext(t *testing.T) {
	s := &qrSCP{answer: func(map[string]string) ([][]string, uint16) { return nil, dimse.StatusSuccess }}
	addr := s.start(t)
	a, err := scu.Dial(context.Background(), addr, scu.Options{Timeout: 5 * time.Second}) // worklist contexts only
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background())
	if _, err := a.FindStudies(context.Background(), scu.StudyQuery{}); err == nil || !strings.Contains(err.Error(), "Study Root") {
		t.Fatalf("got %v", err)
	}
}
