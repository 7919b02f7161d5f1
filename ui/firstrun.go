package ui

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// firstRunView walks a new installation through what it cannot work without.
//
// Saving: every step validates its own fields, and first run is done only
// when Finish on its last step succeeds (FinishSetup): until then nothing is
// saved as configured and the worklist server does not listen. Signing in
// needs the Provet settings, so the sign-in step hands the on-screen Provet
// part to SignIn, which stores that part alone.
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

	signIn *signInPanel
	setup  *modalitySetup
	viewer *linkMessage
	// knock is the modality step: what to enter on the device and the
	// devices that pressed their worklist button, each with Allow.
	knockSetup *modalitySetup
	knock      *devicePanel
	// notListening says, when the step's listener could not start, that a
	// device's knock cannot arrive before Finish, and why.
	notListening *widget.Label
	// listening is set while the step's listener runs; stopListening
	// closes it.
	listening     bool
	stopListening func()
}

type wizardStep struct {
	title, intro string
	content      fyne.CanvasObject
	fields       []string // error prefixes this step owns
}

// The indexes of the steps others refer to.
const (
	stepProvet   = 0
	stepDICOM    = 2
	stepModality = 3
)

// goos is the system first run words its advice for; tests set it.
var goos = runtime.GOOS

// firewallAdvice is what Windows asks when the worklist server first
// listens, and the answer the modalities need.
const firewallAdvice = "If Windows asks whether VetBridge may communicate on networks, allow private networks: " +
	"the X-ray and ultrasound devices reach the worklist over the clinic's network, and Windows Firewall blocks them otherwise. " +
	"Public networks are not needed."

