//go:build !windows && !darwin && !js && !wasip1 && !plan9

package autostart

import "os"

// New returns the Manager of this system: a desktop entry in the XDG autostart directory.
func New() (Manager, error) {
	dir, err := XDGDir(os.Getenv)
	if err != nil {
		return nil, err
	}
	return NewXDG(dir, OSFiles{}), nil
}
