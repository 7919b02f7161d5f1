//go:build darwin || js || wasip1 || plan9

package autostart

// New: macOS would need a LaunchAgent, which VetBridge does not ship yet.
func New() (Manager, error) { return nil, ErrUnsupported }
