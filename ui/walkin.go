package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// walkInForm is "New exam": an exam for a Provet patient without an imaging
// order, put on the modalities' worklist at once.
type walkInForm struct {
	u       *ui
	popup   *widget.PopUp
	content fyne.CanvasObject

	search            *widget.Entry
	find              *widget.Button
	patients          *widget.RadioGroup
	modality          *widget.Select
	exam              *widget.Entry
	create, cancel    *widget.Button
	message           *widget.Label
	hits              map[string]app.PatientHit // by the radio's label
	modalityCodes     map[string]string         // by the select's label
	searching, saving bool
}

func newWalkInForm(u *ui) *walkInForm {
	f := &walkInForm{u: u, hits: map[string]app.PatientHit{}, modalityCodes: map[string]string{}}
	f.search = widget.NewEntry()
	f.search.SetPlaceHolder("Animal's name, owner's last name or microchip")
	f.search.OnSubmitted = func(string) { f.onSearch() }
	f.find = widget.NewButton("Search Provet", f.onSearch)
	f.patients = widget.NewRadioGroup(nil, func(string) { f.updateCreate() })
	f.modality = widget.NewSelect(nil, func(string) { f.updateCreate() })
	f.modality.PlaceHolder = "Choose the modality"
	f.exam = widget.NewEntry()
	f.exam.SetPlaceHolder("e.g. Thorax, 2 views")
	f.message = wrapLabel("Search for the patient in Provet.")
	f.create = widget.NewButton("Put on the worklist", f.onCreate)
	f.create.Importance = widget.HighImportance
	f.create.Disable()
	f.cancel = widget.NewButton("Cancel", func() { f.popup.Hide() })
	note := wrapLabel("The exam goes on the modalities' worklist at once with Provet's patient ID, " +
		"so Provet's PACS link finds its images. Unless VetBridge is set up to create imaging orders in Provet, it stays in VetBridge as a walk-in.")
	note.Importance = widget.LowImportance
	title := widget.NewLabelWithStyle("New exam", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = "headingText"
	f.content = container.NewBorder(
		container.NewVBox(title, note, container.NewBorder(nil, nil, nil, f.find, f.search)),
		container.NewVBox(
			widget.NewForm(widget.NewFormItem("Modality", f.modality), widget.NewFormItem("Exam", f.exam)),
			f.message,
			container.NewHBox(layout.NewSpacer(), f.cancel, f.create)),
		nil, nil,
		container.NewVScroll(f.patients))
	// A modal pop-up, not a dialog: the exam is made on top of the
	// worklist it joins, and nothing else can be clicked meanwhile.
	f.popup = widget.NewModalPopUp(f.content, u.win.Canvas())
	return f
}

// open starts afresh with the modalities the clinic maps.
func (f *walkInForm) open() {
	var labels []string
	clear(f.modalityCodes)
	seen := map[string]bool{}
	for _, m := range f.u.b.Config().ModalityMap {
		if m.Modality == "" || seen[m.Modality] {
			continue
		}
		seen[m.Modality] = true
		l := m.Modality
		if m.Provet != "" {
			l += " (" + m.Provet + ")"
		}
		f.modalityCodes[l] = m.Modality
		labels = append(labels, l)
	}
	f.modality.SetOptions(labels)
	f.modality.ClearSelected()
	f.search.SetText("")
	f.exam.SetText("")
	f.showHits(nil)
	f.message.SetText("Search for the patient in Provet.")
	f.popup.Resize(fyne.NewSize(600, 520))
	f.popup.Show()
	f.u.win.Canvas().Focus(f.search)
}

func hitLabel(h app.PatientHit) string {
	label := h.Name
	if kind := joinNonEmpty(", ", h.Species, h.Breed); kind != "" {
		label += " (" + kind + ")"
	}
	label = joinNonEmpty(" · ", label, h.Owner)
	if h.Microchip != "" {
		label += " · chip " + h.Microchip
	}
	if h.BirthDate != "" {
		label += " · born " + h.BirthDate
	}
	if h.Deceased {
		label += " · deceased"
	}
	return label
}

func (f *walkInForm) onSearch() {
	text := strings.TrimSpace(f.search.Text)
	if f.searching || text == "" {
		return
	}
	f.searching = true
	f.find.Disable()
	f.message.SetText("Searching Provet…")
	var hits []app.PatientHit
	f.u.inBackground(func(ctx context.Context) (err error) {
		hits, err = f.u.b.SearchPatients(ctx, text)
		return err
	}, func(err error) {
		f.searching = false
		f.find.Enable()
		if err != nil {
			f.showHits(nil)
			f.message.SetText("Could not search: " + err.Error())
			return
		}
		f.showHits(hits)
		switch len(hits) {
		case 0:
			f.message.SetText("Provet has no patient matching “" + text + "”. Try the owner's last name or the microchip.")
		default:
			f.message.SetText("Choose the patient, the modality and the exam.")
		}
	})
}

func (f *walkInForm) showHits(hits []app.PatientHit) {
	clear(f.hits)
	labels := make([]string, 0, len(hits))
	for _, h := range hits {
		l := hitLabel(h)
		f.hits[l] = h
		labels = append(labels, l)
	}
	f.patients.Options = labels
	f.patients.Selected = ""
	f.patients.Refresh()
	f.updateCreate()
}

func (f *walkInForm) updateCreate() {
	_, picked := f.hits[f.patients.Selected]
	if picked && f.modality.Selected != "" && !f.saving {
		f.create.Enable()
	} else {
		f.create.Disable()
	}
}

func (f *walkInForm) onCreate() {
	hit, ok := f.hits[f.patients.Selected]
	code := f.modalityCodes[f.modality.Selected]
	if !ok || code == "" {
		return
	}
	w := app.WalkIn{PatientID: hit.ID, Modality: code, Exam: strings.TrimSpace(f.exam.Text)}
	f.saving = true
	f.updateCreate()
	f.message.SetText("Putting the exam on the worklist…")
	var res app.WalkInResult
	f.u.inBackground(func(ctx context.Context) (err error) {
		res, err = f.u.b.NewWalkIn(ctx, w)
		return err
	}, func(err error) {
		f.saving = false
		f.updateCreate()
		if err != nil {
			f.message.SetText("Could not put the exam on the worklist: " + err.Error())
			return
		}
		f.popup.Hide()
		f.u.worklist.walkInCreated(res)
	})
}
