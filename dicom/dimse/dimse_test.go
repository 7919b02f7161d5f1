package dimse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// echoRQFromDCMTK is the command set echoscu 3.6.7 sends, as captured on the
// wire: group length, SOP class (NUL padded), field, message ID, no data set.
var echoRQFromDCMTK = []byte{
	0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x02, 0x00, 0x12, 0x00, 0x00, 0x00, '1', '.', '2', '.', '8', '4', '0', '.', '1', '0', '0', '0', '8', '.', '1', '.', '1', 0x00,
	0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x30, 0x00,
	0x00, 0x00, 0x10, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01,
}

func TestDecodeDCMTKEcho(t *testing.T) {
	c, err := DecodeCommand(echoRQFromDCMTK)
	if err != nil {
		t.Fatal(err)
	}
	if c.CommandField != CEchoRQ || c.MessageID != 1 || c.HasDataSet || c.AffectedSOPClassUID != VerificationSOPClass {
		t.Fatalf("decoded %+v", c)
	}
	b, err := c.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, echoRQFromDCMTK) {
		t.Errorf("re-encoding differs from DCMTK's bytes:\n got % x\nwant % x", b, echoRQFromDCMTK)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	cases := []*Command{
		{CommandField: CFindRQ, MessageID: 7, AffectedSOPClassUID: ModalityWorklistFind, Priority: PriorityLow, HasDataSet: true},
		{CommandField: CFindRSP, MessageIDBeingRespondedTo: 7, AffectedSOPClassUID: ModalityWorklistFind, Status: StatusPending, HasDataSet: true},
		{CommandField: CCancelRQ, MessageIDBeingRespondedTo: 7},
		{CommandField: NCreateRSP, MessageIDBeingRespondedTo: 3, AffectedSOPClassUID: MPPSSOPClass, AffectedSOPInstanceUID: "2.25.99",
			Status: StatusInvalidAttributeValue, ErrorComment: "PPS status must be IN PROGRESS", ErrorID: 0xA710, OffendingElements: []uint32{0x00400252}},
		{CommandField: NSetRQ, MessageID: 9, RequestedSOPClassUID: MPPSSOPClass, RequestedSOPInstanceUID: "2.25.100", HasDataSet: true},
		{CommandField: NActionRQ, MessageID: 2, ActionTypeID: 1, AttributeIdentifiers: []uint32{0x00100010}},
	}
	for _, c := range cases {
		t.Run(Name(c.CommandField), func(t *testing.T) {
			b, err := c.Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			if gl := binary.LittleEndian.Uint32(b[8:]); int(gl) != len(b)-12 {
				t.Errorf("group length %d, want %d", gl, len(b)-12)
			}
			if len(b)%2 != 0 {
				t.Errorf("odd command length %d", len(b))
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			// Compare what was on the wire, not the presence bookkeeping.
			got.present, c.present, got.dataSetType = 0, 0, 0
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
			}
		})
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	el := func(elem uint16, v ...byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 0)
		b = binary.LittleEndian.AppendUint16(b, elem)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	field := el(tagCommandField, 0x30, 0)
	dst := el(tagDataSetType, 1, 1)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	huge := binary.LittleEndian.AppendUint32([]byte{0, 0, 0x10, 0x01}, 0xFFFFFFF0)
	cases := map[string][]byte{
		"truncated header":      {0, 0, 0},
		"length beyond data":    cat(field, dst, huge),
		"undefined length":      cat(field, binary.LittleEndian.AppendUint32([]byte{0, 0, 0x10, 0x01}, 0xFFFFFFFF)),
		"other group":           cat(field, dst, []byte{8, 0, 0x50, 0, 0, 0, 0, 0}),
		"US of 3 bytes":         cat(el(tagCommandField, 1, 2, 3), dst),
		"no command field":      dst,
		"no data set type":      field,
		"wrong group length":    cat(el(tagGroupLength, 99, 0, 0, 0), field, dst),
		"AT of 3 bytes":         cat(field, dst, el(tagOffendingElement, 1, 2, 3)),
		"over MaxCommandLength": make([]byte, MaxCommandLength+1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeCommand(b); !errors.Is(err, ErrCommand) {
				t.Fatalf("err = %v, want ErrCommand", err)
			}
		})
	}
	// Without a group length, but otherwise fine: accepted (sloppy devices).
	if c, err := DecodeCommand(cat(field, dst)); err != nil || c.CommandField != CEchoRQ {
		t.Fatalf("command without group length: %v %+v", err, c)
	}
}

// readPDVs decodes a stream of P-DATA-TF PDUs, checking each against max.
func readPDVs(t *testing.T, b []byte, max uint32) []pdu.PDV {
	t.Helper()
	var out []pdu.PDV
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		p, err := pdu.Read(r, 1<<30, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := p.Append(nil)
		if max != 0 && uint32(len(raw)-pdu.HeaderLen) > max {
			t.Fatalf("P-DATA-TF body of %d bytes exceeds peer max %d", len(raw)-pdu.HeaderLen, max)
		}
		out = append(out, p.(*pdu.PDataTF).PDVs...)
	}
	return out
}

