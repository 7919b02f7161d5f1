package platform

import (
	"fmt"

	"github.com/gen2brain/beeep"
)

// DesktopNotifier shows notifications through the operating system (beeep):
// libnotify over D-Bus on Linux, toasts on Windows, the notification centre
// on macOS.
type DesktopNotifier struct {
	icon []byte
}

// NewDesktopNotifier names the app in the toast (beeep's default reads
// "DefaultAppName") and uses icon for it.
func NewDesktopNotifier(appName string, icon []byte) *DesktopNotifier {
	beeep.AppName = appName
	return &DesktopNotifier{icon: icon}
}

// Notify shows one notification.
func (d *DesktopNotifier) Notify(title, message string) error {
	var icon any = ""
	if len(d.icon) > 0 {
		icon = d.icon
	}
	if err := beeep.Notify(title, message, icon); err != nil {
		return fmt.Errorf("desktop notification: %w", err)
	}
	return nil
}
