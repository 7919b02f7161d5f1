// Package localapi is the transport of VetBridge's local API: the endpoint
// the running instance answers on, reachable only by the user who runs it.
// On Linux and macOS it is a Unix-domain socket in the data directory
// (0600, in a 0700 directory, and on Linux the peer's uid is checked); on
// Windows a named pipe whose security descriptor grants the owner alone.
// It is never a TCP port: nothing on the clinic LAN can reach it.
package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
)

// SocketName is the Unix-domain socket inside the data directory.
const SocketName = "vetbridge.sock"

// ErrNotRunning means nothing answers on the data directory's endpoint: no
// instance runs (or it is still starting).
var ErrNotRunning = errors.New("no VetBridge is running for this data directory")

// Endpoint names the endpoint for a data directory, for messages.
func Endpoint(dir string) string { return endpoint(dir) }

// Dial connects to the instance running for dir. It returns ErrNotRunning
// (wrapped) when none answers.
func Dial(ctx context.Context, dir string) (conn Conn, err error) {
	return dial(ctx, dir)
}

// pipeName is the Windows pipe for a data directory: one per directory, so a
// demo and the clinic's installation on one computer never meet, named by a
// hash because a path may hold characters a pipe name cannot.
func pipeName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(abs))))
	return `\\.\pipe\vetbridge-` + hex.EncodeToString(sum[:12])
}

// OwnerOnlySDDL is the security descriptor of the Windows pipe: the owner
// (the user whose SID is given) gets full access, and the DACL is protected
// so nothing is inherited; SYSTEM and Administrators get nothing either, as
// a support tool elevated by another account must not drive the app.
func OwnerOnlySDDL(sid string) string {
	return "O:" + sid + "D:P(A;;GA;;;" + sid + ")"
}
