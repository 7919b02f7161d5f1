// Package pdu encodes and decodes the DICOM upper-layer protocol data units of
// PS3.8 section 9.3: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF, A-RELEASE-RQ/RP and
// A-ABORT.
//
// Every length read from the wire is checked against the bytes actually
// present and against a caller-supplied limit before anything is allocated,
// because the peer is an arbitrary device on the clinic LAN.
package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Type is the PDU-type byte of the common header.
type Type byte

// PDU types (PS3.8 Table 9-11 and following).
const (
	TypeAssociateRQ Type = 0x01
	TypeAssociateAC Type = 0x02
	TypeAssociateRJ Type = 0x03
	TypePDataTF     Type = 0x04
	TypeReleaseRQ   Type = 0x05
	TypeReleaseRP   Type = 0x06
	TypeAbort       Type = 0x07
)

func (t Type) String() string {
	switch t {
	case TypeAssociateRQ:
		return "A-ASSOCIATE-RQ"
	case TypeAssociateAC:
		return "A-ASSOCIATE-AC"
	case TypeAssociateRJ:
		return "A-ASSOCIATE-RJ"
	case TypePDataTF:
		return "P-DATA-TF"
	case TypeReleaseRQ:
		return "A-RELEASE-RQ"
	case TypeReleaseRP:
		return "A-RELEASE-RP"
	case TypeAbort:
		return "A-ABORT"
	}
	return fmt.Sprintf("PDU-type 0x%02X", byte(t))
}

// HeaderLen is the size of the common PDU header: type, reserved, 32-bit length.
const HeaderLen = 6

// ApplicationContextName is the only application context PS3.7 defines.
const ApplicationContextName = "1.2.840.10008.3.1.1.1"

// DefaultMaxPDULength is the receive limit we advertise unless configured
// otherwise; 16 KiB is what DCMTK and most modalities use.
const DefaultMaxPDULength = 16384

// MaxAssociatePDULength bounds A-ASSOCIATE-RQ/AC bodies. The largest legitimate
// requests (128 presentation contexts with a dozen transfer syntaxes each,
// about 45 KiB) stay well under it.
const MaxAssociatePDULength = 256 << 10

// eagerAlloc is the largest body ReadRaw allocates on the strength of the
// header alone; beyond it the buffer grows only as bytes actually arrive, so
// a length claim cannot make us hold memory the peer never sends.
const eagerAlloc = 64 << 10

// Errors callers can test for with errors.Is.
var (
	// ErrTooLong means the header claimed more bytes than the receiver allows.
	ErrTooLong = errors.New("PDU longer than allowed")
	// ErrMalformed means the PDU structure is inconsistent with its lengths.
	ErrMalformed = errors.New("malformed PDU")
	// ErrUnknownType means the PDU-type byte is not one PS3.8 defines.
	ErrUnknownType = errors.New("unknown PDU type")
)

// PDU is one decoded protocol data unit.
type PDU interface {
	Type() Type
	// Append appends the encoded PDU, header included, to b.
	Append(b []byte) ([]byte, error)
}

// ReadRaw reads one PDU from r. It rejects a declared length over limit before
// allocating, and reuses buf when it is large enough. The returned body
// aliases buf's storage.
func ReadRaw(r io.Reader, limit uint32, buf []byte) (Type, []byte, error) {
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	t := Type(hdr[0])
	n := binary.BigEndian.Uint32(hdr[2:])
	if t < TypeAssociateRQ || t > TypeAbort {
		return t, nil, fmt.Errorf("%w 0x%02X", ErrUnknownType, hdr[0])
	}
	lim := limit
	if t == TypeAssociateRQ || t == TypeAssociateAC {
		lim = max(limit, MaxAssociatePDULength)
	}
	if n > lim {
		return t, nil, fmt.Errorf("%s claims %d bytes, limit %d: %w", t, n, lim, ErrTooLong)
	}
	var err error
	switch {
	case uint32(cap(buf)) >= n:
		buf = buf[:n]
		_, err = io.ReadFull(r, buf)
	case n <= eagerAlloc:
		buf = make([]byte, n)
		_, err = io.ReadFull(r, buf)
	default:
		b := bytes.NewBuffer(make([]byte, 0, eagerAlloc))
		var got int64
		got, err = io.CopyN(b, r, int64(n))
		if err == nil && got != int64(n) {
			err = io.ErrUnexpectedEOF
		}
		buf = b.Bytes()
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return t, nil, fmt.Errorf("reading %s body: %w", t, err)
	}
	return t, buf, nil
}

