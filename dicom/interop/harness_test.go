package interop

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// ourAE is the server's AE title; the server is not strict about it, as in
// the app's default configuration, but peers address it anyway.
const ourAE = "VETBRIDGE"

// openProfile is a device profile without a default date window, so that
// the fixed test dates match whatever day the tests run.
var openProfile = worklist.Profile{DaysBefore: -1, DaysAfter: -1}

// server is the worklist server assembled as app/dicomserver.go does it,
// listening on a loopback port, with what it saw recorded for assertions.
type server struct {
	srv  *scp.Server
	port string

	mu       sync.Mutex
	records  []worklist.QueryRecord
	syntaxes []scp.TransferSyntax
}

func (s *server) lastRecord(t *testing.T) worklist.QueryRecord {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.records) == 0 {
		t.Fatal("the server logged no query")
	}
	return s.records[len(s.records)-1]
}

func (s *server) lastSyntax(t *testing.T) scp.TransferSyntax {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.syntaxes) == 0 {
		t.Fatal("the server served no C-FIND")
	}
	return s.syntaxes[len(s.syntaxes)-1]
}

// startServer serves items until the test ends. profiles maps calling AE
// titles to device profiles; any other device gets openProfile.
func startServer(t *testing.T, items []worklist.Item, profiles map[string]worklist.Profile) *server {
	t.Helper()
	idx := worklist.NewIndex()
	if err := idx.Put(items...); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &server{}
	svc := &worklist.Service{
		Index: idx,
		Profile: func(callingAE string) worklist.Profile {
			if p, ok := profiles[callingAE]; ok {
				return p
			}
			return openProfile
		},
		OnQuery: func(r worklist.QueryRecord) {
			s.mu.Lock()
			s.records = append(s.records, r)
			s.mu.Unlock()
		},
		Log: quiet,
	}
	s.srv = scp.New(scp.Config{
		AETitle: ourAE,
		// The adapter is app/dicomserver.go's, plus a note of the syntax
		// so tests can tell what was negotiated.
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			s.mu.Lock()
			s.syntaxes = append(s.syntaxes, req.Syntax)
			s.mu.Unlock()
			return svc.Find(ctx, worklist.Request{
				CallingAE: req.Peer.CallingAE, CalledAE: req.Peer.CalledAE, Addr: req.Peer.Addr,
				BigEndian: req.Syntax.BigEndian, Implicit: req.Syntax.Implicit, Identifier: req.Identifier,
			}, send)
		},
		Logger: quiet,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, s.port, _ = net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return s
}

// tool returns the path of a DCMTK binary, skipping the test without it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found (install the Debian package dcmtk): these tests need the real DCMTK peer", name)
	}
	return p
}

// run runs a DCMTK tool with a deadline, returning its combined output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	bin := tool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// answer is one pending C-FIND response as findscu -v printed it: element
// values by tag, as DCMTK spells tags ("(0010,0010)"), raw bytes as sent.
// A tag found in several places (code sequences) keeps every value, in order.
type answer map[string][]string

func (a answer) get(tag string) string {
	if v := a[tag]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// findResult is what one findscu run reported.
type findResult struct {
	answers []answer
	pending int    // pending responses received
	final   string // "Success", "Cancel", ... as DCMTK names the final status
	out     string
	files   []string // rsp*.dcm, when extracted
}

var (
	pendingLine = regexp.MustCompile(`^I: (?:Received )?Find Response:? \d+ \(Pending`)
	finalLine   = regexp.MustCompile(`Received Final Find Response \(([^)]*)\)`)
	elemLine    = regexp.MustCompile(`^I:\s+(\([0-9a-fA-F]{4},[0-9a-fA-F]{4}\)) [A-Z]{2} (?:\[(.*)\]|\(no value available\)|\(Sequence )`)
)

// parseFindscu splits findscu -v output into answers.
func parseFindscu(out string) findResult {
	r := findResult{out: out}
	var cur answer
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if pendingLine.MatchString(line) {
			r.pending++
			cur = answer{}
			r.answers = append(r.answers, cur)
			continue
		}
		if m := finalLine.FindStringSubmatch(line); m != nil {
			r.final = m[1]
			cur = nil
			continue
		}
		if cur == nil {
			continue
		}
		if m := elemLine.FindStringSubmatch(line); m != nil {
			// Tags as DICOM documents write them; values without the
			// padding that made them even.
			tag := strings.ToUpper(m[1])
			cur[tag] = append(cur[tag], strings.TrimRight(m[2], " \x00"))
		}
	}
	return r
}

// findscu queries the server as callingAE with the given keys (findscu -k
// syntax) and extra options before them; an option "@path" names a query
// file, which findscu wants after the peer's address. The query must end with a final
// status; a failing findscu fails the test. With extract set the answers
// are also written to files (findscu then prints no data sets).
func findscu(t *testing.T, s *server, callingAE string, extract bool, opts []string, keys ...string) findResult {
	t.Helper()
	od := t.TempDir()
	args := []string{"-v", "-W", "-aet", callingAE, "-aec", ourAE}
	if extract {
		args = append(args, "-X", "-od", od)
	}
	var files []string
	for _, o := range opts {
		if f, ok := strings.CutPrefix(o, "@"); ok {
			files = append(files, f)
		} else {
			args = append(args, o)
		}
	}
	for _, k := range keys {
		args = append(args, "-k", k)
	}
	args = append(args, "127.0.0.1", s.port)
	args = append(args, files...)
	out, err := run(t, "findscu", args...)
	if err != nil {
		t.Fatalf("findscu %q: %v\n%s", args, err, out)
	}
	r := parseFindscu(out)
	if r.final == "" {
		t.Fatalf("findscu reported no final response:\n%s", out)
	}
	r.files, _ = filepath.Glob(filepath.Join(od, "rsp*.dcm"))
	sort.Strings(r.files)
	if extract && len(r.files) != r.pending {
		t.Fatalf("findscu reported %d answers but wrote %d files:\n%s", r.pending, len(r.files), out)
	}
	return r
}

// readAnswer reads an extracted response with the worklist's own file
// reader, which decodes text by the answer's (0008,0005).
func readAnswer(t *testing.T, path string) worklist.Item {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	it, err := worklist.ReadFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return it
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// waitFor polls cond for up to two seconds.
func waitFor(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
