package scp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// panicWatch is a slog handler that remembers whether anything was logged
// about a recovered panic; the server recovers them, so the fuzz target
// would otherwise never see one.
type panicWatch struct{ seen *atomic.Value }

func (h panicWatch) Enabled(context.Context, slog.Level) bool { return true }
func (h panicWatch) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h panicWatch) WithGroup(string) slog.Handler            { return h }
func (h panicWatch) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") || strings.Contains(r.Message, "exited its goroutine") {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		h.seen.Store(msg)
	}
	return nil
}

type fuzzMPPS struct{}

func (fuzzMPPS) NCreate(_ context.Context, req MPPSRequest) MPPSResponse {
	return MPPSResponse{Status: dimse.StatusSuccess, AffectedSOPInstanceUID: "2.25.1", Dataset: req.Dataset}
}
func (fuzzMPPS) NSet(context.Context, MPPSRequest) MPPSResponse {
	return MPPSResponse{Status: dimse.StatusNoSuchSOPInstance, ErrorComment: "unknown"}
}

func streamSeed(msgs ...func(f *dimse.Fragmenter) []byte) []byte {
	rq := &pdu.AssociateRQ{
		ProtocolVersion: 1, CalledAE: "VETBRIDGE", CallingAE: "FUZZ", ApplicationContext: pdu.ApplicationContextName,
		PresentationContexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: []string{dimse.ImplicitVRLittleEndian}},
			{ID: 3, AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{dimse.ExplicitVRLittleEndian}},
			{ID: 5, AbstractSyntax: dimse.MPPSSOPClass, TransferSyntaxes: []string{dimse.ExplicitVRBigEndian}},
		},
		UserInfo: pdu.UserInfo{MaxLength: 64},
	}
	b, _ := rq.Append(nil)
	f := &dimse.Fragmenter{PeerMaxPDU: 40}
	for _, m := range msgs {
		b = append(b, m(f)...)
	}
	rel, _ := (&pdu.ReleaseRQ{}).Append(nil)
	return append(b, rel...)
}

func msg(ctx byte, c *dimse.Command, data []byte) func(f *dimse.Fragmenter) []byte {
	return func(f *dimse.Fragmenter) []byte {
		b, _ := f.Append(nil, ctx, c, data)
		return b
	}
}

// FuzzAssociationStream drives one whole association from arbitrary client
// bytes over an in-memory pipe: negotiation, message assembly, dispatch to
// handlers, C-CANCEL, release. The server must neither panic (even a
// recovered one) nor hang.
func FuzzAssociationStream(f *testing.F) {
	id := []byte{0x10, 0, 0x10, 0, 'P', 'N', 2, 0, 'A', ' '}
	f.Add(streamSeed(msg(1, &dimse.Command{CommandField: dimse.CEchoRQ, MessageID: 1, AffectedSOPClassUID: dimse.VerificationSOPClass}, nil)))
	f.Add(streamSeed(
		msg(3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 2, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}, id),
		msg(3, &dimse.Command{CommandField: dimse.CCancelRQ, MessageIDBeingRespondedTo: 2}, nil)))
	f.Add(streamSeed(
		msg(5, &dimse.Command{CommandField: dimse.NCreateRQ, MessageID: 3, AffectedSOPClassUID: dimse.MPPSSOPClass, HasDataSet: true}, id),
		msg(5, &dimse.Command{CommandField: dimse.NSetRQ, MessageID: 4, RequestedSOPClassUID: dimse.MPPSSOPClass, RequestedSOPInstanceUID: "2.25.1", HasDataSet: true}, id),
		msg(1, &dimse.Command{CommandField: dimse.CStoreRQ, MessageID: 5, AffectedSOPClassUID: "1.2.3", HasDataSet: true}, id)))

	f.Fuzz(func(t *testing.T, data []byte) {
		var seen atomic.Value
		s := New(Config{
			AETitle:      "VETBRIDGE",
			ARTIMTimeout: 200 * time.Millisecond,
			IdleTimeout:  200 * time.Millisecond,
			WriteTimeout: 200 * time.Millisecond,
			Find: func(ctx context.Context, req FindRequest, send func([]byte) error) uint16 {
				for range 3 {
					if send(req.Identifier) != nil {
						return dimse.StatusUnableToProcess
					}
				}
				return dimse.StatusSuccess
			},
			MPPS:   fuzzMPPS{},
			Logger: slog.New(panicWatch{&seen}),
		})
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveTestConn(s, server)
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("association goroutine did not finish")
		}
		if v := seen.Load(); v != nil {
			t.Fatalf("server recovered a panic: %v", v)
		}
		if n, m := s.ActiveAssociations(), s.PendingConnections(); n != 0 || m != 0 {
			t.Fatalf("%d associations and %d connections still counted after the connection ended", n, m)
		}
	})
}

// TestStreamSeedsReachHandlers checks that the fuzz seeds are real sessions:
// every request is answered and the release completes, with the client's
// tiny 64-byte PDU limit honoured on the way back.
func TestStreamSeedsReachHandlers(t *testing.T) {
	id := []byte{0x10, 0, 0x10, 0, 'P', 'N', 2, 0, 'A', ' '}
	data := streamSeed(
		msg(3, &dimse.Command{CommandField: dimse.CFindRQ, MessageID: 2, AffectedSOPClassUID: dimse.ModalityWorklistFind, HasDataSet: true}, id),
		msg(5, &dimse.Command{CommandField: dimse.NCreateRQ, MessageID: 3, AffectedSOPClassUID: dimse.MPPSSOPClass, HasDataSet: true}, id),
		msg(5, &dimse.Command{CommandField: dimse.NSetRQ, MessageID: 4, RequestedSOPClassUID: dimse.MPPSSOPClass, RequestedSOPInstanceUID: "2.25.1", HasDataSet: true}, id),
		msg(1, &dimse.Command{CommandField: dimse.CStoreRQ, MessageID: 5, AffectedSOPClassUID: dimse.VerificationSOPClass, HasDataSet: true}, id))
	s := New(Config{
		Find: func(ctx context.Context, req FindRequest, send func([]byte) error) uint16 {
			send(req.Identifier)
			return dimse.StatusSuccess
		},
		MPPS:   fuzzMPPS{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	client, server := net.Pipe()
	go serveTestConn(s, server)
	go func() { client.Write(data) }()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	var asm dimse.Assembler
	var got []string
	for {
		p, err := pdu.Read(client, 64, nil)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if p.Type() == pdu.TypeReleaseRP {
			break
		}
		pd, ok := p.(*pdu.PDataTF)
		if !ok {
			if p.Type() != pdu.TypeAssociateAC {
				t.Fatalf("unexpected %s", p.Type())
			}
			continue
		}
		msgs, err := asm.Add(pd.PDVs)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, fmt.Sprintf("%s/%04X", dimse.Name(m.Command.CommandField), m.Command.Status))
		}
	}
	want := "C-FIND-RSP/FF00 C-FIND-RSP/0000 N-CREATE-RSP/0000 N-SET-RSP/0112 C-STORE-RSP/0122"
	if strings.Join(got, " ") != want {
		t.Fatalf("responses %q, want %q", strings.Join(got, " "), want)
	}
}

// serveTestConn serves conn as Serve would after accepting it: holding a
// negotiation slot, which serveConn releases.
func serveTestConn(s *Server, conn net.Conn) {
	ci := connInfo{artim: s.cfg.ARTIMTimeout}
	if ok, _, why := s.slots.takePending(ci.host); !ok {
		panic(why)
	}
	s.serveConn(context.Background(), conn, ci)
}
