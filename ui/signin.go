package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// signInPanel runs Provet's sign-in with the Provet settings on screen. While
// it waits it shows the sign-in address with Copy, for when no browser opens,
// and until when it waits. Its messages belong to it alone: no status
// refresh overwrites a failure.
type signInPanel struct {
	u       *ui
	content fyne.CanvasObject
	button  *widget.Button
	offer   *fyne.Container // holds the button; hidden while signed in
	state   *widget.Label
	link    *linkMessage

	// provet reads and validates the on-screen Provet settings; !ok means
	// the form already shows what to correct.
	provet func() (app.ProvetConfig, bool)
	// finished runs on the UI goroutine after each attempt.
	finished func(who string, err error)
	cancel   context.CancelFunc
}

func newSignInPanel(u *ui, provet func() (app.ProvetConfig, bool), finished func(string, error)) *signInPanel {
	p := &signInPanel{u: u, provet: provet, finished: finished}
	p.button = widget.NewButton("Sign in with Provet", p.onButton)
	p.button.Importance = widget.HighImportance
	p.state = widget.NewLabel("")
	p.state.Wrapping = fyne.TextWrapWord
	p.link = newLinkMessage(u)
	p.offer = container.NewHBox(p.button)
	p.content = container.NewVBox(p.offer, p.state, p.link.content)
	p.say("", widget.MediumImportance)
	return p
}

func (p *signInPanel) waiting() bool { return p.cancel != nil }

func (p *signInPanel) onButton() {
	if p.cancel != nil {
		p.cancel() // the person gave up waiting for the browser
		return
	}
	p.start()
}

func (p *signInPanel) start() {
	if p.cancel != nil {
		return
	}
	cfg, ok := p.provet()
	if !ok {
		p.say("Correct the Provet settings marked in red, then sign in.", widget.DangerImportance)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.button.SetText("Cancel sign-in")
	if cfg.Grant == "client_credentials" {
		// The integration signs in with its secret: no browser opens.
		p.say("Signing in to Provet with the integration's client secret…", widget.MediumImportance)
	} else {
		p.say("Opening Provet's sign-in in your browser…", widget.MediumImportance)
	}
	p.link.set("", "")
	go func() {
		defer cancel()
		who, err := p.u.b.SignIn(ctx, cfg, func(authURL string, until time.Time) {
			p.u.do(func() {
				if p.cancel != nil {
					p.showWait(authURL, until)
				}
			})
		})
		p.u.do(func() { p.done(who, err) })
	}()
}

func (p *signInPanel) showWait(authURL string, until time.Time) {
	p.say("Sign in to Provet in your browser. VetBridge waits until "+until.Format("15:04")+
		" ("+waitText(until.Sub(p.u.clock.Now()))+"), then gives up; sign in again after that.",
		widget.MediumImportance)
	p.link.set("If no browser opened, open this address in one:", authURL)
}

func (p *signInPanel) done(who string, err error) {
	p.cancel = nil
	p.button.SetText("Sign in with Provet")
	p.link.set("", "")
	var verr app.ValidationError
	switch {
	case errors.As(err, &verr):
		p.say("Provet did not accept these settings: correct the fields marked in red.", widget.DangerImportance)
	case errors.Is(err, context.Canceled):
		p.say("Sign-in cancelled. Sign in again when you are ready.", widget.MediumImportance)
	case err != nil:
		p.say("Sign-in did not finish: "+err.Error()+" Check the Provet settings and try again.", widget.DangerImportance)
	default:
		p.say("Signed in as "+who+".", widget.SuccessImportance)
	}
	p.finished(who, err)
}

func (p *signInPanel) say(text string, imp widget.Importance) {
	p.state.Importance = imp
	p.state.SetText(text)
	if text == "" {
		p.state.Hide()
	} else {
		p.state.Show()
	}
}
