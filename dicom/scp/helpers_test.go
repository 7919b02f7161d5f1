package scp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/scp"
)

// testServer runs a server on a loopback port for the duration of a test and
// checks on cleanup that it shut down without leaving goroutines behind.
type testServer struct {
	*scp.Server
	Addr string
	Port string
}

func startServer(t testing.TB, cfg scp.Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, cfg)
}

func startServerOn(t testing.TB, ln net.Listener, cfg scp.Config) *testServer {
	t.Helper()
	before := runtime.NumGoroutine()
	if cfg.Logger == nil {
		cfg.Logger = startServerLogger()
	}
	if cfg.AETitle == "" {
		cfg.AETitle = "VETBRIDGE"
	}
	srv := scp.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server did not stop within 10 s of cancel")
		}
		waitGoroutines(t, before)
	})
	return &testServer{Server: srv, Addr: ln.Addr().String(), Port: port}
}

// startServerLogger discards logs unless the test runs verbosely.
func startServerLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitGoroutines fails the test if the goroutine count does not come back
// to at most want within a few seconds.
func waitGoroutines(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutine leak: %d running, want at most %d\n%s", n, want, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func needBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package dcmtk); skipping interop test", name)
	}
	return p
}

// encodeIdentifier builds a data set with the suyashkumar/dicom writer in
// the given syntax, as a worklist handler would.
func encodeIdentifier(ts scp.TransferSyntax, elems map[tag.Tag][]string) ([]byte, error) {
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		return nil, err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if ts.BigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, ts.Implicit)
	for _, tg := range sortedTags(elems) {
		e, err := dicom.NewElement(tg, elems[tg])
		if err != nil {
			return nil, fmt.Errorf("element %v: %w", tg, err)
		}
		if err := w.WriteElement(e); err != nil {
			return nil, fmt.Errorf("writing %v: %w", tg, err)
		}
	}
	return buf.Bytes(), nil
}

func sortedTags(m map[tag.Tag][]string) []tag.Tag {
	out := make([]tag.Tag, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Compare(out[i]) < 0 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// decodeIdentifier parses a raw data set with the library, bounded by its
// length, and returns string values by tag.
func decodeIdentifier(ts scp.TransferSyntax, b []byte) (map[tag.Tag]string, error) {
	// The library's NewParser insists on peeking 100 bytes to guess a
	// syntax even when told to skip the metadata; zero padding past the
	// bytesToRead bound satisfies the peek without ever being parsed, and an
	// inference failure is irrelevant because the syntax is set below.
	padded := io.MultiReader(bytes.NewReader(b), bytes.NewReader(make([]byte, 100)))
	p, err := dicom.NewParser(padded, int64(len(b)), nil, dicom.SkipMetadataReadOnNewParserInit())
	if p == nil {
		return nil, fmt.Errorf("creating parser: %w", err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if ts.BigEndian {
		bo = binary.BigEndian
	}
	p.SetTransferSyntax(bo, ts.Implicit)
	out := map[tag.Tag]string{}
	for {
		e, err := p.Next()
		if err != nil {
			if errors.Is(err, dicom.ErrorEndOfDICOM) {
				return out, nil
			}
			return nil, fmt.Errorf("parsing identifier: %w", err)
		}
		if v, ok := e.Value.GetValue().([]string); ok && len(v) > 0 {
			out[e.Tag] = v[0]
		} else {
			out[e.Tag] = fmt.Sprint(e.Value.GetValue())
		}
	}
}