func newFirstRunView(u *ui, done func()) *firstRunView {
	v := &firstRunView{u: u, form: newConfigForm(u.b.Config()), done: done}
	v.signIn = newSignInPanel(u, v.onScreenProvet, v.signedIn)
	v.signIn.say("Not signed in yet.", widget.MediumImportance)
	v.setup = newModalitySetup(u)
	v.knockSetup = newModalitySetup(u)
	v.knock = newDevicePanel(u, true, "No device has pressed its worklist button yet. Devices that do appear here with Allow. "+
		"You can skip this step and allow devices later in the Modalities view.")
	v.knock.changed = v.allowedDevice
	v.notListening = wrapLabel(notListeningText)
	v.notListening.Importance = widget.WarningImportance
	v.viewer = newLinkMessage(u)
	dicomStep := []fyne.CanvasObject{widget.NewForm(v.form.dicomItems()...), v.setup.content}
	if goos == "windows" {
		fw := widget.NewLabel(firewallAdvice)
		fw.Wrapping = fyne.TextWrapWord
		fw.Importance = widget.WarningImportance
		dicomStep = append(dicomStep, fw)
	}
	v.form.aeTitle.OnChanged = func(string) { v.updateSetup() }
	v.form.port.OnChanged = func(string) { v.updateSetup() }

	v.steps = []wizardStep{
		{"Provet Cloud", "Which Provet Cloud does your clinic use? You find these values in Provet under Settings > Integrations.",
			widget.NewForm(v.form.provetItems()...), []string{"provet."}},
		{"Sign in", "Sign in with a Provet user allowed to read the imaging worklist. Your browser opens; come back here when Provet says you are done.",
			v.signIn.content, nil},
		{"Worklist server", "Your X-ray and ultrasound devices connect to VetBridge with these settings: enter them in each device's worklist settings. The server starts when you finish.",
			container.NewVBox(dicomStep...), []string{"dicom."}},
		{"Connect a modality", "Point your modality at VetBridge and press its worklist button. Only devices you allow may read the worklist: allow yours below when it appears. Next skips this step.",
			container.NewVBox(v.knockSetup.content, v.notListening, widget.NewSeparator(), v.knock.content), nil},
		{"PACS viewer", "Optional: the address that opens a patient's images in your PACS viewer. Test it to see it open in your browser.",
			container.NewVBox(widget.NewForm(v.form.viewerItems()...),
				container.NewHBox(widget.NewButton("Test", func() { v.viewer.set(testViewer(u, v.form)) })),
				v.viewer.content), []string{"viewer_url"}},
		{"Done", "Finish saves the settings and starts the worklist server for your devices; you can change everything later in Settings. Until you finish, nothing is saved as set up.",
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
	v.updateSetup()
	v.goTo(0)
	return v
}

// updateSetup shows the AE title and port as typed, with this computer's
// addresses: the server is not running yet, so the backend's are not it.
func (v *firstRunView) updateSetup() {
	_, _, addrs := v.u.b.ModalitySetup()
	port, _ := strconv.Atoi(strings.TrimSpace(v.form.port.Text))
	v.setup.update(strings.TrimSpace(v.form.aeTitle.Text), port, addrs)
	v.knockSetup.update(strings.TrimSpace(v.form.aeTitle.Text), port, addrs)
}

// notListeningText is the modality step's word when its listener did not start.
const notListeningText = "The worklist server is not listening yet, so no device can reach it before you finish. " +
	"Skip this step: after Finish, a device that presses its worklist button appears in the Modalities view with Allow."

// devicesChanged shows the devices that knocked since the step opened.
func (v *firstRunView) devicesChanged() {
	if v.listening {
		v.notListening.Hide()
	} else {
		v.notListening.Show()
	}
	v.knock.update(v.u.b.Devices())
}

// listen opens the worklist server for the modality step, with the AE
// title and port as typed, off the UI goroutine.
func (v *firstRunView) listen() {
	cfg, errs := v.form.config()
	if len(errs) > 0 {
		v.devicesChanged()
		return
	}
	go func() {
		stop, err := v.u.b.ListenForDevices(context.Background(), cfg.DICOM)
		v.u.do(func() {
			switch {
			case err != nil:
				v.notListening.SetText("The worklist server cannot listen yet: " + err.Error() + ". " + notListeningText)
			case v.step != stepModality:
				stop() // the technician moved on meanwhile
			default:
				v.listening, v.stopListening = true, stop
			}
			v.devicesChanged()
		})
	}()
}

// stopListen closes the modality step's listener, when the technician
// goes back to change the port or on.
func (v *firstRunView) stopListen() {
	if v.stopListening != nil {
		v.stopListening()
	}
	v.listening, v.stopListening = false, nil
}

// allowedDevice keeps the devices allowed here in the answers Finish
// saves: Finish writes the form's configuration, profiles included.
func (v *firstRunView) allowedDevice() {
	profiles := v.u.b.Config().DICOM.Profiles
	v.form.base.DICOM.Profiles = profiles
	v.form.profiles.load(profiles)
	v.devicesChanged()
}

func (v *firstRunView) goTo(i int) {
	v.step = i
	s := v.steps[i]
	v.title.SetText(s.title)
	v.intro.SetText(s.intro)
	if i == stepModality {
		v.notListening.SetText(notListeningText)
		v.devicesChanged()
		v.listen()
	} else {
		v.stopListen()
	}
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

func (v *firstRunView) onScreenProvet() (app.ProvetConfig, bool) {
	cfg, ok := v.form.check("provet.")
	if !ok {
		v.goTo(stepProvet)
		v.message.SetText("Correct the Provet settings before signing in.")
	}
	return cfg.Provet, ok
}

func (v *firstRunView) signedIn(_ string, err error) {
	var verr app.ValidationError
	if errors.As(err, &verr) {
		v.form.showErrors(verr)
		v.goTo(stepProvet)
		v.message.SetText("Provet did not accept these settings: correct the fields marked in red.")
	}
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
	v.u.inBackground(func(ctx context.Context) error {
		if err := v.u.b.CheckDICOMPort(cfg.DICOM.Port); err != nil {
			return app.ValidationError{{Field: "dicom.port", Message: err.Error()}}
		}
		return v.u.b.FinishSetup(ctx, cfg)
	}, func(err error) {
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
