package demo

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
)

// recordingNotifier keeps what would have been shown.
type recordingNotifier struct {
	mu   sync.Mutex
	seen []string
}

func (r *recordingNotifier) Notify(title, message string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, title+"\n"+message)
	return nil
}

func (r *recordingNotifier) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type testDemo struct {
	*Demo
	port     int
	notifier *recordingNotifier
}

// startTestDemo runs the whole app against the simulator, as `vetbridge demo
// --headless` does, with a fast poll.
func startTestDemo(t *testing.T, referrals int, configure func(*app.Config), sim func(*provetsim.Options)) *testDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &recordingNotifier{}
	port := freePort(t)
	var logger *slog.Logger
	if os.Getenv("VETBRIDGE_TEST_LOG") != "" {
		logger = app.NewLogger(os.Stderr, true)
	}
	d, err := Start(ctx, Options{
		DataDir: t.TempDir(), Referrals: referrals, Seed: 7, DICOMPort: port, Notifier: n, Logger: logger,
		Configure: func(c *app.Config) {
			c.PollInterval = app.Duration(200 * time.Millisecond)
			c.DICOM.Listen = "127.0.0.1" // tests stay on loopback
			if configure != nil {
				configure(c)
			}
		},
		Simulator: sim,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.App.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		d.Close()
	})
	waitFor(t, 10*time.Second, "the first sync", func() bool { return !d.App.Status().LastSync.IsZero() })
	return &testDemo{Demo: d, port: port, notifier: n}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needDCMTK(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (Debian package dcmtk) is not installed; `make test` installs it", tool)
		}
	}
}

var dumpLine = regexp.MustCompile(`^\s*\(([0-9a-f]{4}),([0-9a-f]{4})\) [A-Z]{2} (?:\[(.*)\]|\(no value available\))`)

// findscu runs DCMTK's findscu, a real modality-like client, and returns
// each answer as tag → value ("0010,0010" → "Doe^John").
func findscu(t *testing.T, port int, args ...string) []map[string]string {
	t.Helper()
	full := append([]string{"-v", "-W", "-aec", "VETBRIDGE", "-aet", "MODALITY1"}, args...)
	full = append(full, "127.0.0.1", strconv.Itoa(port))
	out, err := exec.Command("findscu", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("findscu %v: %v\n%s", args, err, out)
	}
	var items []map[string]string
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "I: ")
		switch {
		case strings.HasPrefix(line, "Find Response:") && strings.Contains(line, "Pending"):
			cur = map[string]string{}
			items = append(items, cur)
		case strings.HasPrefix(line, "Find Response:"), strings.HasPrefix(line, "Request Identifiers"):
			cur = nil
		case cur != nil:
			if m := dumpLine.FindStringSubmatch(line); m != nil {
				cur[m[1]+","+m[2]] = strings.TrimRight(m[3], " ")
			}
		}
	}
	return items
}

// mppsDataSet builds an MPPS N-CREATE or N-SET data set as a modality would.
func mppsDataSet(t *testing.T, bigEndian, implicit bool, attrs map[tag.Tag]any) []byte {
	t.Helper()
	var els []*dicom.Element
	for tg, v := range attrs {
		el, err := dicom.NewElement(tg, v)
		if err != nil {
			t.Fatalf("element %v: %v", tg, err)
		}
		els = append(els, el)
	}
	var buf bytes.Buffer
	w, err := dicom.NewWriter(&buf, dicom.SkipVRVerification())
	if err != nil {
		t.Fatal(err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	w.SetTransferSyntax(bo, implicit)
	slices.SortFunc(els, func(a, b *dicom.Element) int {
		return cmp.Or(cmp.Compare(a.Tag.Group, b.Tag.Group), cmp.Compare(a.Tag.Element, b.Tag.Element))
	})
	for _, el := range els {
		if err := w.WriteElement(el); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func stepRef(t *testing.T, studyUID, accession, rpID, spsID string) [][]*dicom.Element {
	t.Helper()
	mk := func(tg tag.Tag, v string) *dicom.Element {
		el, err := dicom.NewElement(tg, []string{v})
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	return [][]*dicom.Element{{
		mk(tag.StudyInstanceUID, studyUID), mk(tag.AccessionNumber, accession),
		mk(tag.RequestedProcedureID, rpID), mk(tag.ScheduledProcedureStepID, spsID),
	}}
}
