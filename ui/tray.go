package ui

import (
	"context"
	"fmt"
	"sort"
	"time"

	"fyne.io/fyne/v2"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/assets"
)

// recentPatients is how many of today's patients the tray offers images for:
// enough for the exams just done, few enough to keep the menu short.
const recentPatients = 5

func trayIcon(s app.State) fyne.Resource {
	switch s {
	case app.StateOK:
		return assets.TrayOK
	case app.StateSyncing:
		return assets.TraySyncing
	case app.StateOffline:
		return assets.TrayOffline
	case app.StateSignedOut:
		return assets.TraySignedOut
	default:
		return assets.TrayError
	}
}

// trayMenu is rebuilt from scratch on every status or worklist change: tray
// menus are small, and rebuilding keeps them from drifting out of date.
func (u *ui) trayMenu(st app.Status) *fyne.Menu {
	signedIn := st.State != app.StateSignedOut
	line := stateLine(st)
	if signedIn {
		if !st.LastSync.IsZero() {
			line += " · last sync " + st.LastSync.Format("15:04")
		}
		line += fmt.Sprintf(" · %d waiting", st.Waiting)
	}
	status := fyne.NewMenuItem(line, nil)
	status.Disabled = true

	items := []*fyne.MenuItem{
		status,
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Open worklist", func() { u.showView(ViewWorklist) }),
	}
	if signedIn {
		items = append(items, fyne.NewMenuItem("Sync now", func() { go u.b.SyncNow() }))
	} else {
		items = append(items, fyne.NewMenuItem("Sign in with Provet…", u.signIn))
	}

	if recent := u.recentReferrals(time.Now()); len(recent) > 0 {
		items = append(items, fyne.NewMenuItemSeparator())
		for _, r := range recent {
			key := r.Key
			item := fyne.NewMenuItem(fmt.Sprintf("%s  %s (%s)", r.Scheduled.Format("15:04"), r.PetName, r.Modality), nil)
			item.ChildMenu = fyne.NewMenu("",
				fyne.NewMenuItem("Show images", func() {
					if link, err := u.showImages(key); err != nil {
						u.worklist.selectKey(key)
						u.showView(ViewWorklist)
						u.worklist.detail.reportImages(link, err)
					}
				}),
				fyne.NewMenuItem("Show in worklist", func() {
					u.worklist.selectKey(key)
					u.showView(ViewWorklist)
				}),
			)
			items = append(items, item)
		}
	}

	mute := fyne.NewMenuItem("Mute notifications", u.toggleMute)
	mute.Checked = u.b.Config().Notifications.Muted
	items = append(items,
		fyne.NewMenuItemSeparator(),
		mute,
		fyne.NewMenuItem("Settings", func() { u.showView(ViewSettings) }),
	)
	if signedIn {
		items = append(items, fyne.NewMenuItem("Sign out", u.signOut))
	}
	quit := fyne.NewMenuItem("Quit", u.quit)
	quit.IsQuit = true
	items = append(items, fyne.NewMenuItemSeparator(), quit)
	return fyne.NewMenu("VetBridge", items...)
}

// recentReferrals are today's referrals most likely to have images now: the
// latest ones already due, newest first.
func (u *ui) recentReferrals(now time.Time) []app.Referral {
	all := u.b.Referrals(app.ReferralFilter{})
	due := make([]app.Referral, 0, len(all))
	for _, r := range all {
		if !r.Scheduled.After(now) {
			due = append(due, r)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].Scheduled.After(due[j].Scheduled) })
	if len(due) > recentPatients {
		due = due[:recentPatients]
	}
	return due
}

func (u *ui) toggleMute() {
	cfg := u.b.Config()
	cfg.Notifications.Muted = !cfg.Notifications.Muted
	u.inBackground(func(ctx context.Context) error { return u.b.SaveConfig(ctx, cfg) }, func(err error) {
		if err != nil {
			u.status.setNotice("Could not change notifications: " + err.Error())
		}
		u.refreshStatus()
		// Only the checkbox: a full reload would drop edits in progress.
		u.settings.form.muted.SetChecked(u.b.Config().Notifications.Muted)
	})
}

// signIn starts Provet's sign-in from the tray: in Settings, so that the
// technician sees the address to open and any failure, with the Provet
// settings there (the saved ones unless edited).
func (u *ui) signIn() {
	if u.firstRun != nil {
		u.show() // first run has its own sign-in step
		return
	}
	u.showView(ViewSettings)
	u.settings.signIn.start()
}

func (u *ui) signOut() {
	u.inBackground(u.b.SignOut, func(err error) {
		if err != nil {
			u.status.setNotice("Could not sign out: " + err.Error())
		}
		u.refreshStatus()
	})
}
