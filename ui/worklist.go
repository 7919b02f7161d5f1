package ui

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

const (
	anyModality = "All modalities"
	anyStatus   = "All statuses"
)

// Column widths fit the table beside a readable detail pane in a 1,160 px
// window, with Status second so that it never scrolls out of sight; the
// requesting vet is in the detail pane. Images says what the PACS holds.
var worklistColumns = []struct {
	title string
	width float32
	text  func(app.Referral) string
}{
	{"Time", 64, func(r app.Referral) string { return timeText(r.Scheduled) }},
	{"Status", 104, func(r app.Referral) string { return statusText(r.Status) }},
	{"Pet", 144, func(r app.Referral) string { return petText(r) }},
	{"Owner", 120, func(r app.Referral) string { return r.OwnerName }},
	{"Exam", 124, func(r app.Referral) string { return examText(r) }},
	{"Modality", 76, func(r app.Referral) string { return joinNonEmpty(" / ", r.Modality, r.StationAE) }},
	{"Images", 110, func(r app.Referral) string { return r.Images }},
}

// examText marks exams that have no Provet order.
func examText(r app.Referral) string {
	if r.WalkIn {
		return joinNonEmpty(": ", "Walk-in", r.Exam)
	}
	return r.Exam
}

// allDaysTimeWidth is the Time column's width when it shows dates too.
const allDaysTimeWidth = 150

type worklistView struct {
	u       *ui
	content fyne.CanvasObject

	dayOffset int // days from today; the filter leaves Day zero for today so it follows midnight
	filter    app.ReferralFilter
	rows      []app.Referral
	// highlight keeps the rows that were new when the window opened lit while
	// it stays open, although the backend has already been told they were seen.
	highlight map[string]bool
	// selected is the referral the detail pane shows; it follows its row
	// when the list changes and is cleared when the row leaves the list.
	selected string
	// tableSel is the cell the table highlights, as its callbacks report it.
	tableSel *widget.TableCellID
	// timeWidth is the Time column's width now: wider with dates.
	timeWidth float32

	table             *widget.Table
	split             *container.Split
	day, count        *widget.Label
	prev, next, today *widget.Button
	allDays           *widget.Check
	modality, status  *widget.Select
	search            *widget.Entry
	detail            *referralDetail
	done              *doneBar
	parked            *parkedBar
	newExam           *widget.Button
	walkIn            *walkInForm // built when first opened
}

