package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// parkedBar lists the status updates Provet refused for good, under the
// worklist, each with Retry and Drop: until the technician decides, Provet
// keeps its old status for that order.
type parkedBar struct {
	u       *ui
	content *fyne.Container
	list    *fyne.Container
	message *widget.Label
	shown   string
	rows    map[uint64]*parkedRow
}

type parkedRow struct {
	text  *widget.Label
	retry *widget.Button
	drop  *confirmAction
}

func newParkedBar(u *ui) *parkedBar {
	b := &parkedBar{u: u, list: container.NewVBox(), rows: map[uint64]*parkedRow{}}
	b.message = widget.NewLabel("")
	b.message.Wrapping = fyne.TextWrapWord
	b.message.Hide()
	b.content = container.NewVBox(widget.NewSeparator(), b.list, b.message)
	b.content.Hide()
	return b
}

// parkedText is one refused update as the technician reads it.
func parkedText(p app.ParkedUpdate) string {
	who := p.Referral
	if who == "" {
		who = "an order that has left the worklist"
	}
	return fmt.Sprintf("Provet refused to set %s to %s: %s", who, p.Status, p.Provet)
}

func (b *parkedBar) refresh() {
	parked := b.u.b.ParkedUpdates()
	var sig strings.Builder
	for _, p := range parked {
		fmt.Fprintf(&sig, "%d|%s\n", p.ID, parkedText(p))
	}
	if sig.String() == b.shown {
		return
	}
	b.shown = sig.String()
	b.rows = map[uint64]*parkedRow{}
	b.list.RemoveAll()
	for _, p := range parked {
		b.list.Add(b.row(p))
	}
	if len(parked) == 0 && !b.message.Visible() {
		b.content.Hide()
	} else {
		b.content.Show()
	}
}

func (b *parkedBar) row(p app.ParkedUpdate) fyne.CanvasObject {
	r := &parkedRow{text: widget.NewLabel(parkedText(p))}
	r.text.Wrapping = fyne.TextWrapWord
	r.text.Importance = widget.DangerImportance
	id, words := p.ID, p.Referral
	r.retry = widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), func() {
		r.retry.Disable()
		b.act("Sent again", words, func() error { return b.u.b.RetryUpdate(id) })
	})
	r.drop = newConfirmAction("Drop", "Drop this update? Provet keeps the order's status as it is now.", "Drop", func() {
		b.act("Dropped", words, func() error { return b.u.b.DropUpdate(id) })
	})
	b.rows[id] = r
	return container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(r.retry, r.drop.button), r.text),
		r.drop.ask)
}

// act runs a retry or drop (both write the outbox) off the UI goroutine.
func (b *parkedBar) act(done, words string, call func() error) {
	go func() {
		err := call()
		b.u.do(func() {
			if err != nil {
				b.say("Could not change the update for " + words + ": " + err.Error())
			} else {
				b.say(done + ": the status update for " + words + ".")
			}
			b.refresh()
		})
	}()
}

func (b *parkedBar) say(text string) {
	b.message.SetText(text)
	b.message.Show()
	b.content.Show()
}
