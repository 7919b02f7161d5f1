// Package dimse implements the PS3.7 message exchange on top of dicom/pdu:
// command sets (always Implicit VR Little Endian, group 0000), assembly of
// messages from PDVs and their fragmentation into P-DATA-TF PDUs that honour
// the peer's maximum PDU length, and the status codes.
//
// The command set is a fixed, small vocabulary, so it has its own codec here
// rather than going through a general data-set parser: every element is
// bounded by the command length and unknown elements are skipped.
package dimse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Command field values (PS3.7 Annex E).
const (
	CStoreRQ   uint16 = 0x0001
	CStoreRSP  uint16 = 0x8001
	CGetRQ     uint16 = 0x0010
	CFindRQ    uint16 = 0x0020
	CFindRSP   uint16 = 0x8020
	CMoveRQ    uint16 = 0x0021
	CEchoRQ    uint16 = 0x0030
	CEchoRSP   uint16 = 0x8030
	NEventRQ   uint16 = 0x0100
	NGetRQ     uint16 = 0x0110
	NSetRQ     uint16 = 0x0120
	NSetRSP    uint16 = 0x8120
	NActionRQ  uint16 = 0x0130
	NCreateRQ  uint16 = 0x0140
	NCreateRSP uint16 = 0x8140
	NDeleteRQ  uint16 = 0x0150
	CCancelRQ  uint16 = 0x0FFF

	// ResponseBit is set in the command field of every response.
	ResponseBit uint16 = 0x8000
)

// Data set type values for (0000,0800).
const (
	NoDataSet uint16 = 0x0101
	// DataSetPresent is what we send when there is a data set. PS3.7 lets
	// any value but 0x0101 mean "present"; 0x0001 is what DCMTK and
	// pynetdicom send, so it is what every peer has been tested with.
	DataSetPresent uint16 = 0x0001
)

// Priority values for (0000,0700).
const (
	PriorityMedium uint16 = 0x0000
	PriorityHigh   uint16 = 0x0001
	PriorityLow    uint16 = 0x0002
)

// Command element tags (group 0000); the value is the element number.
const (
	tagGroupLength             = 0x0000
	tagAffectedSOPClassUID     = 0x0002
	tagRequestedSOPClassUID    = 0x0003
	tagCommandField            = 0x0100
	tagMessageID               = 0x0110
	tagMessageIDRespondedTo    = 0x0120
	tagMoveDestination         = 0x0600
	tagPriority                = 0x0700
	tagDataSetType             = 0x0800
	tagStatus                  = 0x0900
	tagOffendingElement        = 0x0901
	tagErrorComment            = 0x0902
	tagErrorID                 = 0x0903
	tagAffectedSOPInstanceUID  = 0x1000
	tagRequestedSOPInstanceUID = 0x1001
	tagEventTypeID             = 0x1002
	tagAttributeIdentifierList = 0x1005
	tagActionTypeID            = 0x1008
)

// MaxCommandLength bounds an encoded command set. Real ones are a few hundred
// bytes; an error comment is at most 64 characters.
const MaxCommandLength = 64 << 10

// Command is a decoded command set. Only the elements VetBridge's services
// use are kept; others are skipped on decoding.
type Command struct {
	CommandField              uint16
	MessageID                 uint16
	MessageIDBeingRespondedTo uint16
	AffectedSOPClassUID       string
	RequestedSOPClassUID      string
	AffectedSOPInstanceUID    string
	RequestedSOPInstanceUID   string
	Priority                  uint16
	// HasDataSet mirrors (0000,0800) != 0x0101.
	HasDataSet   bool
	Status       uint16
	ErrorComment string
	ErrorID      uint16
	// OffendingElements and AttributeIdentifiers hold AT values as
	// group<<16|element.
	OffendingElements    []uint32
	AttributeIdentifiers []uint32
	EventTypeID          uint16
	ActionTypeID         uint16
	MoveDestination      string

	// present records which optional US elements were on the wire, so that a
	// re-encoded command carries the same ones; dataSetType keeps the exact
	// "present" value received.
	present     uint16
	dataSetType uint16
}

const (
	hasStatus uint16 = 1 << iota
	hasPriority
	hasMessageID
	hasRespondedTo
	hasErrorID
	hasEventType
	hasActionType
	hasDataSetType
)

// IsResponse reports whether the command field has the response bit.
func (c *Command) IsResponse() bool { return c.CommandField&ResponseBit != 0 }

// SOPClassUID returns the affected SOP class, or the requested one for
// N-SET-style requests that carry only that.
func (c *Command) SOPClassUID() string {
	if c.AffectedSOPClassUID != "" {
		return c.AffectedSOPClassUID
	}
	return c.RequestedSOPClassUID
}

// SOPInstanceUID returns the affected SOP instance, else the requested one.
func (c *Command) SOPInstanceUID() string {
	if c.AffectedSOPInstanceUID != "" {
		return c.AffectedSOPInstanceUID
	}
	return c.RequestedSOPInstanceUID
}

