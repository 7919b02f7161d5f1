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
	// DefaultMaxPendingPerIP: a modality opens one connection at a time,
	// so a handful negotiating at once from one address is already odd.
	DefaultMaxPendingPerIP = 8
	// DefaultMaxAssociationsPerIP: a modality holds one or two
	// associations (worklist, MPPS); one host may not hold the server.
	DefaultMaxAssociationsPerIP = 16
	// DefaultHostLogInterval: a host that keeps being refused is logged
	// once per interval, with a count of the lines held back.
	DefaultHostLogInterval = 5 * time.Minute
	// crowdedARTIM replaces ARTIMTimeout for connections accepted while
	// their host's or the server's negotiation slots are half used: a real
	// device sends its A-ASSOCIATE-RQ within milliseconds of connecting.
	crowdedARTIM = time.Second
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
	// Admit, if set, decides who may associate ("known devices only") and
	// who is a registered device. It is asked after the protocol and
	// called-AE checks and before any capacity check, so a refused peer
	// gets its permanent A-ASSOCIATE-RJ even when the server is full.
	// Every service (C-ECHO, C-FIND, MPPS N-CREATE/N-SET) needs an
	// accepted association, so a refused peer reaches no handler.
	Admit AdmitFunc
	// AllowAssociation is the older form of Admit: a non-nil error refuses
	// with "calling AE not recognised"; an admitted peer counts as
	// unregistered. When both are set, both must admit.
	AllowAssociation AllowFunc
	// OnRefused, if set, is told of every association refused by Admit,
	// AllowAssociation or StrictCalledAE, once per attempt. It runs on the
	// connection's goroutine before the A-ASSOCIATE-RJ is sent and should
	// not block; a stranger may knock many times a second.
	OnRefused func(Refusal)
	// MaxAssociations caps concurrent accepted associations; beyond it
	// peers get a transient "local limit exceeded" rejection.
	MaxAssociations int
	// ReservedAssociations of MaxAssociations are kept for peers that
	// Admit says are registered; unregistered peers share the rest. It
	// applies only when Admit is set. Zero selects a quarter of
	// MaxAssociations; negative reserves none.
	ReservedAssociations int
	// MaxAssociationsPerIP caps accepted associations from one address
	// (an IPv6 /64), registered or not. Zero selects
	// DefaultMaxAssociationsPerIP; negative means no per-address cap.
	MaxAssociationsPerIP int
	// MaxPending caps connections that have not been answered with an
	// A-ASSOCIATE-AC or -RJ yet; beyond it new connections are closed at
	// once, before anything is read from them.
	MaxPending int
	// MaxPendingPerIP is the same cap per address (an IPv6 /64). Zero
	// selects DefaultMaxPendingPerIP; negative means MaxPending.
	MaxPendingPerIP int
	// HostLogInterval is how often Info and Warn lines about one host
	// (refusals, caps, aborts) are written at most; the next line says
	// how many were held back. Zero selects DefaultHostLogInterval.
	HostLogInterval time.Duration
	// Now is the clock for refusal times and log limiting (default
	// time.Now).
	Now func() time.Time
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
	slots     slots
	limiter   *logLimiter
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
	if cfg.HostLogInterval <= 0 {
		cfg.HostLogInterval = DefaultHostLogInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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
		slots:     newSlots(cfg),
		limiter:   &logLimiter{every: cfg.HostLogInterval, now: cfg.Now},
	}
}

