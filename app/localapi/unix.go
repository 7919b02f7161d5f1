//go:build !windows

package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// maxSocketPath is sun_path's size less its terminator on the smallest
// platform (macOS: 104).
const maxSocketPath = 103

// socketPath is the socket for dir: in the data directory itself, or, where
// that path is too long for a Unix socket, in a private directory under the
// system's temporary directory named after it.
func socketPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	p := filepath.Join(abs, SocketName)
	if len(p) <= maxSocketPath {
		return p, nil
	}
	sum := sha256.Sum256([]byte(abs))
	private := filepath.Join(os.TempDir(), fmt.Sprintf("vetbridge-%d", os.Getuid()))
	return filepath.Join(private, hex.EncodeToString(sum[:8])+".sock"), nil
}

func endpoint(dir string) string {
	p, err := socketPath(dir)
	if err != nil {
		return filepath.Join(dir, SocketName)
	}
	return p
}

// Listen opens the endpoint for dir. The caller must own the data directory
// (hold the store's lock): a socket file left by a crashed instance is
// removed first.
func Listen(dir string) (net.Listener, error) {
	p, err := socketPath(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	if err := privateDir(filepath.Dir(p)); err != nil {
		return nil, err
	}
	_ = os.Remove(p)
	// The umask makes the socket 0600 from the start, so there is no moment
	// at which another user could connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", p)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("local API cannot listen on %s: %w", p, err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local API: %w", err)
	}
	return &peerCheckListener{Listener: ln}, nil
}

// privateDir makes sure the socket's directory belongs to this user and is
// closed to others: a socket's own mode is not honoured everywhere.
func privateDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("local API: %s belongs to another user; remove it or pass another --data directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, st.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("local API: close %s to other users: %w", dir, err)
		}
	}
	return nil
}

func dial(ctx context.Context, dir string) (net.Conn, error) {
	p, err := socketPath(dir)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w (%s)", ErrNotRunning, p)
		}
		return nil, fmt.Errorf("reach the running VetBridge at %s: %w", p, err)
	}
	return c, nil
}
