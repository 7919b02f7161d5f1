package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

var deviceColumns = []struct {
	title string
	width float32
	text  func(app.Device) string
}{
	{"Calling AE", 130, func(d app.Device) string { return d.CallingAE }},
	{"Address", 150, func(d app.Device) string { return d.Addr }},
	{"Last query", 130, func(d app.Device) string {
		if d.LastQuery.IsZero() {
			return "never"
		}
		return d.LastQuery.Format("2 Jan 15:04:05")
	}},
	{"Keys sent", 300, func(d app.Device) string { return strings.Join(d.LastKeys, ", ") }},
	{"Items returned", 110, func(d app.Device) string { return fmt.Sprint(d.Returned) }},
	{"Character set", 110, func(d app.Device) string { return d.Charset }},
	{"Profile", 90, func(d app.Device) string {
		if d.Known {
			return "own"
		}
		return "default"
	}},
}

// modalitiesView lists the devices that queried the worklist and answers
// "why isn't this referral on that device?".
type modalitiesView struct {
	u       *ui
	content fyne.CanvasObject

	devices []app.Device
	panel   *devicePanel
	table   *widget.Table
	split   *container.Split

	key      string
	referral *widget.Label
	device   *widget.SelectEntry
	verdict  *widget.Label
	reasons  *fyne.Container
}

func newModalitiesView(u *ui) *modalitiesView {
	m := &modalitiesView{u: u}
	m.table = widget.NewTableWithHeaders(
		func() (int, int) { return len(m.devices), len(deviceColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row >= 0 && id.Row < len(m.devices) {
				o.(*widget.Label).SetText(deviceColumns[id.Col].text(m.devices[id.Row]))
			}
		},
	)
	m.table.ShowHeaderColumn = false
	m.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	m.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(deviceColumns[id.Col].title)
		}
	}
	for i, c := range deviceColumns {
		m.table.SetColumnWidth(i, c.width)
	}
	m.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(m.devices) {
			m.device.SetText(m.devices[id.Row].CallingAE)
		}
	}

	m.referral = widget.NewLabel("")
	m.referral.Wrapping = fyne.TextWrapWord
	m.device = widget.NewSelectEntry(nil)
	m.device.SetPlaceHolder("Device's calling AE title")
	m.verdict = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	m.verdict.Wrapping = fyne.TextWrapWord
	m.reasons = container.NewVBox()
	explain := widget.NewButton("Explain", m.explain)
	explain.Importance = widget.HighImportance

	why := container.NewVBox(
		widget.NewLabelWithStyle("Why isn't a referral on a device?", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		m.referral,
		container.NewBorder(nil, nil, widget.NewLabel("Device"), explain, m.device),
		m.verdict,
		m.reasons,
	)
	m.panel = newDevicePanel(u, false, "No device has been refused. Registered devices appear here; a device that is not registered and presses its worklist button appears here with Allow.")
	m.panel.changed = u.settings.syncProfiles
	devices := container.NewVBox(
		widget.NewLabelWithStyle("Devices", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		m.panel.content, widget.NewSeparator())
	m.split = container.NewVSplit(container.NewBorder(devices, nil, nil, nil, m.table), container.NewVScroll(why))
	m.split.Offset = defaultModalitiesSplit
	m.content = m.split
	m.setReferral("")
	return m
}

func (m *modalitiesView) refresh() {
	m.devices = m.u.b.Devices()
	aes := make([]string, len(m.devices))
	for i, d := range m.devices {
		aes[i] = d.CallingAE
	}
	m.device.SetOptions(aes)
	m.table.Refresh()
	m.panel.update(m.devices)
}

// setReferral chooses the referral to explain (the worklist's selection).
func (m *modalitiesView) setReferral(key string) {
	m.key = key
	m.verdict.SetText("")
	m.reasons.RemoveAll()
	r, ok := app.Referral{}, false
	if key != "" {
		r, ok = m.u.b.Referral(key)
	}
	if !ok {
		m.key = ""
		m.referral.SetText("Select a referral in the worklist first, then choose the device here.")
		return
	}
	m.referral.SetText(fmt.Sprintf("%s, %s %s at %s (%s)",
		petText(r), r.Exam, r.Scheduled.Format("2 Jan"), r.Scheduled.Format("15:04"),
		joinNonEmpty(" / ", r.Modality, r.StationAE)))
}

func (m *modalitiesView) explain() {
	m.reasons.RemoveAll()
	ae := strings.TrimSpace(m.device.Text)
	switch {
	case m.key == "":
		m.verdict.SetText("Select a referral in the worklist first.")
		return
	case ae == "":
		m.verdict.SetText("Choose a device from the list or type its calling AE title.")
		return
	}
	ex := m.u.b.Explain(m.key, ae)
	if ex.Visible {
		m.verdict.SetText(fmt.Sprintf("%s receives this referral when it queries the worklist.", ae))
	} else {
		m.verdict.SetText(fmt.Sprintf("%s does not receive this referral:", ae))
	}
	for _, reason := range ex.Reasons {
		l := widget.NewLabel("• " + reason)
		l.Wrapping = fyne.TextWrapWord
		m.reasons.Add(l)
	}
}
