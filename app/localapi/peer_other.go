//go:build !linux && !windows

package localapi

import "net"

// peerCheckListener relies on the socket's mode and its private directory
// where the peer's credentials cannot be read the same way.
type peerCheckListener struct{ net.Listener }
