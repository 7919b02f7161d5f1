package ui

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// statusesSection shows the status values in use in the clinic's Provet
// worklist beside the meaning VetBridge gives each, so a person can compare
// them with Provet's own screens and confirm. Until then no status is sent.
type statusesSection struct {
	u       *ui
	content fyne.CanvasObject
	read    *widget.Button
	confirm *widget.Button
	state   *widget.Label
	table   *fyne.Container
	// concerns and why say, in words, what to check and why Confirm is off.
	concerns, why *widget.Label
	survey        *app.StatusSurvey
}

func newStatusesSection(u *ui) *statusesSection {
	s := &statusesSection{u: u}
	intro := wrapLabel("Provet does not publish what its status numbers mean. Read the values your Provet uses, " +
		"open the example orders in Provet and check that each shows the meaning listed here, then confirm. " +
		"Until someone confirms, VetBridge sends no status to Provet; status updates wait.")
	s.read = widget.NewButton("Read status values from Provet", s.onRead)
	s.confirm = widget.NewButton("I checked these in Provet: confirm", s.onConfirm)
	s.confirm.Importance = widget.HighImportance
	s.confirm.Disable()
	s.state = wrapLabel("")
	s.table = container.NewGridWithColumns(4)
	s.concerns = wrapLabel("")
	s.concerns.Importance = widget.WarningImportance
	s.why = wrapLabel("")
	s.why.Importance = widget.LowImportance
	for _, l := range []*widget.Label{s.state, s.concerns, s.why} {
		l.Hide()
	}
	s.table.Hide()
	s.content = container.NewVBox(intro, container.NewHBox(s.read), s.state, s.table, s.concerns,
		container.NewHBox(s.confirm), s.why)
	return s
}

func wrapLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func setShown(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

func (s *statusesSection) onRead() {
	s.read.Disable()
	s.confirm.Disable()
	setShown(s.state, "Reading Provet's worklist…")
	var rep app.StatusReport
	s.u.inBackground(func(ctx context.Context) (err error) {
		rep, err = s.u.b.Statuses(ctx)
		return err
	}, func(err error) {
		s.read.Enable()
		if err != nil {
			s.survey = nil
			s.table.Hide()
			setShown(s.concerns, "")
			setShown(s.why, "")
			setShown(s.state, "Could not read the status values: "+err.Error())
			return
		}
		s.show(rep)
	})
}

// meaningWords is a status meaning as people say it.
func meaningWords(m fmt.Stringer) string {
	w := strings.ReplaceAll(m.String(), "_", " ")
	if w == "unknown" {
		return "not known to VetBridge"
	}
	return w
}

func (s *statusesSection) show(rep app.StatusReport) {
	sv := rep.Survey
	s.survey = &sv
	read := fmt.Sprintf("Read %d of the %d orders in Provet's worklist", sv.Read, sv.Total)
	if sv.Complete {
		read += " (all of them)."
	} else {
		read += "; values used only by orders not read are not listed."
	}
	if rep.Confirmed {
		read += " These meanings are confirmed: status updates go to Provet."
	} else {
		read += " Not confirmed yet: status updates wait."
	}
	setShown(s.state, read)
	s.table.RemoveAll()
	for _, h := range []string{"Provet value", "Orders", "VetBridge reads it as", "Example orders"} {
		s.table.Add(widget.NewLabelWithStyle(h, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	for _, v := range sv.Values {
		ids := make([]string, len(v.Examples))
		for i, id := range v.Examples {
			ids[i] = strconv.FormatInt(id, 10)
		}
		meaning := wrapLabel(meaningWords(v.Meaning))
		if v.Meaning.String() == "unknown" {
			meaning.Importance = widget.DangerImportance
		}
		s.table.Add(wrapLabel(v.Raw))
		s.table.Add(wrapLabel(strconv.Itoa(v.Count)))
		s.table.Add(meaning)
		s.table.Add(wrapLabel(strings.Join(ids, ", ")))
	}
	s.table.Show()
	var concerns []string
	for _, c := range sv.Concerns() {
		concerns = append(concerns, "Check: "+c+".")
	}
	setShown(s.concerns, strings.Join(concerns, "\n"))
	if err := sv.Confirmable(); err != nil {
		s.confirm.Disable()
		setShown(s.why, "Cannot confirm yet: "+err.Error())
		return
	}
	s.confirm.Enable()
	setShown(s.why, "Confirm records that a person compared these values with Provet's own screens; "+
		"changing the status mapping later withdraws it.")
}

func (s *statusesSection) onConfirm() {
	if s.survey == nil {
		return
	}
	sv := *s.survey
	s.confirm.Disable()
	s.u.inBackground(func(ctx context.Context) error {
		return s.u.b.ConfirmStatuses(ctx, sv)
	}, func(err error) {
		if err != nil {
			s.confirm.Enable()
			setShown(s.why, "Not confirmed: "+err.Error())
			return
		}
		setShown(s.state, "Confirmed: VetBridge sends status updates to Provet from now on, starting with those that waited.")
		setShown(s.why, "")
		s.u.refreshStatus()
	})
}
