package ui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// firstRunView walks a new installation through what it cannot work without.
//
// Saving: every step validates its own fields and nothing is saved until
// Finish, with one exception: signing in needs the Provet settings in force,
// so "Sign in with Provet" first saves the current configuration with only
// the (validated) Provet part replaced, then calls SignIn.
type firstRunView struct {
	u       *ui
	content fyne.CanvasObject
	form    *configForm
	done    func()

	steps        []wizardStep
	step         int
	title, intro *widget.Label
	body         *fyne.Container
	back, next   *widget.Button
	message      *widget.Label

	signInButton *widget.Button
	signedIn     *widget.Label
	cancelSignIn context.CancelFunc
}

type wizardStep struct {
	title, intro string
	content      fyne.CanvasObject
	fields       []string // error prefixes this step owns
}

func newFirstRunView(u *ui, done func()) *firstRunView {
	v := &firstRunView{u: u, form: newConfigForm(u.b.Config()), done: done}
	v.signedIn = widget.NewLabel("Not signed in yet.")
	v.signedIn.Wrapping = fyne.TextWrapWord
	v.signInButton = widget.NewButton("Sign in with Provet", v.onSignIn)
	v.signInButton.Importance = widget.HighImportance
	testResult := widget.NewLabel("")
	testResult.Wrapping = fyne.TextWrapWord

	v.steps = []wizardStep{
		{"Provet Cloud", "Which Provet Cloud does your clinic use? You find these values in Provet under Settings > Integrations.",
			widget.NewForm(v.form.provetItems()...), []string{"provet."}},
		{"Sign in", "Sign in with a Provet user allowed to read the imaging worklist. Your browser opens; come back here when Provet says you are done.",
			container.NewVBox(container.NewHBox(v.signInButton), v.signedIn), nil},
		{"Worklist server", "Your X-ray and ultrasound devices connect to VetBridge with these settings. Enter the same AE title and port in each device's worklist settings.",
			widget.NewForm(v.form.dicomItems()...), []string{"dicom."}},
		{"PACS viewer", "Optional: the address that opens a patient's images in your PACS viewer. Test it to see it open in your browser.",
			container.NewVBox(widget.NewForm(v.form.viewerItems()...),
				container.NewHBox(widget.NewButton("Test", func() { testResult.SetText(testViewer(u, v.form)) })),
				testResult), []string{"viewer_url"}},
		{"Done", "VetBridge is ready. Finish saves the settings and starts serving the worklist; you can change everything later in Settings.",
			layout.NewSpacer(), nil},
	}
	v.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.title.SizeName = "headingText"
	v.intro = widget.NewLabel("")
	v.intro.Wrapping = fyne.TextWrapWord
	v.body = container.NewStack()
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.back = widget.NewButton("Back", func() { v.goTo(v.step - 1) })
	v.next = widget.NewButton("Next", v.onNext)
	v.next.Importance = widget.HighImportance
	v.content = container.NewBorder(
		container.NewVBox(v.title, v.intro),
		container.NewVBox(v.form.general, v.message, container.NewHBox(layout.NewSpacer(), v.back, v.next)),
		nil, nil, container.NewVScroll(v.body))
	v.goTo(0)
	return v
}

func (v *firstRunView) goTo(i int) {
	v.step = i
	s := v.steps[i]
	v.title.SetText(s.title)
	v.intro.SetText(s.intro)
	v.body.Objects = []fyne.CanvasObject{s.content}
	v.body.Refresh()
	v.message.SetText("")
	if i == 0 {
		v.back.Disable()
	} else {
		v.back.Enable()
	}
	if i == len(v.steps)-1 {
		v.next.SetText("Finish")
	} else {
		v.next.SetText("Next")
	}
}

func (v *firstRunView) onNext() {
	if fields := v.steps[v.step].fields; fields != nil {
		if _, ok := v.form.check(fields...); !ok {
			v.message.SetText("Correct the fields marked in red to continue.")
			return
		}
	}
	if v.step < len(v.steps)-1 {
		v.goTo(v.step + 1)
		return
	}
	v.finish()
}

func (v *firstRunView) onSignIn() {
	if v.cancelSignIn != nil {
		v.cancelSignIn() // the person gave up waiting for the browser
		return
	}
	cfg, ok := v.form.check("provet.")
	if !ok {
		v.goTo(0)
		v.message.SetText("Correct the Provet settings before signing in.")
		return
	}
	current := v.u.b.Config()
	current.Provet = cfg.Provet
	ctx, cancel := context.WithCancel(context.Background())
	v.cancelSignIn = cancel
	v.signInButton.SetText("Cancel sign-in")
	v.signedIn.SetText("Waiting for Provet in your browser…")
	go func() {
		defer cancel()
		who, err := "", v.u.b.SaveConfig(ctx, current)
		if err == nil {
			who, err = v.u.b.SignIn(ctx)
		}
		v.u.do(func() {
			v.cancelSignIn = nil
			v.signInButton.SetText("Sign in with Provet")
			var verr app.ValidationError
			switch {
			case errors.As(err, &verr):
				v.form.showErrors(verr)
				v.goTo(0)
				v.message.SetText("Provet did not accept these settings: correct the fields marked in red.")
			case errors.Is(err, context.Canceled):
				v.signedIn.SetText("Sign-in cancelled. Sign in again when you are ready.")
			case err != nil:
				v.signedIn.SetText("Sign-in did not finish: " + err.Error() + " Check the Provet settings and try again.")
			default:
				v.signedIn.SetText("Signed in as " + who + ".")
			}
		})
	}()
}

func (v *firstRunView) finish() {
	cfg, ok := v.form.check()
	if !ok {
		v.goTo(v.firstStepWithError())
		v.message.SetText("Correct the fields marked in red, then finish.")
		return
	}
	v.next.Disable()
	v.message.SetText("Saving…")
	v.u.inBackground(func(ctx context.Context) error { return v.u.b.SaveConfig(ctx, cfg) }, func(err error) {
		v.next.Enable()
		var verr app.ValidationError
		switch {
		case errors.As(err, &verr):
			v.form.showErrors(verr)
			v.goTo(v.firstStepWithError())
			v.message.SetText("Correct the fields marked in red, then finish.")
		case err != nil:
			v.message.SetText("Could not save the settings: " + err.Error())
		default:
			v.done()
		}
	})
}

// firstStepWithError is the step owning the first field with a message, so
// Finish takes the person straight to what needs fixing.
func (v *firstRunView) firstStepWithError() int {
	for i, s := range v.steps {
		for field, l := range v.form.errs {
			if l.Text != "" && matchesAny(field, s.fields) && s.fields != nil {
				return i
			}
		}
	}
	return len(v.steps) - 1
}
