package scp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// ImplementationClassUID and ImplementationVersionName are what the server
// sends in its A-ASSOCIATE-AC.
const (
	ImplementationClassUID    = dimse.ImplementationClassUID
	ImplementationVersionName = dimse.ImplementationVersionName
)

// Defaults for Config fields left zero.
const (
	DefaultMaxAssociations = 64
	DefaultARTIMTimeout    = 10 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultWriteTimeout    = 30 * time.Second
	// DefaultMaxPending bounds connections that have not associated yet.
	// They do not count against MaxAssociations, but each holds a socket
	// until the ARTIM timer ends it, so they need a limit of their own.
	DefaultMaxPending = 512
)

// Config configures a Server. The zero value of every field but AETitle
// selects a sensible default.
type Config struct {
	// AETitle is our AE title, sent back to peers.
	AETitle string
	// StrictCalledAE rejects associations whose called AE is not AETitle
	// (A-ASSOCIATE-RJ "called AE not recognised"); otherwise any called AE
	// is accepted, which is what most clinics want on first setup.
	StrictCalledAE bool
	// AllowAssociation, if set, vets the calling AE and address.
	AllowAssociation AllowFunc
	// MaxAssociations caps concurrent accepted associations; beyond it
	// peers get a transient "local limit exceeded" rejection.
	MaxAssociations int
	// MaxPending caps connections that have not sent an A-ASSOCIATE-RQ yet;
	// beyond it new connections are closed at once.
	MaxPending int
	// MaxPDULength is the receive limit we advertise (default 16 KiB).
	MaxPDULength uint32
	// MaxDataSetLength bounds one received data set (default 1 MiB).
	MaxDataSetLength int
	// ARTIMTimeout bounds the wait for an A-ASSOCIATE-RQ after connect.
	ARTIMTimeout time.Duration
	// IdleTimeout ends an association on which nothing arrives for so long
	// while no request is being served.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write, so a peer that stops reading only
	// ends its own association.
	WriteTimeout time.Duration

	Find FindHandler
	MPPS MPPSHandler
	// OnAssociation, if set, is called for every association accepted,
	// rejected and ended. It runs on the association's goroutine and
	// should not block.
	OnAssociation func(AssociationEvent)
	Logger        *slog.Logger
}

// Server serves DICOM associations.
type Server struct {
	cfg       Config
	log       *slog.Logger
	readLimit uint32
	active    atomic.Int64
	pending   atomic.Int64
	wg        sync.WaitGroup
}

