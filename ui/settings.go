package ui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

type settingsView struct {
	u       *ui
	content fyne.CanvasObject
	form    *configForm

	account         *widget.Label
	signIn, signOut *widget.Button
	save            *widget.Button
	message         *widget.Label
}

func newSettingsView(u *ui) *settingsView {
	s := &settingsView{u: u, form: newConfigForm(u.b.Config())}
	s.account = widget.NewLabel("")
	s.signIn = widget.NewButton("Sign in with Provet", u.signIn)
	s.signOut = widget.NewButton("Sign out", u.signOut)
	s.message = widget.NewLabel("")
	s.message.Wrapping = fyne.TextWrapWord
	s.save = widget.NewButton("Save", s.onSave)
	s.save.Importance = widget.HighImportance
	revert := widget.NewButton("Revert", s.reload)

	section := func(title string, items []*widget.FormItem) fyne.CanvasObject {
		return widget.NewCard(title, "", widget.NewForm(items...))
	}
	body := container.NewVBox(
		widget.NewCard("Provet account", "", container.NewHBox(s.account, s.signIn, s.signOut)),
		section("Provet", s.form.provetItems()),
		section("Worklist server (DICOM)", s.form.dicomItems()),
		section("PACS viewer", append(s.form.viewerItems(),
			&widget.FormItem{Widget: container.NewHBox(widget.NewButton("Test viewer address", s.onTestViewer))})),
		section("Worklist", s.form.moreItems()),
		widget.NewCard("Device profiles", "", s.form.profilesContent()),
	)
	bar := container.NewVBox(s.form.general, s.message, container.NewHBox(s.save, revert))
	s.content = container.NewBorder(nil, bar, nil, nil, container.NewVScroll(body))
	return s
}

// reload discards unsaved edits and shows the configuration in force.
func (s *settingsView) reload() {
	s.form.load(s.u.b.Config())
	s.message.SetText("")
}

func (s *settingsView) updateAccount(st app.Status) {
	if st.State == app.StateSignedOut {
		s.account.SetText("Not signed in")
		s.signIn.Show()
		s.signOut.Hide()
		return
	}
	s.account.SetText("Signed in as " + st.SignedInAs)
	s.signIn.Hide()
	s.signOut.Show()
}

func (s *settingsView) onSave() {
	cfg, ok := s.form.check()
	if !ok {
		s.message.SetText("Nothing was saved: correct the fields marked in red.")
		return
	}
	s.save.Disable()
	s.message.SetText("Saving…")
	s.u.inBackground(func(ctx context.Context) error { return s.u.b.SaveConfig(ctx, cfg) }, func(err error) {
		s.save.Enable()
		var verr app.ValidationError
		switch {
		case errors.As(err, &verr):
			s.form.showErrors(verr)
			s.message.SetText("Nothing was saved: correct the fields marked in red.")
		case err != nil:
			s.message.SetText("Could not save: " + err.Error())
		default:
			s.form.load(s.u.b.Config())
			s.message.SetText("Saved and applied.")
			s.u.worklist.setModalities()
			s.u.refreshStatus()
		}
	})
}

func (s *settingsView) onTestViewer() {
	s.message.SetText(testViewer(s.u, s.form))
}

// testViewer opens the viewer for a sample patient so the clinic sees at once
// whether the template reaches its PACS; it returns what to tell the person.
func testViewer(u *ui, f *configForm) string {
	if _, ok := f.check("viewer_url"); !ok {
		return "Correct the viewer address first."
	}
	link, err := u.b.PreviewViewerURL(f.viewerURL.Text)
	if err != nil {
		return "Could not build the viewer address: " + err.Error()
	}
	if err := u.open(link); err != nil {
		return err.Error()
	}
	return "Opened " + link + " in your browser."
}
