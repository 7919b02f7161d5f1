package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// The new lists carry words from Provet, the PACS and the network: however
// long, they wrap and the window keeps its size, whichever view shows.
func TestLongWordsInTheNewListsNeverWidenTheWindow(t *testing.T) {
	long := strings.Repeat("Provet answered 400 with a very long explanation ", 20) + strings.Repeat("x", 300)
	fake := newFake()
	fake.refs[0].History = []string{long}
	fake.refs[0].Images = long
	fake.parked = []app.ParkedUpdate{{ID: 1, Key: "k1", Status: "completed", Provet: long, Referral: long}}
	fake.devices = []app.Device{
		{CallingAE: "DX-ROOM2", Addr: "192.168.1.31", Refused: 3, LastRefused: time.Now(), RefusedWhy: long},
		{CallingAE: "US1", Known: true, Addrs: []string{strings.Repeat("192.168.100.200, ", 30)}},
	}
	ex := unmatchedExam()
	ex.PatientName, ex.Device, ex.Source = long, long, "mpps"
	fake.unmatched = []app.UnmatchedExam{ex}
	fake.images = map[string]app.ImagesSummary{"k1": {Summary: long}}
	h := newHarness(t, fake, Options{ShowWindow: true})
	h.settle("unmatched shown", func() bool { return len(h.u.unmatched.rows) == 1 })
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: 0})
	h.settle("images shown", func() bool { return strings.Contains(h.u.worklist.detail.images.Text, "very long") })
	for _, view := range []string{ViewWorklist, ViewUnmatched, ViewModalities, ViewSettings} {
		h.u.selectView(view)
		layOut(h)
		if min := h.u.win.Content().MinSize().Width; min > defaultWindowSize.Width {
			t.Errorf("%s: long words make the window %v px wide", view, min)
		}
	}
}
