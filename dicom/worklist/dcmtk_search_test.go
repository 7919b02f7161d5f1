package worklist_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/scp"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// DCMTK's findscu, as a console's worklist search sends it, against the
// service behind the real server with the default profile: a name or an
// accession number finds the exam booked three days ago that is still open;
// a routine poll keeps to the default window.
func TestFindscuPatientSearchSpansDates(t *testing.T) {
	findscu, err := exec.LookPath("findscu")
	if err != nil {
		t.Skip("findscu not installed (Debian package dcmtk); skipping the real-peer test")
	}
	base := worklist.Item{PatientID: "P1", Modality: "DX", StationAETitle: "DX1", StartTime: "093000", SPSStatus: "SCHEDULED"}
	open, started, today := base, base, base
	open.Key, open.PatientName, open.AccessionNumber, open.StartDate = "open", "Owner^Rex", "ACC-OLD", "20261119"
	started.Key, started.PatientName, started.AccessionNumber, started.StartDate = "started", "Owner^Rex", "ACC-STARTED", "20261119"
	started.SPSStatus = "STARTED"
	today.Key, today.PatientName, today.AccessionNumber, today.StartDate = "today", "Mäkinen^Pörri", "ACC-TODAY", "20261122"
	port := serve(t, open, started, today)

	query := func(t *testing.T, keys ...string) []string {
		t.Helper()
		od := t.TempDir()
		args := []string{"-W", "-aet", "CONSOLE", "-aec", "VETBRIDGE", "-X", "-od", od}
		// Return keys first: findscu lets a later -k override an earlier one.
		for _, k := range append([]string{"AccessionNumber", "(0040,0100)[0].ScheduledProcedureStepStartDate"}, keys...) {
			args = append(args, "-k", k)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, findscu, append(args, "127.0.0.1", port)...).CombinedOutput()
		if err != nil {
			t.Fatalf("findscu: %v\n%s", err, out)
		}
		files, _ := filepath.Glob(filepath.Join(od, "rsp*.dcm"))
		var accs []string
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			it, err := worklist.ReadFile(fh)
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			accs = append(accs, it.AccessionNumber)
		}
		slices.Sort(accs)
		return accs
	}
	for _, c := range []struct {
		name string
		keys []string
		want []string
	}{
		{"owner name", []string{"PatientName=OWNER*"}, []string{"ACC-OLD"}},
		{"accession", []string{"PatientName", "AccessionNumber=ACC-OLD"}, []string{"ACC-OLD"}},
		{"broad poll", []string{"PatientName"}, []string{"ACC-TODAY"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := query(t, c.keys...); !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// serve answers C-FIND from items on a loopback port until the test ends,
// wired as the app wires it, on 2026-11-22 with the default profile.
func serve(t *testing.T, items ...worklist.Item) string {
	t.Helper()
	idx := worklist.NewIndex()
	if err := idx.Put(items...); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &worklist.Service{Index: idx, Log: quiet,
		Now: func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }}
	srv := scp.New(scp.Config{AETitle: "VETBRIDGE", Logger: quiet,
		Find: func(ctx context.Context, req scp.FindRequest, send func([]byte) error) uint16 {
			return svc.Find(ctx, worklist.Request{
				CallingAE: req.Peer.CallingAE, CalledAE: req.Peer.CalledAE, Addr: req.Peer.Addr,
				BigEndian: req.Syntax.BigEndian, Implicit: req.Syntax.Implicit, Identifier: req.Identifier,
			}, send)
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
