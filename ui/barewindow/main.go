// Command barewindow shows one empty Fyne window and nothing else. It is the
// baseline `make screenshots` measures VetBridge's idle memory against: the
// cost of the toolkit itself, on the same machine, in the same run.
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("com.vetbridge.barewindow")
	w := a.NewWindow("Bare Fyne window")
	w.SetContent(widget.NewLabel("A bare Fyne window"))
	w.Resize(fyne.NewSize(900, 600))
	w.ShowAndRun()
}
