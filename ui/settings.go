package ui

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

type settingsView struct {
	u       *ui
	content fyne.CanvasObject
	form    *configForm

	account *widget.Label
	signIn  *signInPanel
	signOut *widget.Button
	// signOutRow holds Sign out, hidden while signed out.
	signOutRow *fyne.Container
	setup      *modalitySetup
	save       *widget.Button
	message    *widget.Label
	viewer     *linkMessage
	scroll     *container.Scroll
	statuses   *statusesSection
	pacsTest   *widget.Button
	pacsResult *widget.Label
}

func newSettingsView(u *ui) *settingsView {
	s := &settingsView{u: u, form: newConfigForm(u.b.Config())}
	s.account = widget.NewLabel("")
	s.account.Wrapping = fyne.TextWrapWord
	s.signIn = newSignInPanel(u, s.onScreenProvet, s.signedIn)
	s.signOut = widget.NewButton("Sign out", u.signOut)
	s.signOutRow = container.NewHBox(s.signOut)
	s.setup = newModalitySetup(u)
	s.message = widget.NewLabel("")
	s.message.Wrapping = fyne.TextWrapWord
	s.message.Hide()
	s.viewer = newLinkMessage(u)
	s.save = widget.NewButton("Save", s.onSave)
	s.save.Importance = widget.HighImportance
	revert := widget.NewButton("Revert", s.reload)
	s.statuses = newStatusesSection(u)
	s.pacsTest = widget.NewButton("Test PACS connection", s.onTestPACS)
	s.pacsResult = wrapLabel("")
	s.pacsResult.Hide()

	section := func(title string, items []*widget.FormItem) fyne.CanvasObject {
		return widget.NewCard(title, "", widget.NewForm(items...))
	}
	body := container.NewVBox(
		widget.NewCard("Provet account", "", container.NewVBox(s.account, s.signIn.content, s.signOutRow)),
		section("Provet", s.form.provetItems()),
		widget.NewCard("Provet status values", "", s.statuses.content),
		widget.NewCard("Worklist server (DICOM)", "", container.NewVBox(s.setup.content, widget.NewForm(s.form.dicomItems()...))),
		section("PACS viewer", append(s.form.viewerItems(),
			&widget.FormItem{Widget: container.NewVBox(container.NewHBox(widget.NewButton("Test viewer address", s.onTestViewer)), s.viewer.content)})),
		section("PACS", append(s.form.pacsItems(),
			&widget.FormItem{Widget: container.NewVBox(container.NewHBox(s.pacsTest), s.pacsResult)})),
		section("Worklist", s.form.moreItems()),
		widget.NewCard("Device profiles", "", s.form.profilesContent()),
	)
	bar := container.NewVBox(s.form.general, s.message, container.NewHBox(s.save, revert))
	s.scroll = container.NewVScroll(body)
	s.content = container.NewBorder(nil, bar, nil, nil, s.scroll)
	return s
}

// reload discards unsaved edits and shows the configuration in force.
func (s *settingsView) reload() {
	s.form.load(s.u.b.Config())
	s.say("")
	s.viewer.set("", "")
	setShown(s.pacsResult, "")
}

func (s *settingsView) updateAccount(st app.Status) {
	if ae, port, addrs := s.u.b.ModalitySetup(); st.DICOMAddr != "" {
		s.setup.update(ae, port, addrs)
	} else {
		s.setup.stopped("The worklist server is not running.")
	}
	if st.State == app.StateSignedOut {
		s.account.SetText("Not signed in. Sign in uses the Provet settings below as they are on screen.")
		s.signIn.offer.Show()
		s.signOutRow.Hide()
		return
	}
	s.account.SetText("Signed in as " + st.SignedInAs)
	if !s.signIn.waiting() {
		s.signIn.offer.Hide()
	}
	s.signOutRow.Show()
}

// onScreenProvet is the Provet part of the form, validated, for signing in.
func (s *settingsView) onScreenProvet() (app.ProvetConfig, bool) {
	cfg, ok := s.form.check("provet.")
	return cfg.Provet, ok
}

