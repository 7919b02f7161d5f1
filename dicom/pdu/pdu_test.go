package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func sampleRQ() *AssociateRQ {
	return &AssociateRQ{
		ProtocolVersion:    1,
		CalledAE:           "VETBRIDGE",
		CallingAE:          "XRAY_ROOM_2",
		ApplicationContext: ApplicationContextName,
		PresentationContexts: []PresentationContextRQ{
			{ID: 1, AbstractSyntax: "1.2.840.10008.1.1", TransferSyntaxes: []string{"1.2.840.10008.1.2"}},
			{ID: 3, AbstractSyntax: "1.2.840.10008.5.1.4.31", TransferSyntaxes: []string{"1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"}},
			{ID: 5, AbstractSyntax: "1.2.840.10008.3.1.2.3.3", TransferSyntaxes: []string{"1.2.840.10008.1.2"}},
		},
		UserInfo: UserInfo{
			MaxLength:                 16384,
			ImplementationClassUID:    "1.2.276.0.7230010.3.0.3.6.7",
			ImplementationVersionName: "OFFIS_DCMTK_367",
			MaxOpsInvoked:             1,
			MaxOpsPerformed:           1,
			RoleSelections:            []RoleSelection{{SOPClassUID: "1.2.840.10008.5.1.4.31", SCU: true}},
		},
	}
}

func roundTrip(t *testing.T, p PDU) PDU {
	t.Helper()
	b, err := Encode(p)
	if err != nil {
		t.Fatalf("encode %s: %v", p.Type(), err)
	}
	if Type(b[0]) != p.Type() {
		t.Fatalf("encoded type %d, want %d", b[0], p.Type())
	}
	if n := binary.BigEndian.Uint32(b[2:]); int(n) != len(b)-HeaderLen {
		t.Fatalf("header length %d, body %d", n, len(b)-HeaderLen)
	}
	got, err := Read(bytes.NewReader(b), uint32(len(b)), nil)
	if err != nil {
		t.Fatalf("decode %s: %v", p.Type(), err)
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	ac := &AssociateAC{
		ProtocolVersion:    1,
		CalledAE:           "VETBRIDGE",
		CallingAE:          "XRAY_ROOM_2",
		ApplicationContext: ApplicationContextName,
		PresentationContexts: []PresentationContextAC{
			{ID: 1, Result: ResultAcceptance, TransferSyntax: "1.2.840.10008.1.2"},
			{ID: 3, Result: ResultTransferSyntaxNotSupported, TransferSyntax: "1.2.840.10008.1.2"},
		},
		UserInfo: UserInfo{MaxLength: 0, ImplementationClassUID: "2.25.1", ImplementationVersionName: "X"},
	}
	for _, p := range []PDU{
		sampleRQ(),
		ac,
		&AssociateRJ{Result: RJResultTransient, Source: RJSourceProviderPresentn, Reason: RJReasonLocalLimitExceeded},
		&PDataTF{PDVs: []PDV{{ContextID: 1, Command: true, Last: true, Data: []byte{1, 2, 3}}, {ContextID: 1, Last: false, Data: []byte("abc")}}},
		&ReleaseRQ{},
		&ReleaseRP{},
		&Abort{Source: AbortSourceProvider, Reason: AbortReasonInvalidPDUParm},
	} {
		t.Run(p.Type().String(), func(t *testing.T) {
			got := roundTrip(t, p)
			if !reflect.DeepEqual(got, p) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, p)
			}
		})
	}
}

func TestAETitlePaddingAndLength(t *testing.T) {
	rq := sampleRQ()
	rq.CalledAE = "A"
	b, err := Encode(rq)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b[HeaderLen+4 : HeaderLen+20]); got != "A"+strings.Repeat(" ", 15) {
		t.Errorf("called AE field %q, want space padded", got)
	}
	rq.CalledAE = strings.Repeat("X", 17)
	if _, err := Encode(rq); err == nil {
		t.Error("17-character AE title encoded without error")
	}
}

func TestUIDsWithNULPaddingAreTrimmed(t *testing.T) {
	rq := sampleRQ()
	rq.PresentationContexts[0].AbstractSyntax = "1.2.840.10008.1.1\x00"
	got := roundTrip(t, rq).(*AssociateRQ)
	if got.PresentationContexts[0].AbstractSyntax != "1.2.840.10008.1.1" {
		t.Errorf("abstract syntax %q", got.PresentationContexts[0].AbstractSyntax)
	}
}

func TestUnknownAndExtendedSubItemsIgnored(t *testing.T) {
	rq := sampleRQ()
	b, err := Encode(rq)
	if err != nil {
		t.Fatal(err)
	}
	// Append extended negotiation, user identity and an unknown item type
	// inside user information, and an unknown item at top level.
	extra := []byte{
		0x56, 0, 0, 8, 0, 2, '1', '2', 0xAA, 0xBB, 0xCC, 0xDD, // SOP class ext neg
		0x58, 0, 0, 6, 1, 0, 0, 1, 'u', 0, // user identity (truncated fields are its business)
		0x7F, 0, 0, 1, 0,
	}
	// Find the user info item: it is last.
	ui := bytes.LastIndexByte(b, 0x50)
	for ui > 0 && !(b[ui] == 0x50 && b[ui+1] == 0) {
		ui = bytes.LastIndexByte(b[:ui], 0x50)
	}
	n := binary.BigEndian.Uint16(b[ui+2:])
	binary.BigEndian.PutUint16(b[ui+2:], n+uint16(len(extra)))
	b = append(b, extra...)
	b = append(b, 0x99, 0, 0, 2, 'z', 'z')
	binary.BigEndian.PutUint32(b[2:], uint32(len(b)-HeaderLen))
	got, err := Read(bytes.NewReader(b), 1<<16, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rq) {
		t.Errorf("extra sub-items changed the result:\n got %#v\nwant %#v", got, rq)
	}
}

