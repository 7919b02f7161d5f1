package ui

import "fyne.io/fyne/v2"

// The window opens at a size that fits a 1,200 px wide screen with room for
// its frame, and the worklist's split leaves the detail pane wide enough to
// read at that size.
var defaultWindowSize = fyne.NewSize(1160, 720)

const (
	defaultWorklistSplit   = 0.65
	defaultModalitiesSplit = 0.5

	prefWidth           = "window.width"
	prefHeight          = "window.height"
	prefWorklistSplit   = "worklist.split"
	prefModalitiesSplit = "modalities.split"
)

// restoreLayout gives the window and its dividers the sizes the technician
// left them at.
func (u *ui) restoreLayout() {
	p := u.fa.Preferences()
	size := fyne.NewSize(
		float32(p.FloatWithFallback(prefWidth, float64(defaultWindowSize.Width))),
		float32(p.FloatWithFallback(prefHeight, float64(defaultWindowSize.Height))))
	u.win.Resize(size)
	u.worklist.split.SetOffset(splitPref(p, prefWorklistSplit, defaultWorklistSplit))
	u.modalities.split.SetOffset(splitPref(p, prefModalitiesSplit, defaultModalitiesSplit))
}

func splitPref(p fyne.Preferences, key string, fallback float64) float64 {
	v := p.FloatWithFallback(key, fallback)
	// A divider dragged to an edge hides a whole pane; nobody finds it again.
	if v < 0.2 || v > 0.85 {
		return fallback
	}
	return v
}

// saveLayout remembers the window's size and dividers; it runs when the
// window closes and when VetBridge quits.
func (u *ui) saveLayout() {
	p := u.fa.Preferences()
	if size := u.win.Canvas().Size(); size.Width > 0 && size.Height > 0 {
		p.SetFloat(prefWidth, float64(size.Width))
		p.SetFloat(prefHeight, float64(size.Height))
	}
	p.SetFloat(prefWorklistSplit, u.worklist.split.Offset)
	p.SetFloat(prefModalitiesSplit, u.modalities.split.Offset)
}