func TestFragmentationHonoursPeerMax(t *testing.T) {
	data := make([]byte, 100000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	cmd := &Command{CommandField: CFindRSP, MessageIDBeingRespondedTo: 1, AffectedSOPClassUID: ModalityWorklistFind, Status: StatusPending, HasDataSet: true}
	for _, max := range []uint32{0, 7, 8, 64, 100, 1000, 4096, 16384, 16385, 65536, 1 << 20} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			f := Fragmenter{PeerMaxPDU: max}
			b, err := f.Append(nil, 3, cmd, data)
			if err != nil {
				t.Fatal(err)
			}
			pdvs := readPDVs(t, b, max)
			var asm Assembler
			msgs, err := asm.Add(pdvs)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.ContextID != 3 || m.Command.Status != StatusPending || !bytes.Equal(m.Data, data) {
				t.Fatalf("reassembled message differs (ctx %d, status %x, %d data bytes)", m.ContextID, m.Command.Status, len(m.Data))
			}
			if max > pdu.PDVOverhead {
				want := (len(data) + int(max) - pdu.PDVOverhead - 1) / (int(max) - pdu.PDVOverhead)
				dataPDVs := 0
				for _, v := range pdvs {
					if !v.Command {
						dataPDVs++
					}
				}
				if dataPDVs != want {
					t.Errorf("%d data PDVs, want %d (PDVs not filled to the limit)", dataPDVs, want)
				}
			}
		})
	}
}

