package platform

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A port another program holds is named as such, on every system; any
// other failure keeps its cause.
func TestPortError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = net.Listen("tcp", ln.Addr().String())
	if err == nil {
		t.Fatal("a second listener on the same port")
	}
	if got := PortError(port, err).Error(); !strings.Contains(got, "used by another program") {
		t.Errorf("port in use: %s", got)
	}
	cause := errors.New("no such interface")
	if got := PortError(port, cause); !errors.Is(got, cause) {
		t.Errorf("other failure: %v", got)
	}
}
