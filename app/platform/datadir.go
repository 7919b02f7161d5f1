package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataDir is the per-user, per-machine data directory: LocalAppData on
// Windows (never the roaming profile, which may sit on a share and would carry
// the database between workstations), Application Support on macOS, and
// $XDG_DATA_HOME (or ~/.local/share) elsewhere.
func DefaultDataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "VetBridge"), nil
		}
	case "darwin":
		home, err := os.UserHomeDir()
		if err == nil {
			return filepath.Join(home, "Library", "Application Support", "VetBridge"), nil
		}
	default:
		if d := os.Getenv("XDG_DATA_HOME"); d != "" {
			return filepath.Join(d, "vetbridge"), nil
		}
		home, err := os.UserHomeDir()
		if err == nil {
			return filepath.Join(home, ".local", "share", "vetbridge"), nil
		}
	}
	return "", fmt.Errorf("cannot find a per-user data directory; pass --data DIR")
}