func newWorklistView(u *ui) *worklistView {
	w := &worklistView{u: u, highlight: map[string]bool{}}
	w.day = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.count = widget.NewLabel("")
	w.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { w.moveDay(-1) })
	w.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { w.moveDay(1) })
	w.today = widget.NewButton("Today", func() { w.moveDay(-w.dayOffset) })
	w.allDays = widget.NewCheck("All days", func(on bool) {
		w.filter.AllDays = on
		w.refresh()
	})
	w.modality = widget.NewSelect(nil, nil)
	statusOpts := []string{anyStatus}
	for _, s := range statusWords {
		statusOpts = append(statusOpts, s.words)
	}
	w.status = widget.NewSelect(statusOpts, nil)
	w.search = widget.NewEntry()
	w.search.SetPlaceHolder("Search pet, owner, patient ID or accession")
	// The app folds case, accents and ß; the UI passes the words on as typed.
	w.search.OnChanged = func(s string) {
		w.filter.Search = s
		w.refresh()
	}
	w.setModalities()
	w.modality.SetSelected(anyModality)
	w.status.SetSelected(anyStatus)
	// Callbacks go on after the initial selection, which must not query yet.
	w.modality.OnChanged = func(s string) {
		if s == anyModality {
			s = ""
		}
		w.filter.Modality = s
		w.refresh()
	}
	w.status.OnChanged = func(s string) {
		w.filter.Status = statusCode(s)
		w.refresh()
	}

	w.table = widget.NewTableWithHeaders(
		func() (int, int) { return len(w.rows), len(worklistColumns) },
		w.createCell,
		w.updateCell,
	)
	w.table.ShowHeaderColumn = false
	w.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	w.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(worklistColumns[id.Col].title)
		}
	}
	for i, c := range worklistColumns {
		w.table.SetColumnWidth(i, c.width)
	}
	w.timeWidth = worklistColumns[0].width
	w.table.OnSelected = func(id widget.TableCellID) {
		w.tableSel = &id
		if id.Row >= 0 && id.Row < len(w.rows) && w.rows[id.Row].Key != w.selected {
			w.selectKey(w.rows[id.Row].Key)
			w.table.Refresh() // the selected row's fill moves with it
		}
	}
	w.table.OnUnselected = func(id widget.TableCellID) {
		if w.tableSel != nil && *w.tableSel == id {
			w.tableSel = nil
		}
	}

	w.detail = newReferralDetail(u)
	w.done = newDoneBar(u)
	w.parked = newParkedBar(u)
	w.newExam = widget.NewButtonWithIcon("New exam", theme.ContentAddIcon(), w.openWalkIn)
	filters := container.NewVBox(
		container.NewHBox(w.prev, w.day, w.next, w.today, w.allDays, layout.NewSpacer(), w.count, w.newExam),
		container.NewBorder(nil, nil, nil, container.NewHBox(w.modality, w.status), w.search),
	)
	w.split = container.NewHSplit(w.table, container.NewVScroll(w.detail.content))
	w.split.Offset = defaultWorklistSplit
	w.content = container.NewBorder(filters, container.NewVBox(w.parked.content, w.done.content), nil, nil, w.split)
	return w
}

// setModalities offers the modality codes the clinic maps Provet's modalities to.
func (w *worklistView) setModalities() {
	opts := []string{anyModality}
	seen := map[string]bool{}
	for _, m := range w.u.b.Config().ModalityMap {
		if m.Modality != "" && !seen[m.Modality] {
			seen[m.Modality] = true
			opts = append(opts, m.Modality)
		}
	}
	w.modality.SetOptions(opts)
}

func (w *worklistView) createCell() fyne.CanvasObject {
	bg := canvas.NewRectangle(color.Transparent)
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return container.NewStack(bg, l)
}

// newRowColor marks a referral that arrived since the window opened. It is a
// tint of the success colour so that it never reads as the selection.
func newRowColor() color.Color {
	r, g, b, _ := theme.Color(theme.ColorNameSuccess).RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 0x38}
}

func (w *worklistView) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	if id.Row < 0 || id.Row >= len(w.rows) {
		return
	}
	r := w.rows[id.Row]
	stack := o.(*fyne.Container)
	bg := stack.Objects[0].(*canvas.Rectangle)
	l := stack.Objects[1].(*widget.Label)
	isNew := w.highlight[r.Key]
	// The table highlights the one cell clicked; the whole row is the referral.
	var fill color.Color = color.Transparent
	switch {
	case r.Key == w.selected:
		fill = theme.Color(theme.ColorNameSelection)
	case isNew:
		fill = newRowColor()
	}
	if bg.FillColor != fill {
		bg.FillColor = fill
		bg.Refresh()
	}
	l.TextStyle.Bold = isNew
	text := worklistColumns[id.Col].text(r)
	if id.Col == 0 && w.filter.AllDays {
		text = r.Scheduled.Format("Mon 2 Jan 2006 15:04")
	}
	l.SetText(text)
}

func (w *worklistView) moveDay(delta int) {
	w.dayOffset += delta
	if w.dayOffset != 0 {
		w.filter.Day = startOfDay(time.Now()).AddDate(0, 0, w.dayOffset)
	} else {
		w.filter.Day = time.Time{}
	}
	if w.filter.AllDays {
		w.allDays.SetChecked(false) // choosing a day means that day
	}
	w.refresh()
}

