package ui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/vetbridge/vetbridge/assets"
)

// tray is the part of desktop.App the UI drives; tests substitute a recorder.
type tray interface {
	SetSystemTrayMenu(*fyne.Menu)
	SetSystemTrayIcon(fyne.Resource)
}

// How long Quit waits for the backend to finish in-flight work (MPPS status
// updates, the store) before the window goes away regardless.
const shutdownTimeout = 15 * time.Second

// backgroundTimeout bounds a backend call the technician waits for.
const backgroundTimeout = 5 * time.Minute

// burstWindow is how long the bridge lets events pile up before one redraw.
const burstWindow = 150 * time.Millisecond

type ui struct {
	fa      fyne.App
	b       Backend
	tray    tray
	openURL func(*url.URL) error
	// do runs f on the UI goroutine: fyne.Do in the app, a queue in tests.
	do    func(func())
	clock clock

	win  fyne.Window
	tabs *container.AppTabs
	// unmatchedTab's title counts the exams waiting there.
	unmatchedTab *container.TabItem
	main         fyne.CanvasObject
	visible      bool

	worklist   *worklistView
	unmatched  *unmatchedView
	modalities *modalitiesView
	settings   *settingsView
	status     *statusBar
	firstRun   *firstRunView

	bridge       *bridge
	stopBridge   context.CancelFunc
	unsubscribe  func()
	shutdownOnce sync.Once
	quitting     bool
}

// Run shows VetBridge's tray and window and blocks until the technician quits.
// It calls b.Shutdown before returning.
func Run(b Backend, opts Options) error {
	if b == nil {
		return errors.New("ui.Run needs a backend")
	}
	fa := fyneapp.NewWithID(AppID)
	fa.SetIcon(assets.AppIcon)
	var t tray
	desk, isDesktop := fa.(desktop.App)
	isDesktop = isDesktop && !opts.NoTray
	if isDesktop {
		t = desk
	}
	u := newUI(fa, b, t, opts, fyne.Do)
	if isDesktop {
		// A left click on the tray icon brings the window back where the
		// platform supports it; the menu's "Open worklist" works everywhere.
		desk.SetSystemTrayWindow(u.win)
		// SetSystemTrayWindow installs a plain Hide as the close intercept;
		// closing must also forget the highlights, so ours goes back on.
		u.win.SetCloseIntercept(u.closeWindow)
	}
	fa.Lifecycle().SetOnStarted(u.start)
	// However the app ends (Quit, a signal), the window's layout is kept;
	// Fyne writes preferences out right after this hook.
	fa.Lifecycle().SetOnStopped(u.saveLayout)
	if opts.ShowWindow || t == nil || b.NeedsSetup() {
		u.show()
	}
	fa.Run()
	u.stop()
	u.shutdown()
	return nil
}

func newUI(fa fyne.App, b Backend, t tray, opts Options, do func(func())) *ui {
	u := &ui{fa: fa, b: b, tray: t, openURL: opts.OpenURL, do: do, clock: realClock{}, bridge: newBridge()}
	if u.openURL == nil {
		u.openURL = fa.OpenURL
	}
	u.win = fa.NewWindow("VetBridge")
	u.win.SetIcon(assets.AppIcon)
	u.win.SetCloseIntercept(u.closeWindow)

	u.status = newStatusBar(u)
	u.worklist = newWorklistView(u)
	u.settings = newSettingsView(u)
	u.modalities = newModalitiesView(u)
	u.unmatched = newUnmatchedView(u)
	u.unmatchedTab = container.NewTabItem("Unmatched", u.unmatched.content)
	u.tabs = container.NewAppTabs(
		container.NewTabItem("Worklist", u.worklist.content),
		u.unmatchedTab,
		container.NewTabItem("Modalities", u.modalities.content),
		container.NewTabItem("Settings", u.settings.content),
	)
	u.tabs.OnSelected = func(*container.TabItem) { u.updateTitle() }
	u.main = container.NewBorder(nil, u.status.content, nil, nil, u.tabs)
	u.restoreLayout()

	if b.NeedsSetup() {
		u.firstRun = newFirstRunView(u, u.finishSetup)
		u.win.SetContent(u.firstRun.content)
	} else {
		u.win.SetContent(u.main)
	}
	u.selectView(opts.StartView)
	u.refreshAll()
	return u
}

// start connects the UI to backend events; it runs once the app loop runs so
// that posted updates have somewhere to go.
func (u *ui) start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.stopBridge = cancel
	go u.bridge.run(ctx, burstWindow, u.do, u.apply)
	u.unsubscribe = u.b.Subscribe(u.bridge.handle)
	// Anything that changed between construction and subscribing is redrawn.
	u.refreshAll()
}

func (u *ui) stop() {
	if u.unsubscribe != nil {
		u.unsubscribe()
		u.unsubscribe = nil
	}
	if u.stopBridge != nil {
		u.stopBridge()
		u.stopBridge = nil
	}
}

