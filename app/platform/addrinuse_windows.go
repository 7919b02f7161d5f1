//go:build windows

package platform

import (
	"errors"

	"golang.org/x/sys/windows"
)

// isAddrInUse recognises Windows' own code for a port in use, which
// syscall.EADDRINUSE does not match there.
func isAddrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }
