// Package assets holds VetBridge's icons, embedded so the binary runs from a
// single file. Regenerate the PNGs with `go run gen.go` in this directory.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:generate go run gen.go

var (
	//go:embed icon.png
	iconPNG []byte
	//go:embed tray-ok.png
	trayOKPNG []byte
	//go:embed tray-syncing.png
	traySyncingPNG []byte
	//go:embed tray-offline.png
	trayOfflinePNG []byte
	//go:embed tray-error.png
	trayErrorPNG []byte
	//go:embed tray-signedout.png
	traySignedOutPNG []byte
)

// Icons. The tray set shares one shape so that only the colour and badge
// change with the state, which keeps the tray calm while still readable.
var (
	AppIcon       fyne.Resource = fyne.NewStaticResource("icon.png", iconPNG)
	TrayOK        fyne.Resource = fyne.NewStaticResource("tray-ok.png", trayOKPNG)
	TraySyncing   fyne.Resource = fyne.NewStaticResource("tray-syncing.png", traySyncingPNG)
	TrayOffline   fyne.Resource = fyne.NewStaticResource("tray-offline.png", trayOfflinePNG)
	TrayError     fyne.Resource = fyne.NewStaticResource("tray-error.png", trayErrorPNG)
	TraySignedOut fyne.Resource = fyne.NewStaticResource("tray-signedout.png", traySignedOutPNG)
)