func (s *settingsView) signedIn(who string, err error) {
	var verr app.ValidationError
	switch {
	case errors.As(err, &verr):
		s.form.showErrors(verr)
	case err != nil && !errors.Is(err, context.Canceled):
		s.u.status.setNotice("Sign-in did not finish: " + err.Error())
	case err == nil:
		s.u.status.setNotice("")
		// The Provet part on screen is now the saved one.
		s.form.base.Provet = s.u.b.Config().Provet
	}
	s.u.refreshStatus()
}

func (s *settingsView) onSave() {
	cfg, ok := s.form.check()
	if !ok {
		s.say("Nothing was saved: correct the fields marked in red.")
		return
	}
	s.save.Disable()
	s.say("Saving…")
	portChanged := cfg.DICOM.Port != s.u.b.Config().DICOM.Port
	s.u.inBackground(func(ctx context.Context) error {
		if portChanged {
			if err := s.u.b.CheckDICOMPort(cfg.DICOM.Port); err != nil {
				return app.ValidationError{{Field: "dicom.port", Message: err.Error()}}
			}
		}
		return s.u.b.SaveConfig(ctx, cfg)
	}, func(err error) {
		s.save.Enable()
		var verr app.ValidationError
		switch {
		case errors.As(err, &verr):
			s.form.showErrors(verr)
			s.say("Nothing was saved: correct the fields marked in red. The worklist server keeps running as before.")
		case err != nil:
			s.say("Could not save: " + err.Error())
		default:
			s.form.load(s.u.b.Config())
			if o := s.u.b.Overrides(); len(o) > 0 {
				s.say("Saved. For this run " + strings.Join(o, " and ") + "; the saved value applies from the next start.")
			} else {
				s.say("Saved and applied.")
			}
			s.u.worklist.setModalities()
			s.u.worklist.detail.updateViewer()
			s.u.refreshStatus()
		}
	})
}

func (s *settingsView) onTestViewer() {
	text, link := testViewer(s.u, s.form)
	s.viewer.set(text, link)
}

// testViewer opens the viewer for a sample patient so the clinic sees at once
// whether the template reaches its PACS; it returns what to tell the person
// and, when no browser opened, the address to copy.
func testViewer(u *ui, f *configForm) (text, link string) {
	if _, ok := f.check("viewer_url"); !ok {
		return "Correct the viewer address first.", ""
	}
	raw, err := u.b.PreviewViewerURL(f.viewerURL.Text)
	if err != nil {
		return "Could not build the viewer address: " + err.Error(), ""
	}
	if copyable, err := u.open(raw); err != nil {
		if copyable != "" {
			return "Could not open the browser (" + err.Error() + "). Open this address in one:", copyable
		}
		return err.Error(), ""
	}
	return "Opened " + raw + " in your browser.", ""
}

// say puts text in the line above Save; an empty line takes no room.
func (s *settingsView) say(text string) {
	s.message.SetText(text)
	if text == "" {
		s.message.Hide()
	} else {
		s.message.Show()
	}
}

// syncProfiles shows the device profiles in force when a device was allowed
// or removed since the form was loaded; otherwise Save would write the old
// list back. Unsaved edits of other settings stay.
func (s *settingsView) syncProfiles() {
	profiles := s.u.b.Config().DICOM.Profiles
	if reflect.DeepEqual(profiles, s.form.base.DICOM.Profiles) {
		return
	}
	s.form.base.DICOM.Profiles = profiles
	s.form.profiles.load(profiles)
}

// onTestPACS checks the PACS connection as it is on screen, before saving.
func (s *settingsView) onTestPACS() {
	cfg, ok := s.form.check("pacs")
	switch {
	case !ok:
		setShown(s.pacsResult, "Correct the PACS fields marked in red first.")
		return
	case !cfg.PACS.Configured():
		setShown(s.pacsResult, "Choose how VetBridge reaches the PACS first.")
		return
	}
	s.pacsTest.Disable()
	s.pacsResult.Importance = widget.MediumImportance
	setShown(s.pacsResult, "Asking the PACS…")
	s.u.inBackground(func(ctx context.Context) error {
		return s.u.b.TestPACS(ctx, cfg.PACS)
	}, func(err error) {
		s.pacsTest.Enable()
		if err != nil {
			s.pacsResult.Importance = widget.DangerImportance
			setShown(s.pacsResult, "The PACS did not answer: "+err.Error())
			return
		}
		s.pacsResult.Importance = widget.SuccessImportance
		setShown(s.pacsResult, "The PACS answered. Save to use it.")
	})
}
