// Package scu is a DICOM client for the services VetBridge serves: C-ECHO,
// Modality Worklist C-FIND (streamed, cancellable), and MPPS N-CREATE/N-SET.
// It backs the `vetbridge echo` and `vetbridge find` diagnostics, the tests
// and the benchmarks, and talks to DCMTK's wlmscpfs as well as to our server.
// It also asks a PACS which studies it holds (Study Root C-FIND, FindStudies).
//
// An Assoc runs one operation at a time, as an association without
// negotiated asynchronous operations must.
package scu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// TransferSyntax describes a negotiated transfer syntax.
type TransferSyntax = dimse.TransferSyntax

// ImplementationClassUID and ImplementationVersionName are what the client
// sends in its A-ASSOCIATE-RQ.
const (
	ImplementationClassUID    = dimse.ImplementationClassUID
	ImplementationVersionName = dimse.ImplementationVersionName
)

// Context is one presentation context to propose.
type Context struct {
	AbstractSyntax   string
	TransferSyntaxes []string
}

// DefaultContexts proposes Verification, MWL FIND and MPPS, each with
// Explicit and Implicit VR Little Endian.
func DefaultContexts() []Context {
	ts := []string{dimse.ExplicitVRLittleEndian, dimse.ImplicitVRLittleEndian}
	return []Context{
		{dimse.VerificationSOPClass, ts},
		{dimse.ModalityWorklistFind, ts},
		{dimse.MPPSSOPClass, ts},
	}
}

// Options configures an association.
type Options struct {
	CallingAE string // our AE title; default "VETBRIDGE"
	CalledAE  string // the server's AE title; default "ANY-SCP"
	// Contexts to propose; default DefaultContexts().
	Contexts []Context
	// MaxPDULength is the receive limit we advertise (default 16 KiB).
	MaxPDULength uint32
	// Timeout bounds association setup and the wait for each response
	// (default 30 s).
	Timeout time.Duration
	// MaxDataSetLength bounds each received data set (default 1 MiB).
	MaxDataSetLength int
	Logger           *slog.Logger
}

// RejectedError is returned by Dial when the server sends A-ASSOCIATE-RJ.
type RejectedError struct{ RJ pdu.AssociateRJ }

func (e *RejectedError) Error() string {
	hint := ""
	switch {
	case e.RJ.Source == pdu.RJSourceUser && e.RJ.Reason == pdu.RJReasonCalledAENotRecog:
		hint = "; check the called AE title"
	case e.RJ.Source == pdu.RJSourceUser && e.RJ.Reason == pdu.RJReasonCallingAENotRecog:
		hint = "; the server does not know our calling AE title or address"
	case e.RJ.Result == pdu.RJResultTransient:
		hint = "; try again later"
	}
	return fmt.Sprintf("association rejected: %s%s", e.RJ.Describe(), hint)
}

// AbortedError is returned when the peer aborts the association.
type AbortedError struct{ Source, Reason byte }

func (e *AbortedError) Error() string {
	return fmt.Sprintf("association aborted by the peer (source %d, reason %d)", e.Source, e.Reason)
}

// ErrClosed is returned by operations on an association that has ended.
var ErrClosed = errors.New("association closed")

// Assoc is an established association.
type Assoc struct {
	conn    net.Conn
	opts    Options
	log     *slog.Logger
	ac      *pdu.AssociateAC
	byID    map[byte]accepted
	byClass map[string]accepted

	opMu   sync.Mutex // one operation at a time
	wmu    sync.Mutex // guards writes and frag (C-CANCEL is written concurrently)
	frag   dimse.Fragmenter
	asm    dimse.Assembler
	buf    []byte
	pdvs   []pdu.PDV
	queued []dimse.Message // messages that arrived packed in one PDU
	nextID uint16
	closed bool
}

type accepted struct {
	id       byte
	abstract string
	syntax   TransferSyntax
}

