package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

type statusBar struct {
	content                      fyne.CanvasObject
	line                         *fyne.Container
	state, sync, pending, server *widget.Label
	notice                       *widget.Label
}

func newStatusBar() *statusBar {
	s := &statusBar{
		state:   widget.NewLabel(""),
		sync:    widget.NewLabel(""),
		pending: widget.NewLabel(""),
		server:  widget.NewLabel(""),
		notice:  widget.NewLabel(""),
	}
	s.notice.Importance = widget.WarningImportance
	s.notice.Wrapping = fyne.TextWrapWord
	s.notice.Hide()
	s.line = container.NewHBox(s.state, widget.NewSeparator(), s.sync, widget.NewSeparator(),
		s.pending, widget.NewSeparator(), s.server)
	s.content = container.NewVBox(widget.NewSeparator(), s.notice, s.line)
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
		s.server.SetText("Worklist server " + st.DICOMAddr)
	} else {
		s.server.SetText("Worklist server not running")
	}
	// The texts change width; lay the line out again so they do not overlap.
	s.line.Refresh()
	// The app clears Message when a problem is over; what it still says
	// (an unscheduled exam, no tray on this desktop) the technician should see.
	s.setNotice(st.Message)
}

func (s *statusBar) setNotice(msg string) {
	s.notice.SetText(msg)
	if msg == "" {
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
		if st.Message != "" {
			return "Needs attention: " + st.Message
		}
		return "Needs attention"
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
