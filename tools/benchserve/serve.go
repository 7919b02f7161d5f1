package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

const (
	serverAE = "VETBRIDGE"
	benchAE  = "BENCHSCU"
)

// writeConfig writes the configuration of an installation that finished
// its first run and was never signed in: serve then answers from the
// stored worklist and contacts nobody. It listens on loopback only and
// accepts any calling AE, as an installation whose devices are all allowed.
func writeConfig(dir string, port int) error {
	cfg := map[string]any{
		"setup_done": true,
		"dicom": map[string]any{
			"ae_title":           serverAE,
			"port":               port,
			"listen":             "127.0.0.1",
			"only_known_devices": false,
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
}

// freePort asks the system for a loopback port nobody uses right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// gcLine is one line of the Go runtime's GODEBUG=gctrace=1 output.
type gcLine struct {
	At       time.Duration // since the process started
	LiveMB   float64       // heap marked live by this cycle
	GoalMB   float64
	Forced   bool // debug.FreeOSMemory or runtime.GC
	Scavenge bool // a "scvg" line, not a cycle
}

// gc 12 @1.402s 3%: 0.11+5.2+0.02 ms clock, ..., 21->22->11 MB, 24 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
var gcRE = regexp.MustCompile(`^gc \d+ @([0-9.]+)s .* (\d+)->(\d+)->(\d+) MB, (\d+) MB goal.*?( \(forced\))?$`)

func parseGCLine(s string) (gcLine, bool) {
	m := gcRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return gcLine{}, false
	}
	at, _ := strconv.ParseFloat(m[1], 64)
	live, _ := strconv.ParseFloat(m[4], 64)
	goal, _ := strconv.ParseFloat(m[5], 64)
	return gcLine{At: time.Duration(at * float64(time.Second)), LiveMB: live, GoalMB: goal, Forced: m[6] != ""}, true
}

// serveProc is one running `vetbridge serve`.
type serveProc struct {
	cmd     *exec.Cmd
	started time.Time
	addr    string
	exited  chan struct{}
	waitErr error

	mu   sync.Mutex
	gcs  []gcLine
	tail []string // the last lines it wrote that were not GC traces
}

// startServe starts the binary as an operator would, with the Go runtime's
// GC trace on so the heap's share of the memory can be told apart.
func startServe(bin, dir string, port int, extraEnv []string) (*serveProc, error) {
	cmd := exec.Command(bin, "serve", "--data", dir, "--dicom-port", strconv.Itoa(port))
	cmd.Env = append(append(os.Environ(), "GODEBUG=gctrace=1"), extraEnv...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &serveProc{cmd: cmd, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.read(stderr)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *serveProc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if g, ok := parseGCLine(line); ok {
			p.gcs = append(p.gcs, g)
		} else if !strings.HasPrefix(line, "scvg") {
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
		}
		p.mu.Unlock()
	}
}

func (p *serveProc) lastGC() (gcLine, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.gcs) == 0 {
		return gcLine{}, 0
	}
	return p.gcs[len(p.gcs)-1], len(p.gcs)
}

func (p *serveProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// firstEcho retries a C-ECHO until one succeeds and returns the time from
// the process's start, as a modality's "test connection" button would see
// it if pressed at that moment. Retries are 2 ms apart so the figure is
// the server's, not the client's pacing.
func (p *serveProc) firstEcho(ctx context.Context, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if err := echo(ctx, p.addr); err == nil {
			return time.Since(p.started), nil
		} else {
			last = err
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("vetbridge serve exited before answering (%v):\n%s", p.waitErr, p.output())
		case <-ctx.Done():
			return 0, fmt.Errorf("no C-ECHO answered within %s (last: %v):\n%s", limit, last, p.output())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func echo(ctx context.Context, addr string) error {
	as, err := scu.Dial(ctx, addr, scu.Options{CallingAE: benchAE, CalledAE: serverAE, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer as.Abort()
	if err := as.Echo(ctx); err != nil {
		return err
	}
	return as.Release(ctx)
}

// countMatches runs one worklist query and counts the answers: proof that
// the figures were taken with the generated items really served.
func (p *serveProc) countMatches(ctx context.Context, keys []string) (int, error) {
	as, err := scu.Dial(ctx, p.addr, scu.Options{CallingAE: benchAE, CalledAE: serverAE, Timeout: 5 * time.Second})
	if err != nil {
		return 0, err
	}
	defer as.Abort()
	ts, ok := as.Syntax(dimse.ModalityWorklistFind)
	if !ok {
		return 0, errors.New("the server accepted no worklist context")
	}
	ident, err := scu.EncodeWorklistQuery(keys, ts.BigEndian, ts.Implicit)
	if err != nil {
		return 0, err
	}
	n := 0
	status, err := as.Find(ctx, dimse.ModalityWorklistFind, ident, func([]byte) error { n++; return nil })
	if err != nil {
		return n, err
	}
	if status != dimse.StatusSuccess {
		return n, fmt.Errorf("C-FIND ended with status 0x%04X", status)
	}
	return n, as.Release(ctx)
}

// stop interrupts the process as Ctrl-C would and waits for it to close
// its database, so the next start finds the file unlocked.
func (p *serveProc) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("vetbridge serve did not stop within 10 s of an interrupt; killed it")
	}
}

// procMem is what the kernel charges the process, in KiB.
type procMem struct{ RSS, HWM, Anon, File int64 }

// readProcMem reads /proc/PID/status (Linux).
func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("read the process's memory (Linux /proc only): %w", err)
	}
	return parseProcStatus(string(b))
}

func parseProcStatus(s string) (procMem, error) {
	var m procMem
	fields := map[string]*int64{"VmRSS:": &m.RSS, "VmHWM:": &m.HWM, "RssAnon:": &m.Anon, "RssFile:": &m.File}
	found := 0
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if dst, ok := fields[f[0]]; ok {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return m, fmt.Errorf("/proc status line %q: %w", line, err)
			}
			*dst = v
			found++
		}
	}
	if found < len(fields) {
		return m, errors.New("/proc status lacks VmRSS, VmHWM, RssAnon or RssFile")
	}
	return m, nil
}