// ErrCommand is wrapped by every command-set decoding error.
var ErrCommand = errors.New("invalid DIMSE command set")

// Encode appends the command set in Implicit VR Little Endian, group length
// first, elements in ascending tag order as PS3.5 requires.
func (c *Command) Encode(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0) // (0000,0000) UL, value patched below
	var err error
	str := func(tag uint16, v string, pad byte) {
		if v == "" || err != nil {
			return
		}
		if len(v) > 0xFFFF {
			err = fmt.Errorf("command element (0000,%04X) value too long", tag)
			return
		}
		n := len(v) + len(v)%2
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = append(b, v...)
		if len(v)%2 == 1 {
			b = append(b, pad)
		}
	}
	us := func(tag uint16, v uint16) {
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint32(b, 2)
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	at := func(tag uint16, v []uint32) {
		if len(v) == 0 {
			return
		}
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(4*len(v)))
		for _, t := range v {
			b = binary.LittleEndian.AppendUint16(b, uint16(t>>16))
			b = binary.LittleEndian.AppendUint16(b, uint16(t))
		}
	}
	resp := c.IsResponse()
	str(tagAffectedSOPClassUID, c.AffectedSOPClassUID, 0)
	str(tagRequestedSOPClassUID, c.RequestedSOPClassUID, 0)
	us(tagCommandField, c.CommandField)
	if (!resp && c.CommandField != CCancelRQ) || c.present&hasMessageID != 0 || c.MessageID != 0 {
		us(tagMessageID, c.MessageID)
	}
	if resp || c.CommandField == CCancelRQ || c.present&hasRespondedTo != 0 || c.MessageIDBeingRespondedTo != 0 {
		us(tagMessageIDRespondedTo, c.MessageIDBeingRespondedTo)
	}
	str(tagMoveDestination, c.MoveDestination, ' ')
	if c.present&hasPriority != 0 || c.CommandField == CFindRQ || c.CommandField == CStoreRQ || c.CommandField == CMoveRQ || c.CommandField == CGetRQ {
		us(tagPriority, c.Priority)
	}
	if c.HasDataSet {
		t := c.dataSetType
		if t == 0 && c.present&hasDataSetType == 0 || t == NoDataSet {
			t = DataSetPresent
		}
		us(tagDataSetType, t)
	} else {
		us(tagDataSetType, NoDataSet)
	}
	if resp || c.present&hasStatus != 0 {
		us(tagStatus, c.Status)
	}
	at(tagOffendingElement, c.OffendingElements)
	str(tagErrorComment, c.ErrorComment, ' ')
	if c.ErrorID != 0 || c.present&hasErrorID != 0 {
		us(tagErrorID, c.ErrorID)
	}
	str(tagAffectedSOPInstanceUID, c.AffectedSOPInstanceUID, 0)
	str(tagRequestedSOPInstanceUID, c.RequestedSOPInstanceUID, 0)
	if c.EventTypeID != 0 || c.present&hasEventType != 0 {
		us(tagEventTypeID, c.EventTypeID)
	}
	at(tagAttributeIdentifierList, c.AttributeIdentifiers)
	if c.ActionTypeID != 0 || c.present&hasActionType != 0 {
		us(tagActionTypeID, c.ActionTypeID)
	}
	if err != nil {
		return nil, err
	}
	binary.LittleEndian.PutUint32(b[start+8:], uint32(len(b)-start-12))
	return b, nil
}