// newSlots resolves the caps of cfg, whose MaxAssociations and MaxPending
// are already set.
func newSlots(cfg Config) slots {
	perHost := func(v, def, all int) int {
		switch {
		case v == 0:
			return min(def, all)
		case v < 0 || v > all:
			return all
		}
		return v
	}
	reserved := 0
	if cfg.Admit != nil {
		switch {
		case cfg.ReservedAssociations == 0:
			reserved = cfg.MaxAssociations / 4
		case cfg.ReservedAssociations > 0:
			reserved = min(cfg.ReservedAssociations, cfg.MaxAssociations)
		}
	}
	return slots{
		maxPending:        cfg.MaxPending,
		maxPendingPerHost: perHost(cfg.MaxPendingPerIP, DefaultMaxPendingPerIP, cfg.MaxPending),
		maxActive:         cfg.MaxAssociations,
		maxActivePerHost:  perHost(cfg.MaxAssociationsPerIP, DefaultMaxAssociationsPerIP, cfg.MaxAssociations),
		maxStrangers:      cfg.MaxAssociations - reserved,
	}
}

// ActiveAssociations returns the number of associations currently accepted.
func (s *Server) ActiveAssociations() int { _, n := s.slots.counts(); return n }

// PendingConnections returns the number of connections that have not been
// answered with an A-ASSOCIATE-AC or -RJ yet.
func (s *Server) PendingConnections() int { n, _ := s.slots.counts(); return n }

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
		// Counted before anything is read, so a host's silent sockets
		// cost it its own slots and nobody else's.
		ip := remoteIP(conn.RemoteAddr())
		host := hostKey(ip)
		ok, crowded, why := s.slots.takePending(host)
		if !ok {
			s.hostLogger(host).Warn("too many connections negotiating; closing new ones", "remote", conn.RemoteAddr().String(), "reason", why)
			conn.Close()
			continue
		}
		artim := s.cfg.ARTIMTimeout
		if crowded {
			artim = min(artim, crowdedARTIM)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, conn, connInfo{ip: ip, host: host, artim: artim})
		}()
	}
	cancel()
	ln.Close()
	s.wg.Wait()
	s.log.Info("DICOM server stopped", "addr", ln.Addr().String())
	return retErr
}

// connInfo is what the accept loop learnt of a connection without reading
// from it.
type connInfo struct {
	ip    netip.Addr // the peer's address, for the admission policy
	host  netip.Addr // what caps and log limits count by
	artim time.Duration
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn, ci connInfo) {
	pendingHeld := true
	releasePending := func() {
		if pendingHeld {
			pendingHeld = false
			s.slots.releasePending(ci.host)
		}
	}
	defer releasePending()
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		// Responses are written whole; Nagle would only delay the last PDU.
		tc.SetNoDelay(true)
	}
	remote := conn.RemoteAddr().String()
	log := s.hostLogger(ci.host).With("remote", remote)
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic while negotiating an association; aborting it", "panic", r)
			s.writePDU(conn, &pdu.Abort{Source: pdu.AbortSourceProvider})
		}
	}()

	// ARTIM: a peer that connects and says nothing must not hold the socket.
	if err := conn.SetReadDeadline(time.Now().Add(ci.artim)); err != nil {
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

	v := s.vet(rq, ci.ip)
	if v.rj != nil {
		if v.refused != NotRefused {
			s.refused(Refusal{Time: s.cfg.Now(), CallingAE: rq.CallingAE, CalledAE: rq.CalledAE,
				IP: ci.ip, Addr: remote, Reason: v.refused, Detail: v.detail})
		}
		s.reject(ctx, conn, peer, v.rj, v.why, log)
		return
	}
	ac, accepted := s.negotiate(rq)
	// The caps count associations, not connections: idle sockets waiting
	// for ARTIM never block a real query.
	if ok, why := s.slots.takeActive(ci.host, v.registered); !ok {
		s.reject(ctx, conn, peer, &pdu.AssociateRJ{Result: pdu.RJResultTransient, Source: pdu.RJSourceProviderPresentn, Reason: pdu.RJReasonLocalLimitExceeded},
			why, log)
		return
	}
	defer s.slots.releaseActive(ci.host, v.registered)
	releasePending()

	var syntaxes []string
	for _, c := range accepted {
		syntaxes = append(syntaxes, c.abstract)
	}
	// Modalities associate for every query; routine traffic logs at debug.
	log.Debug("association accepted", "contexts", len(accepted), "peer_max_pdu", rq.UserInfo.MaxLength, "registered", v.registered)
	s.event(AssociationEvent{Kind: Accepted, Peer: peer, AbstractSyntaxes: syntaxes, Registered: v.registered})
	if err := s.writePDU(conn, ac); err != nil {
		log.Info("sending A-ASSOCIATE-AC failed", "err", err)
		s.event(AssociationEvent{Kind: Ended, Peer: peer, Reason: "sending A-ASSOCIATE-AC failed", Registered: v.registered})
		return
	}

	a := newAssociation(s, conn, peer, accepted, rq.UserInfo.MaxLength, log)
	reason, requests := a.run(ctx)
	level := slog.LevelDebug
	if !endedNormally(reason) {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "association ended", "reason", reason, "requests", requests)
	s.event(AssociationEvent{Kind: Ended, Peer: peer, Reason: reason, Requests: requests, Registered: v.registered})
}

