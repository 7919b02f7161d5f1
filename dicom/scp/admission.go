package scp

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/dicom/pdu"
)

// AdmitFunc decides, at A-ASSOCIATE-RQ time and before anything is
// negotiated, whether a peer may associate. It runs on the connection's
// goroutine, once per request, and should answer from memory: the peer
// holds one of its address's negotiation slots while it waits.
type AdmitFunc func(callingAE, calledAE string, ip netip.Addr) Admission

// Admission is an AdmitFunc's verdict. The zero value admits the peer as a
// stranger: it may associate but not use the slots reserved for registered
// devices.
type Admission struct {
	// Refuse, when not NotRefused, rejects the association with the
	// matching permanent A-ASSOCIATE-RJ.
	Refuse RefusalReason
	// Registered marks a device the clinic has registered: it may take the
	// association slots that strangers cannot (Config.ReservedAssociations).
	Registered bool
	// Detail says in words why, for the log and the Refusal event (e.g.
	// "not a registered device"). It must not hold patient data.
	Detail string
}

// RefusalReason is why the admission policy refused an association; each
// maps to one A-ASSOCIATE-RJ reason (result permanent, source DICOM UL
// service-user).
type RefusalReason uint8

const (
	// NotRefused admits the peer.
	NotRefused RefusalReason = iota
	// RefusedCallingAE: reason 3, calling-AE-title-not-recognized.
	RefusedCallingAE
	// RefusedCalledAE: reason 7, called-AE-title-not-recognized.
	RefusedCalledAE
	// RefusedAddress: reason 1, no-reason-given. PS3.8 has no reason for
	// an address that is not allowed.
	RefusedAddress
)

func (r RefusalReason) String() string {
	switch r {
	case NotRefused:
		return "not refused"
	case RefusedCallingAE:
		return "calling AE title not recognised"
	case RefusedCalledAE:
		return "called AE title not recognised"
	case RefusedAddress:
		return "address not allowed"
	}
	return fmt.Sprintf("refusal reason %d", uint8(r))
}

// rj is the rejection PDU for a refusal. An unknown reason still refuses
// (with no reason given): a policy bug must not open the door.
func (r RefusalReason) rj() *pdu.AssociateRJ {
	reason := pdu.RJReasonNoReason
	switch r {
	case RefusedCallingAE:
		reason = pdu.RJReasonCallingAENotRecog
	case RefusedCalledAE:
		reason = pdu.RJReasonCalledAENotRecog
	}
	return &pdu.AssociateRJ{Result: pdu.RJResultPermanent, Source: pdu.RJSourceUser, Reason: reason}
}

// Refusal reports one association refused by the admission policy
// (Config.Admit, Config.AllowAssociation or StrictCalledAE), so the
// application can remember who knocked: "DX-ROOM2 from 192.168.1.31 tried
// 3 times, last 10:42". It is sent once per refused A-ASSOCIATE-RQ, before
// the A-ASSOCIATE-RJ goes out. Refusals for lack of capacity are not
// reported here (they are AssociationEvents of kind Rejected).
type Refusal struct {
	Time      time.Time // from Config.Now
	CallingAE string
	CalledAE  string
	IP        netip.Addr // unmapped; invalid if the transport has no IP
	Addr      string     // host:port
	Reason    RefusalReason
	Detail    string
}

// remoteIP is the peer's address without port, IPv4-mapped addresses
// unmapped, read from the socket without reading any data.
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

// hostKey is what per-address caps and log limits count by. An IPv6 host
// picks its interface ID freely, so its whole /64 counts as one address.
func hostKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		if p, err := ip.WithZone("").Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// slots counts connections still negotiating and accepted associations,
// in total and per host, so one host's flood cannot take what other hosts
// need, and strangers cannot take the share reserved for registered
// devices.
type slots struct {
	maxPending, maxPendingPerHost int
	maxActive, maxActivePerHost   int
	maxStrangers                  int // accepted associations of unregistered peers

	mu        sync.Mutex
	pending   int
	active    int
	strangers int
	hosts     map[netip.Addr]*hostSlots
}

type hostSlots struct{ pending, active int }

func (s *slots) host(k netip.Addr) *hostSlots {
	h := s.hosts[k]
	if h == nil {
		if s.hosts == nil {
			s.hosts = map[netip.Addr]*hostSlots{}
		}
		h = &hostSlots{}
		s.hosts[k] = h
	}
	return h
}

func (s *slots) drop(k netip.Addr, h *hostSlots) {
	if h.pending == 0 && h.active == 0 {
		delete(s.hosts, k)
	}
}

// takePending counts a new connection of host k. It fails with a reason
// when the host or the server has too many still negotiating; crowded says
// the caps are half used, so the connection gets the short ARTIM timer.
func (s *slots) takePending(k netip.Addr) (ok, crowded bool, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(k)
	switch {
	case h.pending >= s.maxPendingPerHost:
		s.drop(k, h)
		return false, true, fmt.Sprintf("more than %d connections from this address are negotiating", s.maxPendingPerHost)
	case s.pending >= s.maxPending:
		s.drop(k, h)
		return false, true, fmt.Sprintf("more than %d connections are negotiating", s.maxPending)
	}
	h.pending++
	s.pending++
	crowded = 2*h.pending > s.maxPendingPerHost || 2*s.pending > s.maxPending
	return true, crowded, ""
}

func (s *slots) releasePending(k netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(k)
	h.pending--
	s.pending--
	s.drop(k, h)
}

// takeActive turns host k's negotiating connection into an accepted
// association, if a slot is free for it; the pending count is released
// either way by the caller.
func (s *slots) takeActive(k netip.Addr, registered bool) (ok bool, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(k)
	switch {
	case h.active >= s.maxActivePerHost:
		return false, fmt.Sprintf("more than %d associations from this address at once", s.maxActivePerHost)
	case s.active >= s.maxActive:
		return false, fmt.Sprintf("more than %d associations at once", s.maxActive)
	case !registered && s.strangers >= s.maxStrangers:
		return false, fmt.Sprintf("the %d associations open to unregistered devices are in use", s.maxStrangers)
	}
	h.active++
	s.active++
	if !registered {
		s.strangers++
	}
	return true, ""
}

func (s *slots) releaseActive(k netip.Addr, registered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(k)
	h.active--
	s.active--
	if !registered {
		s.strangers--
	}
	s.drop(k, h)
}

func (s *slots) counts() (pending, active int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending, s.active
}
