package ui

import (
	"errors"
	"image/color"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

func TestSelectionFollowsTheReferralWhenTheListChanges(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	w.table.Select(widget.TableCellID{Row: 1, Col: colPet}) // Misu
	if w.detail.key != "k2" {
		t.Fatalf("detail shows %q, want Misu", w.detail.key)
	}

	// Misu moves to the first row: the highlight and the pane go with her.
	w.modality.SetSelected("US")
	if w.detail.key != "k2" || len(w.rows) != 1 {
		t.Fatalf("after filtering the detail shows %q", w.detail.key)
	}
	if row := selectedRow(t, w); row != 0 {
		t.Errorf("the table highlights row %d, Misu is on row 0", row)
	}

	// A search that leaves her out clears the pane: nothing can act on a
	// referral the technician no longer sees.
	w.modality.SetSelected(anyModality)
	test.Type(w.search, "bella")
	if w.detail.key != "" || w.selected != "" || w.detail.body.Visible() {
		t.Errorf("the pane still shows %q after Misu left the list", w.detail.key)
	}
	if w.tableSel != nil {
		t.Error("a row is still highlighted although the selected referral left the list")
	}

	// So does another day.
	w.search.SetText("")
	w.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	fake.mu.Lock()
	fake.refs = fake.refs[1:] // Bella left the worklist in a sync
	fake.mu.Unlock()
	fake.emit(app.Event{Kind: app.EventReferrals})
	h.settle("Bella gone", func() bool { return w.detail.key == "" })
}

func selectedRow(t *testing.T, w *worklistView) int {
	t.Helper()
	if w.tableSel == nil {
		t.Fatal("no row is highlighted")
	}
	return w.tableSel.Row
}

func TestMarkDoneNamesTheReferralAndCanBeUndone(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	fake.undoUntil = h.clock.Now().Add(10 * time.Second)
	w := h.u.worklist
	w.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	test.Tap(w.detail.markDone)
	h.settle("marked", func() bool { return strings.HasPrefix(w.done.text.Text, "Marked done") })

	if want := "Marked done: Bella (Dog, Labrador) · Anna Virtanen · Thorax."; !strings.HasPrefix(w.done.text.Text, want) {
		t.Errorf("done bar %q, want it to start %q", w.done.text.Text, want)
	}
	if !w.done.undo.Visible() || h.clock.pending() != 1 {
		t.Fatalf("Undo should be offered until the backend's deadline")
	}
	if got := cellTexts(w, colStatus)[0]; got != "Completed" {
		t.Errorf("Bella's status %q after Mark done", got)
	}

	// The selection moves on; the bar still speaks of Bella.
	w.table.Select(widget.TableCellID{Row: 1, Col: colPet})
	test.Tap(w.done.undo)
	h.settle("undone", func() bool { return strings.HasPrefix(w.done.text.Text, "Undone") })
	if !slices.Equal(fake.undone, []string{"k1"}) {
		t.Errorf("undid %q, want Bella's k1", fake.undone)
	}
	if got := cellTexts(w, colStatus)[0]; got != "Scheduled" {
		t.Errorf("Bella's status %q after Undo", got)
	}
	if w.done.undo.Visible() || h.clock.pending() != 0 {
		t.Error("Undo is still offered after undoing")
	}
}

func TestMarkDoneUndoEndsWithItsWindow(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	fake.undoUntil = h.clock.Now().Add(10 * time.Second)
	w := h.u.worklist
	w.table.Select(widget.TableCellID{Row: 1, Col: colPet})
	test.Tap(w.detail.markDone)
	h.settle("marked", func() bool { return w.done.undo.Visible() })

	h.clock.advance(9 * time.Second)
	h.settle("still undoable", func() bool { return w.done.undo.Visible() })
	h.clock.advance(time.Second)
	h.settle("undo over", func() bool { return !w.done.undo.Visible() })
	if !strings.Contains(w.done.text.Text, "Misu") || !strings.Contains(w.done.text.Text, "Provet is updated") {
		t.Errorf("done bar %q", w.done.text.Text)
	}

	fake.undoErr = errors.New("Provet already has it.")
	fake.undoUntil = h.clock.Now().Add(10 * time.Second)
	w.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	test.Tap(w.detail.markDone)
	h.settle("marked", func() bool { return w.done.undo.Visible() && strings.Contains(w.done.text.Text, "Bella") })
	test.Tap(w.done.undo)
	h.settle("undo refused", func() bool { return strings.HasPrefix(w.done.text.Text, "Could not undo") })
	if !strings.Contains(w.done.text.Text, "Provet already has it.") {
		t.Errorf("done bar %q", w.done.text.Text)
	}
}

// The detail pane must read at the window's own size on the screens clinics
// have, with the Status column in view.
func TestDetailReadableAtTheWindowsOwnSize(t *testing.T) {
	for _, width := range []float32{defaultWindowSize.Width, 1200, 1366} {
		fake := newFake()
		h := newHarness(t, fake, Options{ShowWindow: true})
		h.u.win.Resize(fyne.NewSize(width, 720))
		w := h.u.worklist
		w.table.Select(widget.TableCellID{Row: 0, Col: colPet})
		layOut(h)

		if min := h.u.win.Content().MinSize().Width; min > defaultWindowSize.Width {
			t.Errorf("width %v: the window needs %v px", width, min)
		}
		narrowest := float32(1e9)
		for _, o := range w.detail.people.Objects {
			if l, ok := o.(*widget.Label); ok && l.Alignment != fyne.TextAlignTrailing {
				narrowest = min(narrowest, l.Size().Width)
			}
		}
		if narrowest < 220 {
			t.Errorf("width %v: detail values get %v px; they wrap a few letters per line", width, narrowest)
		}
		var statusEnd float32
		for i := 0; i <= colStatus; i++ {
			statusEnd += worklistColumns[i].width
		}
		if tw := w.table.Size().Width; statusEnd > tw {
			t.Errorf("width %v: the Status column ends at %v px, the table shows %v", width, statusEnd, tw)
		}
	}
}

func TestDetailSpeaksForPeopleAndKeepsTagsForIT(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	w.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	d := w.detail
	bella := fake.refs[0]
	people := strings.Join(labelTexts(d.people), "|")
	for _, want := range []string{bella.Scheduled.Format("Mon 2 Jan 2006"), bella.Scheduled.Format("15:04"), "Scheduled", "Dr Koivu", "P1"} {
		if !strings.Contains(people, want) {
			t.Errorf("detail %q lacks %q", people, want)
		}
	}
	for _, jargon := range []string{"SCHEDULED", "(0010,0020)", bella.Scheduled.Format("20060102")} {
		if strings.Contains(people, jargon) || strings.Contains(d.title.Text+d.subtitle.Text, jargon) {
			t.Errorf("detail for people shows %q", jargon)
		}
	}
	if d.it.Visible() {
		t.Fatal("the DICOM view should wait for Details for IT")
	}
	test.Tap(d.showIT)
	if it := strings.Join(labelTexts(d.it), "|"); !d.it.Visible() || !strings.Contains(it, "Patient ID (0010,0020)") {
		t.Errorf("Details for IT shows %q", it)
	}
}

func TestAllDaysShowsDates(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	if got := cellTexts(w, 0)[0]; got != fake.refs[0].Scheduled.Format("15:04") {
		t.Errorf("one day's list shows %q in Time", got)
	}
	test.Tap(w.allDays)
	if got, want := cellTexts(w, 0)[0], fake.refs[0].Scheduled.Format("Mon 2 Jan 2006 15:04"); got != want {
		t.Errorf("all days shows %q, want %q", got, want)
	}
	if w.table.Length == nil || !strings.HasPrefix(w.day.Text, "All days") {
		t.Errorf("day label %q", w.day.Text)
	}
}

func TestNewReferralLooksUnlikeTheSelection(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{})
	h.u.show()
	w := h.u.worklist
	c := w.table.CreateCell()
	w.table.UpdateCell(widget.TableCellID{Row: 1, Col: colPet}, c) // Misu is new
	fill := c.(*fyne.Container).Objects[0].(*canvas.Rectangle).FillColor
	if fill == color.Transparent || sameColor(fill, theme.Color(theme.ColorNameSelection)) {
		t.Errorf("a new referral is filled %v, the selection %v", fill, theme.Color(theme.ColorNameSelection))
	}
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

func TestWindowSizeAndSplitsAreRemembered(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	if got := h.u.worklist.split.Offset; got != defaultWorklistSplit {
		t.Errorf("a first start splits at %v", got)
	}
	h.u.win.Resize(fyne.NewSize(1300, 800))
	h.u.worklist.split.SetOffset(0.55)
	h.u.modalities.split.SetOffset(0.3)
	h.u.closeWindow()

	again := newUI(h.u.fa, fake, &fakeTray{}, Options{}, func(f func()) { f() })
	if got := again.worklist.split.Offset; got != 0.55 {
		t.Errorf("worklist split %v after a restart, want 0.55", got)
	}
	if got := again.modalities.split.Offset; got != 0.3 {
		t.Errorf("modalities split %v after a restart, want 0.3", got)
	}
	if got := again.win.Canvas().Size(); got != fyne.NewSize(1300, 800) {
		t.Errorf("window %v after a restart, want 1300x800", got)
	}
}

func TestSearchIsPassedOnForTheAppToFold(t *testing.T) {
	fake := newFake()
	fake.refs[2].OwnerName = "Jürgen Groß"
	h := newHarness(t, fake, Options{ShowWindow: true})
	w := h.u.worklist
	test.Type(w.search, "gross")
	if got := fake.lastFilter().Search; got != "gross" {
		t.Errorf("the app was asked for %q", got)
	}
	if got := cellTexts(w, colOwner); !slices.Equal(got, []string{"Jürgen Groß"}) {
		t.Errorf("owners shown %q", got)
	}
}

func TestShowImagesNeedsAViewerAddress(t *testing.T) {
	fake := newFake()
	fake.cfg.ViewerURL = ""
	h := newHarness(t, fake, Options{ShowWindow: true})
	d := h.u.worklist.detail
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	if !d.showImages.Disabled() || !d.viewerHint.Visible() {
		t.Error("Show images is offered with no viewer address")
	}
	s := h.u.settings
	s.form.viewerURL.SetText("https://pacs.example/v?p={patient_id}")
	test.Tap(s.save)
	h.settle("saved", func() bool { return s.message.Text == "Saved and applied." })
	if d.showImages.Disabled() || d.viewerHint.Visible() {
		t.Error("Show images stays off after a viewer address was saved")
	}
}

func TestViewerAddressCopyableWhenNoBrowserOpens(t *testing.T) {
	fake := newFake()
	h := newHarness(t, fake, Options{ShowWindow: true})
	h.openErr = errors.New("no browser found")
	d := h.u.worklist.detail
	h.u.worklist.table.Select(widget.TableCellID{Row: 0, Col: colPet})
	test.Tap(d.showImages)
	want, _ := fake.ViewerURL("k1")
	if !d.message.copy.Visible() || !strings.Contains(d.message.text.Text, "no browser found") {
		t.Fatalf("message %q offers no copy", d.message.text.Text)
	}
	test.Tap(d.message.copy)
	if got := h.u.fa.Clipboard().Content(); got != want {
		t.Errorf("clipboard %q, want %q", got, want)
	}
}

// layOut lays the window out again as the desktop driver does on its next
// frame when a pane's contents changed; the test driver does not on its own.
func layOut(h *harness) {
	h.u.win.Content().Refresh()
	test.RenderToMarkup(h.u.win.Canvas())
}
