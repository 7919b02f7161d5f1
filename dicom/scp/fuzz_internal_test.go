package scp

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// FuzzAssociateRQ parses an A-ASSOCIATE-RQ body and runs our policy and
// negotiation on it. Nothing may panic; every accepted context must carry a
// transfer syntax the peer offered; the A-ASSOCIATE-AC must encode and
// decode. Seeds under testdata/fuzz/FuzzAssociateRQ are DCMTK requests.
func FuzzAssociateRQ(f *testing.F) {
	rq := &pdu.AssociateRQ{
		ProtocolVersion: 1, CalledAE: "VETBRIDGE", CallingAE: "US1", ApplicationContext: pdu.ApplicationContextName,
		PresentationContexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{dimse.ExplicitVRBigEndian, dimse.ImplicitVRLittleEndian}},
			{ID: 1, AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: []string{"1.2.3"}},
		},
		UserInfo: pdu.UserInfo{MaxLength: 1},
	}
	b, _ := rq.Append(nil)
	f.Add(b[pdu.HeaderLen:])
	s := New(Config{
		AETitle: "VETBRIDGE", StrictCalledAE: true,
		Find:   func(_ context.Context, _ FindRequest, _ func([]byte) error) uint16 { return 0 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Every refusal reason, including ones the server does not know,
		// must still produce a valid RJ.
		Admit: func(callingAE, _ string, _ netip.Addr) Admission {
			if callingAE == "" {
				return Admission{}
			}
			return Admission{Refuse: RefusalReason(callingAE[0] % 6), Registered: callingAE[0]&1 == 1}
		},
	})
	ip := netip.MustParseAddr("127.0.0.1")
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := pdu.Decode(pdu.TypeAssociateRQ, body)
		if err != nil {
			return
		}
		rq := p.(*pdu.AssociateRQ)
		if v := s.vet(rq, ip); v.rj != nil {
			if v.rj.Result != pdu.RJResultPermanent && v.refused != NotRefused {
				t.Fatalf("refusal %v answered with a transient RJ", v.refused)
			}
			if _, err := v.rj.Append(nil); err != nil {
				t.Fatal(err)
			}
			return
		}
		ac, accepted := s.negotiate(rq)
		offered := map[byte][]string{}
		for _, pc := range rq.PresentationContexts {
			if _, dup := offered[pc.ID]; !dup {
				offered[pc.ID] = pc.TransferSyntaxes
			}
		}
		for _, c := range accepted {
			if !slices.Contains(offered[c.id], c.syntax.UID) {
				t.Fatalf("context %d accepted with %s, not offered", c.id, c.syntax.UID)
			}
		}
		enc, err := ac.Append(nil)
		if err != nil {
			t.Fatalf("encoding A-ASSOCIATE-AC: %v", err)
		}
		if _, err := pdu.Decode(pdu.TypeAssociateAC, enc[pdu.HeaderLen:]); err != nil {
			t.Fatalf("our A-ASSOCIATE-AC does not decode: %v", err)
		}
	})
}
