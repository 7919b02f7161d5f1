// Package ui is VetBridge's desktop face: the tray, the worklist window, the
// modalities view, settings and the first-run flow. It holds no business logic:
// everything it shows comes from a Backend, and everything it changes goes
// through one.
package ui

import (
	"context"
	"net/url"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

// Backend is what the UI needs from the application (*app.App implements it).
//
// Subscribe's callback runs on background goroutines. SignIn, SignOut,
// MarkDone, UndoMarkDone, SaveConfig, FinishSetup, CheckDICOMPort, SyncNow,
// Shutdown and every call below Shutdown in this list may block on the
// network or the disk, so the UI only ever calls them from its own goroutines.
type Backend interface {
	Status() app.Status
	Subscribe(func(app.Event)) (unsubscribe func())
	Referrals(app.ReferralFilter) []app.Referral
	Referral(key string) (app.Referral, bool)
	MarkSeen()
	SyncNow()
	// SignIn validates p (app.ValidationError on provet.* fields), stores it
	// as the Provet part of the configuration without marking first run done,
	// opens the browser and blocks until Provet answers, ctx ends or the wait
	// times out. Once the browser has been sent, it calls waiting (from its
	// own goroutine) with the sign-in address and when the wait ends, so the
	// technician can open the address by hand.
	SignIn(ctx context.Context, p app.ProvetConfig, waiting func(authURL string, until time.Time)) (who string, err error)
	SignOut(ctx context.Context) error
	// MarkDone sets the referral completed and queues the status update for
	// Provet, which the outbox holds back until undoUntil.
	MarkDone(ctx context.Context, key string) (undoUntil time.Time, err error)
	// UndoMarkDone takes a MarkDone back before its undoUntil: the queued
	// update is dropped and the referral gets its earlier status again. After
	// that it returns an error saying Provet already has it.
	UndoMarkDone(ctx context.Context, key string) error
	ViewerURL(key string) (string, error)
	PreviewViewerURL(template string) (string, error)
	Devices() []app.Device
	Explain(key, callingAE string) app.Explanation
	Config() app.Config
	// SaveConfig validates (returning app.ValidationError) and applies cfg.
	// A new DICOM port replaces the running server only once it listens.
	SaveConfig(ctx context.Context, cfg app.Config) error
	// Overrides lists, in words, the saved settings the command line
	// replaces for this run (e.g. "the DICOM port stays 4242 (--dicom-port)").
	Overrides() []string
	// CheckDICOMPort says, in words, why the worklist server could not listen
	// on port (another program uses it; needs administrator rights), or nil
	// when it is free or is the port the running server already has.
	CheckDICOMPort(port int) error
	// ModalitySetup is what a modality must be given to reach the worklist
	// server in force: its AE title, port and this computer's LAN addresses.
	ModalitySetup() (aeTitle string, port int, addrs []string)
	// NeedsSetup is true until FinishSetup succeeded once.
	NeedsSetup() bool
	// ListenForDevices opens the worklist server during first run's modality
	// step, closed to all but registered devices, so the ones that knock are
	// listed (EventDevices) to be allowed; stop closes it, as FinishSetup does.
	ListenForDevices(ctx context.Context, cfg app.DICOMConfig) (stop func(), err error)
	// FinishSetup validates and saves cfg as first run's answers, marks first
	// run done and only then starts the worklist server.
	FinishSetup(ctx context.Context, cfg app.Config) error
	Shutdown(ctx context.Context) error

	// AllowDevice registers a refused (or new) device, from addrs only when
	// given; RemoveDevice unregisters one. Both save the configuration.
	AllowDevice(ctx context.Context, callingAE string, addrs []string) error
	RemoveDevice(ctx context.Context, callingAE string) error
	// Statuses reads the status values in use in the Provet worklist;
	// ConfirmStatuses records that a person checked them in Provet.
	Statuses(ctx context.Context) (app.StatusReport, error)
	ConfirmStatuses(ctx context.Context, s app.StatusSurvey) error
	// ParkedUpdates are status updates Provet refused; the technician
	// retries or drops each.
	ParkedUpdates() []app.ParkedUpdate
	RetryUpdate(id uint64) error
	DropUpdate(id uint64) error
	// TestPACS checks a PACS connection as typed; ImagesFor asks the PACS
	// now about one referral's images.
	TestPACS(ctx context.Context, cfg app.PACSConfig) error
	ImagesFor(ctx context.Context, key string) (app.ImagesSummary, error)
	// UnmatchedExams are exams no referral claims; the technician links
	// each to a referral (by key) or dismisses it.
	UnmatchedExams() []app.UnmatchedExam
	LinkUnmatched(id, referral string) error
	DismissUnmatched(id string) error
	// SearchPatients and NewWalkIn put an exam for a Provet patient on the
	// worklist at once; the result says whether Provet got an imaging order
	// for it or it stays in VetBridge, and why.
	SearchPatients(ctx context.Context, text string) ([]app.PatientHit, error)
	NewWalkIn(ctx context.Context, w app.WalkIn) (app.WalkInResult, error)
}

// Views that Options.StartView can name.
const (
	ViewWorklist   = "worklist"
	ViewModalities = "modalities"
	ViewSettings   = "settings"
	ViewUnmatched  = "unmatched"
)

// AppID identifies VetBridge to the desktop (preferences, single instance, tray).
const AppID = "com.vetbridge.app"

// Options say how the UI starts.
type Options struct {
	// ShowWindow opens the main window at start; otherwise VetBridge starts in
	// the tray. The window opens anyway when setup is needed or there is no tray.
	ShowWindow bool
	// StartView is the view shown first: ViewWorklist (default),
	// ViewModalities or ViewSettings.
	StartView string
	// NoTray says the desktop shows no tray icons (Linux without a
	// StatusNotifierItem host): the window stays the way in, and closing it
	// quits.
	NoTray bool
	// OpenURL opens viewer links; nil uses the desktop's browser.
	OpenURL func(*url.URL) error
}