func TestEmptyDataSetStillTerminated(t *testing.T) {
	var f Fragmenter
	b, err := f.Append(nil, 1, &Command{CommandField: NCreateRSP, HasDataSet: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pdvs := readPDVs(t, b, 0)
	if len(pdvs) != 2 || pdvs[1].Command || !pdvs[1].Last || len(pdvs[1].Data) != 0 {
		t.Fatalf("PDVs %+v", pdvs)
	}
}

func TestAssemblerInterleavedPDVsInOnePDU(t *testing.T) {
	// Two complete messages in one P-DATA-TF, as some SCUs send.
	c1, _ := (&Command{CommandField: CEchoRQ, MessageID: 1}).Encode(nil)
	c2, _ := (&Command{CommandField: CFindRQ, MessageID: 2, HasDataSet: true}).Encode(nil)
	var asm Assembler
	msgs, err := asm.Add([]pdu.PDV{
		{ContextID: 1, Command: true, Last: true, Data: c1},
		{ContextID: 3, Command: true, Last: false, Data: c2[:10]},
		{ContextID: 3, Command: true, Last: true, Data: c2[10:]},
		{ContextID: 3, Last: true, Data: []byte{1, 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Command.CommandField != CEchoRQ || msgs[1].Command.MessageID != 2 || !bytes.Equal(msgs[1].Data, []byte{1, 2}) {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestAssemblerProtocolErrors(t *testing.T) {
	echo, _ := (&Command{CommandField: CEchoRQ, MessageID: 1}).Encode(nil)
	find, _ := (&Command{CommandField: CFindRQ, MessageID: 1, HasDataSet: true}).Encode(nil)
	cases := map[string][]pdu.PDV{
		"data before command":        {{ContextID: 1, Last: true, Data: []byte{1}}},
		"context switch mid-message": {{ContextID: 1, Command: true, Data: find[:4]}, {ContextID: 3, Command: true, Last: true, Data: find[4:]}},
		"data for no-data command":   {{ContextID: 1, Command: true, Last: true, Data: echo}, {ContextID: 1, Last: true, Data: []byte{1}}},
		"command after command end":  {{ContextID: 1, Command: true, Last: true, Data: find}, {ContextID: 1, Command: true, Last: true, Data: find}},
		"garbage command":            {{ContextID: 1, Command: true, Last: true, Data: []byte{1, 2, 3}}},
		"oversized data set":         {{ContextID: 1, Command: true, Last: true, Data: find}, {ContextID: 1, Data: make([]byte, 600)}, {ContextID: 1, Data: make([]byte, 600)}},
		"oversized command":          {{ContextID: 1, Command: true, Data: make([]byte, MaxCommandLength)}, {ContextID: 1, Command: true, Data: []byte{1}}},
	}
	for name, pdvs := range cases {
		t.Run(name, func(t *testing.T) {
			asm := Assembler{MaxDataSetLength: 1000}
			if _, err := asm.Add(pdvs); !errors.Is(err, ErrProtocol) {
				t.Fatalf("err = %v, want ErrProtocol", err)
			}
		})
	}
}

func TestMaxDataPerPDV(t *testing.T) {
	for _, c := range []struct {
		max  uint32
		want int
	}{{0, 500}, {1, 1}, {6, 1}, {7, 1}, {16384, 16378}, {0xFFFFFFFF, 1<<30 - 6}} {
		if got := MaxDataPerPDV(c.max, 500); got != c.want {
			t.Errorf("MaxDataPerPDV(%d) = %d, want %d", c.max, got, c.want)
		}
	}
}

func BenchmarkFragment(b *testing.B) {
	data := make([]byte, 64<<10)
	cmd := &Command{CommandField: CFindRSP, MessageIDBeingRespondedTo: 1, AffectedSOPClassUID: ModalityWorklistFind, Status: StatusPending, HasDataSet: true}
	for _, max := range []uint32{4096, 16384, 65536} {
		b.Run(fmt.Sprint(max), func(b *testing.B) {
			f := Fragmenter{PeerMaxPDU: max}
			var buf []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var err error
				buf, err = f.Append(buf[:0], 1, cmd, data)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAssemble(b *testing.B) {
	data := make([]byte, 64<<10)
	cmd := &Command{CommandField: CFindRSP, MessageIDBeingRespondedTo: 1, AffectedSOPClassUID: ModalityWorklistFind, Status: StatusPending, HasDataSet: true}
	f := Fragmenter{PeerMaxPDU: 16384}
	raw, _ := f.Append(nil, 1, cmd, data)
	var pdvs []pdu.PDV
	for r := bytes.NewReader(raw); r.Len() > 0; {
		p, _ := pdu.Read(r, 1<<20, nil)
		pdvs = append(pdvs, p.(*pdu.PDataTF).PDVs...)
	}
	var asm Assembler
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := asm.Add(pdvs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPackerPDUs: a message's command and data share PDUs within the peer's
// limit, every message starts its own PDU, and the PDVs reassemble into the
// same messages whatever the limit.
func TestPackerPDUs(t *testing.T) {
	cmd := &Command{CommandField: CFindRSP, MessageIDBeingRespondedTo: 7, AffectedSOPClassUID: ModalityWorklistFind, HasDataSet: true, Status: StatusPending}
	for _, peerMax := range []uint32{0, 1, 7, 100, 512, 16384} {
		var p Packer
		p.PeerMaxPDU = peerMax
		var b []byte
		var err error
		datas := [][]byte{{}, bytes.Repeat([]byte{1}, 10), bytes.Repeat([]byte{2}, 700), bytes.Repeat([]byte{3}, 40000)}
		for _, d := range datas {
			if b, err = p.Append(b, 1, cmd, d); err != nil {
				t.Fatal(err)
			}
		}
		var asm Assembler
		var got []Message
		pdus := 0
		r := bytes.NewReader(b)
		firstOfMessage := true
		for r.Len() > 0 {
			typ, body, err := pdu.ReadRaw(r, 1<<20, nil)
			if err != nil || typ != pdu.TypePDataTF {
				t.Fatalf("peer max %d: PDU %d: type %v err %v", peerMax, pdus, typ, err)
			}
			pdus++
			if peerMax > pdu.PDVOverhead && uint32(len(body)) > peerMax {
				t.Fatalf("peer max %d: PDU body of %d bytes", peerMax, len(body))
			}
			pdvs, err := pdu.AppendPDVs(nil, body)
			if err != nil {
				t.Fatal(err)
			}
			if firstOfMessage && !pdvs[0].Command {
				t.Fatalf("peer max %d: a message does not start its PDU", peerMax)
			}
			msgs, err := asm.Add(pdvs)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > 1 {
				t.Fatalf("peer max %d: %d messages in one PDU", peerMax, len(msgs))
			}
			firstOfMessage = len(msgs) == 1
			for _, m := range msgs {
				got = append(got, Message{ContextID: m.ContextID, Command: m.Command, Data: bytes.Clone(m.Data)})
			}
		}
		if len(got) != len(datas) {
			t.Fatalf("peer max %d: %d messages, want %d", peerMax, len(got), len(datas))
		}
		for i, m := range got {
			if !bytes.Equal(m.Data, datas[i]) || m.Command.MessageIDBeingRespondedTo != 7 {
				t.Errorf("peer max %d: message %d differs", peerMax, i)
			}
		}
		if peerMax == 16384 && pdus != 2+1+1+3 {
			t.Errorf("peer max 16384: %d PDUs, want 7 (small messages in one PDU each)", pdus)
		}
	}
}

func BenchmarkPackerAppend(b *testing.B) {
	cmd := &Command{CommandField: CFindRSP, MessageIDBeingRespondedTo: 7, AffectedSOPClassUID: ModalityWorklistFind, HasDataSet: true, Status: StatusPending}
	enc, _ := cmd.Encode(nil)
	data := make([]byte, 500)
	p := Packer{PeerMaxPDU: 16384}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		out = p.AppendEncoded(out[:0], 1, enc, true, data)
	}
}
