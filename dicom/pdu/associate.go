package pdu

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Item types inside A-ASSOCIATE PDUs (PS3.8 9.3.2, Annex D).
const (
	itemAppContext      = 0x10
	itemPresContextRQ   = 0x20
	itemPresContextAC   = 0x21
	itemAbstractSyntax  = 0x30
	itemTransferSyntax  = 0x40
	itemUserInfo        = 0x50
	subMaxLength        = 0x51
	subImplClassUID     = 0x52
	subAsyncOps         = 0x53
	subRoleSelection    = 0x54
	subImplVersionName  = 0x55
	subSOPClassExtNeg   = 0x56
	subCommonExtNeg     = 0x57
	subUserIdentityRQ   = 0x58
	subUserIdentityAC   = 0x59
	fixedAssociateBytes = 68 // version, reserved, called AE, calling AE, 32 reserved
)

// Presentation context results in an A-ASSOCIATE-AC (PS3.8 Table 9-18).
const (
	ResultAcceptance                 byte = 0
	ResultUserRejection              byte = 1
	ResultProviderRejection          byte = 2
	ResultAbstractSyntaxNotSupported byte = 3
	ResultTransferSyntaxNotSupported byte = 4
)

// PresentationContextRQ is one proposed presentation context.
type PresentationContextRQ struct {
	ID               byte
	AbstractSyntax   string
	TransferSyntaxes []string
}

// PresentationContextAC is the acceptor's answer for one context.
type PresentationContextAC struct {
	ID             byte
	Result         byte
	TransferSyntax string
}

// RoleSelection is an SCP/SCU role selection sub-item. We parse it so that a
// peer proposing one does not break the association, and never answer it, so
// default roles apply.
type RoleSelection struct {
	SOPClassUID string
	SCU, SCP    bool
}

// UserInfo holds the user-information sub-items we understand. Unknown,
// extended-negotiation and user-identity sub-items are skipped.
type UserInfo struct {
	// MaxLength is the largest P-DATA-TF body the sender will accept; 0 means
	// no limit.
	MaxLength                 uint32
	ImplementationClassUID    string
	ImplementationVersionName string
	// Async operations window, if proposed; 0/0 when absent.
	MaxOpsInvoked, MaxOpsPerformed uint16
	RoleSelections                 []RoleSelection
}

// AssociateRQ is an A-ASSOCIATE-RQ.
type AssociateRQ struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string
	ApplicationContext   string
	PresentationContexts []PresentationContextRQ
	UserInfo             UserInfo
}

// AssociateAC is an A-ASSOCIATE-AC.
type AssociateAC struct {
	ProtocolVersion      uint16
	CalledAE, CallingAE  string
	ApplicationContext   string
	PresentationContexts []PresentationContextAC
	UserInfo             UserInfo
}

func (*AssociateRQ) Type() Type { return TypeAssociateRQ }
func (*AssociateAC) Type() Type { return TypeAssociateAC }

func (p *AssociateRQ) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, TypeAssociateRQ, 0)
	b, err := appendFixed(b, p.ProtocolVersion, p.CalledAE, p.CallingAE)
	if err != nil {
		return nil, err
	}
	if b, err = appendItem(b, itemAppContext, p.ApplicationContext); err != nil {
		return nil, err
	}
	for _, pc := range p.PresentationContexts {
		itemStart := len(b)
		b = append(b, itemPresContextRQ, 0, 0, 0, pc.ID, 0, 0, 0)
		if b, err = appendItem(b, itemAbstractSyntax, pc.AbstractSyntax); err != nil {
			return nil, err
		}
		for _, ts := range pc.TransferSyntaxes {
			if b, err = appendItem(b, itemTransferSyntax, ts); err != nil {
				return nil, err
			}
		}
		if b, err = patchItemLen(b, itemStart); err != nil {
			return nil, err
		}
	}
	if b, err = p.UserInfo.append(b); err != nil {
		return nil, err
	}
	return patchLen(b, start)
}

func (p *AssociateAC) Append(b []byte) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, TypeAssociateAC, 0)
	b, err := appendFixed(b, p.ProtocolVersion, p.CalledAE, p.CallingAE)
	if err != nil {
		return nil, err
	}
	if b, err = appendItem(b, itemAppContext, p.ApplicationContext); err != nil {
		return nil, err
	}
	for _, pc := range p.PresentationContexts {
		itemStart := len(b)
		b = append(b, itemPresContextAC, 0, 0, 0, pc.ID, 0, pc.Result, 0)
		// The transfer syntax sub-item is required even for rejected
		// contexts, where its value is not significant.
		if b, err = appendItem(b, itemTransferSyntax, pc.TransferSyntax); err != nil {
			return nil, err
		}
		if b, err = patchItemLen(b, itemStart); err != nil {
			return nil, err
		}
	}
	if b, err = p.UserInfo.append(b); err != nil {
		return nil, err
	}
	return patchLen(b, start)
}