// refresh asks the backend for the rows matching the filter; the table then
// redraws only the cells on screen, however many rows there are.
func (w *worklistView) refresh() {
	w.rows = w.u.b.Referrals(w.filter)
	if w.u.visible {
		for _, r := range w.rows {
			if r.New {
				w.highlight[r.Key] = true
			}
		}
	}
	w.updateDayLabel()
	switch len(w.rows) {
	case 1:
		w.count.SetText("1 referral")
	default:
		w.count.SetText(fmt.Sprintf("%d referrals", len(w.rows)))
	}
	timeWidth := worklistColumns[0].width
	if w.filter.AllDays {
		timeWidth = allDaysTimeWidth
	}
	if w.timeWidth != timeWidth {
		w.timeWidth = timeWidth
		w.table.SetColumnWidth(0, timeWidth)
	}
	w.table.Refresh()
	w.followSelection()
	w.parked.refresh()
}

// followSelection keeps the table's highlight on the selected referral
// wherever it moved, and clears the selection and the detail pane when the
// referral is no longer listed: the pane must never act on a row the
// technician cannot see.
func (w *worklistView) followSelection() {
	if w.selected == "" {
		w.table.UnselectAll()
		w.detail.show("")
		return
	}
	for i, r := range w.rows {
		if r.Key == w.selected {
			w.table.Select(widget.TableCellID{Row: i, Col: 0})
			w.detail.show(w.selected)
			return
		}
	}
	w.selected = ""
	w.table.UnselectAll()
	w.detail.show("")
}

func (w *worklistView) updateDayLabel() {
	enabled := !w.filter.AllDays
	for _, b := range []*widget.Button{w.prev, w.next, w.today} {
		if enabled {
			b.Enable()
		} else {
			b.Disable()
		}
	}
	switch {
	case w.filter.AllDays:
		w.day.SetText("All days")
	case w.dayOffset == 0:
		w.day.SetText("Today, " + dateText(time.Now()))
	default:
		w.day.SetText(dateText(w.filter.Day))
	}
}

func (w *worklistView) clearHighlights() {
	clear(w.highlight)
	w.table.Refresh()
}

// selectKey shows key in the detail pane (a table click, or the tray's
// "Show in worklist"). A referral outside the current filter widens the
// view to all days without filters so that its row is there.
func (w *worklistView) selectKey(key string) {
	w.selected = key
	w.u.modalities.setReferral(key)
	for _, r := range w.rows {
		if r.Key == key {
			w.followSelection()
			return
		}
	}
	// Each of these refreshes on its own; the selection is set again after.
	w.selected = ""
	w.search.SetText("")
	w.modality.SetSelected(anyModality)
	w.status.SetSelected(anyStatus)
	w.allDays.SetChecked(true)
	w.selected = key
	w.refresh()
}

func petText(r app.Referral) string {
	kind := joinNonEmpty(", ", r.Species, r.Breed)
	if kind == "" {
		return r.PetName
	}
	return r.PetName + " (" + kind + ")"
}

func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}

func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// openWalkIn opens "New exam" for a patient without an imaging order.
func (w *worklistView) openWalkIn() {
	if w.walkIn == nil {
		w.walkIn = newWalkInForm(w.u)
	}
	w.walkIn.open()
}

// walkInCreated shows the new exam and says whether Provet has its order
// or it stays in VetBridge.
func (w *worklistView) walkInCreated(res app.WalkInResult) {
	r := res.Referral
	w.selectKey(r.Key)
	if res.InProvet {
		w.done.say("The exam for "+referralWords(r)+" is on the worklist, and Provet has its imaging order.", false)
		return
	}
	text := "Walk-in exam for " + referralWords(r) + " is on the worklist. It stays in VetBridge only: " +
		"Provet has no imaging order for it and gets no status from it."
	if res.Note != "" {
		text += " " + res.Note
	}
	w.done.say(text, false)
}
