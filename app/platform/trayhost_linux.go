//go:build linux

package platform

import (
	"time"

	"github.com/godbus/dbus/v5"
)

// TrayHostAvailable reports whether the desktop shows tray icons. On Linux
// that takes a StatusNotifierItem host on the session bus (KDE, or GNOME
// with an AppIndicator extension); without one the icon never appears, and
// a tray-only app would be invisible.
func TrayHostAvailable() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var owner string
	call := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, "org.kde.StatusNotifierWatcher")
	done := make(chan error, 1)
	go func() { done <- call.Store(&owner) }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Second):
		return false
	}
	return err == nil && owner != ""
}
