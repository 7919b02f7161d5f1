package scp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// ErrCancelled is returned by a FindHandler's send once the peer has sent
// C-CANCEL for the query.
var ErrCancelled = errors.New("C-FIND cancelled by the peer")

// ErrAssociationGone is returned by send once the association has ended.
var ErrAssociationGone = errors.New("association ended")

// maxQueued bounds requests a peer may pipeline. Without negotiated
// asynchronous operations it should never have more than one outstanding,
// but a few small pipelined requests are tolerated. Their data sets together
// are also bounded (see dispatch), so that a peer's requests in memory never
// exceed MaxDataSetLength plus the one being assembled. One slot is kept for
// the release.
const maxQueued = 16

// Pending C-FIND responses are coalesced: they are packed into few PDUs and
// written together, because one write (and, on the peer, two reads) per
// response made the syscalls cost more than finding and encoding the
// answers. A batch is written once it reaches coalesceBytes, when the final
// response goes out, or coalesceDelay after its first response at the
// latest, so a handler that pauses between matches holds nothing back for
// long.
const (
	coalesceBytes = 32 << 10
	coalesceDelay = time.Millisecond
)

// work is what the reader hands the worker: a request or the release.
type work struct {
	msg     dimse.Message
	release bool
}

type association struct {
	s        *Server
	conn     net.Conn
	peer     Peer
	log      *slog.Logger
	contexts map[byte]acceptedContext

	ctx    context.Context
	cancel context.CancelFunc

	// wsem serialises writes and guards out, pack and flushArmed. It is a
	// channel rather than a mutex so abort can give up waiting for a writer
	// stuck on a peer that does not read.
	wsem       chan struct{}
	out        []byte // PDUs not yet written
	pack       dimse.Packer
	flushT     *time.Timer // writes out after coalesceDelay
	flushArmed bool

	queue     chan work
	inFlight  atomic.Int32 // requests queued or being served
	heldBytes atomic.Int64 // their data sets' total size
	requests  atomic.Int32

	findMu     sync.Mutex
	findID     uint16
	findCancel context.CancelFunc // non-nil while a C-FIND runs
	findCancd  bool

	endMu     sync.Mutex
	endReason string
}

func newAssociation(s *Server, conn net.Conn, peer Peer, accepted []acceptedContext, peerMax uint32, log *slog.Logger) *association {
	a := &association{
		s:        s,
		conn:     conn,
		peer:     peer,
		log:      log,
		contexts: make(map[byte]acceptedContext, len(accepted)),
		queue:    make(chan work, maxQueued),
		wsem:     make(chan struct{}, 1),
	}
	for _, c := range accepted {
		a.contexts[c.id] = c
	}
	a.pack.PeerMaxPDU = peerMax
	return a
}

// setEnd records the first reason the association ended.
func (a *association) setEnd(reason string) {
	a.endMu.Lock()
	if a.endReason == "" {
		a.endReason = reason
	}
	a.endMu.Unlock()
}

func (a *association) end() string {
	a.endMu.Lock()
	defer a.endMu.Unlock()
	return a.endReason
}

// run reads PDUs until the association ends, with the worker serving
// requests. It returns once both are done.
func (a *association) run(parent context.Context) (string, int) {
	a.ctx, a.cancel = context.WithCancel(parent)
	defer a.cancel()
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		a.worker()
	}()
	a.read()
	close(a.queue)
	// Whatever ended the reader also ends the worker: cancel stops
	// handlers; closing the connection unblocks a write in progress.
	a.cancel()
	<-workerDone
	if a.flushT != nil {
		a.flushT.Stop()
	}
	a.conn.Close()
	return a.end(), int(a.requests.Load())
}

