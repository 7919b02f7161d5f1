package scu_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

// fakeSCP runs script on the first accepted connection, for server
// behaviour our own SCP never shows.
func fakeSCP(t *testing.T, script func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		script(c)
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func readRQ(c net.Conn) *pdu.AssociateRQ {
	p, err := pdu.Read(c, 1<<20, nil)
	if err != nil {
		return nil
	}
	rq, _ := p.(*pdu.AssociateRQ)
	return rq
}

func acceptAll(c net.Conn, rq *pdu.AssociateRQ, maxPDU uint32) {
	ac := &pdu.AssociateAC{ApplicationContext: pdu.ApplicationContextName, CalledAE: rq.CalledAE, CallingAE: rq.CallingAE,
		UserInfo: pdu.UserInfo{MaxLength: maxPDU, ImplementationClassUID: "2.25.5"}}
	for _, pc := range rq.PresentationContexts {
		ac.PresentationContexts = append(ac.PresentationContexts, pdu.PresentationContextAC{ID: pc.ID, Result: pdu.ResultAcceptance, TransferSyntax: pc.TransferSyntaxes[0]})
	}
	b, _ := ac.Append(nil)
	c.Write(b)
}

func readMessage(c net.Conn) (dimse.Message, error) {
	var asm dimse.Assembler
	for {
		p, err := pdu.Read(c, 1<<20, nil)
		if err != nil {
			return dimse.Message{}, err
		}
		pd, ok := p.(*pdu.PDataTF)
		if !ok {
			return dimse.Message{}, errors.New("not P-DATA: " + p.Type().String())
		}
		msgs, err := asm.Add(pd.PDVs)
		if err != nil {
			return dimse.Message{}, err
		}
		if len(msgs) > 0 {
			return msgs[0], nil
		}
	}
}

func TestFindWithResponsesPackedInOnePDU(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) {
		rq := readRQ(c)
		acceptAll(c, rq, 0)
		m, err := readMessage(c)
		if err != nil {
			t.Errorf("fake SCP: %v", err)
			return
		}
		var pdvs []pdu.PDV
		add := func(cmd *dimse.Command, data []byte) {
			enc, _ := cmd.Encode(nil)
			pdvs = append(pdvs, pdu.PDV{ContextID: m.ContextID, Command: true, Last: true, Data: enc})
			if data != nil {
				pdvs = append(pdvs, pdu.PDV{ContextID: m.ContextID, Last: true, Data: data})
			}
		}
		for _, id := range []string{"a1", "b2", "c3"} {
			add(&dimse.Command{CommandField: dimse.CFindRSP, MessageIDBeingRespondedTo: m.Command.MessageID, Status: dimse.StatusPending, HasDataSet: true}, []byte(id))
		}
		add(&dimse.Command{CommandField: dimse.CFindRSP, MessageIDBeingRespondedTo: m.Command.MessageID, Status: dimse.StatusSuccess}, nil)
		b, _ := (&pdu.PDataTF{PDVs: pdvs}).Append(nil)
		c.Write(b)
		if p, err := pdu.Read(c, 1<<16, nil); err == nil && p.Type() == pdu.TypeReleaseRQ {
			b, _ := (&pdu.ReleaseRP{}).Append(nil)
			c.Write(b)
		}
	})
	a, err := scu.Dial(context.Background(), addr, scu.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a.PeerMaxPDU() != 0 {
		t.Errorf("peer max %d", a.PeerMaxPDU())
	}
	var got []string
	st, err := a.Find(context.Background(), dimse.ModalityWorklistFind, []byte{}, func(b []byte) error { got = append(got, string(b)); return nil })
	if err != nil || st != dimse.StatusSuccess || strings.Join(got, ",") != "a1,b2,c3" {
		t.Fatalf("status 0x%04X, %v, answers %q", st, err, got)
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := a.Echo(context.Background()); !errors.Is(err, scu.ErrClosed) {
		t.Errorf("echo after release: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	cases := map[string]struct {
		script func(c net.Conn)
		check  func(error) bool
	}{
		"rejected": {func(c net.Conn) {
			readRQ(c)
			b, _ := (&pdu.AssociateRJ{Result: 1, Source: 1, Reason: pdu.RJReasonCalledAENotRecog}).Append(nil)
			c.Write(b)
		}, func(err error) bool {
			var rj *scu.RejectedError
			return errors.As(err, &rj) && strings.Contains(err.Error(), "check the called AE title")
		}},
		"aborted": {func(c net.Conn) {
			readRQ(c)
			b, _ := (&pdu.Abort{Source: 2}).Append(nil)
			c.Write(b)
		}, func(err error) bool { var ab *scu.AbortedError; return errors.As(err, &ab) }},
		"hung up": {func(c net.Conn) { readRQ(c) }, func(err error) bool { return err != nil }},
		"4 GiB answer": {func(c net.Conn) {
			readRQ(c)
			c.Write([]byte{2, 0, 0xFF, 0xFF, 0xFF, 0xFF})
		}, func(err error) bool { return errors.Is(err, pdu.ErrTooLong) }},
		"silent": {func(c net.Conn) { readRQ(c); time.Sleep(time.Second) }, func(err error) bool {
			var ne net.Error
			return errors.As(err, &ne) && ne.Timeout()
		}},
		"nothing acceptable": {func(c net.Conn) {
			rq := readRQ(c)
			ac := &pdu.AssociateAC{ApplicationContext: pdu.ApplicationContextName}
			for _, pc := range rq.PresentationContexts {
				ac.PresentationContexts = append(ac.PresentationContexts, pdu.PresentationContextAC{ID: pc.ID, Result: pdu.ResultAbstractSyntaxNotSupported})
			}
			b, _ := ac.Append(nil)
			c.Write(b)
			pdu.Read(c, 1<<16, nil) // our A-ABORT
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "accepted none") }},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			addr := fakeSCP(t, tc.script)
			_, err := scu.Dial(context.Background(), addr, scu.Options{Timeout: 300 * time.Millisecond})
			if !tc.check(err) {
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}
}

func TestDialHonoursContext(t *testing.T) {
	addr := fakeSCP(t, func(c net.Conn) { readRQ(c); time.Sleep(2 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := scu.Dial(ctx, addr, scu.Options{Timeout: 10 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("Dial ignored its context")
	}
}

func TestFragmentsToServerMax(t *testing.T) {
	const serverMax = 100
	big := make([]byte, 1000)
	addr := fakeSCP(t, func(c net.Conn) {
		rq := readRQ(c)
		acceptAll(c, rq, serverMax)
		var asm dimse.Assembler
		for {
			p, err := pdu.Read(c, serverMax, nil)
			if err != nil {
				t.Errorf("server received a PDU over its maximum: %v", err)
				return
			}
			msgs, err := asm.Add(p.(*pdu.PDataTF).PDVs)
			if err != nil {
				t.Error(err)
				return
			}
			if len(msgs) == 1 {
				if len(msgs[0].Data) != len(big) {
					t.Errorf("data set of %d bytes arrived, want %d", len(msgs[0].Data), len(big))
				}
				rsp := &dimse.Command{CommandField: dimse.NCreateRSP, MessageIDBeingRespondedTo: msgs[0].Command.MessageID, AffectedSOPInstanceUID: "2.25.9"}
				var f dimse.Fragmenter
				f.Write(c, msgs[0].ContextID, rsp, nil)
				return
			}
		}
	})
	a, err := scu.Dial(context.Background(), addr, scu.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Abort()
	r, err := a.NCreate(context.Background(), dimse.MPPSSOPClass, "", big)
	if err != nil || r.AffectedSOPInstanceUID != "2.25.9" {
		t.Fatalf("%+v %v", r, err)
	}
}

// A server that keeps streaming and never honours C-CANCEL must not hold the
// caller for the whole response timeout once its context has ended.
func TestFindCancelAgainstDeafServer(t *testing.T) {
	t.Parallel()
	addr := fakeSCP(t, func(c net.Conn) {
		rq := readRQ(c)
		acceptAll(c, rq, 0)
		m, err := readMessage(c)
		if err != nil {
			return
		}
		var f dimse.Fragmenter
		rsp := &dimse.Command{CommandField: dimse.CFindRSP, MessageIDBeingRespondedTo: m.Command.MessageID, Status: dimse.StatusPending, HasDataSet: true}
		// One answer, then silence: no final response, C-CANCEL ignored.
		f.Write(c, m.ContextID, rsp, []byte("x"))
		var sink [512]byte
		for {
			if _, err := c.Read(sink[:]); err != nil {
				return
			}
		}
	})
	a, err := scu.Dial(context.Background(), addr, scu.Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	_, err = a.Find(ctx, dimse.ModalityWorklistFind, []byte{}, func([]byte) error { cancel(); return nil })
	if err == nil {
		t.Fatal("Find succeeded without a final response")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("Find returned after %v; the cancel grace should bound it", d)
	}
	if err := a.Echo(context.Background()); err == nil {
		t.Error("association still usable after an unanswered cancel")
	}
}
