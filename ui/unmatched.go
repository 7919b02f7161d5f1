package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// unmatchedView is the queue of exams that belong to no referral: studies
// in the PACS no order claims and performed steps that named no open order.
// Each is linked to one of today's referrals or dismissed; nothing leaves
// the queue otherwise.
type unmatchedView struct {
	u       *ui
	content fyne.CanvasObject
	intro   *widget.Label
	list    *fyne.Container
	empty   *widget.Label
	message *widget.Label
	shown   string
	rows    map[string]*unmatchedRow
	// loading is set while the exams are being read; a refresh then waits
	// for that answer instead of reading twice.
	loading, again bool
}

type unmatchedRow struct {
	exam     app.UnmatchedExam
	text     *widget.Label
	referral *widget.Select
	link     *widget.Button
	dismiss  *confirmAction
	keys     map[string]string // the select's labels to referral keys
}

func newUnmatchedView(u *ui) *unmatchedView {
	v := &unmatchedView{u: u, rows: map[string]*unmatchedRow{}}
	v.intro = wrapLabel("Exams that belong to no referral: studies in the PACS that no order claims, and exams a modality " +
		"reported without a scheduled order. Link each to its referral (it then counts as imaged and Show images opens it) or dismiss it.")
	v.list = container.NewVBox()
	v.empty = wrapLabel("Nothing unmatched: every exam seen today belongs to a referral.")
	v.empty.Importance = widget.LowImportance
	v.message = wrapLabel("")
	v.message.Hide()
	v.content = container.NewVScroll(container.NewVBox(v.intro, v.message, widget.NewSeparator(), v.list, v.empty))
	return v
}

// refresh reads the queue off the UI goroutine (the first read opens it
// from the store) and shows it.
func (v *unmatchedView) refresh() {
	if v.loading {
		v.again = true
		return
	}
	v.loading = true
	go func() {
		exams := v.u.b.UnmatchedExams()
		v.u.do(func() {
			v.loading = false
			v.show(exams)
			if v.again {
				v.again = false
				v.refresh()
			}
		})
	}()
}

// examText is an unmatched exam as the technician reads it.
func examWords(e app.UnmatchedExam) string {
	name := strings.TrimSpace(strings.ReplaceAll(e.PatientName, "^", " "))
	if name == "" {
		name = "No patient name"
	}
	parts := []string{name}
	if e.PatientID != "" {
		parts = append(parts, "patient ID "+e.PatientID)
	}
	if when := dicomWhen(e.Date, e.Time); when != "" {
		parts = append(parts, when)
	}
	if m := e.Modality(); m != "" {
		parts = append(parts, strings.ReplaceAll(m, `\`, "/"))
	}
	if e.Accession != "" {
		parts = append(parts, "accession "+e.Accession)
	}
	switch e.Source {
	case "pacs":
		parts = append(parts, fmt.Sprintf("in the PACS, %d series, %d images", e.Series, e.Instances))
	default:
		from := "reported by a modality"
		if e.Device != "" {
			from = "reported by " + e.Device
		}
		parts = append(parts, from+" without an order")
	}
	return strings.Join(parts, " · ")
}

// dicomWhen turns DICOM's YYYYMMDD and HHMMSS into words.
func dicomWhen(date, clock string) string {
	d, err := time.ParseInLocation("20060102", date, time.Local)
	if err != nil {
		return date
	}
	out := dateText(d)
	if len(clock) >= 4 {
		out += " " + clock[:2] + ":" + clock[2:4]
	}
	return out
}

func (v *unmatchedView) show(exams []app.UnmatchedExam) {
	refs := v.u.b.Referrals(app.ReferralFilter{})
	var sig strings.Builder
	for _, e := range exams {
		fmt.Fprintf(&sig, "%s|%s\n", e.ID, examWords(e))
	}
	for _, r := range refs {
		fmt.Fprintf(&sig, "r|%s|%s\n", r.Key, referralChoice(r))
	}
	if sig.String() == v.shown {
		return
	}
	v.shown = sig.String()
	old := v.rows
	v.rows = map[string]*unmatchedRow{}
	v.list.RemoveAll()
	for _, e := range exams {
		row := v.row(e, refs)
		if o, ok := old[e.ID]; ok {
			row.referral.SetSelected(o.referral.Selected)
		}
		v.rows[e.ID] = row
	}
	if len(exams) == 0 {
		v.empty.Show()
	} else {
		v.empty.Hide()
	}
	v.u.updateUnmatchedTab(len(exams))
}

// referralChoice names a referral in the link list.
func referralChoice(r app.Referral) string {
	return joinNonEmpty(" · ", timeText(r.Scheduled)+" "+petText(r), r.OwnerName, examText(r), r.AccessionNumber)
}

func (v *unmatchedView) row(e app.UnmatchedExam, refs []app.Referral) *unmatchedRow {
	r := &unmatchedRow{exam: e, text: wrapLabel(examWords(e)), keys: map[string]string{}}
	var labels []string
	for _, ref := range refs {
		l := referralChoice(ref)
		r.keys[l] = ref.Key
		labels = append(labels, l)
	}
	r.referral = widget.NewSelect(labels, func(string) { r.link.Enable() })
	r.referral.PlaceHolder = "Choose today's referral it belongs to"
	r.link = widget.NewButton("Link", func() { v.link(r) })
	r.link.Importance = widget.HighImportance
	r.link.Disable()
	id := e.ID
	r.dismiss = newConfirmAction("Dismiss", "Dismiss this exam? It leaves the list and is linked to no referral.", "Dismiss", func() {
		v.act("Dismissed the exam of "+e.PatientName, func() error { return v.u.b.DismissUnmatched(id) })
	})
	v.list.Add(container.NewVBox(
		r.text,
		container.NewBorder(nil, nil, nil, container.NewHBox(r.link, r.dismiss.button), r.referral),
		r.dismiss.ask,
		widget.NewSeparator()))
	return r
}

func (v *unmatchedView) link(r *unmatchedRow) {
	key, ok := r.keys[r.referral.Selected]
	if !ok {
		v.say("Choose the referral the exam belongs to first.")
		return
	}
	r.link.Disable()
	id, words := r.exam.ID, r.referral.Selected
	v.act("Linked to "+words, func() error { return v.u.b.LinkUnmatched(id, key) })
}

// act links or dismisses (both write the store) off the UI goroutine.
func (v *unmatchedView) act(done string, call func() error) {
	go func() {
		err := call()
		v.u.do(func() {
			if err != nil {
				v.say("Could not change the exam: " + err.Error())
			} else {
				v.say(done + ".")
			}
			v.refresh()
			v.u.worklist.refresh()
		})
	}()
}

func (v *unmatchedView) say(text string) { setShown(v.message, text) }
