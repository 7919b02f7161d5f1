package platform

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// LogFileName is the desktop app's log in the data directory: on Windows a
// tray app has no console, and support asks for this file.
const LogFileName = "vetbridge.log"

// maxLogSize bounds the log: at start a larger one is moved to .old,
// keeping one previous generation.
const maxLogSize = 10 << 20

// OpenLogFile opens the log for appending, rotating it when it grew large.
func OpenLogFile(dir string) (io.WriteCloser, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, LogFileName)
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogSize {
		_ = os.Rename(path, path+".old")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the log %s: %w", path, err)
	}
	return f, nil
}
