package ui

import (
	"context"
	"fmt"
	"image/color"
	"reflect"
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

var statuses = []string{anyStatus, "SCHEDULED", "STARTED", "COMPLETED", "DISCONTINUED"}

var worklistColumns = []struct {
	title string
	width float32
	text  func(app.Referral) string
}{
	{"Time", 70, func(r app.Referral) string { return r.Scheduled.Format("15:04") }},
	{"Pet", 230, func(r app.Referral) string { return petText(r) }},
	{"Owner", 170, func(r app.Referral) string { return r.OwnerName }},
	{"Exam", 220, func(r app.Referral) string { return r.Exam }},
	{"Modality / station", 140, func(r app.Referral) string { return joinNonEmpty(" / ", r.Modality, r.StationAE) }},
	{"Requesting vet", 160, func(r app.Referral) string { return r.RequestingVet }},
	{"Status", 120, func(r app.Referral) string { return r.Status }},
}

type worklistView struct {
	u       *ui
	content fyne.CanvasObject

	dayOffset int // days from today; the filter leaves Day zero for today so it follows midnight
	filter    app.ReferralFilter
	rows      []app.Referral
	// highlight keeps the rows that were new when the window opened lit while
	// it stays open, although the backend has already been told they were seen.
	highlight map[string]bool
	selected  string

	table             *widget.Table
	day, count        *widget.Label
	prev, next, today *widget.Button
	allDays           *widget.Check
	modality, status  *widget.Select
	search            *widget.Entry
	detail            *referralDetail
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
	w.status = widget.NewSelect(statuses, nil)
	w.search = widget.NewEntry()
	w.search.SetPlaceHolder("Search pet, owner, patient ID or accession")
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
		if s == anyStatus {
			s = ""
		}
		w.filter.Status = s
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
	w.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(w.rows) {
			w.selectKey(w.rows[id.Row].Key)
		}
	}

	w.detail = newReferralDetail(u)
	filters := container.NewVBox(
		container.NewHBox(w.prev, w.day, w.next, w.today, w.allDays, layout.NewSpacer(), w.count),
		container.NewBorder(nil, nil, nil, container.NewHBox(w.modality, w.status), w.search),
	)
	split := container.NewHSplit(w.table, container.NewVScroll(w.detail.content))
	split.Offset = 0.72
	w.content = container.NewBorder(filters, nil, nil, nil, split)
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

func (w *worklistView) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	if id.Row < 0 || id.Row >= len(w.rows) {
		return
	}
	r := w.rows[id.Row]
	stack := o.(*fyne.Container)
	bg := stack.Objects[0].(*canvas.Rectangle)
	l := stack.Objects[1].(*widget.Label)
	isNew := w.highlight[r.Key]
	var fill color.Color = color.Transparent
	if isNew {
		fill = theme.Color(theme.ColorNameSelection)
	}
	if bg.FillColor != fill {
		bg.FillColor = fill
		bg.Refresh()
	}
	l.TextStyle.Bold = isNew
	l.SetText(worklistColumns[id.Col].text(r))
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
	w.table.Refresh()
	w.detail.show(w.selected)
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
		w.day.SetText("Today, " + time.Now().Format("Mon 2 Jan"))
	default:
		w.day.SetText(w.filter.Day.Format("Mon 2 Jan 2006"))
	}
}

func (w *worklistView) clearHighlights() {
	clear(w.highlight)
	w.table.Refresh()
}

func (w *worklistView) selectKey(key string) {
	w.selected = key
	w.detail.show(key)
	w.u.modalities.setReferral(key)
}

// referralDetail shows everything the modality will receive for one referral
// and the technician's actions on it.
type referralDetail struct {
	u       *ui
	key     string
	shown   app.Referral // what the pane shows, to leave it alone when nothing changed
	content fyne.CanvasObject

	title, remarks, message *widget.Label
	fields                  *fyne.Container
	showImages, markDone    *widget.Button
	copyID, explain         *widget.Button
	actions                 *fyne.Container
}

