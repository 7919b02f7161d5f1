package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrAnotherInstance means VetBridge already runs for this data directory; it
// has been asked to show its window.
var ErrAnotherInstance = errors.New("VetBridge is already running; its window has been brought forward")

const instanceFile = "instance"

// Instance keeps this process the only one for a data directory. A second
// launch finds the first through a loopback port written to the data
// directory and asks it to show its window, instead of waiting on the
// database lock. A random secret keeps other local programs from poking it.
type Instance struct {
	ln     net.Listener
	path   string
	secret string
}

// AcquireInstance becomes the running instance for dir, or asks the running
// one to show itself and returns ErrAnotherInstance.
func AcquireInstance(dir string) (*Instance, error) {
	path := filepath.Join(dir, instanceFile)
	if b, err := os.ReadFile(path); err == nil {
		if addr, secret, ok := strings.Cut(strings.TrimSpace(string(b)), " "); ok && pokeInstance(addr, secret) {
			return nil, ErrAnotherInstance
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("single-instance listener: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		ln.Close()
		return nil, fmt.Errorf("single-instance secret: %w", err)
	}
	in := &Instance{ln: ln, path: path, secret: hex.EncodeToString(raw[:])}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		ln.Close()
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(ln.Addr().String()+" "+in.secret+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return in, nil
}

func pokeInstance(addr, secret string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(conn, "show %s\n", secret); err != nil {
		return false
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.TrimSpace(reply) == "ok"
}

// Serve calls show whenever a later launch asks for the window, until ctx ends.
func (in *Instance) Serve(ctx context.Context, show func()) {
	go func() {
		<-ctx.Done()
		in.ln.Close()
	}()
	for {
		conn, err := in.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "show "+in.secret {
				return
			}
			_, _ = conn.Write([]byte("ok\n"))
			show()
		}()
	}
}

// Release removes the marker so the next launch does not try to reach us.
func (in *Instance) Release() {
	in.ln.Close()
	_ = os.Remove(in.path)
}