// Decode parses a PDU body of the given type. P-DATA-TF values alias body.
func Decode(t Type, body []byte) (PDU, error) {
	switch t {
	case TypeAssociateRQ:
		return decodeAssociateRQ(body)
	case TypeAssociateAC:
		return decodeAssociateAC(body)
	case TypeAssociateRJ:
		if len(body) != 4 {
			return nil, fmt.Errorf("%w: A-ASSOCIATE-RJ length %d, want 4", ErrMalformed, len(body))
		}
		return &AssociateRJ{Result: body[1], Source: body[2], Reason: body[3]}, nil
	case TypePDataTF:
		return decodePDataTF(body)
	case TypeReleaseRQ, TypeReleaseRP:
		if len(body) != 4 {
			return nil, fmt.Errorf("%w: %s length %d, want 4", ErrMalformed, t, len(body))
		}
		if t == TypeReleaseRQ {
			return &ReleaseRQ{}, nil
		}
		return &ReleaseRP{}, nil
	case TypeAbort:
		if len(body) != 4 {
			return nil, fmt.Errorf("%w: A-ABORT length %d, want 4", ErrMalformed, len(body))
		}
		return &Abort{Source: body[2], Reason: body[3]}, nil
	}
	return nil, fmt.Errorf("%w 0x%02X", ErrUnknownType, byte(t))
}

// Read reads and decodes one PDU. See ReadRaw for limit and buf.
func Read(r io.Reader, limit uint32, buf []byte) (PDU, error) {
	t, body, err := ReadRaw(r, limit, buf)
	if err != nil {
		return nil, err
	}
	return Decode(t, body)
}

// Encode returns the encoded PDU.
func Encode(p PDU) ([]byte, error) { return p.Append(nil) }

func appendHeader(b []byte, t Type, n int) []byte {
	return append(b, byte(t), 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// patchLen writes the body length of a PDU started at offset start.
func patchLen(b []byte, start int) ([]byte, error) {
	n := len(b) - start - HeaderLen
	if n < 0 || int64(n) > 0xFFFFFFFF {
		return nil, fmt.Errorf("PDU body of %d bytes cannot be encoded", n)
	}
	binary.BigEndian.PutUint32(b[start+2:], uint32(n))
	return b, nil
}

// AssociateRJ is an A-ASSOCIATE-RJ.
type AssociateRJ struct {
	Result, Source, Reason byte
}

// Values for AssociateRJ (PS3.8 Table 9-21).
const (
	RJResultPermanent byte = 1
	RJResultTransient byte = 2

	RJSourceUser             byte = 1 // service-user
	RJSourceProviderACSE     byte = 2 // service-provider, ACSE related
	RJSourceProviderPresentn byte = 3 // service-provider, presentation related

	// Source 1 reasons.
	RJReasonNoReason          byte = 1
	RJReasonAppContextNotSupp byte = 2
	RJReasonCallingAENotRecog byte = 3
	RJReasonCalledAENotRecog  byte = 7
	// Source 2 reasons.
	RJReasonProtocolVersionNotSupp byte = 2
	// Source 3 reasons.
	RJReasonTemporaryCongestion byte = 1
	RJReasonLocalLimitExceeded  byte = 2
)

func (*AssociateRJ) Type() Type { return TypeAssociateRJ }

func (p *AssociateRJ) Append(b []byte) ([]byte, error) {
	b = appendHeader(b, TypeAssociateRJ, 4)
	return append(b, 0, p.Result, p.Source, p.Reason), nil
}

func (p *AssociateRJ) String() string {
	return fmt.Sprintf("A-ASSOCIATE-RJ result %d source %d reason %d (%s)", p.Result, p.Source, p.Reason, p.Describe())
}

// Describe explains the rejection in words a technician can act on.
func (p *AssociateRJ) Describe() string {
	switch p.Source {
	case RJSourceUser:
		switch p.Reason {
		case RJReasonAppContextNotSupp:
			return "application context name not supported"
		case RJReasonCallingAENotRecog:
			return "calling AE title not recognised"
		case RJReasonCalledAENotRecog:
			return "called AE title not recognised"
		}
		return "rejected by the peer, no reason given"
	case RJSourceProviderACSE:
		if p.Reason == RJReasonProtocolVersionNotSupp {
			return "protocol version not supported"
		}
		return "rejected by the peer's ACSE, no reason given"
	case RJSourceProviderPresentn:
		switch p.Reason {
		case RJReasonTemporaryCongestion:
			return "peer temporarily congested"
		case RJReasonLocalLimitExceeded:
			return "peer's association limit exceeded"
		}
	}
	return "rejected"
}

// ReleaseRQ is an A-RELEASE-RQ.
type ReleaseRQ struct{}

func (*ReleaseRQ) Type() Type { return TypeReleaseRQ }
func (*ReleaseRQ) Append(b []byte) ([]byte, error) {
	return append(appendHeader(b, TypeReleaseRQ, 4), 0, 0, 0, 0), nil
}

// ReleaseRP is an A-RELEASE-RP.
type ReleaseRP struct{}

func (*ReleaseRP) Type() Type { return TypeReleaseRP }
func (*ReleaseRP) Append(b []byte) ([]byte, error) {
	return append(appendHeader(b, TypeReleaseRP, 4), 0, 0, 0, 0), nil
}

// Abort is an A-ABORT (A-P-ABORT when Source is 2).
type Abort struct {
	Source, Reason byte
}

// Abort sources and reasons (PS3.8 Table 9-26).
const (
	AbortSourceUser     byte = 0
	AbortSourceProvider byte = 2

	AbortReasonNotSpecified        byte = 0
	AbortReasonUnrecognizedPDU     byte = 1
	AbortReasonUnexpectedPDU       byte = 2
	AbortReasonUnrecognizedPDUParm byte = 4
	AbortReasonUnexpectedPDUParm   byte = 5
	AbortReasonInvalidPDUParm      byte = 6
)

func (*Abort) Type() Type { return TypeAbort }
func (p *Abort) Append(b []byte) ([]byte, error) {
	return append(appendHeader(b, TypeAbort, 4), 0, 0, p.Source, p.Reason), nil
}

// PDV is one presentation data value item of a P-DATA-TF.
type PDV struct {
	ContextID byte
	// Command is bit 0 of the message control header: the fragment belongs
	// to a command set rather than a data set.
	Command bool
	// Last is bit 1: the fragment ends its command set or data set.
	Last bool
	Data []byte
}

// PDVOverhead is the bytes a PDV item adds around its data: 4-byte item
// length, context ID and message control header.
const PDVOverhead = 6

// PDataTF is a P-DATA-TF carrying one or more PDVs.
type PDataTF struct {
	PDVs []PDV
}

func (*PDataTF) Type() Type { return TypePDataTF }

func (p *PDataTF) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, TypePDataTF, 0)
	for _, v := range p.PDVs {
		b = AppendPDV(b, v)
	}
	return patchLen(b, start)
}

