package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

func TestParkedUpdatesAreRetriedOrDroppedAfterConfirming(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	bar := h.u.worklist.parked
	if bar.content.Visible() {
		t.Fatal("the bar shows without parked updates")
	}
	fake.mu.Lock()
	fake.parked = []app.ParkedUpdate{
		{ID: 7, Key: "k3", Status: "completed", Provet: "Provet answered 400: the order is locked; unlock it in Provet, then retry.", Referral: "Rex, Olli Berg, Hip"},
		{ID: 9, Key: "k1", Status: "in progress", Provet: "Provet answered 403: the user may not edit imaging orders.", Referral: "Bella, Anna Virtanen, Thorax"},
	}
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventStatus})
	h.settle("parked shown", func() bool { return bar.content.Visible() && len(bar.rows) == 2 })
	want := "Provet refused to set Rex, Olli Berg, Hip to completed: Provet answered 400: the order is locked; unlock it in Provet, then retry."
	if got := bar.rows[7].text.Text; got != want {
		t.Errorf("parked update reads %q, want %q", got, want)
	}

	test.Tap(bar.rows[7].retry)
	h.settle("retried", func() bool { return len(bar.rows) == 1 })
	if !slices.Equal(fake.retried, []uint64{7}) {
		t.Errorf("retried %v", fake.retried)
	}

	drop := bar.rows[9].drop
	test.Tap(drop.button)
	if len(fake.dropped) != 0 || !drop.ask.Visible() {
		t.Fatal("Drop must ask before dropping")
	}
	test.Tap(drop.yes)
	h.settle("dropped", func() bool { return len(bar.rows) == 0 })
	if !slices.Equal(fake.dropped, []uint64{9}) || !strings.HasPrefix(bar.message.Text, "Dropped") {
		t.Errorf("dropped %v, message %q", fake.dropped, bar.message.Text)
	}
}

func TestDetailShowsWhoChangedTheStatus(t *testing.T) {
	fake := newFake()
	fake.refs[0].History = []string{"Started by DX1, 192.168.1.20, Sat 29 Nov 10:31", "Completed by DX1, 192.168.1.20, Sat 29 Nov 10:42"}
	h := newHarness(t, fake, Options{ShowWindow: true})
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: 0})
	got := labelTexts(h.u.worklist.detail.history)
	want := []string{"History", "Started by DX1, 192.168.1.20, Sat 29 Nov 10:31", "Completed by DX1, 192.168.1.20, Sat 29 Nov 10:42"}
	if !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
	h.u.worklist.table.Select(widget.TableCellID{Row: 1, Col: 0})
	if got := labelTexts(h.u.worklist.detail.history); len(got) != 0 {
		t.Errorf("a referral without history shows %q", got)
	}
}
