package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// confirmAction is a button whose action needs a second, explicit click: a
// question with Yes and Keep appears in its place. It stays beside the thing
// it acts on, where a dialog would hide what is being removed.
type confirmAction struct {
	content  *fyne.Container
	button   *widget.Button
	question *widget.Label
	yes, no  *widget.Button
	ask      *fyne.Container
}

func newConfirmAction(label, question, yes string, act func()) *confirmAction {
	c := &confirmAction{question: widget.NewLabel(question)}
	c.question.Wrapping = fyne.TextWrapWord
	c.button = widget.NewButton(label, c.open)
	c.yes = widget.NewButton(yes, func() {
		c.close()
		act()
	})
	c.yes.Importance = widget.DangerImportance
	c.no = widget.NewButton("Keep", c.close)
	c.ask = container.NewBorder(nil, nil, nil, container.NewHBox(c.yes, c.no), c.question)
	c.ask.Hide()
	c.content = container.NewVBox(container.NewHBox(c.button), c.ask)
	return c
}

func (c *confirmAction) open() {
	c.button.Hide()
	c.ask.Show()
}

func (c *confirmAction) close() {
	c.ask.Hide()
	c.button.Show()
}