// AppendPDV appends one PDV item (without a PDU header).
func AppendPDV(b []byte, v PDV) []byte {
	n := len(v.Data) + 2
	var mch byte
	if v.Command {
		mch |= 1
	}
	if v.Last {
		mch |= 2
	}
	b = append(b, byte(n>>24), byte(n>>16), byte(n>>8), byte(n), v.ContextID, mch)
	return append(b, v.Data...)
}

func decodePDataTF(body []byte) (*PDataTF, error) {
	// A PDV takes at least 6 bytes, which bounds the slice before it grows.
	pdvs, err := AppendPDVs(make([]PDV, 0, min(len(body)/PDVOverhead, 4)), body)
	if err != nil {
		return nil, err
	}
	return &PDataTF{PDVs: pdvs}, nil
}

// AppendPDVs decodes the PDV items of a P-DATA-TF body and appends them to
// dst, so a reader can reuse one slice for every PDU. The PDVs' data alias
// body.
func AppendPDVs(dst []PDV, body []byte) ([]PDV, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: P-DATA-TF without PDVs", ErrMalformed)
	}
	for len(body) > 0 {
		if len(body) < PDVOverhead {
			return nil, fmt.Errorf("%w: truncated PDV header", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(body)
		if n < 2 || uint64(n) > uint64(len(body)-4) {
			return nil, fmt.Errorf("%w: PDV claims %d bytes, %d left in PDU", ErrMalformed, n, len(body)-4)
		}
		mch := body[5]
		if mch&^3 != 0 {
			return nil, fmt.Errorf("%w: PDV message control header 0x%02X", ErrMalformed, mch)
		}
		dst = append(dst, PDV{
			ContextID: body[4],
			Command:   mch&1 != 0,
			Last:      mch&2 != 0,
			Data:      body[6 : 4+n : 4+n],
		})
		body = body[4+n:]
	}
	return dst, nil
}

// trimAE removes the space padding of a 16-byte AE field; DICOM treats
// leading and trailing spaces as insignificant in AE titles.
func trimAE(b []byte) string {
	return strings.Trim(string(b), " \x00")
}

// trimUID removes the NUL or space padding some implementations leave on UIDs.
func trimUID(b []byte) string {
	return strings.TrimRight(string(b), "\x00 ")
}
