//go:build cgo

// Command barewindow shows one Fyne window with a label and nothing else. It
// is the baseline `make screenshots` measures VetBridge's idle memory
// against: the cost of the toolkit itself, on the same machine, in the same
// run. With -scripts the label holds Greek, Cyrillic and Nordic names as
// the worklist does, since Fyne then loads fallback fonts for those scripts
// (about 20 MB of glyph tables), a cost of the text rather than of the app.
package main

import (
	"flag"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	scripts := flag.Bool("scripts", false, "show names in Greek, Cyrillic and Nordic letters")
	flag.Parse()
	text := "A bare Fyne window"
	if *scripts {
		text = "Λέων · Γιώργος Παπαδόπουλος · Наталья Смирнова · Ólafur Þórsson · Jürgen Groß · María José Ñúñez"
	}
	a := app.NewWithID("com.vetbridge.barewindow")
	w := a.NewWindow("Bare Fyne window")
	w.SetContent(widget.NewLabel(text))
	w.Resize(fyne.NewSize(1200, 760)) // the size VetBridge opens its window at
	w.ShowAndRun()
}
