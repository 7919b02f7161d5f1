//go:build windows

package localapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

func endpoint(dir string) string { return pipeName(dir) }

// Listen opens the data directory's pipe, readable and writable by the
// current user alone.
func Listen(dir string) (net.Listener, error) {
	sid, err := currentUserSID()
	if err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	ln, err := winio.ListenPipe(pipeName(dir), &winio.PipeConfig{
		SecurityDescriptor: OwnerOnlySDDL(sid),
		InputBufferSize:    64 << 10,
		OutputBufferSize:   64 << 10,
	})
	if err != nil {
		return nil, fmt.Errorf("local API cannot listen on %s: %w", pipeName(dir), err)
	}
	return ln, nil
}

func currentUserSID() (string, error) {
	tok := windows.GetCurrentProcessToken()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("read this user's SID: %w", err)
	}
	return u.User.Sid.String(), nil
}

func dial(ctx context.Context, dir string) (net.Conn, error) {
	c, err := winio.DialPipeContext(ctx, pipeName(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
			return nil, fmt.Errorf("%w (%s)", ErrNotRunning, pipeName(dir))
		}
		return nil, fmt.Errorf("reach the running VetBridge at %s: %w", pipeName(dir), err)
	}
	return c, nil
}