func appendFixed(b []byte, version uint16, called, calling string) ([]byte, error) {
	if version == 0 {
		version = 1
	}
	b = binary.BigEndian.AppendUint16(b, version)
	b = append(b, 0, 0)
	for _, ae := range []string{called, calling} {
		if len(ae) > 16 {
			return nil, fmt.Errorf("AE title %q is longer than 16 characters", ae)
		}
		b = append(b, ae...)
		for range 16 - len(ae) {
			b = append(b, ' ')
		}
	}
	return append(b, make([]byte, 32)...), nil
}

func appendItem(b []byte, typ byte, value string) ([]byte, error) {
	if len(value) > 0xFFFF {
		return nil, fmt.Errorf("item 0x%02X value of %d bytes is too long", typ, len(value))
	}
	b = append(b, typ, 0, byte(len(value)>>8), byte(len(value)))
	return append(b, value...), nil
}

func patchItemLen(b []byte, start int) ([]byte, error) {
	n := len(b) - start - 4
	if n > 0xFFFF {
		return nil, fmt.Errorf("item of %d bytes is too long", n)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	return b, nil
}

func (u *UserInfo) append(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, itemUserInfo, 0, 0, 0)
	b = append(b, subMaxLength, 0, 0, 4)
	b = binary.BigEndian.AppendUint32(b, u.MaxLength)
	var err error
	if u.ImplementationClassUID != "" {
		if b, err = appendItem(b, subImplClassUID, u.ImplementationClassUID); err != nil {
			return nil, err
		}
	}
	if u.MaxOpsInvoked != 0 || u.MaxOpsPerformed != 0 {
		b = append(b, subAsyncOps, 0, 0, 4)
		b = binary.BigEndian.AppendUint16(b, u.MaxOpsInvoked)
		b = binary.BigEndian.AppendUint16(b, u.MaxOpsPerformed)
	}
	for _, rs := range u.RoleSelections {
		n := 2 + len(rs.SOPClassUID) + 2
		if n > 0xFFFF {
			return nil, fmt.Errorf("role selection UID too long")
		}
		b = append(b, subRoleSelection, 0, byte(n>>8), byte(n), byte(len(rs.SOPClassUID)>>8), byte(len(rs.SOPClassUID)))
		b = append(b, rs.SOPClassUID...)
		b = append(b, boolByte(rs.SCU), boolByte(rs.SCP))
	}
	if u.ImplementationVersionName != "" {
		if len(u.ImplementationVersionName) > 16 {
			return nil, fmt.Errorf("implementation version name %q is longer than 16 characters", u.ImplementationVersionName)
		}
		if b, err = appendItem(b, subImplVersionName, u.ImplementationVersionName); err != nil {
			return nil, err
		}
	}
	return patchItemLen(b, start)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// items walks the 4-byte-header items (type, reserved, 16-bit length) of b,
// calling fn for each. It fails on any item that overruns b.
func items(b []byte, fn func(typ byte, val []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("%w: truncated item header", ErrMalformed)
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b)-4 {
			return fmt.Errorf("%w: item 0x%02X claims %d bytes, %d left", ErrMalformed, b[0], n, len(b)-4)
		}
		if err := fn(b[0], b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

type fixedFields struct {
	version         uint16
	called, calling string
	variable        []byte
}

func decodeFixed(body []byte, t Type) (fixedFields, error) {
	if len(body) < fixedAssociateBytes {
		return fixedFields{}, fmt.Errorf("%w: %s of %d bytes is shorter than its fixed fields", ErrMalformed, t, len(body))
	}
	return fixedFields{
		version:  binary.BigEndian.Uint16(body),
		called:   trimAE(body[4:20]),
		calling:  trimAE(body[20:36]),
		variable: body[fixedAssociateBytes:],
	}, nil
}

// maxContexts is the most presentation contexts an association can carry:
// IDs are odd numbers 1..255.
const maxContexts = 128

func decodeAssociateRQ(body []byte) (*AssociateRQ, error) {
	f, err := decodeFixed(body, TypeAssociateRQ)
	if err != nil {
		return nil, err
	}
	p := &AssociateRQ{ProtocolVersion: f.version, CalledAE: f.called, CallingAE: f.calling}
	err = items(f.variable, func(typ byte, val []byte) error {
		switch typ {
		case itemAppContext:
			p.ApplicationContext = trimUID(val)
		case itemPresContextRQ:
			if len(p.PresentationContexts) >= maxContexts {
				return fmt.Errorf("%w: more than %d presentation contexts", ErrMalformed, maxContexts)
			}
			if len(val) < 4 {
				return fmt.Errorf("%w: presentation context item of %d bytes", ErrMalformed, len(val))
			}
			pc := PresentationContextRQ{ID: val[0]}
			err := items(val[4:], func(st byte, sv []byte) error {
				switch st {
				case itemAbstractSyntax:
					pc.AbstractSyntax = trimUID(sv)
				case itemTransferSyntax:
					// Each sub-item takes at least 4 bytes of a bounded
					// item, so this slice cannot grow without bound.
					pc.TransferSyntaxes = append(pc.TransferSyntaxes, trimUID(sv))
				}
				return nil
			})
			if err != nil {
				return err
			}
			p.PresentationContexts = append(p.PresentationContexts, pc)
		case itemUserInfo:
			return p.UserInfo.decode(val)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func decodeAssociateAC(body []byte) (*AssociateAC, error) {
	f, err := decodeFixed(body, TypeAssociateAC)
	if err != nil {
		return nil, err
	}
	p := &AssociateAC{ProtocolVersion: f.version, CalledAE: f.called, CallingAE: f.calling}
	err = items(f.variable, func(typ byte, val []byte) error {
		switch typ {
		case itemAppContext:
			p.ApplicationContext = trimUID(val)
		case itemPresContextAC:
			if len(p.PresentationContexts) >= maxContexts {
				return fmt.Errorf("%w: more than %d presentation contexts", ErrMalformed, maxContexts)
			}
			if len(val) < 4 {
				return fmt.Errorf("%w: presentation context item of %d bytes", ErrMalformed, len(val))
			}
			pc := PresentationContextAC{ID: val[0], Result: val[2]}
			err := items(val[4:], func(st byte, sv []byte) error {
				if st == itemTransferSyntax {
					pc.TransferSyntax = trimUID(sv)
				}
				return nil
			})
			if err != nil {
				return err
			}
			p.PresentationContexts = append(p.PresentationContexts, pc)
		case itemUserInfo:
			return p.UserInfo.decode(val)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// maxRoleSelections bounds how many role-selection sub-items we keep; one per
// presentation context is the most that makes sense.
const maxRoleSelections = maxContexts

func (u *UserInfo) decode(b []byte) error {
	return items(b, func(typ byte, val []byte) error {
		switch typ {
		case subMaxLength:
			if len(val) != 4 {
				return fmt.Errorf("%w: maximum length sub-item of %d bytes", ErrMalformed, len(val))
			}
			u.MaxLength = binary.BigEndian.Uint32(val)
		case subImplClassUID:
			u.ImplementationClassUID = trimUID(val)
		case subImplVersionName:
			// PS3.7 caps the name at 16 characters; a longer one is kept
			// short rather than refused, as it only ever reaches logs.
			u.ImplementationVersionName = trimAE(val)
			if len(u.ImplementationVersionName) > 16 {
				u.ImplementationVersionName = trimAE([]byte(u.ImplementationVersionName[:16]))
			}
		case subAsyncOps:
			if len(val) != 4 {
				return fmt.Errorf("%w: asynchronous operations sub-item of %d bytes", ErrMalformed, len(val))
			}
			u.MaxOpsInvoked = binary.BigEndian.Uint16(val)
			u.MaxOpsPerformed = binary.BigEndian.Uint16(val[2:])
		case subRoleSelection:
			if len(val) < 2 {
				return fmt.Errorf("%w: role selection sub-item of %d bytes", ErrMalformed, len(val))
			}
			n := int(binary.BigEndian.Uint16(val))
			if n+4 != len(val) {
				return fmt.Errorf("%w: role selection UID length %d in a %d-byte sub-item", ErrMalformed, n, len(val))
			}
			if len(u.RoleSelections) < maxRoleSelections {
				u.RoleSelections = append(u.RoleSelections, RoleSelection{
					SOPClassUID: trimUID(val[2 : 2+n]),
					SCU:         val[2+n] == 1,
					SCP:         val[3+n] == 1,
				})
			}
		case subSOPClassExtNeg, subCommonExtNeg, subUserIdentityRQ, subUserIdentityAC:
			// Negotiated features we do not offer; not answering them
			// declines them (PS3.7 D.3.3.5, PS3.8 D.3.3.7).
		}
		return nil
	})
}

// ValidAETitle says whether s can be an application entity title as PS3.5
// defines AE: 1 to 16 characters of the default repertoire, no backslash
// or control character, not only spaces.
func ValidAETitle(s string) bool {
	if len(s) == 0 || len(s) > 16 || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '\\' {
			return false
		}
	}
	return true
}