// New returns a server for cfg with defaults applied.
func New(cfg Config) *Server {
	if cfg.MaxAssociations <= 0 {
		cfg.MaxAssociations = DefaultMaxAssociations
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxPDULength == 0 {
		cfg.MaxPDULength = pdu.DefaultMaxPDULength
	}
	if cfg.MaxDataSetLength <= 0 {
		cfg.MaxDataSetLength = dimse.DefaultMaxDataSetLength
	}
	if cfg.ARTIMTimeout <= 0 {
		cfg.ARTIMTimeout = DefaultARTIMTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		cfg: cfg,
		log: log.With("component", "dicom-scp"),
		// Some devices overrun the advertised maximum slightly; accepting
		// up to four times it (at least 64 KiB) tolerates them while still
		// bounding what one PDU can make us allocate.
		readLimit: max(4*cfg.MaxPDULength, 64<<10),
	}
}

// ActiveAssociations returns the number of associations currently accepted.
func (s *Server) ActiveAssociations() int { return int(s.active.Load()) }

// ListenAndServe listens on addr (e.g. ":104" or "127.0.0.1:11112") and
// serves until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for DICOM on %s: %w (is another DICOM server using the port, or does it need administrator rights?)", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx is cancelled, then aborts the
// associations still open, waits for their goroutines and returns nil. It
// closes ln. Any other accept failure is returned after the same cleanup.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := validAETitle(s.cfg.AETitle, s.cfg.StrictCalledAE); err != nil {
		ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.log.Info("DICOM server listening", "addr", ln.Addr().String(), "ae", s.cfg.AETitle)

	var retErr error
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, net.ErrClosed) {
				retErr = fmt.Errorf("DICOM listener closed: %w", err)
				break
			}
			// Running out of file descriptors or similar: wait and retry
			// rather than drop the service.
			s.log.Warn("accepting DICOM connection failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if s.pending.Add(1) > int64(s.cfg.MaxPending) {
			s.pending.Add(-1)
			s.log.Warn("too many connections waiting to associate; closing new one", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
	cancel()
	ln.Close()
	s.wg.Wait()
	s.log.Info("DICOM server stopped", "addr", ln.Addr().String())
	return retErr
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	pendingHeld := true
	releasePending := func() {
		if pendingHeld {
			pendingHeld = false
			s.pending.Add(-1)
		}
	}
	defer releasePending()
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		// Responses are written whole; Nagle would only delay the last PDU.
		tc.SetNoDelay(true)
	}
	remote := conn.RemoteAddr().String()
	log := s.log.With("remote", remote)
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic while negotiating an association; aborting it", "panic", r)
			s.writePDU(conn, &pdu.Abort{Source: pdu.AbortSourceProvider})
		}
	}()

	// ARTIM: a peer that connects and says nothing must not hold the socket.
	if err := conn.SetReadDeadline(time.Now().Add(s.cfg.ARTIMTimeout)); err != nil {
		return
	}
	stopWatch := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	t, body, err := pdu.ReadRaw(conn, s.readLimit, nil)
	stopWatch()
	if err != nil {
		if ctx.Err() == nil {
			log.Debug("connection ended before A-ASSOCIATE-RQ", "err", err)
		}
		if errors.Is(err, pdu.ErrTooLong) || errors.Is(err, pdu.ErrUnknownType) {
			s.writePDU(conn, &pdu.Abort{Source: pdu.AbortSourceProvider, Reason: abortReason(err)})
		}
		return
	}
	if t != pdu.TypeAssociateRQ {
		log.Debug("expected A-ASSOCIATE-RQ", "got", t.String())
		s.writePDU(conn, &pdu.Abort{Source: pdu.AbortSourceProvider, Reason: pdu.AbortReasonUnexpectedPDU})
		return
	}
	p, err := pdu.Decode(t, body)
	if err != nil {
		log.Info("malformed A-ASSOCIATE-RQ; aborting", "err", err)
		s.writePDU(conn, &pdu.Abort{Source: pdu.AbortSourceProvider, Reason: pdu.AbortReasonInvalidPDUParm})
		return
	}
	rq := p.(*pdu.AssociateRQ)
	peer := Peer{CallingAE: rq.CallingAE, CalledAE: rq.CalledAE, Addr: remote}
	log = log.With("calling_ae", rq.CallingAE, "called_ae", rq.CalledAE)

	if rj, reason := s.vet(rq, conn.RemoteAddr(), log); rj != nil {
		s.reject(ctx, conn, peer, rj, reason, log)
		return
	}
	ac, accepted := s.negotiate(rq)
	// The cap counts associations, not connections: idle sockets waiting
	// for ARTIM never block a real query.
	if s.active.Add(1) > int64(s.cfg.MaxAssociations) {
		s.active.Add(-1)
		s.reject(ctx, conn, peer, &pdu.AssociateRJ{Result: pdu.RJResultTransient, Source: pdu.RJSourceProviderPresentn, Reason: pdu.RJReasonLocalLimitExceeded},
			fmt.Sprintf("more than %d associations at once", s.cfg.MaxAssociations), log)
		return
	}
	defer s.active.Add(-1)
	releasePending()

	var syntaxes []string
	for _, c := range accepted {
		syntaxes = append(syntaxes, c.abstract)
	}
	// Modalities associate for every query; routine traffic logs at debug.
	log.Debug("association accepted", "contexts", len(accepted), "peer_max_pdu", rq.UserInfo.MaxLength)
	s.event(AssociationEvent{Kind: Accepted, Peer: peer, AbstractSyntaxes: syntaxes})
	if err := s.writePDU(conn, ac); err != nil {
		log.Info("sending A-ASSOCIATE-AC failed", "err", err)
		s.event(AssociationEvent{Kind: Ended, Peer: peer, Reason: "sending A-ASSOCIATE-AC failed"})
		return
	}

	a := newAssociation(s, conn, peer, accepted, rq.UserInfo.MaxLength, log)
	reason, requests := a.run(ctx)
	level := slog.LevelDebug
	if reason != "released" {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "association ended", "reason", reason, "requests", requests)
	s.event(AssociationEvent{Kind: Ended, Peer: peer, Reason: reason, Requests: requests})
}

func (s *Server) event(ev AssociationEvent) {
	if s.cfg.OnAssociation == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("OnAssociation hook panicked", "panic", r)
		}
	}()
	s.cfg.OnAssociation(ev)
}

func (s *Server) reject(ctx context.Context, conn net.Conn, peer Peer, rj *pdu.AssociateRJ, reason string, log *slog.Logger) {
	log.Info("association rejected", "reason", reason)
	// The event goes first so that the application has recorded it by the
	// time the peer learns of the rejection.
	s.event(AssociationEvent{Kind: Rejected, Peer: peer, Reason: reason})
	s.writePDU(conn, rj)
	// Give the peer a moment to read the rejection and close first, so it
	// sees the RJ rather than a reset.
	conn.SetReadDeadline(time.Now().Add(min(s.cfg.ARTIMTimeout, time.Second)))
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	var sink [64]byte
	for {
		if _, err := conn.Read(sink[:]); err != nil {
			return
		}
	}
}