// DecodeCommand parses an Implicit VR Little Endian command set. The group
// length element is optional on input (some devices omit it); when present it
// must agree with the bytes received.
func DecodeCommand(b []byte) (*Command, error) {
	if len(b) > MaxCommandLength {
		return nil, fmt.Errorf("%w: %d bytes exceed %d", ErrCommand, len(b), MaxCommandLength)
	}
	c := &Command{}
	var sawField, sawDataSetType bool
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			return nil, fmt.Errorf("%w: truncated element header at offset %d", ErrCommand, off)
		}
		group := binary.LittleEndian.Uint16(b[off:])
		elem := binary.LittleEndian.Uint16(b[off+2:])
		n := binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		if group != 0 {
			return nil, fmt.Errorf("%w: element (%04X,%04X) outside group 0000", ErrCommand, group, elem)
		}
		if n == 0xFFFFFFFF || uint64(n) > uint64(len(b)-off) {
			return nil, fmt.Errorf("%w: element (0000,%04X) claims %d bytes, %d left", ErrCommand, elem, n, len(b)-off)
		}
		v := b[off : off+int(n)]
		off += int(n)
		u16 := func() (uint16, error) {
			if len(v) != 2 {
				return 0, fmt.Errorf("%w: US element (0000,%04X) of %d bytes", ErrCommand, elem, len(v))
			}
			return binary.LittleEndian.Uint16(v), nil
		}
		var err error
		switch elem {
		case tagGroupLength:
			if len(v) != 4 {
				return nil, fmt.Errorf("%w: group length of %d bytes", ErrCommand, len(v))
			}
			if gl := binary.LittleEndian.Uint32(v); uint64(gl) != uint64(len(b)-off) {
				return nil, fmt.Errorf("%w: group length %d but %d bytes follow", ErrCommand, gl, len(b)-off)
			}
		case tagAffectedSOPClassUID:
			c.AffectedSOPClassUID = trimUID(v)
		case tagRequestedSOPClassUID:
			c.RequestedSOPClassUID = trimUID(v)
		case tagAffectedSOPInstanceUID:
			c.AffectedSOPInstanceUID = trimUID(v)
		case tagRequestedSOPInstanceUID:
			c.RequestedSOPInstanceUID = trimUID(v)
		case tagCommandField:
			c.CommandField, err = u16()
			sawField = true
		case tagMessageID:
			c.MessageID, err = u16()
			c.present |= hasMessageID
		case tagMessageIDRespondedTo:
			c.MessageIDBeingRespondedTo, err = u16()
			c.present |= hasRespondedTo
		case tagPriority:
			c.Priority, err = u16()
			c.present |= hasPriority
		case tagDataSetType:
			var t uint16
			t, err = u16()
			c.HasDataSet = t != NoDataSet
			c.dataSetType = t
			c.present |= hasDataSetType
			sawDataSetType = true
		case tagStatus:
			c.Status, err = u16()
			c.present |= hasStatus
		case tagErrorID:
			c.ErrorID, err = u16()
			c.present |= hasErrorID
		case tagEventTypeID:
			c.EventTypeID, err = u16()
			c.present |= hasEventType
		case tagActionTypeID:
			c.ActionTypeID, err = u16()
			c.present |= hasActionType
		case tagErrorComment:
			c.ErrorComment = strings.TrimRight(string(v), " \x00")
		case tagMoveDestination:
			c.MoveDestination = strings.Trim(string(v), " \x00")
		case tagOffendingElement:
			c.OffendingElements, err = decodeAT(v, elem)
		case tagAttributeIdentifierList:
			c.AttributeIdentifiers, err = decodeAT(v, elem)
		}
		if err != nil {
			return nil, err
		}
	}
	if !sawField {
		return nil, fmt.Errorf("%w: no command field (0000,0100)", ErrCommand)
	}
	if !sawDataSetType {
		return nil, fmt.Errorf("%w: no command data set type (0000,0800)", ErrCommand)
	}
	return c, nil
}

func decodeAT(v []byte, elem uint16) ([]uint32, error) {
	if len(v)%4 != 0 {
		return nil, fmt.Errorf("%w: AT element (0000,%04X) of %d bytes", ErrCommand, elem, len(v))
	}
	if len(v) == 0 {
		return nil, nil
	}
	out := make([]uint32, 0, len(v)/4) // bounded by the command length
	for i := 0; i < len(v); i += 4 {
		out = append(out, uint32(binary.LittleEndian.Uint16(v[i:]))<<16|uint32(binary.LittleEndian.Uint16(v[i+2:])))
	}
	return out, nil
}

func trimUID(v []byte) string {
	for len(v) > 0 && (v[len(v)-1] == 0 || v[len(v)-1] == ' ') {
		v = v[:len(v)-1]
	}
	// Every response repeats one of a few SOP class UIDs; returning the
	// constant saves an allocation per message (the comparison does not
	// allocate).
	for _, known := range knownUIDs {
		if string(v) == known {
			return known
		}
	}
	return string(v)
}

var knownUIDs = [...]string{ModalityWorklistFind, VerificationSOPClass, MPPSSOPClass}

// Clone returns a deep copy.
func (c *Command) Clone() *Command {
	d := *c
	d.OffendingElements = slices.Clone(c.OffendingElements)
	d.AttributeIdentifiers = slices.Clone(c.AttributeIdentifiers)
	return &d
}

// Name returns the DIMSE name of a command field, for logs.
func Name(field uint16) string {
	names := map[uint16]string{
		CStoreRQ: "C-STORE-RQ", CStoreRSP: "C-STORE-RSP", CGetRQ: "C-GET-RQ", CFindRQ: "C-FIND-RQ",
		CFindRSP: "C-FIND-RSP", CMoveRQ: "C-MOVE-RQ", CEchoRQ: "C-ECHO-RQ", CEchoRSP: "C-ECHO-RSP",
		NEventRQ: "N-EVENT-REPORT-RQ", NGetRQ: "N-GET-RQ", NSetRQ: "N-SET-RQ", NSetRSP: "N-SET-RSP",
		NActionRQ: "N-ACTION-RQ", NCreateRQ: "N-CREATE-RQ", NCreateRSP: "N-CREATE-RSP",
		NDeleteRQ: "N-DELETE-RQ", CCancelRQ: "C-CANCEL-RQ",
	}
	if n, ok := names[field]; ok {
		return n
	}
	return fmt.Sprintf("command 0x%04X", field)
}