func newReferralDetail(u *ui) *referralDetail {
	d := &referralDetail{u: u}
	d.title = widget.NewLabelWithStyle("Select a referral to see what the modality receives.",
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.title.Wrapping = fyne.TextWrapWord
	d.fields = container.New(layout.NewFormLayout())
	d.remarks = widget.NewLabel("")
	d.remarks.Wrapping = fyne.TextWrapWord
	d.message = widget.NewLabel("")
	d.message.Wrapping = fyne.TextWrapWord
	d.showImages = widget.NewButtonWithIcon("Show images", theme.VisibilityIcon(), d.onShowImages)
	d.showImages.Importance = widget.HighImportance
	d.markDone = widget.NewButtonWithIcon("Mark done", theme.ConfirmIcon(), d.onMarkDone)
	d.copyID = widget.NewButtonWithIcon("Copy patient ID", theme.ContentCopyIcon(), d.onCopyID)
	d.explain = widget.NewButtonWithIcon("Not on a device?", theme.QuestionIcon(), func() {
		d.u.modalities.setReferral(d.key)
		d.u.selectView(ViewModalities)
	})
	d.actions = container.NewGridWithColumns(2, d.showImages, d.markDone, d.copyID, d.explain)
	d.content = container.NewVBox(d.title, d.actions, d.message, widget.NewSeparator(), d.fields, d.remarks)
	d.show("")
	return d
}

func (d *referralDetail) show(key string) {
	r, ok := app.Referral{}, false
	if key != "" {
		r, ok = d.u.b.Referral(key)
	}
	if d.key != key {
		d.message.SetText("")
	}
	d.key = key
	if !ok {
		d.key, d.shown = "", app.Referral{}
		d.title.SetText("Select a referral to see what the modality receives.")
		d.actions.Hide()
		d.fields.RemoveAll()
		d.remarks.SetText("")
		return
	}
	if reflect.DeepEqual(r, d.shown) {
		// Rebuilding on every sync would drop a text selection in progress.
		return
	}
	d.shown = r
	d.actions.Show()
	d.title.SetText(fmt.Sprintf("%s · %s · %s", petText(r), r.Exam, r.Status))
	d.fields.RemoveAll()
	for _, f := range r.Fields {
		label := widget.NewLabelWithStyle(f.Label, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
		value := widget.NewLabel(f.Value)
		value.Selectable = true
		value.Wrapping = fyne.TextWrapWord
		d.fields.Add(label)
		d.fields.Add(value)
	}
	if r.Remarks != "" {
		d.remarks.SetText("Remarks: " + r.Remarks)
	} else {
		d.remarks.SetText("No remarks.")
	}
	if r.Status == "COMPLETED" || r.Status == "DISCONTINUED" {
		d.markDone.Disable()
	} else {
		d.markDone.Enable()
	}
}

func (d *referralDetail) onShowImages() {
	if err := d.u.showImages(d.key); err != nil {
		d.message.SetText("Could not show images: " + err.Error())
		return
	}
	d.message.SetText("")
}

func (d *referralDetail) onMarkDone() {
	key := d.key
	d.markDone.Disable()
	d.message.SetText("Marking done…")
	d.u.inBackground(func(ctx context.Context) error { return d.u.b.MarkDone(ctx, key) }, func(err error) {
		if d.key == key {
			if err != nil {
				d.message.SetText("Could not mark done: " + err.Error() + " VetBridge keeps the worklist entry; try again.")
			} else {
				d.message.SetText("Marked done; Provet is updated in the background.")
			}
		}
		d.u.worklist.refresh()
	})
}

func (d *referralDetail) onCopyID() {
	r, ok := d.u.b.Referral(d.key)
	if !ok {
		return
	}
	d.u.fa.Clipboard().SetContent(r.PatientID)
	d.message.SetText("Patient ID " + r.PatientID + " copied.")
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
