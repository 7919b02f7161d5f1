package ui

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// referralDetail shows one referral as people read it, with the technician's
// actions on it; what the modality receives, DICOM tags and all, is behind
// the "Details for IT" switch.
type referralDetail struct {
	u       *ui
	key     string
	shown   app.Referral // what the pane shows, to leave it alone when nothing changed
	content fyne.CanvasObject

	title, subtitle, remarks *widget.Label
	people                   *fyne.Container
	history                  *fyne.Container
	it                       *fyne.Container
	showIT                   *widget.Check
	showImages, markDone     *widget.Button
	copyID, explain          *widget.Button
	viewerHint               *widget.Label
	// images is what the PACS holds for the referral, asked when the pane
	// opens on it; walkIn says the exam has no Provet order.
	images, walkIn *widget.Label
	imagesAsked    string
	actions, body  *fyne.Container
	message        *linkMessage
}

func newReferralDetail(u *ui) *referralDetail {
	d := &referralDetail{u: u}
	d.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.title.Wrapping = fyne.TextWrapWord
	d.subtitle = widget.NewLabel("")
	d.subtitle.Wrapping = fyne.TextWrapWord
	d.people = container.New(layout.NewFormLayout())
	d.history = container.NewVBox()
	d.it = container.NewVBox()
	d.it.Hide()
	d.showIT = widget.NewCheck("Details for IT: what the modality receives", func(on bool) {
		if on {
			d.it.Show()
		} else {
			d.it.Hide()
		}
	})
	d.remarks = widget.NewLabel("")
	d.remarks.Wrapping = fyne.TextWrapWord
	d.message = newLinkMessage(u)
	d.showImages = widget.NewButtonWithIcon("Show images", theme.VisibilityIcon(), d.onShowImages)
	d.showImages.Importance = widget.HighImportance
	d.markDone = widget.NewButtonWithIcon("Mark done", theme.ConfirmIcon(), d.onMarkDone)
	d.copyID = widget.NewButtonWithIcon("Copy patient ID", theme.ContentCopyIcon(), d.onCopyID)
	d.explain = widget.NewButtonWithIcon("Not on a device?", theme.QuestionIcon(), func() {
		d.u.modalities.setReferral(d.key)
		d.u.selectView(ViewModalities)
	})
	d.images = wrapLabel("")
	d.images.Hide()
	d.walkIn = wrapLabel("Walk-in exam: it is on the modalities' worklist, but Provet has no imaging order for it, so it stays in VetBridge and no status goes to Provet.")
	d.walkIn.Importance = widget.WarningImportance
	d.walkIn.Hide()
	d.viewerHint = widget.NewLabel("Show images needs the PACS viewer address: add it in Settings.")
	d.viewerHint.Wrapping = fyne.TextWrapWord
	d.viewerHint.Importance = widget.LowImportance
	d.actions = container.NewGridWithColumns(2, d.showImages, d.markDone, d.copyID, d.explain)
	d.body = container.NewVBox(d.actions, d.viewerHint, d.message.content, d.walkIn, d.images, widget.NewSeparator(),
		d.people, d.remarks, d.history, widget.NewSeparator(), d.showIT, d.it)
	d.content = container.NewVBox(d.title, d.subtitle, d.body)
	d.show("")
	return d
}

