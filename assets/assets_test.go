package assets

import (
	"bytes"
	"crypto/sha256"
	"image/png"
	"testing"

	"fyne.io/fyne/v2"
)

func TestIconsAreDistinctSquarePNGs(t *testing.T) {
	icons := map[string]struct {
		res  fyne.Resource
		size int
	}{
		"app":        {AppIcon, 256},
		"ok":         {TrayOK, 64},
		"syncing":    {TraySyncing, 64},
		"offline":    {TrayOffline, 64},
		"error":      {TrayError, 64},
		"signed out": {TraySignedOut, 64},
	}
	seen := map[[32]byte]string{}
	for name, ic := range icons {
		img, err := png.Decode(bytes.NewReader(ic.res.Content()))
		if err != nil {
			t.Fatalf("%s icon: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != ic.size || b.Dy() != ic.size {
			t.Errorf("%s icon is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), ic.size, ic.size)
		}
		sum := sha256.Sum256(ic.res.Content())
		if other, dup := seen[sum]; dup {
			t.Errorf("%s icon is identical to %s: the tray could not show the state", name, other)
		}
		seen[sum] = name
	}
}