func TestReadRejects(t *testing.T) {
	hdr := func(typ byte, n uint32, body ...byte) []byte {
		b := []byte{typ, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[2:], n)
		return append(b, body...)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"4 GiB claim", hdr(4, 0xFFFFFFFF), ErrTooLong},
		{"over limit", hdr(4, 70000), ErrTooLong},
		{"associate over its own cap", hdr(1, MaxAssociatePDULength+1), ErrTooLong},
		{"unknown type", hdr(9, 4, 0, 0, 0, 0), ErrUnknownType},
		{"type zero", hdr(0, 4, 0, 0, 0, 0), ErrUnknownType},
		{"truncated body", hdr(5, 4, 0, 0), io.ErrUnexpectedEOF},
		{"PDV longer than PDU", hdr(4, 7, 0, 0, 0, 9, 1, 3, 0xAA), ErrMalformed},
		{"PDV shorter than its header", hdr(4, 6, 0, 0, 0, 1, 1, 3), ErrMalformed},
		{"PDV bad control bits", hdr(4, 7, 0, 0, 0, 3, 1, 0x87, 0), ErrMalformed},
		{"empty P-DATA", hdr(4, 0), ErrMalformed},
		{"short release", hdr(5, 2, 0, 0), ErrMalformed},
		{"long abort", hdr(7, 6, 0, 0, 0, 0, 0, 0), ErrMalformed},
		{"short associate", hdr(1, 10, make([]byte, 10)...), ErrMalformed},
		{"item overrun", hdr(1, 72, append(make([]byte, 68), 0x10, 0, 0xFF, 0xFF)...), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.in), 65536, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTooManyPresentationContexts(t *testing.T) {
	rq := sampleRQ()
	rq.PresentationContexts = nil
	for i := range maxContexts + 1 {
		rq.PresentationContexts = append(rq.PresentationContexts, PresentationContextRQ{ID: byte(2*i + 1), AbstractSyntax: "1.2", TransferSyntaxes: []string{"1.2.840.10008.1.2"}})
	}
	b, err := Encode(rq)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bytes.NewReader(b), 1<<20, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestReadRawReusesBuffer(t *testing.T) {
	b, _ := Encode(&PDataTF{PDVs: []PDV{{ContextID: 1, Last: true, Data: make([]byte, 100)}}})
	buf := make([]byte, 0, 4096)
	_, body, err := ReadRaw(bytes.NewReader(b), 4096, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &body[0] != &buf[:1][0] {
		t.Error("ReadRaw allocated although the buffer was large enough")
	}
}

func TestDescribeRejections(t *testing.T) {
	rj := &AssociateRJ{Result: RJResultPermanent, Source: RJSourceUser, Reason: RJReasonCalledAENotRecog}
	if !strings.Contains(rj.Describe(), "called AE") {
		t.Errorf("Describe = %q", rj.Describe())
	}
	rj = &AssociateRJ{Result: RJResultTransient, Source: RJSourceProviderPresentn, Reason: RJReasonLocalLimitExceeded}
	if !strings.Contains(rj.Describe(), "limit") {
		t.Errorf("Describe = %q", rj.Describe())
	}
}

// A large length claim backed by few bytes must fail without the claimed
// allocation.
func TestReadRawGrowsWithData(t *testing.T) {
	in := append([]byte{4, 0, 0, 0x0F, 0xFF, 0xFF}, make([]byte, 100)...) // claims ~1 MiB, sends 100 bytes
	if _, _, err := ReadRaw(bytes.NewReader(in), 1<<21, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	var m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m1)
	for range 10 {
		ReadRaw(bytes.NewReader(in), 1<<21, nil)
	}
	runtime.ReadMemStats(&m2)
	if per := (m2.TotalAlloc - m1.TotalAlloc) / 10; per > 2*eagerAlloc {
		t.Fatalf("%d bytes allocated per read of a 100-byte PDU claiming 1 MiB", per)
	}
	// And a genuine large PDU still reads whole.
	big := append([]byte{4, 0, 0, 0x02, 0, 0}, make([]byte, 0x20000)...)
	_, body, err := ReadRaw(bytes.NewReader(big), 1<<21, nil)
	if err != nil || len(body) != 0x20000 {
		t.Fatalf("large PDU: %d bytes, %v", len(body), err)
	}
}

func TestValidAETitle(t *testing.T) {
	for ae, ok := range map[string]bool{"VETBRIDGE": true, "DX-ROOM 2": true, "1234567890123456": true,
		"": false, "   ": false, "12345678901234567": false, `DX\1`: false, "Röntgen": false, "DX\t1": false} {
		if ValidAETitle(ae) != ok {
			t.Errorf("%q: want valid=%v", ae, ok)
		}
	}
}
