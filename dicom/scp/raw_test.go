package scp_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// rawClient speaks the protocol by hand, so tests can misbehave in ways a
// well-written SCU never would.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	frag dimse.Fragmenter
	asm  dimse.Assembler
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, conn: c}
}

func defaultRQ() *pdu.AssociateRQ {
	ts := []string{dimse.ImplicitVRLittleEndian, dimse.ExplicitVRLittleEndian}
	return &pdu.AssociateRQ{
		ProtocolVersion: 1, CalledAE: "VETBRIDGE", CallingAE: "RAW", ApplicationContext: pdu.ApplicationContextName,
		PresentationContexts: []pdu.PresentationContextRQ{
			{ID: 1, AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: ts},
			{ID: 3, AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: ts},
			{ID: 5, AbstractSyntax: dimse.MPPSSOPClass, TransferSyntaxes: ts},
		},
		UserInfo: pdu.UserInfo{MaxLength: 16384, ImplementationClassUID: "2.25.1"},
	}
}

// associate sends rq and returns the answer PDU.
func (c *rawClient) associate(rq *pdu.AssociateRQ) pdu.PDU {
	c.t.Helper()
	c.write(rq)
	p, err := c.read()
	if err != nil {
		c.t.Fatalf("reading association answer: %v", err)
	}
	if ac, ok := p.(*pdu.AssociateAC); ok {
		c.frag.PeerMaxPDU = ac.UserInfo.MaxLength
	}
	return p
}

func (c *rawClient) mustAssociate() *pdu.AssociateAC {
	c.t.Helper()
	p := c.associate(defaultRQ())
	ac, ok := p.(*pdu.AssociateAC)
	if !ok {
		c.t.Fatalf("association answered with %s", p.Type())
	}
	return ac
}

func (c *rawClient) write(p pdu.PDU) {
	c.t.Helper()
	b, err := p.Append(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeBytes(b)
}

func (c *rawClient) writeBytes(b []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) send(ctxID byte, cmd *dimse.Command, data []byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.frag.Write(c.conn, ctxID, cmd, data); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *rawClient) read() (pdu.PDU, error) {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return pdu.Read(c.conn, 1<<20, nil)
}

// readMessage reads until a full DIMSE message arrives; any other PDU is an
// error returned as is.
func (c *rawClient) readMessage() (dimse.Message, pdu.PDU, error) {
	for {
		p, err := c.read()
		if err != nil {
			return dimse.Message{}, nil, err
		}
		pd, ok := p.(*pdu.PDataTF)
		if !ok {
			return dimse.Message{}, p, nil
		}
		msgs, err := c.asm.Add(pd.PDVs)
		if err != nil {
			return dimse.Message{}, nil, err
		}
		if len(msgs) > 0 {
			return msgs[0], nil, nil
		}
	}
}

// expectAbort reads until an A-ABORT arrives or the server closes.
func (c *rawClient) expectAbort() {
	c.t.Helper()
	for {
		p, err := c.read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				c.t.Logf("server closed without A-ABORT: %v", err)
				return
			}
			c.t.Fatalf("waiting for A-ABORT: %v", err)
		}
		if _, ok := p.(*pdu.Abort); ok {
			return
		}
		if _, ok := p.(*pdu.PDataTF); ok {
			continue
		}
		c.t.Fatalf("got %s, want A-ABORT", p.Type())
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// expectClosed waits for the server to close the connection.
func (c *rawClient) expectClosed(within time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(within))
	var b [256]byte
	for {
		_, err := c.conn.Read(b[:])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("server kept the connection open longer than %v", within)
		}
		return
	}
}