// abort sends an A-ABORT (best effort) and closes the connection, which ends
// both the reader and the worker.
func (a *association) abort(reason string, source, why byte) {
	a.setEnd(reason)
	a.cancel()
	// An A-ABORT cannot be slipped into the middle of another PDU; if a
	// write is stuck, closing the connection is the only way out.
	select {
	case a.wsem <- struct{}{}:
		a.conn.SetWriteDeadline(time.Now().Add(min(a.s.cfg.WriteTimeout, 2*time.Second)))
		b, _ := (&pdu.Abort{Source: source, Reason: why}).Append(nil)
		a.conn.Write(b)
		<-a.wsem
	case <-time.After(200 * time.Millisecond):
	}
	a.conn.Close()
}

func (a *association) read() {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("panic while reading from the association; aborting it", "panic", r)
			a.abort("internal error", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
		}
	}()
	stop := context.AfterFunc(a.ctx, func() { a.conn.SetReadDeadline(time.Now()) })
	defer stop()
	asm := dimse.Assembler{MaxDataSetLength: a.s.cfg.MaxDataSetLength}
	var buf []byte
	var pdvs []pdu.PDV
	released := false
	for {
		a.conn.SetReadDeadline(time.Now().Add(a.s.cfg.IdleTimeout))
		if a.ctx.Err() != nil {
			if a.end() == "" {
				a.abort("server shutting down", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
			}
			return
		}
		t, body, err := pdu.ReadRaw(a.conn, a.s.readLimit, buf)
		if err != nil {
			var ne net.Error
			switch {
			case a.ctx.Err() != nil:
				if a.end() == "" {
					a.abort("server shutting down", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
				}
			case errors.As(err, &ne) && ne.Timeout():
				if released || a.inFlight.Load() > 0 {
					// Serving a long query or finishing the release: the
					// peer's silence is expected.
					continue
				}
				a.log.Info("association idle; aborting it", "idle_timeout", a.s.cfg.IdleTimeout)
				a.abort("idle timeout", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
			case errors.Is(err, pdu.ErrTooLong) || errors.Is(err, pdu.ErrUnknownType):
				a.log.Info("bad PDU; aborting association", "err", err)
				a.abort("bad PDU: "+err.Error(), pdu.AbortSourceProvider, abortReason(err))
			default:
				if released {
					a.setEnd("released")
				} else {
					a.setEnd("connection closed by peer")
				}
			}
			return
		}
		if cap(body) <= int(a.s.readLimit) {
			buf = body[:0]
		}
		var p pdu.PDU
		if t == pdu.TypePDataTF {
			// The hot path: decode into a reused slice, no PDU value.
			pdvs, err = pdu.AppendPDVs(pdvs[:0], body)
		} else {
			p, err = pdu.Decode(t, body)
		}
		if err != nil {
			a.log.Info("malformed PDU; aborting association", "type", t.String(), "err", err)
			a.abort("malformed PDU: "+err.Error(), pdu.AbortSourceProvider, pdu.AbortReasonInvalidPDUParm)
			return
		}
		switch p.(type) {
		case nil:
			if released {
				a.abort("P-DATA after A-RELEASE-RQ", pdu.AbortSourceProvider, pdu.AbortReasonUnexpectedPDU)
				return
			}
			msgs, err := asm.Add(pdvs)
			if err != nil {
				a.log.Info("bad message; aborting association", "err", err)
				a.abort(err.Error(), pdu.AbortSourceProvider, pdu.AbortReasonUnexpectedPDUParm)
				return
			}
			for _, m := range msgs {
				if !a.dispatch(m) {
					return
				}
			}
		case *pdu.ReleaseRQ:
			if released || asm.InProgress() {
				a.abort("unexpected A-RELEASE-RQ", pdu.AbortSourceProvider, pdu.AbortReasonUnexpectedPDU)
				return
			}
			released = true
			a.inFlight.Add(1)
			a.queue <- work{release: true} // cannot block: see dispatch
		case *pdu.Abort:
			a.setEnd("aborted by peer")
			a.cancel()
			return
		default:
			a.log.Info("unexpected PDU; aborting association", "type", t.String())
			a.abort("unexpected "+t.String(), pdu.AbortSourceProvider, pdu.AbortReasonUnexpectedPDU)
			return
		}
	}
}

// dispatch routes one message from the reader. It returns false when the
// association has been aborted.
func (a *association) dispatch(m dimse.Message) bool {
	if _, ok := a.contexts[m.ContextID]; !ok {
		a.log.Info("message on a presentation context that was not accepted; aborting", "context_id", m.ContextID)
		a.abort(fmt.Sprintf("message on unaccepted context %d", m.ContextID), pdu.AbortSourceProvider, pdu.AbortReasonInvalidPDUParm)
		return false
	}
	if m.Command.CommandField == dimse.CCancelRQ {
		a.findMu.Lock()
		if a.findCancel != nil && a.findID == m.Command.MessageIDBeingRespondedTo {
			a.findCancd = true
			a.findCancel()
		}
		a.findMu.Unlock()
		// A C-CANCEL for a finished query is normal (it crossed the final
		// response) and needs no answer.
		return true
	}
	if m.Command.IsResponse() {
		a.log.Debug("ignoring unsolicited response", "command", dimse.Name(m.Command.CommandField))
		return true
	}
	// One slot stays free for the release marker, so the reader never
	// blocks on the queue.
	held := a.heldBytes.Load()
	if len(a.queue) >= maxQueued-1 || (held > 0 && held+int64(len(m.Data)) > int64(a.s.cfg.MaxDataSetLength)) {
		a.abort("too many outstanding requests", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
		return false
	}
	a.heldBytes.Add(int64(len(m.Data)))
	a.inFlight.Add(1)
	a.queue <- work{msg: m}
	return true
}

func (a *association) worker() {
	returned := false
	defer func() {
		if !returned {
			// Only runtime.Goexit in a handler gets here (panics are
			// recovered in serve); without this the reader would wait on
			// a worker that no longer exists.
			a.log.Error("request handler exited its goroutine; aborting the association")
			a.abort("internal error", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
		}
	}()
	for w := range a.queue {
		if a.ctx.Err() != nil {
			a.inFlight.Add(-1)
			continue
		}
		if w.release {
			a.wsem <- struct{}{}
			err := a.flushLocked()
			if err == nil {
				err = a.s.writePDU(a.conn, &pdu.ReleaseRP{})
			}
			<-a.wsem
			a.inFlight.Add(-1)
			a.setEnd("released")
			if err != nil {
				a.log.Debug("sending A-RELEASE-RP failed", "err", err)
			}
			// The requester closes the transport after the RP; closing
			// our side too ends the reader without waiting for it.
			a.conn.Close()
			continue
		}
		a.serve(w.msg)
		a.heldBytes.Add(-int64(len(w.msg.Data)))
		a.inFlight.Add(-1)
	}
	returned = true
}

// serve runs one request, recovering a handler panic into an A-ABORT.
func (a *association) serve(m dimse.Message) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("panic while serving a request; aborting the association", "command", dimse.Name(m.Command.CommandField), "panic", r)
			a.abort("internal error", pdu.AbortSourceProvider, pdu.AbortReasonNotSpecified)
		}
	}()
	a.requests.Add(1)
	pc := a.contexts[m.ContextID]
	cmd := m.Command
	sop := cmd.SOPClassUID()
	a.log.Debug("request", "command", dimse.Name(cmd.CommandField), "message_id", cmd.MessageID, "sop_class", sop)
	if sop != "" && sop != pc.abstract {
		a.respond(m.ContextID, cmd, dimse.StatusSOPClassNotSupported, sop)
		return
	}
	switch {
	case cmd.CommandField == dimse.CEchoRQ && pc.abstract == dimse.VerificationSOPClass:
		a.respond(m.ContextID, cmd, dimse.StatusSuccess, pc.abstract)
	case cmd.CommandField == dimse.CFindRQ && pc.abstract == dimse.ModalityWorklistFind:
		a.serveFind(m, pc)
	case (cmd.CommandField == dimse.NCreateRQ || cmd.CommandField == dimse.NSetRQ) && pc.abstract == dimse.MPPSSOPClass:
		a.serveMPPS(m, pc)
	case isKnownRequest(cmd.CommandField):
		a.respond(m.ContextID, cmd, dimse.StatusSOPClassNotSupported, pc.abstract)
	default:
		a.respond(m.ContextID, cmd, dimse.StatusUnrecognizedOperation, pc.abstract)
	}
}

func isKnownRequest(f uint16) bool {
	switch f {
	case dimse.CStoreRQ, dimse.CGetRQ, dimse.CFindRQ, dimse.CMoveRQ, dimse.CEchoRQ,
		dimse.NEventRQ, dimse.NGetRQ, dimse.NSetRQ, dimse.NActionRQ, dimse.NCreateRQ, dimse.NDeleteRQ:
		return true
	}
	return false
}

// respond sends a response without a data set.
func (a *association) respond(ctxID byte, rq *dimse.Command, status uint16, sopClass string) error {
	rsp := &dimse.Command{
		CommandField:              rq.CommandField | dimse.ResponseBit,
		MessageIDBeingRespondedTo: rq.MessageID,
		AffectedSOPClassUID:       sopClass,
		AffectedSOPInstanceUID:    rq.SOPInstanceUID(),
		Status:                    status,
	}
	return a.send(ctxID, rsp, nil)
}

// send writes one message, after any coalesced ones, under the write
// deadline.
func (a *association) send(ctxID byte, cmd *dimse.Command, data []byte) error {
	a.wsem <- struct{}{}
	defer func() { <-a.wsem }()
	if a.ctx.Err() != nil {
		return ErrAssociationGone
	}
	var err error
	if a.out, err = a.pack.Append(a.out, ctxID, cmd, data); err != nil {
		return fmt.Errorf("encoding %s: %w", dimse.Name(cmd.CommandField), err)
	}
	return a.flushLocked()
}

// sendPending queues a pending response whose command set is already
// encoded; it is written with the next batch (see coalesceBytes).
func (a *association) sendPending(ctxID byte, cmd []byte, data []byte) error {
	a.wsem <- struct{}{}
	defer func() { <-a.wsem }()
	if a.ctx.Err() != nil {
		return ErrAssociationGone
	}
	a.out = a.pack.AppendEncoded(a.out, ctxID, cmd, true, data)
	if len(a.out) >= coalesceBytes {
		return a.flushLocked()
	}
	if !a.flushArmed {
		a.flushArmed = true
		if a.flushT == nil {
			a.flushT = time.AfterFunc(coalesceDelay, a.timedFlush)
		} else {
			a.flushT.Reset(coalesceDelay)
		}
	}
	return nil
}

// timedFlush writes out responses a handler left queued while it works on
// the next match.
func (a *association) timedFlush() {
	select {
	case a.wsem <- struct{}{}:
	case <-a.ctx.Done():
		return
	}
	a.flushArmed = false
	a.flushLocked()
	<-a.wsem
}

// flushLocked writes what is queued, holding wsem. A failed write ends the
// association: its stream position is unknown.
func (a *association) flushLocked() error {
	if len(a.out) == 0 {
		return nil
	}
	if a.ctx.Err() != nil {
		a.out = a.out[:0]
		return ErrAssociationGone
	}
	err := a.conn.SetWriteDeadline(time.Now().Add(a.s.cfg.WriteTimeout))
	if err == nil {
		_, err = a.conn.Write(a.out)
	}
	a.out = a.out[:0]
	if cap(a.out) > 1<<20 {
		a.out = nil // don't pin a large answer's buffer for the association's life
	}
	if err != nil {
		a.log.Info("writing to peer failed; ending association", "err", err)
		a.setEnd("write failed: " + err.Error())
		a.cancel()
		a.conn.Close()
		return fmt.Errorf("%w: %w", ErrAssociationGone, err)
	}
	return nil
}

func (a *association) serveFind(m dimse.Message, pc acceptedContext) {
	cmd := m.Command
	if !cmd.HasDataSet {
		a.respond(m.ContextID, cmd, dimse.StatusIdentifierDoesNotMatch, pc.abstract)
		return
	}
	fctx, fcancel := context.WithCancel(a.ctx)
	defer fcancel()
	a.findMu.Lock()
	a.findID, a.findCancel, a.findCancd = cmd.MessageID, fcancel, false
	a.findMu.Unlock()

	var done atomic.Bool
	pending, err := (&dimse.Command{
		CommandField:              dimse.CFindRSP,
		MessageIDBeingRespondedTo: cmd.MessageID,
		AffectedSOPClassUID:       pc.abstract,
		HasDataSet:                true,
		Status:                    dimse.StatusPending,
	}).Encode(nil)
	if err != nil {
		a.log.Error("cannot encode the pending C-FIND response", "err", err)
		a.respond(m.ContextID, cmd, dimse.StatusUnableToProcess, pc.abstract)
		return
	}
	send := func(identifier []byte) error {
		if done.Load() {
			return errors.New("send called after the FindHandler returned")
		}
		if fctx.Err() != nil {
			if a.ctx.Err() != nil {
				return ErrAssociationGone
			}
			return ErrCancelled
		}
		return a.sendPending(m.ContextID, pending, identifier)
	}
	req := FindRequest{Peer: a.peer, SOPClassUID: pc.abstract, Syntax: pc.syntax, Identifier: m.Data}
	status := a.s.cfg.Find(fctx, req, send)
	done.Store(true)

	a.findMu.Lock()
	cancelled := a.findCancd
	a.findCancel = nil
	a.findMu.Unlock()
	if a.ctx.Err() != nil {
		return
	}
	switch {
	case cancelled:
		status = dimse.StatusCancel
	case dimse.IsPending(status):
		a.log.Error("FindHandler returned a pending status as final; answering unable to process", "status", fmt.Sprintf("0x%04X", status))
		status = dimse.StatusUnableToProcess
	}
	a.respond(m.ContextID, cmd, status, pc.abstract)
}

func (a *association) serveMPPS(m dimse.Message, pc acceptedContext) {
	cmd := m.Command
	req := MPPSRequest{Peer: a.peer, Syntax: pc.syntax, SOPClassUID: pc.abstract, SOPInstanceUID: cmd.SOPInstanceUID(), Dataset: m.Data}
	var res MPPSResponse
	if cmd.CommandField == dimse.NCreateRQ {
		res = a.s.cfg.MPPS.NCreate(a.ctx, req)
	} else {
		if req.SOPInstanceUID == "" {
			a.respond(m.ContextID, cmd, dimse.StatusNoSuchSOPInstance, pc.abstract)
			return
		}
		res = a.s.cfg.MPPS.NSet(a.ctx, req)
	}
	inst := res.AffectedSOPInstanceUID
	if inst == "" {
		inst = req.SOPInstanceUID
	}
	comment := res.ErrorComment
	if len(comment) > 64 { // LO
		comment = comment[:64]
	}
	rsp := &dimse.Command{
		CommandField:              cmd.CommandField | dimse.ResponseBit,
		MessageIDBeingRespondedTo: cmd.MessageID,
		AffectedSOPClassUID:       pc.abstract,
		AffectedSOPInstanceUID:    inst,
		Status:                    res.Status,
		ErrorID:                   res.ErrorID,
		ErrorComment:              comment,
		AttributeIdentifiers:      res.AttributeIdentifiers,
		HasDataSet:                res.Dataset != nil,
	}
	a.send(m.ContextID, rsp, res.Dataset)
}

// abortReason maps a PDU read error to the A-ABORT reason PS3.8 names.
func abortReason(err error) byte {
	if errors.Is(err, pdu.ErrUnknownType) {
		return pdu.AbortReasonUnrecognizedPDU
	}
	return pdu.AbortReasonInvalidPDUParm
}