// vet applies the protocol checks and the AE policy. It returns a rejection
// or nil.
func (s *Server) vet(rq *pdu.AssociateRQ, addr net.Addr, log *slog.Logger) (*pdu.AssociateRJ, string) {
	if rq.ProtocolVersion&1 == 0 {
		return &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceProviderACSE, Reason: pdu.RJReasonProtocolVersionNotSupp},
			fmt.Sprintf("protocol version 0x%04X not supported", rq.ProtocolVersion)
	}
	if rq.ApplicationContext != pdu.ApplicationContextName {
		return &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceUser, Reason: pdu.RJReasonAppContextNotSupp},
			fmt.Sprintf("application context %q not supported", rq.ApplicationContext)
	}
	if s.cfg.StrictCalledAE && rq.CalledAE != s.cfg.AETitle {
		return &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceUser, Reason: pdu.RJReasonCalledAENotRecog},
			fmt.Sprintf("called AE %q is not ours (%q): set the modality's worklist AE title to %q", rq.CalledAE, s.cfg.AETitle, s.cfg.AETitle)
	}
	if s.cfg.AllowAssociation != nil {
		var ip netip.Addr
		if ta, ok := addr.(*net.TCPAddr); ok {
			ip = ta.AddrPort().Addr().Unmap()
		}
		if err := s.cfg.AllowAssociation(rq.CallingAE, rq.CalledAE, ip); err != nil {
			return &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceUser, Reason: pdu.RJReasonCallingAENotRecog},
				fmt.Sprintf("calling AE %q from %s not allowed: %v", rq.CallingAE, ip, err)
		}
	}
	return nil, ""
}

type acceptedContext struct {
	id       byte
	abstract string
	syntax   TransferSyntax
}

// negotiate answers every proposed context: supported abstract syntaxes get
// the best transfer syntax of those offered.
func (s *Server) negotiate(rq *pdu.AssociateRQ) (*pdu.AssociateAC, []acceptedContext) {
	ac := &pdu.AssociateAC{
		ProtocolVersion:    1,
		CalledAE:           rq.CalledAE,
		CallingAE:          rq.CallingAE,
		ApplicationContext: pdu.ApplicationContextName,
		UserInfo: pdu.UserInfo{
			MaxLength:                 s.cfg.MaxPDULength,
			ImplementationClassUID:    ImplementationClassUID,
			ImplementationVersionName: ImplementationVersionName,
		},
	}
	var accepted []acceptedContext
	seen := map[byte]bool{}
	for _, pc := range rq.PresentationContexts {
		if seen[pc.ID] {
			continue // a duplicate ID would make PDVs ambiguous; answer the first only
		}
		seen[pc.ID] = true
		res := pdu.PresentationContextAC{ID: pc.ID, Result: pdu.ResultAbstractSyntaxNotSupported, TransferSyntax: dimse.ImplicitVRLittleEndian}
		if s.supports(pc.AbstractSyntax) {
			res.Result = pdu.ResultTransferSyntaxNotSupported
			if ts, ok := ChooseTransferSyntax(pc.TransferSyntaxes); ok {
				res.Result, res.TransferSyntax = pdu.ResultAcceptance, ts.UID
				accepted = append(accepted, acceptedContext{id: pc.ID, abstract: pc.AbstractSyntax, syntax: ts})
			}
		}
		ac.PresentationContexts = append(ac.PresentationContexts, res)
	}
	return ac, accepted
}

func (s *Server) supports(abstract string) bool {
	switch abstract {
	case dimse.VerificationSOPClass:
		return true
	case dimse.ModalityWorklistFind:
		return s.cfg.Find != nil
	case dimse.MPPSSOPClass:
		return s.cfg.MPPS != nil
	}
	return false
}

// ChooseTransferSyntax picks from the offered UIDs by our preference:
// Explicit VR LE, then Implicit VR LE, then Explicit VR BE.
func ChooseTransferSyntax(offered []string) (TransferSyntax, bool) {
	for _, want := range dimse.PreferredTransferSyntaxes {
		for _, o := range offered {
			if o == want {
				return dimse.LookupTransferSyntax(want)
			}
		}
	}
	return TransferSyntax{}, false
}

func (s *Server) writePDU(conn net.Conn, p pdu.PDU) error {
	b, err := p.Append(nil)
	if err != nil {
		return err
	}
	if err := conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err = conn.Write(b)
	return err
}

// validAETitle checks our AE title as PS3.5 defines AE: at most 16
// characters of the default repertoire without backslash or control
// characters, not only spaces.
func validAETitle(ae string, required bool) error {
	if strings.TrimSpace(ae) == "" {
		if required {
			return errors.New("StrictCalledAE needs an AE title: set the server's AE title (e.g. VETBRIDGE) in the DICOM settings")
		}
		return nil
	}
	if len(ae) > 16 {
		return fmt.Errorf("AE title %q is longer than 16 characters: shorten it in the DICOM settings", ae)
	}
	for _, r := range ae {
		if r < 0x20 || r > 0x7E || r == '\\' {
			return fmt.Errorf("AE title %q may hold only printable ASCII without backslash: change it in the DICOM settings", ae)
		}
	}
	return nil
}
