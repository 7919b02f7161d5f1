// Package ui is VetBridge's desktop face: the tray, the worklist window, the
// modalities view, settings and the first-run flow. It holds no business logic:
// everything it shows comes from a Backend, and everything it changes goes
// through one.
package ui

import (
	"context"
	"net/url"

	"github.com/vetbridge/vetbridge/app"
)

// Backend is what the UI needs from the application (*app.App implements it).
//
// Subscribe's callback runs on background goroutines. SignIn, SignOut,
// MarkDone, SaveConfig, SyncNow and Shutdown may block on the network or the
// disk, so the UI only ever calls them from its own goroutines.
type Backend interface {
	Status() app.Status
	Subscribe(func(app.Event)) (unsubscribe func())
	Referrals(app.ReferralFilter) []app.Referral
	Referral(key string) (app.Referral, bool)
	MarkSeen()
	SyncNow()
	// SignIn opens the browser and blocks until Provet answers; it uses the
	// Provet settings last given to SaveConfig.
	SignIn(ctx context.Context) (who string, err error)
	SignOut(ctx context.Context) error
	MarkDone(ctx context.Context, key string) error
	ViewerURL(key string) (string, error)
	PreviewViewerURL(template string) (string, error)
	Devices() []app.Device
	Explain(key, callingAE string) app.Explanation
	Config() app.Config
	// SaveConfig validates (returning app.ValidationError) and applies cfg.
	SaveConfig(ctx context.Context, cfg app.Config) error
	NeedsSetup() bool
	Shutdown(ctx context.Context) error
}

// Views that Options.StartView can name.
const (
	ViewWorklist   = "worklist"
	ViewModalities = "modalities"
	ViewSettings   = "settings"
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
