//go:build !linux

package platform

// TrayHostAvailable reports whether the desktop shows tray icons: Windows
// and macOS always do.
func TrayHostAvailable() bool { return true }
