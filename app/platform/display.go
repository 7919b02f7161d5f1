package platform

import (
	"os"
	"runtime"
)

// HasDisplay reports whether a window can be shown: on Linux and the BSDs
// that takes an X11 or Wayland session; Windows and macOS always have one
// for an interactive user.
func HasDisplay() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