// endedNormally tells the ways devices end associations in routine use:
// many close the socket or abort instead of releasing, after every query.
func endedNormally(reason string) bool {
	switch reason {
	case "released", "connection closed by peer", "aborted by peer":
		return true
	}
	return false
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

func (s *Server) refused(r Refusal) {
	if s.cfg.OnRefused == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("OnRefused hook panicked", "panic", p)
		}
	}()
	s.cfg.OnRefused(r)
}

// reject answers with rj. The log line is limited per host (a stranger may
// knock all day); the events are not.
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

// verdict is what vet decided about an A-ASSOCIATE-RQ.
type verdict struct {
	rj         *pdu.AssociateRJ // nil: admitted
	why        string           // for the log and the Rejected event
	refused    RefusalReason    // set when the admission policy refused
	detail     string           // the policy's own words
	registered bool
}

// vet applies the protocol checks and the admission policy.
func (s *Server) vet(rq *pdu.AssociateRQ, ip netip.Addr) verdict {
	if rq.ProtocolVersion&1 == 0 {
		return verdict{rj: &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceProviderACSE, Reason: pdu.RJReasonProtocolVersionNotSupp},
			why: fmt.Sprintf("protocol version 0x%04X not supported", rq.ProtocolVersion)}
	}
	if rq.ApplicationContext != pdu.ApplicationContextName {
		return verdict{rj: &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceUser, Reason: pdu.RJReasonAppContextNotSupp},
			why: fmt.Sprintf("application context %q not supported", rq.ApplicationContext)}
	}
	refuse := func(r RefusalReason, detail, why string) verdict {
		return verdict{rj: r.rj(), why: why, refused: r, detail: detail}
	}
	if s.cfg.StrictCalledAE && rq.CalledAE != s.cfg.AETitle {
		detail := fmt.Sprintf("set the modality's worklist AE title to %q", s.cfg.AETitle)
		return refuse(RefusedCalledAE, detail, fmt.Sprintf("called AE %q is not ours (%q): %s", rq.CalledAE, s.cfg.AETitle, detail))
	}
	if s.cfg.AllowAssociation != nil {
		if err := s.cfg.AllowAssociation(rq.CallingAE, rq.CalledAE, ip); err != nil {
			return refuse(RefusedCallingAE, err.Error(), fmt.Sprintf("calling AE %q from %s not allowed: %v", rq.CallingAE, ip, err))
		}
	}
	if s.cfg.Admit == nil {
		return verdict{}
	}
	adm := s.cfg.Admit(rq.CallingAE, rq.CalledAE, ip)
	if adm.Refuse != NotRefused {
		return refuse(adm.Refuse, adm.Detail, fmt.Sprintf("calling AE %q from %s refused (%s): %s", rq.CallingAE, ip, adm.Refuse, adm.Detail))
	}
	return verdict{registered: adm.Registered}
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