func (u *ui) apply(d dirty) {
	if d.referrals {
		u.worklist.refresh()
		u.unmatched.refresh()
	}
	if d.devices {
		u.modalities.refresh()
		// A device allowed from the command line changed the profiles.
		u.settings.syncProfiles()
		if u.firstRun != nil {
			u.firstRun.devicesChanged()
		}
	}
	if d.status || d.referrals {
		u.refreshStatus()
	}
	if d.status && !d.referrals {
		// A refused update changes the pending count, not the worklist.
		u.worklist.parked.refresh()
	}
	// After the status line, which would otherwise replace it.
	if d.signInAgain {
		msg := "Provet ended the session: choose Sign in with Provet in the tray menu or in Settings."
		if d.message != "" {
			msg = d.message + " " + msg
		}
		u.status.setNotice(msg)
	}
	if d.showWindow {
		u.show()
	}
}

func (u *ui) refreshAll() {
	u.worklist.refresh()
	u.unmatched.refresh()
	u.modalities.refresh()
	u.refreshStatus()
}

// refreshStatus redraws everything that depends on Status: status bar, tray
// icon and menu, the account line in Settings.
func (u *ui) refreshStatus() {
	st := u.b.Status()
	u.status.update(st)
	u.settings.updateAccount(st)
	if u.tray != nil {
		u.tray.SetSystemTrayIcon(trayIcon(st.State))
		u.tray.SetSystemTrayMenu(u.trayMenu(st))
	}
}

func (u *ui) selectView(name string) {
	if u.firstRun != nil {
		u.updateTitle()
		return
	}
	switch name {
	case ViewUnmatched:
		u.tabs.SelectIndex(1)
	case ViewModalities:
		u.tabs.SelectIndex(2)
	case ViewSettings:
		u.tabs.SelectIndex(3)
	default:
		u.tabs.SelectIndex(0)
	}
	u.updateTitle()
}

// updateUnmatchedTab counts the unmatched exams in the tab's title, so they
// are seen from the worklist.
func (u *ui) updateUnmatchedTab(n int) {
	text := "Unmatched"
	if n > 0 {
		text = fmt.Sprintf("Unmatched (%d)", n)
	}
	if u.unmatchedTab.Text != text {
		u.unmatchedTab.Text = text
		u.tabs.Refresh()
		u.updateTitle()
	}
}

func (u *ui) updateTitle() {
	if u.firstRun != nil {
		u.win.SetTitle("VetBridge — Setup")
		return
	}
	if t := u.tabs.Selected(); t != nil {
		u.win.SetTitle("VetBridge — " + t.Text)
	}
}

// show brings the window forward. The rows that were new are highlighted for
// as long as the window stays open; the backend forgets them now so the next
// notification count starts from zero.
func (u *ui) show() {
	u.visible = true
	u.worklist.refresh()
	u.win.Show()
	u.win.RequestFocus()
	go u.b.MarkSeen()
}

// showView opens the window on one view (tray menu entries).
func (u *ui) showView(name string) {
	u.selectView(name)
	u.show()
}

// closeWindow keeps VetBridge serving the worklist in the tray: closing the
// window must not stop the DICOM server the modalities depend on.
func (u *ui) closeWindow() {
	if u.tray == nil {
		u.quit()
		return
	}
	u.visible = false
	u.saveLayout()
	u.worklist.clearHighlights()
	u.win.Hide()
}

func (u *ui) finishSetup() {
	u.firstRun = nil
	// The views were built from the configuration before setup.
	u.settings.reload()
	u.worklist.setModalities()
	u.win.SetContent(u.main)
	u.selectView(ViewWorklist)
	u.refreshAll()
}

// quit shuts the backend down before the app goes away, so pending status
// updates are flushed and the DICOM port is released cleanly.
func (u *ui) quit() {
	if u.quitting {
		return
	}
	u.quitting = true
	u.saveLayout()
	u.status.setNotice("Stopping VetBridge…")
	go func() {
		u.shutdown()
		u.do(func() {
			u.stop()
			u.fa.Quit()
		})
	}()
}

func (u *ui) shutdown() {
	u.shutdownOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := u.b.Shutdown(ctx); err != nil {
			fyne.LogError("VetBridge did not shut down cleanly", err)
		}
	})
}

// showImages opens the PACS viewer for one referral. When no browser opens
// it returns the address with the error, for the technician to copy.
func (u *ui) showImages(key string) (copyable string, err error) {
	raw, err := u.b.ViewerURL(key)
	if err != nil {
		return "", err
	}
	return u.open(raw)
}

// open shows raw in the browser; when none opens, it returns raw to copy.
func (u *ui) open(raw string) (copyable string, err error) {
	link, err := url.Parse(raw)
	if err != nil || link.Scheme == "" {
		return "", errors.New("the viewer address " + raw + " is not a web address: correct the PACS viewer URL in Settings")
	}
	if err := u.openURL(link); err != nil {
		return raw, err
	}
	return "", nil
}

// inBackground runs a blocking backend call off the UI goroutine and hands
// its result back on the UI goroutine.
func (u *ui) inBackground(call func(ctx context.Context) error, done func(error)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		err := call(ctx)
		u.do(func() { done(err) })
	}()
}