func (d *referralDetail) show(key string) {
	r, ok := app.Referral{}, false
	if key != "" {
		r, ok = d.u.b.Referral(key)
	}
	if d.key != key {
		d.message.set("", "")
		d.imagesAsked = ""
		setShown(d.images, "")
	}
	d.key = key
	if !ok {
		d.key, d.shown = "", app.Referral{}
		d.title.SetText("Select a referral to see it here.")
		d.subtitle.SetText("")
		d.body.Hide()
		return
	}
	d.updateViewer()
	d.askImages(r)
	if reflect.DeepEqual(r, d.shown) {
		// Rebuilding on every sync would drop a text selection in progress.
		return
	}
	d.shown = r
	d.body.Show()
	d.title.SetText(petText(r))
	d.subtitle.SetText(joinNonEmpty(" · ", r.OwnerName, r.Exam))
	d.people.RemoveAll()
	for _, f := range [][2]string{
		{"Date", dateText(r.Scheduled)},
		{"Time", timeText(r.Scheduled)},
		{"Status", statusText(r.Status)},
		{"Owner", r.OwnerName},
		{"Exam", r.Exam},
		{"Modality", joinNonEmpty(" / ", r.Modality, r.StationAE)},
		{"Requesting vet", r.RequestingVet},
		{"Patient ID", r.PatientID},
		{"Accession", r.AccessionNumber},
	} {
		if f[1] == "" {
			continue
		}
		d.people.Add(widget.NewLabelWithStyle(f[0], fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
		d.people.Add(valueLabel(f[1]))
	}
	// Label above value: tag names are long, and beside their values they
	// would squeeze the values to a letter per line.
	d.it.RemoveAll()
	for _, f := range r.Fields {
		d.it.Add(widget.NewLabelWithStyle(f.Label, fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
		d.it.Add(valueLabel(f.Value))
	}
	if r.Remarks != "" {
		d.remarks.SetText("Remarks: " + r.Remarks)
	} else {
		d.remarks.SetText("No remarks.")
	}
	d.showHistory(r.History)
	if r.WalkIn {
		d.walkIn.Show()
	} else {
		d.walkIn.Hide()
	}
	if r.Status == "COMPLETED" || r.Status == "DISCONTINUED" {
		d.markDone.Disable()
	} else {
		d.markDone.Enable()
	}
}

func valueLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Selectable = true
	l.Wrapping = fyne.TextWrapWord
	return l
}

// updateViewer enables Show images only when there is a viewer to show them in.
func (d *referralDetail) updateViewer() {
	if d.u.b.Config().ViewerURL == "" {
		d.showImages.Disable()
		d.viewerHint.Show()
	} else {
		d.showImages.Enable()
		d.viewerHint.Hide()
	}
}

func (d *referralDetail) onShowImages() {
	link, err := d.u.showImages(d.key)
	d.reportImages(link, err)
}

// reportImages says why the images did not show; link is the address to
// copy when only the browser failed.
func (d *referralDetail) reportImages(link string, err error) {
	switch {
	case err != nil && link != "":
		d.message.set("Could not open the browser ("+err.Error()+"). Open this address in one:", link)
	case err != nil:
		d.message.set("Could not show images: "+err.Error(), "")
	default:
		d.message.set("", "")
	}
}

func (d *referralDetail) onMarkDone() {
	r, ok := d.u.b.Referral(d.key)
	if !ok {
		d.u.worklist.refresh()
		return
	}
	d.markDone.Disable()
	d.u.worklist.done.markDone(r)
}

func (d *referralDetail) onCopyID() {
	r, ok := d.u.b.Referral(d.key)
	if !ok {
		return
	}
	d.u.fa.Clipboard().SetContent(r.PatientID)
	d.message.set(fmt.Sprintf("Patient ID %s copied.", r.PatientID), "")
}

// linkMessage is a line of words with, when there is one, an address the
// technician can copy: what to do when no browser opens.
type linkMessage struct {
	u       *ui
	text    *widget.Label
	link    string
	copy    *widget.Button
	content *fyne.Container
}

func newLinkMessage(u *ui) *linkMessage {
	m := &linkMessage{u: u, text: widget.NewLabel("")}
	m.text.Wrapping = fyne.TextWrapBreak
	m.copy = widget.NewButtonWithIcon("Copy address", theme.ContentCopyIcon(), func() {
		m.u.fa.Clipboard().SetContent(m.link)
		m.copy.SetText("Copied")
	})
	m.content = container.NewBorder(nil, nil, nil, m.copy, m.text)
	m.set("", "")
	return m
}

func (m *linkMessage) set(text, link string) {
	m.link = link
	if link != "" {
		text += " " + link
	}
	m.text.SetText(text)
	m.copy.SetText("Copy address")
	if link == "" {
		m.copy.Hide()
	} else {
		m.copy.Show()
	}
	if text == "" {
		m.content.Hide()
	} else {
		m.content.Show()
	}
}

// showHistory lists who changed the status from here, oldest first:
// "Completed by DX1, 192.168.1.20, Sat 29 Nov 10:42".
func (d *referralDetail) showHistory(entries []string) {
	d.history.RemoveAll()
	if len(entries) == 0 {
		return
	}
	d.history.Add(widget.NewLabelWithStyle("History", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	for _, e := range entries {
		d.history.Add(valueLabel(e))
	}
}

// askImages asks the PACS about the referral once each time the pane opens
// on it; until the answer comes, the row's last known words show.
func (d *referralDetail) askImages(r app.Referral) {
	if d.imagesAsked == r.Key {
		return
	}
	d.imagesAsked = r.Key
	if r.Images != "" {
		setShown(d.images, "Images: "+r.Images+" (asking the PACS…)")
	}
	key := r.Key
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		sum, err := d.u.b.ImagesFor(ctx, key)
		d.u.do(func() {
			if d.key == key {
				d.showImagesSummary(sum, err)
			}
		})
	}()
}

func (d *referralDetail) showImagesSummary(sum app.ImagesSummary, err error) {
	switch {
	case errors.Is(err, app.ErrNoPACS):
		setShown(d.images, "")
	case err != nil && sum.Summary != "":
		setShown(d.images, "Images: "+sum.Summary+", as last seen. "+err.Error())
	case err != nil:
		setShown(d.images, "Could not ask the PACS: "+err.Error())
	case sum.Summary != "":
		setShown(d.images, "Images: "+sum.Summary)
	default:
		setShown(d.images, "")
	}
}