// Dial connects to addr and negotiates an association.
func Dial(ctx context.Context, addr string, opts Options) (*Assoc, error) {
	opts = withDefaults(opts)
	d := net.Dialer{Timeout: opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to DICOM server %s: %w (check host, port and that the server runs)", addr, err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	a, err := Associate(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return a, nil
}

func withDefaults(o Options) Options {
	if o.CallingAE == "" {
		o.CallingAE = "VETBRIDGE"
	}
	if o.CalledAE == "" {
		o.CalledAE = "ANY-SCP"
	}
	if len(o.Contexts) == 0 {
		o.Contexts = DefaultContexts()
	}
	if o.MaxPDULength == 0 {
		o.MaxPDULength = pdu.DefaultMaxPDULength
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxDataSetLength <= 0 {
		o.MaxDataSetLength = dimse.DefaultMaxDataSetLength
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Associate negotiates an association over an open connection, which the
// Assoc then owns.
func Associate(ctx context.Context, conn net.Conn, opts Options) (*Assoc, error) {
	opts = withDefaults(opts)
	if len(opts.Contexts) > 128 {
		return nil, fmt.Errorf("%d presentation contexts proposed; DICOM allows at most 128", len(opts.Contexts))
	}
	rq := &pdu.AssociateRQ{
		ProtocolVersion:    1,
		CalledAE:           opts.CalledAE,
		CallingAE:          opts.CallingAE,
		ApplicationContext: pdu.ApplicationContextName,
		UserInfo: pdu.UserInfo{
			MaxLength:                 opts.MaxPDULength,
			ImplementationClassUID:    ImplementationClassUID,
			ImplementationVersionName: ImplementationVersionName,
		},
	}
	for i, c := range opts.Contexts {
		rq.PresentationContexts = append(rq.PresentationContexts, pdu.PresentationContextRQ{
			ID: byte(2*i + 1), AbstractSyntax: c.AbstractSyntax, TransferSyntaxes: c.TransferSyntaxes,
		})
	}
	b, err := rq.Append(nil)
	if err != nil {
		return nil, fmt.Errorf("building A-ASSOCIATE-RQ: %w", err)
	}
	deadline := time.Now().Add(opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("sending A-ASSOCIATE-RQ: %w", ctxErr(ctx, err))
	}
	p, err := pdu.Read(conn, max(opts.MaxPDULength, 64<<10), nil)
	if err != nil {
		return nil, fmt.Errorf("waiting for the association answer: %w", ctxErr(ctx, err))
	}
	conn.SetDeadline(time.Time{})
	a := &Assoc{
		conn:    conn,
		opts:    opts,
		log:     opts.Logger.With("component", "dicom-scu", "remote", conn.RemoteAddr().String()),
		byID:    map[byte]accepted{},
		byClass: map[string]accepted{},
		nextID:  1,
	}
	a.asm.MaxDataSetLength = opts.MaxDataSetLength
	switch p := p.(type) {
	case *pdu.AssociateAC:
		a.ac = p
	case *pdu.AssociateRJ:
		return nil, &RejectedError{RJ: *p}
	case *pdu.Abort:
		return nil, &AbortedError{Source: p.Source, Reason: p.Reason}
	default:
		return nil, fmt.Errorf("unexpected %s in answer to A-ASSOCIATE-RQ", p.Type())
	}
	proposed := map[byte]pdu.PresentationContextRQ{}
	for _, pc := range rq.PresentationContexts {
		proposed[pc.ID] = pc
	}
	for _, pc := range a.ac.PresentationContexts {
		prop, ok := proposed[pc.ID]
		if !ok || pc.Result != pdu.ResultAcceptance {
			continue
		}
		ts, ok := dimse.LookupTransferSyntax(pc.TransferSyntax)
		if !ok {
			continue // accepted with a syntax we cannot encode; unusable
		}
		acc := accepted{id: pc.ID, abstract: prop.AbstractSyntax, syntax: ts}
		a.byID[pc.ID] = acc
		if _, dup := a.byClass[acc.abstract]; !dup {
			a.byClass[acc.abstract] = acc
		}
	}
	a.frag.PeerMaxPDU = a.ac.UserInfo.MaxLength
	if len(a.byID) == 0 {
		a.Abort()
		return nil, errors.New("the server accepted none of the proposed services or transfer syntaxes")
	}
	return a, nil
}

// ctxErr reports the context's error in place of the I/O error it caused.
// A deadline can expire on the socket a moment before ctx.Err() is set.
func ctxErr(ctx context.Context, err error) error {
	if e := ctx.Err(); e != nil {
		return e
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return err
}

// Syntax returns the transfer syntax accepted for a SOP class; identifiers
// and data sets sent for it must be encoded in it.
func (a *Assoc) Syntax(sopClass string) (TransferSyntax, bool) {
	acc, ok := a.byClass[sopClass]
	return acc.syntax, ok
}

// PeerMaxPDU is the peer's advertised receive limit (0: none).
func (a *Assoc) PeerMaxPDU() uint32 { return a.ac.UserInfo.MaxLength }

// PeerImplementation returns the peer's implementation class UID and version.
func (a *Assoc) PeerImplementation() (string, string) {
	return a.ac.UserInfo.ImplementationClassUID, a.ac.UserInfo.ImplementationVersionName
}

func (a *Assoc) context(sopClass string) (accepted, error) {
	acc, ok := a.byClass[sopClass]
	if !ok {
		return acc, fmt.Errorf("the server did not accept SOP class %s on this association", sopClass)
	}
	return acc, nil
}

func (a *Assoc) msgID() uint16 {
	id := a.nextID
	a.nextID++
	if a.nextID == 0 {
		a.nextID = 1
	}
	return id
}

func (a *Assoc) write(ctxID byte, cmd *dimse.Command, data []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	a.conn.SetWriteDeadline(time.Now().Add(a.opts.Timeout))
	return a.frag.Write(a.conn, ctxID, cmd, data)
}

// fail ends the association after an error that leaves the stream in an
// unknown state.
func (a *Assoc) fail(err error) error {
	var ab *AbortedError
	if !errors.As(err, &ab) {
		a.Abort()
	}
	a.closed = true
	a.conn.Close()
	return err
}

// readMessage reads PDUs until one message is complete.
func (a *Assoc) readMessage(ctx context.Context, timeout time.Duration) (dimse.Message, error) {
	if len(a.queued) > 0 {
		m := a.queued[0]
		a.queued = a.queued[1:]
		return m, nil
	}
	for {
		a.conn.SetReadDeadline(time.Now().Add(timeout))
		if err := ctx.Err(); err != nil {
			// Checked after setting the deadline so a cancel that races
			// with it is not lost.
			return dimse.Message{}, err
		}
		t, body, err := pdu.ReadRaw(a.conn, max(4*a.opts.MaxPDULength, 64<<10), a.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
				err = fmt.Errorf("no answer from the DICOM server within %v: %w", timeout, err)
			}
			return dimse.Message{}, ctxErr(ctx, err)
		}
		a.buf = body[:0]
		if t == pdu.TypePDataTF {
			a.pdvs, err = pdu.AppendPDVs(a.pdvs[:0], body)
			if err != nil {
				return dimse.Message{}, err
			}
			msgs, err := a.asm.Add(a.pdvs)
			if err != nil {
				return dimse.Message{}, err
			}
			if len(msgs) == 0 {
				continue
			}
			for _, m := range msgs {
				if _, ok := a.byID[m.ContextID]; !ok {
					return dimse.Message{}, fmt.Errorf("response on unaccepted presentation context %d", m.ContextID)
				}
			}
			// Several C-FIND responses may share one PDU; keep the rest
			// for the next call (the Assembler reuses its result slice).
			a.queued = append(a.queued, msgs[1:]...)
			return msgs[0], nil
		}
		p, err := pdu.Decode(t, body)
		if err != nil {
			return dimse.Message{}, err
		}
		switch p := p.(type) {
		case *pdu.Abort:
			return dimse.Message{}, &AbortedError{Source: p.Source, Reason: p.Reason}
		default:
			return dimse.Message{}, fmt.Errorf("unexpected %s from the server", p.Type())
		}
	}
}

// roundTrip sends a request and reads its single response.
func (a *Assoc) roundTrip(ctx context.Context, acc accepted, cmd *dimse.Command, data []byte) (dimse.Message, error) {
	if a.closed {
		return dimse.Message{}, ErrClosed
	}
	stop := context.AfterFunc(ctx, func() { a.conn.SetReadDeadline(time.Now()) })
	defer stop()
	if err := a.write(acc.id, cmd, data); err != nil {
		return dimse.Message{}, a.fail(fmt.Errorf("sending %s: %w", dimse.Name(cmd.CommandField), err))
	}
	m, err := a.readMessage(ctx, a.opts.Timeout)
	if err != nil {
		return m, a.fail(fmt.Errorf("reading %s response: %w", dimse.Name(cmd.CommandField), err))
	}
	if m.Command.CommandField != cmd.CommandField|dimse.ResponseBit || m.Command.MessageIDBeingRespondedTo != cmd.MessageID {
		return m, a.fail(fmt.Errorf("got %s for message %d in answer to %s %d", dimse.Name(m.Command.CommandField),
			m.Command.MessageIDBeingRespondedTo, dimse.Name(cmd.CommandField), cmd.MessageID))
	}
	return m, nil
}

// Echo sends a C-ECHO and checks for success.
func (a *Assoc) Echo(ctx context.Context) error {
	a.opMu.Lock()
	defer a.opMu.Unlock()
	acc, err := a.context(dimse.VerificationSOPClass)
	if err != nil {
		return err
	}
	m, err := a.roundTrip(ctx, acc, &dimse.Command{CommandField: dimse.CEchoRQ, MessageID: a.msgID(), AffectedSOPClassUID: acc.abstract}, nil)
	if err != nil {
		return err
	}
	if m.Command.Status != dimse.StatusSuccess {
		return fmt.Errorf("C-ECHO failed with status 0x%04X", m.Command.Status)
	}
	return nil
}

// Find sends a C-FIND with the identifier (encoded in Syntax(sopClass)) and
// calls each for every pending response's identifier as it arrives. It
// returns the final status. When ctx is cancelled or each returns an error,
// Find sends C-CANCEL and still waits for the final response (0xFE00 when
// the server honours the cancel), returning the status together with the
// context's or callback's error.
func (a *Assoc) Find(ctx context.Context, sopClass string, identifier []byte, each func(identifier []byte) error) (uint16, error) {
	a.opMu.Lock()
	defer a.opMu.Unlock()
	if a.closed {
		return 0, ErrClosed
	}
	acc, err := a.context(sopClass)
	if err != nil {
		return 0, err
	}
	rq := &dimse.Command{CommandField: dimse.CFindRQ, MessageID: a.msgID(), AffectedSOPClassUID: sopClass, HasDataSet: true, Priority: dimse.PriorityMedium}
	if err := a.write(acc.id, rq, identifier); err != nil {
		return 0, a.fail(fmt.Errorf("sending C-FIND-RQ: %w", err))
	}
	var cancelOnce sync.Once
	var cbErr error
	cancel := func() {
		cancelOnce.Do(func() {
			c := &dimse.Command{CommandField: dimse.CCancelRQ, MessageIDBeingRespondedTo: rq.MessageID}
			if err := a.write(acc.id, c, nil); err != nil {
				a.conn.SetReadDeadline(time.Now())
			}
		})
	}
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	// Reads run on a context that outlives ctx: after a cancel we still
	// want the final response, bounded by the timeout.
	rctx := context.WithoutCancel(ctx)
	for {
		timeout := a.opts.Timeout
		if cbErr != nil || ctx.Err() != nil {
			// The caller has given up; a server that ignores C-CANCEL
			// must not keep it waiting for the whole timeout.
			timeout = min(timeout, cancelGrace)
		}
		m, err := a.readMessage(rctx, timeout)
		if err != nil {
			return 0, a.fail(fmt.Errorf("reading C-FIND response: %w", err))
		}
		c := m.Command
		if c.CommandField != dimse.CFindRSP || c.MessageIDBeingRespondedTo != rq.MessageID {
			return 0, a.fail(fmt.Errorf("got %s for message %d during C-FIND %d", dimse.Name(c.CommandField), c.MessageIDBeingRespondedTo, rq.MessageID))
		}
		if !dimse.IsPending(c.Status) {
			if cbErr != nil {
				return c.Status, cbErr
			}
			return c.Status, ctx.Err()
		}
		if cbErr != nil || ctx.Err() != nil {
			continue // cancelled: drain until the final response
		}
		if m.Data == nil {
			continue // pending without identifier; nothing to report
		}
		if err := each(m.Data); err != nil {
			cbErr = err
			cancel()
		}
	}
}

// cancelGrace bounds the wait for the final C-FIND response after a cancel.
const cancelGrace = 5 * time.Second

// Response is an N-CREATE or N-SET answer.
type Response struct {
	Status                 uint16
	ErrorID                uint16
	ErrorComment           string
	AttributeIdentifiers   []uint32 // (0000,1005) of a failure
	AffectedSOPInstanceUID string
	Dataset                []byte
}

// NCreate sends an N-CREATE; instanceUID may be empty for the server to
// assign one (returned in Response.AffectedSOPInstanceUID).
func (a *Assoc) NCreate(ctx context.Context, sopClass, instanceUID string, dataset []byte) (*Response, error) {
	return a.nRequest(ctx, &dimse.Command{CommandField: dimse.NCreateRQ, AffectedSOPClassUID: sopClass, AffectedSOPInstanceUID: instanceUID}, dataset)
}

// NSet sends an N-SET for an existing instance.
func (a *Assoc) NSet(ctx context.Context, sopClass, instanceUID string, dataset []byte) (*Response, error) {
	return a.nRequest(ctx, &dimse.Command{CommandField: dimse.NSetRQ, RequestedSOPClassUID: sopClass, RequestedSOPInstanceUID: instanceUID}, dataset)
}

func (a *Assoc) nRequest(ctx context.Context, cmd *dimse.Command, dataset []byte) (*Response, error) {
	a.opMu.Lock()
	defer a.opMu.Unlock()
	acc, err := a.context(cmd.SOPClassUID())
	if err != nil {
		return nil, err
	}
	cmd.MessageID = a.msgID()
	cmd.HasDataSet = dataset != nil
	m, err := a.roundTrip(ctx, acc, cmd, dataset)
	if err != nil {
		return nil, err
	}
	return &Response{
		Status:                 m.Command.Status,
		ErrorID:                m.Command.ErrorID,
		ErrorComment:           m.Command.ErrorComment,
		AttributeIdentifiers:   m.Command.AttributeIdentifiers,
		AffectedSOPInstanceUID: m.Command.AffectedSOPInstanceUID,
		Dataset:                m.Data,
	}, nil
}

// Release ends the association in order: A-RELEASE-RQ, wait for the RP,
// close.
func (a *Assoc) Release(ctx context.Context) error {
	a.opMu.Lock()
	defer a.opMu.Unlock()
	if a.closed {
		return ErrClosed
	}
	a.closed = true
	defer a.conn.Close()
	stop := context.AfterFunc(ctx, func() { a.conn.SetDeadline(time.Now()) })
	defer stop()
	b, _ := (&pdu.ReleaseRQ{}).Append(nil)
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(a.opts.Timeout))
	_, err := a.conn.Write(b)
	a.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("sending A-RELEASE-RQ: %w", ctxErr(ctx, err))
	}
	for {
		a.conn.SetReadDeadline(time.Now().Add(a.opts.Timeout))
		p, err := pdu.Read(a.conn, max(4*a.opts.MaxPDULength, 64<<10), a.buf)
		if err != nil {
			return fmt.Errorf("waiting for A-RELEASE-RP: %w", ctxErr(ctx, err))
		}
		switch p := p.(type) {
		case *pdu.ReleaseRP:
			return nil
		case *pdu.Abort:
			return &AbortedError{Source: p.Source, Reason: p.Reason}
		case *pdu.PDataTF:
			// A response to a cancelled request may still be in flight.
			continue
		default:
			return fmt.Errorf("unexpected %s while releasing", p.Type())
		}
	}
}

// Abort sends A-ABORT and closes the connection. It is safe to call at any
// time, also concurrently with an operation, which then fails.
func (a *Assoc) Abort() error {
	b, _ := (&pdu.Abort{Source: pdu.AbortSourceUser}).Append(nil)
	a.wmu.Lock()
	a.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err := a.conn.Write(b)
	a.wmu.Unlock()
	a.conn.Close()
	return err
}
