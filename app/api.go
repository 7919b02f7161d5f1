package app

import (
	"time"

	"github.com/vetbridge/vetbridge/app/devices"
	"github.com/vetbridge/vetbridge/app/records"
)

// This file is the surface the desktop UI uses: plain values and events, so the
// UI never needs the store, the DICOM packages or Provet's JSON.

// State is what the tray icon shows at a glance.
type State int

const (
	StateSignedOut State = iota // no Provet session: the technician must sign in
	StateOK                     // synced recently, DICOM server listening
	StateSyncing                // a sync is running
	StateOffline                // Provet unreachable; the cached worklist is still served
	StateError                  // something needs the technician (see Status.Message)
)

func (s State) String() string {
	switch s {
	case StateSignedOut:
		return "signed out"
	case StateOK:
		return "ok"
	case StateSyncing:
		return "syncing"
	case StateOffline:
		return "offline"
	default:
		return "error"
	}
}

// Status is the one-line summary the tray menu and the status bar show.
type Status struct {
	State          State
	SignedInAs     string    // Provet user, "" when signed out
	LastSync       time.Time // zero before the first successful sync
	Waiting        int       // referrals scheduled and not yet done
	PendingUpdates int       // status updates not yet accepted by Provet
	DICOMAddr      string    // "AE@host:port" the modalities are configured with
	Message        string    // words for the technician when State is Offline or Error
}

// Field is one attribute a modality receives, labelled for people.
type Field = records.Field

// Referral is one imaging order as the technician sees it.
type Referral = records.Referral

// ReferralFilter selects what the worklist window shows. Zero values mean "any",
// except Day, whose zero value means today.
type ReferralFilter struct {
	Day      time.Time
	AllDays  bool
	Modality string
	Status   string
	Search   string // pet, owner, patient id or accession, case- and accent-insensitive
}

// Explanation says whether a device sees a referral and, if not, why, in words
// a technician understands.
type Explanation = devices.Explanation

// EventKind says what changed.
type EventKind int

const (
	EventStatus      EventKind = iota // Status() changed
	EventReferrals                    // the worklist changed
	EventNewReferral                  // a new referral arrived (Referral is set)
	EventSignInAgain                  // the session ended for good: the technician must sign in again
	EventDevices                      // a device queried the worklist
	EventShowWindow                   // a second launch asked this instance to show its window
)

// Event is sent to subscribers from background goroutines; the UI must move it
// onto its own goroutine before touching widgets.
type Event struct {
	Kind     EventKind
	Referral *Referral
	Message  string
}

// ParkedUpdate is a status update Provet refused for a reason a retry will
// not fix; it waits for the technician to retry or drop it.
type ParkedUpdate struct {
	ID       uint64
	Key      string // the referral
	Status   string // what VetBridge tried to set, in words
	Provet   string // Provet's answer and what to do
	Referral string // pet, owner and exam, for the window
}
