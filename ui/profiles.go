package ui

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// profileEditor edits one device profile: how the worklist adapts to one
// modality, keyed by the calling AE title it connects with.
type profileEditor struct {
	callingAE, daysBefore, daysAfter *widget.Entry
	modalities, allowedAddrs         *widget.Entry
	charset                          *widget.Select
	stationFromCalling, showStarted  *widget.Check
}

func newProfileEditor(p app.DeviceProfile) *profileEditor {
	e := &profileEditor{
		callingAE:          fieldEntry(),
		daysBefore:         fieldEntry(),
		daysAfter:          fieldEntry(),
		modalities:         fieldEntry(),
		allowedAddrs:       fieldEntry(),
		charset:            widget.NewSelect(charsets, nil),
		stationFromCalling: widget.NewCheck("Use its AE title as station when it sends none", nil),
		showStarted:        widget.NewCheck("List exams already started or completed", nil),
	}
	e.callingAE.SetText(p.CallingAE)
	e.callingAE.SetPlaceHolder("e.g. US_ROOM2")
	e.daysBefore.SetText(strconv.Itoa(p.DaysBefore))
	e.daysAfter.SetText(strconv.Itoa(p.DaysAfter))
	e.modalities.SetText(strings.Join(p.Modalities, ", "))
	e.modalities.SetPlaceHolder("all, or e.g. DX, CR")
	e.allowedAddrs.SetText(strings.Join(p.AllowedAddrs, ", "))
	e.allowedAddrs.SetPlaceHolder("any, or e.g. 192.168.1.40")
	charset := p.Charset
	if charset == "" {
		charset = "auto"
	}
	e.charset.SetSelected(charset)
	e.stationFromCalling.SetChecked(p.StationFromCalling)
	e.showStarted.SetChecked(p.ShowStarted)
	return e
}

func (e *profileEditor) profile(field string, errs *app.ValidationError) app.DeviceProfile {
	p := app.DeviceProfile{
		CallingAE:          strings.TrimSpace(e.callingAE.Text),
		Charset:            e.charset.Selected,
		StationFromCalling: e.stationFromCalling.Checked,
		ShowStarted:        e.showStarted.Checked,
		Modalities:         splitList(strings.ToUpper(e.modalities.Text)),
		AllowedAddrs:       splitList(e.allowedAddrs.Text),
	}
	days := func(name string, en *widget.Entry, dst *int) {
		n, err := strconv.Atoi(strings.TrimSpace(en.Text))
		if err != nil || n < -1 {
			*errs = append(*errs, app.FieldError{Field: field + "." + name,
				Message: "a whole number of days, or -1 to leave the date window to the device"})
			return
		}
		*dst = n
	}
	days("days_before", e.daysBefore, &p.DaysBefore)
	days("days_after", e.daysAfter, &p.DaysAfter)
	return p
}

// profilesSection lists the per-device profiles. Removing one renumbers the
// rest, so the section is rebuilt from the edited values each time.
type profilesSection struct {
	f       *configForm
	box     *fyne.Container
	editors []*profileEditor
}

func (s *profilesSection) load(profiles []app.DeviceProfile) {
	s.editors = s.editors[:0]
	for _, p := range profiles {
		s.editors = append(s.editors, newProfileEditor(p))
	}
	s.rebuild()
}

func (s *profilesSection) read(errs *app.ValidationError) []app.DeviceProfile {
	out := make([]app.DeviceProfile, 0, len(s.editors))
	for i, e := range s.editors {
		out = append(out, e.profile(fmt.Sprintf("dicom.profiles[%d]", i), errs))
	}
	return out
}

func (s *profilesSection) rebuild() {
	for field := range s.f.errs {
		if strings.HasPrefix(field, "dicom.profiles[") {
			delete(s.f.errs, field)
		}
	}
	s.box.RemoveAll()
	for i, e := range s.editors {
		field := fmt.Sprintf("dicom.profiles[%d]", i)
		remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() {
			s.editors = append(s.editors[:i], s.editors[i+1:]...)
			s.rebuild()
		})
		form := widget.NewForm(
			s.f.item("Calling AE", field+".calling_ae", e.callingAE, "The AE title the device connects with"),
			s.f.item("Character set", field+".charset", e.charset, ""),
			s.f.item("Modalities", field+".modalities", e.modalities, "Only these modalities; empty for all"),
			s.f.item("Allowed addresses", field+".allowed_addrs", e.allowedAddrs, "Only from these IP addresses; empty for any"),
			s.f.item("Days before", field+".days_before", e.daysBefore, "Date window when the device sends none; -1 for none"),
			s.f.item("Days after", field+".days_after", e.daysAfter, ""),
			&widget.FormItem{Widget: container.NewVBox(e.stationFromCalling, e.showStarted)},
		)
		s.box.Add(widget.NewCard("", fmt.Sprintf("Device %d", i+1),
			container.NewBorder(nil, nil, nil, container.NewVBox(remove), form)))
	}
}

func (s *profilesSection) add() {
	d := app.DefaultConfig().DICOM.Default
	s.editors = append(s.editors, newProfileEditor(d))
	s.rebuild()
}

func splitList(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	if len(parts) == 0 {
		return nil // "no restriction", and omitted from the saved file
	}
	return parts
}
