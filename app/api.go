package app

import "time"

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
type Field struct {
	Label string
	Value string
}

// Referral is one imaging order as the technician sees it.
type Referral struct {
	Key              string // stable identity used in every call below
	ProvetID         int    // Provet's worklist id
	Scheduled        time.Time
	PetName          string
	Species          string
	Breed            string
	OwnerName        string
	PatientID        string
	AccessionNumber  string
	StudyInstanceUID string
	// RequestedProcedureID and SPSID are how a modality's MPPS names the
	// order, shown for IT.
	RequestedProcedureID string
	SPSID                string
	Exam                 string // procedure description
	Modality             string // DICOM modality code, e.g. DX
	StationAE            string
	RequestingVet        string
	Status               string // SCHEDULED, STARTED, COMPLETED, DISCONTINUED
	Remarks              string
	New                  bool    // arrived since the technician last opened the window
	Fields               []Field // everything the modality receives, in order
	// History says who changed the status from here, oldest first:
	// "Completed by DX1, 192.168.1.20, Sat 29 Nov 10:42".
	History []string
	// Images is the PACS's images in words for the row ("no images yet",
	// "2 series, 14 images, 10:42"); "" while the PACS was not asked.
	Images string
	// ImagesStudyUID is the study the viewer opens, once the PACS has one.
	ImagesStudyUID string
	// WalkIn marks an exam created in VetBridge without a Provet order.
	WalkIn bool
}

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
type Explanation struct {
	CallingAE string
	Visible   bool
	Reasons   []string
}

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
