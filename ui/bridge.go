package ui

import (
	"context"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/app"
)

// dirty says which parts of the UI an event burst invalidated.
type dirty struct {
	status, referrals, devices, showWindow, signInAgain bool
	message                                             string
}

// bridge is the one place where backend events enter the UI. A sync can emit
// hundreds of events in a second; the bridge folds them into one set of flags
// and lets the UI redraw once per burst, on the UI goroutine.
type bridge struct {
	mu      sync.Mutex
	pending dirty
	kick    chan struct{}
}

func newBridge() *bridge { return &bridge{kick: make(chan struct{}, 1)} }

// handle may be called from any goroutine.
func (br *bridge) handle(ev app.Event) {
	br.mu.Lock()
	switch ev.Kind {
	case app.EventStatus:
		br.pending.status = true
	case app.EventReferrals, app.EventNewReferral:
		br.pending.referrals = true
	case app.EventSignInAgain:
		br.pending.signInAgain = true
		br.pending.status = true
		br.pending.message = ev.Message
	case app.EventDevices:
		br.pending.devices = true
	case app.EventShowWindow:
		br.pending.showWindow = true
	}
	br.mu.Unlock()
	select {
	case br.kick <- struct{}{}:
	default: // a flush is already due; it will see this event's flags
	}
}

func (br *bridge) take() dirty {
	br.mu.Lock()
	defer br.mu.Unlock()
	d := br.pending
	br.pending = dirty{}
	return d
}

// run waits for events, lets a burst settle for window, then hands the merged
// flags to post (fyne.Do in the app) until ctx ends.
func (br *bridge) run(ctx context.Context, window time.Duration, post func(func()), apply func(dirty)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-br.kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(window):
		}
		// Events during the window kicked again; take covers them, so the
		// kick is spent here rather than causing a second, empty redraw.
		select {
		case <-br.kick:
		default:
		}
		d := br.take()
		if d == (dirty{}) {
			continue
		}
		post(func() { apply(d) })
	}
}
