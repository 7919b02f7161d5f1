package pdu

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzRead decodes arbitrary bytes as a PDU stream. Nothing may panic, and a
// PDU that decodes must survive an encode/decode round trip unchanged.
// Seeds under testdata/fuzz/FuzzRead were captured from DCMTK echoscu and
// findscu sessions.
func FuzzRead(f *testing.F) {
	for _, p := range []PDU{sampleRQ(), &ReleaseRQ{}, &Abort{}, &AssociateRJ{Result: 1, Source: 1, Reason: 7},
		&PDataTF{PDVs: []PDV{{ContextID: 1, Command: true, Last: true, Data: []byte{0, 0, 0, 0, 4, 0, 0, 0}}}}} {
		b, _ := Encode(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			p, err := Read(r, 1<<16, nil)
			if err != nil {
				return
			}
			b, err := Encode(p)
			if err != nil {
				// Decoded AE titles are at most 16 bytes and item values
				// came from 16-bit lengths, so encoding must succeed.
				t.Fatalf("re-encoding decoded %s: %v", p.Type(), err)
			}
			q, err := Read(bytes.NewReader(b), uint32(len(b)), nil)
			if err != nil {
				t.Fatalf("decoding re-encoded %s: %v", p.Type(), err)
			}
			if !reflect.DeepEqual(normalise(p), normalise(q)) {
				t.Fatalf("round trip changed %s:\n%#v\n%#v", p.Type(), p, q)
			}
		}
	})
}

// normalise maps values that encoding canonicalises: protocol version 0 is
// sent as 1, and empty slices versus nil.
func normalise(p PDU) PDU {
	switch v := p.(type) {
	case *AssociateRQ:
		c := *v
		if c.ProtocolVersion == 0 {
			c.ProtocolVersion = 1
		}
		if len(c.PresentationContexts) == 0 {
			c.PresentationContexts = nil
		}
		for i := range c.PresentationContexts {
			if len(c.PresentationContexts[i].TransferSyntaxes) == 0 {
				c.PresentationContexts[i].TransferSyntaxes = nil
			}
		}
		if len(c.UserInfo.RoleSelections) == 0 {
			c.UserInfo.RoleSelections = nil
		}
		return &c
	case *AssociateAC:
		c := *v
		if c.ProtocolVersion == 0 {
			c.ProtocolVersion = 1
		}
		if len(c.PresentationContexts) == 0 {
			c.PresentationContexts = nil
		}
		if len(c.UserInfo.RoleSelections) == 0 {
			c.UserInfo.RoleSelections = nil
		}
		return &c
	}
	return p
}
