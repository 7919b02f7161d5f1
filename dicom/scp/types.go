// Package scp is VetBridge's DICOM server: it accepts associations from the
// clinic's modalities, negotiates Verification, Modality Worklist FIND and
// MPPS, and hands requests to handlers. It is transport only: what a query
// matches and what an MPPS instance means is decided by the handlers.
//
// Each association runs in its own goroutine (plus a worker that runs
// handlers, so that a C-CANCEL can be read while a C-FIND is answered). No
// association can stall or crash another: reads and writes have deadlines
// and panics are recovered into an A-ABORT.
//
// Admission: the application's AdmitFunc decides, per A-ASSOCIATE-RQ, who
// may associate and who is a registered device; a refusal is a permanent
// A-ASSOCIATE-RJ and a Refusal event. Nothing is served outside an accepted
// association, so the policy covers C-FIND and MPPS alike.
//
// Limits, all configurable: connections that have not associated yet are
// counted per address as soon as they are accepted, before anything is
// read, capped at MaxPendingPerIP (8) and MaxPending (512), and closed
// after ARTIMTimeout (10 s, 1 s when those slots are half used). Accepted
// associations are capped at MaxAssociationsPerIP (16) and MaxAssociations
// (64), of which ReservedAssociations (a quarter) only registered devices
// may take; beyond these peers get a transient A-ASSOCIATE-RJ "local limit
// exceeded". Info and Warn lines about one host are written at most once
// per HostLogInterval (5 min) per message. An association on which nothing
// arrives for IdleTimeout (2 min) while no request is served is aborted; a
// write that takes longer than WriteTimeout (30 s) ends its association. A
// PDU may be at most four times the advertised 16 KiB (at least 64 KiB) and
// a data set at most MaxDataSetLength (1 MiB).
//
// Refusals: a request for a SOP class the context was not negotiated for, or
// a known command the service does not offer, gets 0x0122; an unknown
// command gets 0x0211; a C-FIND without identifier gets 0xA900. Protocol
// violations (bad PDUs, PDVs on unaccepted contexts, a flood of pipelined
// requests) abort the association.
package scp

import (
	"context"
	"net/netip"

	"github.com/vetbridge/vetbridge/dicom/dimse"
)

// TransferSyntax describes the negotiated transfer syntax of a presentation
// context.
type TransferSyntax = dimse.TransferSyntax

// Peer identifies the other end of an association.
type Peer struct {
	CallingAE, CalledAE string
	Addr                string // host:port
}

// FindRequest is one C-FIND-RQ. Identifier is the raw data set in Syntax,
// without a Part-10 header.
type FindRequest struct {
	Peer        Peer
	SOPClassUID string
	Syntax      TransferSyntax
	Identifier  []byte
}

// FindHandler streams matches through send. It returns the final DIMSE status
// (0x0000 success, 0xA700 out of resources, 0xA900 identifier does not match
// SOP class, 0xC000 unable to process); a send error means the association is
// gone (ErrAssociationGone) or the peer cancelled (ErrCancelled), and the
// handler should return promptly. ctx ends on C-CANCEL, abort and server
// shutdown; Serve waits for handlers to return, so one that ignores ctx
// delays shutdown. send must not be called after the handler returns.
type FindHandler func(ctx context.Context, req FindRequest, send func(identifier []byte) error) uint16

// MPPSRequest is one N-CREATE-RQ or N-SET-RQ on the MPPS SOP class.
type MPPSRequest struct {
	Peer        Peer
	Syntax      TransferSyntax
	SOPClassUID string
	// SOPInstanceUID is the affected (N-CREATE) or requested (N-SET)
	// instance; an N-CREATE may leave it empty for the SCP to assign.
	SOPInstanceUID string
	Dataset        []byte
}

// MPPSResponse is the handler's answer.
type MPPSResponse struct {
	Status       uint16
	ErrorID      uint16
	ErrorComment string // at most 64 characters are sent
	Dataset      []byte // optional, in the request's transfer syntax
	// AttributeIdentifiers lists the offending attributes ((0000,1005)) of a
	// 0x0105, 0x0106, 0x0120 or 0x0121 failure, so the device's log names
	// what to fix.
	AttributeIdentifiers []uint32
	// AffectedSOPInstanceUID is the SCP-assigned instance when the N-CREATE
	// had none; otherwise it may be left empty.
	AffectedSOPInstanceUID string
}

// MPPSHandler receives Modality Performed Procedure Step requests.
type MPPSHandler interface {
	NCreate(ctx context.Context, req MPPSRequest) MPPSResponse
	NSet(ctx context.Context, req MPPSRequest) MPPSResponse
}

// EventKind says what happened to an association.
type EventKind int

const (
	// Accepted: A-ASSOCIATE-AC sent.
	Accepted EventKind = iota + 1
	// Rejected: A-ASSOCIATE-RJ sent; Reason says why.
	Rejected
	// Ended: an accepted association finished; Reason is "released",
	// "aborted by peer", "idle timeout", ... .
	Ended
)

func (k EventKind) String() string {
	switch k {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case Ended:
		return "ended"
	}
	return "unknown"
}

// AssociationEvent tells the application about an association, e.g. to show
// "devices seen" or explain why a modality gets no worklist.
type AssociationEvent struct {
	Kind EventKind
	Peer Peer
	// Reason explains a rejection or how the association ended.
	Reason string
	// AbstractSyntaxes lists the SOP classes accepted (Accepted only).
	AbstractSyntaxes []string
	// Requests counts the DIMSE requests served (Ended only).
	Requests int
	// Registered is the admission policy's word on the peer (Accepted
	// and Ended only).
	Registered bool
}

// AllowFunc decides whether a calling AE from an address may associate. A
// non-nil error rejects with "calling AE not recognised" and is logged.
// AdmitFunc supersedes it: it can also refuse for the called AE or the
// address and mark registered devices.
type AllowFunc func(callingAE, calledAE string, remoteIP netip.Addr) error
