package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/vetbridge/vetbridge/app"
)

// doneBar says which referral was just marked done, in the words the
// technician knows it by, and offers Undo until the backend sends the update
// to Provet. It sits under the worklist, not in the detail pane, so it stays
// while the selection moves on.
type doneBar struct {
	u       *ui
	content *fyne.Container
	text    *widget.Label
	undo    *widget.Button

	key       string // the referral the bar speaks of
	words     string
	stopTimer func() bool
}

func newDoneBar(u *ui) *doneBar {
	b := &doneBar{u: u, text: widget.NewLabel("")}
	b.text.Wrapping = fyne.TextWrapWord
	b.undo = widget.NewButtonWithIcon("Undo", theme.ContentUndoIcon(), b.onUndo)
	b.content = container.NewBorder(widget.NewSeparator(), nil, nil, b.undo, b.text)
	b.content.Hide()
	return b
}

func referralWords(r app.Referral) string {
	return joinNonEmpty(" · ", petText(r), r.OwnerName, r.Exam)
}

func (b *doneBar) markDone(r app.Referral) {
	b.endUndo()
	b.key, b.words = r.Key, referralWords(r)
	b.say("Marking done: "+b.words+"…", false)
	key := r.Key
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		until, err := b.u.b.MarkDone(ctx, key)
		b.u.do(func() {
			if b.key == key {
				b.marked(until, err)
			}
			b.u.worklist.refresh()
		})
	}()
}

func (b *doneBar) marked(until time.Time, err error) {
	if err != nil {
		b.say("Could not mark "+b.words+" done: "+err.Error()+" The worklist entry stays; try again.", false)
		return
	}
	left := until.Sub(b.u.clock.Now())
	if left <= 0 {
		b.say("Marked done: "+b.words+". Provet is updated in the background.", false)
		return
	}
	b.say(fmt.Sprintf("Marked done: %s. Undo is possible until %s.", b.words, until.Format("15:04:05")), true)
	key := b.key
	b.stopTimer = b.u.clock.AfterFunc(left, func() {
		b.u.do(func() {
			if b.key == key && b.stopTimer != nil {
				b.stopTimer = nil
				b.say("Marked done: "+b.words+". Provet is updated in the background.", false)
			}
		})
	})
}

func (b *doneBar) onUndo() {
	key, words := b.key, b.words
	b.endUndo()
	b.say("Undoing: "+words+"…", false)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		err := b.u.b.UndoMarkDone(ctx, key)
		b.u.do(func() {
			if b.key == key {
				if err != nil {
					b.say("Could not undo "+words+": "+err.Error(), false)
				} else {
					b.say("Undone: "+words+" is back on the worklist as before.", false)
				}
			}
			b.u.worklist.refresh()
		})
	}()
}

func (b *doneBar) endUndo() {
	if b.stopTimer != nil {
		b.stopTimer()
		b.stopTimer = nil
	}
}

func (b *doneBar) say(text string, canUndo bool) {
	b.text.SetText(text)
	if canUndo {
		b.undo.Show()
	} else {
		b.undo.Hide()
	}
	b.content.Show()
}
