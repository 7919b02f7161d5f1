package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// statusBar is the window's bottom lines. Every label in it truncates or
// wraps: a long message must never widen the window.
type statusBar struct {
	u                    *ui
	content              fyne.CanvasObject
	state, sync, pending *widget.Label
	notice               *widget.Label
	setup                *modalitySetup
	uiNotice, appNotice  string
}

func newStatusBar(u *ui) *statusBar {
	s := &statusBar{
		u:       u,
		state:   widget.NewLabel(""),
		sync:    widget.NewLabel(""),
		pending: widget.NewLabel(""),
		notice:  widget.NewLabel(""),
	}
	s.state.Truncation = fyne.TextTruncateEllipsis
	s.notice.Importance = widget.WarningImportance
	s.notice.Wrapping = fyne.TextWrapWord
	s.notice.Hide()
	s.setup = newModalitySetup(u)
	line := container.NewBorder(nil, nil, nil,
		container.NewHBox(widget.NewSeparator(), s.sync, widget.NewSeparator(), s.pending), s.state)
	s.content = container.NewVBox(widget.NewSeparator(), s.notice, line, s.setup.content)
	return s
}

func (s *statusBar) update(st app.Status) {
	s.state.SetText(stateLine(st))
	switch st.State {
	case app.StateOK, app.StateSyncing:
		s.state.Importance = widget.SuccessImportance
	case app.StateSignedOut:
		s.state.Importance = widget.MediumImportance
	default:
		s.state.Importance = widget.DangerImportance
	}
	s.state.Refresh()
	s.sync.SetText(lastSyncText(st.LastSync))
	switch st.PendingUpdates {
	case 0:
		s.pending.SetText("All status updates sent")
	case 1:
		s.pending.SetText("1 status update waiting for Provet")
	default:
		s.pending.SetText(fmt.Sprintf("%d status updates waiting for Provet", st.PendingUpdates))
	}
	if st.DICOMAddr != "" {
		s.setup.update(s.u.b.ModalitySetup())
	} else {
		s.setup.stopped("The worklist server is not running: modalities cannot query it.")
	}
	// The app clears Message when a problem is over; what it still says
	// (an unscheduled exam, no tray on this desktop) the technician should see.
	s.appNotice = st.Message
	s.showNotices()
}

// setNotice is the UI's own word (a sign-in that failed, Stopping…). It is
// kept apart from the app's status message, so a status refresh never
// overwrites it; "" clears it.
func (s *statusBar) setNotice(msg string) {
	s.uiNotice = msg
	s.showNotices()
}

func (s *statusBar) showNotices() {
	var parts []string
	for _, n := range []string{s.uiNotice, s.appNotice} {
		if n != "" && !strings.Contains(strings.Join(parts, " "), n) {
			parts = append(parts, n)
		}
	}
	s.notice.SetText(strings.Join(parts, " "))
	if len(parts) == 0 {
		s.notice.Hide()
	} else {
		s.notice.Show()
	}
}

// stateLine is the one-line summary shared by the status bar and the tray.
func stateLine(st app.Status) string {
	switch st.State {
	case app.StateSignedOut:
		return "Signed out of Provet"
	case app.StateSyncing:
		return "Signed in as " + st.SignedInAs + " · syncing"
	case app.StateOffline:
		return "Provet unreachable · serving the saved worklist"
	case app.StateError:
		return "Needs attention: open the VetBridge window"
	default:
		return "Signed in as " + st.SignedInAs
	}
}

func lastSyncText(t time.Time) string {
	if t.IsZero() {
		return "Not synced yet"
	}
	if y, m, d := t.Date(); time.Now().Year() == y && time.Now().Month() == m && time.Now().Day() == d {
		return "Last sync " + t.Format("15:04")
	}
	return "Last sync " + t.Format("2 Jan 15:04")
}

// modalitySetup shows what a modality must be given to reach the worklist
// server, with a Copy button; the status bar, first run and Settings use it.
type modalitySetup struct {
	u       *ui
	content *fyne.Container
	text    *widget.Label
	copy    *widget.Button
	clip    string
}

func newModalitySetup(u *ui) *modalitySetup {
	m := &modalitySetup{u: u, text: widget.NewLabel("")}
	m.text.Truncation = fyne.TextTruncateEllipsis
	m.copy = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		m.u.fa.Clipboard().SetContent(m.clip)
		m.copy.SetText("Copied")
	})
	m.content = container.NewBorder(nil, nil, nil, container.NewHBox(layout.NewSpacer(), m.copy), m.text)
	return m
}

func (m *modalitySetup) update(ae string, port int, addrs []string) {
	line, clip := modalitySetupText(ae, port, addrs)
	m.text.SetText(line)
	m.clip = clip
	m.copy.SetText("Copy")
	m.copy.Show()
}

func (m *modalitySetup) stopped(why string) {
	m.text.SetText(why)
	m.clip = ""
	m.copy.Hide()
}
