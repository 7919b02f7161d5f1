package ui

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// devicePanel lists the devices that knocked and were refused, each with
// Allow, and (unless refusedOnly) the registered ones, each with Remove.
// The Modalities view and first run's "press the worklist button" step use it.
type devicePanel struct {
	u           *ui
	refusedOnly bool
	content     *fyne.Container
	list        *fyne.Container
	empty       *widget.Label
	message     *widget.Label
	// shown is what the list was built from: a device's query must not
	// rebuild the rows (and drop a ticked checkbox) every few seconds.
	shown string
	rows  map[string]*deviceRow
	// changed runs on the UI goroutine after a device was allowed or removed.
	changed func()
}

type deviceRow struct {
	text     *widget.Label
	onlyHere *widget.Check
	allow    *widget.Button
	remove   *confirmAction
	device   app.Device
}

func newDevicePanel(u *ui, refusedOnly bool, empty string) *devicePanel {
	p := &devicePanel{u: u, refusedOnly: refusedOnly, rows: map[string]*deviceRow{}}
	p.list = container.NewVBox()
	p.empty = widget.NewLabel(empty)
	p.empty.Wrapping = fyne.TextWrapWord
	p.empty.Importance = widget.LowImportance
	p.message = widget.NewLabel("")
	p.message.Wrapping = fyne.TextWrapWord
	p.message.Hide()
	p.content = container.NewVBox(p.list, p.empty, p.message)
	return p
}

// refusedText is how a refused device is told: "DX-ROOM2 from
// 192.168.1.31 tried 3 times, last 10:42".
func refusedText(d app.Device, now time.Time) string {
	times := "once"
	if d.Refused != 1 {
		times = fmt.Sprintf("%d times", d.Refused)
	}
	s := fmt.Sprintf("%s from %s tried %s, last %s", d.CallingAE, hostOf(d.Addr), times, shortWhen(d.LastRefused, now))
	if d.RefusedWhy != "" {
		s += " (" + d.RefusedWhy + ")"
	}
	return s
}

// registeredText leaves out when the device last queried (the table says
// it): a row that changed with every query would be rebuilt under the
// technician's hand, a Remove half-confirmed with it.
func registeredText(d app.Device) string {
	from := "from any address"
	if len(d.Addrs) > 0 {
		from = "only from " + strings.Join(d.Addrs, ", ")
	}
	return fmt.Sprintf("%s, allowed %s", d.CallingAE, from)
}

// shortWhen is a time of today as 10:42, of another day as 28 Nov 10:42.
func shortWhen(t, now time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	if startOfDay(t).Equal(startOfDay(now)) {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

// hostOf drops the port from host:port; an address without one stays.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func (p *devicePanel) wanted(d app.Device) (refused, registered bool) {
	refused = d.Refused > 0 && !d.Known
	registered = d.Known && !p.refusedOnly
	return refused, registered
}

// update shows devs, rebuilding the rows only when what they say changed.
func (p *devicePanel) update(devs []app.Device) {
	now := p.u.clock.Now()
	var sig strings.Builder
	for _, d := range devs {
		refused, registered := p.wanted(d)
		switch {
		case refused:
			fmt.Fprintf(&sig, "r|%s\n", refusedText(d, now))
		case registered:
			fmt.Fprintf(&sig, "k|%s\n", registeredText(d))
		}
	}
	if sig.String() == p.shown {
		return
	}
	p.shown = sig.String()
	old := p.rows
	p.rows = map[string]*deviceRow{}
	p.list.RemoveAll()
	for _, d := range devs {
		refused, registered := p.wanted(d)
		if !refused && !registered {
			continue
		}
		r := p.row(d, refused, now)
		if o, ok := old[d.CallingAE]; ok && o.onlyHere != nil && r.onlyHere != nil {
			r.onlyHere.SetChecked(o.onlyHere.Checked)
		}
		p.rows[d.CallingAE] = r
	}
	if len(p.rows) == 0 {
		p.empty.Show()
	} else {
		p.empty.Hide()
	}
}

func (p *devicePanel) row(d app.Device, refused bool, now time.Time) *deviceRow {
	r := &deviceRow{device: d}
	if refused {
		r.text = widget.NewLabel(refusedText(d, now))
		r.text.Wrapping = fyne.TextWrapWord
		r.text.Importance = widget.WarningImportance
		r.allow = widget.NewButton("Allow", func() { p.allow(r) })
		r.allow.Importance = widget.HighImportance
		actions := container.NewHBox(r.allow)
		if host := hostOf(d.Addr); host != "" {
			r.onlyHere = widget.NewCheck("only from "+host, nil)
			actions = container.NewHBox(r.onlyHere, r.allow)
		}
		p.list.Add(container.NewBorder(nil, nil, nil, actions, r.text))
		return r
	}
	r.text = widget.NewLabel(registeredText(d))
	r.text.Wrapping = fyne.TextWrapWord
	ae := d.CallingAE
	r.remove = newConfirmAction("Remove", "Remove "+ae+"? It can no longer query the worklist or report exams.", "Remove", func() { p.removeDevice(ae) })
	p.list.Add(container.NewVBox(container.NewBorder(nil, nil, nil, r.remove.button, r.text), r.remove.ask))
	return r
}

func (p *devicePanel) allow(r *deviceRow) {
	ae := r.device.CallingAE
	var addrs []string
	if r.onlyHere != nil && r.onlyHere.Checked {
		addrs = []string{hostOf(r.device.Addr)}
	}
	r.allow.Disable()
	p.say("Allowing " + ae + "…")
	p.u.inBackground(func(ctx context.Context) error {
		return p.u.b.AllowDevice(ctx, ae, addrs)
	}, func(err error) {
		if err != nil {
			r.allow.Enable()
			p.say("Could not allow " + ae + ": " + err.Error())
			return
		}
		p.say(ae + " is allowed: press its worklist button again.")
		p.done()
	})
}

func (p *devicePanel) removeDevice(ae string) {
	p.say("Removing " + ae + "…")
	p.u.inBackground(func(ctx context.Context) error {
		return p.u.b.RemoveDevice(ctx, ae)
	}, func(err error) {
		if err != nil {
			p.say("Could not remove " + ae + ": " + err.Error())
			return
		}
		p.say(ae + " is removed: it is refused from now on.")
		p.done()
	})
}

func (p *devicePanel) done() {
	p.u.modalities.refresh()
	if p.changed != nil {
		p.changed()
	}
}

func (p *devicePanel) say(text string) {
	p.message.SetText(text)
	if text == "" {
		p.message.Hide()
	} else {
		p.message.Show()
	}
}
