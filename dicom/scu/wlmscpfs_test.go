package scu_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/dicom/dimse"
	"github.com/vetbridge/vetbridge/dicom/scu"
)

const dcmtkExamples = "/usr/share/doc/dcmtk/examples/wlistdb/OFFIS"

// startWLMSCPFS runs DCMTK's worklist server on a loopback port with the
// example worklist converted by dump2dcm, under the called AE "OFFIS".
func startWLMSCPFS(t testing.TB) (addr string, items int) {
	t.Helper()
	wlm := needBinary(t, "wlmscpfs")
	dump2dcm := needBinary(t, "dump2dcm")
	dumps, _ := filepath.Glob(filepath.Join(dcmtkExamples, "*.dump"))
	if len(dumps) == 0 {
		t.Skipf("DCMTK example worklist not found under %s (dcmtk documentation not installed)", dcmtkExamples)
	}
	root := t.TempDir()
	aeDir := filepath.Join(root, "OFFIS")
	if err := os.MkdirAll(aeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// wlmscpfs refuses a worklist directory without its lock file.
	if err := os.WriteFile(filepath.Join(aeDir, "lockfile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range dumps {
		out := filepath.Join(aeDir, strings.TrimSuffix(filepath.Base(d), ".dump")+".wl")
		if b, err := exec.Command(dump2dcm, "-q", d, out).CombinedOutput(); err != nil {
			t.Fatalf("dump2dcm %s: %v\n%s", d, err, b)
		}
	}
	// Take a free port from the kernel, then hand it to wlmscpfs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, wlm, "-s", "-dfr", "-dfp", root, strconv.Itoa(port))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("wlmscpfs output:\n%s", stderr.String())
		}
	})
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, len(dumps)
		}
		if time.Now().After(deadline) {
			t.Fatalf("wlmscpfs did not start listening on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgainstWLMSCPFS(t *testing.T) {
	addr, items := startWLMSCPFS(t)
	ctx := context.Background()
	for _, tsUID := range []string{dimse.ImplicitVRLittleEndian, dimse.ExplicitVRLittleEndian, dimse.ExplicitVRBigEndian} {
		t.Run(tsUID, func(t *testing.T) {
			a, err := scu.Dial(ctx, addr, scu.Options{CallingAE: "VETTEST", CalledAE: "OFFIS", Timeout: 10 * time.Second,
				Contexts: []scu.Context{
					{AbstractSyntax: dimse.VerificationSOPClass, TransferSyntaxes: []string{dimse.ImplicitVRLittleEndian}},
					{AbstractSyntax: dimse.ModalityWorklistFind, TransferSyntaxes: []string{tsUID}},
				}})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Echo(ctx); err != nil {
				t.Fatal(err)
			}
			ts, ok := a.Syntax(dimse.ModalityWorklistFind)
			if !ok || ts.UID != tsUID {
				t.Fatalf("MWL syntax %+v, want %s", ts, tsUID)
			}
			all := query(t, ts, "")
			var names []string
			status, err := a.Find(ctx, dimse.ModalityWorklistFind, all, func(id []byte) error {
				v, err := decode(ts, id)
				if err != nil {
					return err
				}
				names = append(names, v[tag.PatientName])
				return nil
			})
			if err != nil || status != dimse.StatusSuccess {
				t.Fatalf("Find: status 0x%04X, %v", status, err)
			}
			if len(names) != items {
				t.Fatalf("%d answers, want %d (one per .wl file)", len(names), items)
			}
			vivaldi := 0
			status, err = a.Find(ctx, dimse.ModalityWorklistFind, query(t, ts, "VIVALDI*"), func(id []byte) error {
				v, err := decode(ts, id)
				if err != nil {
					return err
				}
				if !strings.HasPrefix(v[tag.PatientName], "VIVALDI") {
					t.Errorf("VIVALDI* matched %q", v[tag.PatientName])
				}
				vivaldi++
				return nil
			})
			if err != nil || status != dimse.StatusSuccess || vivaldi != 3 {
				t.Fatalf("VIVALDI* query: status 0x%04X, %d answers, err %v; want 3", status, vivaldi, err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCancelAgainstWLMSCPFS(t *testing.T) {
	addr, items := startWLMSCPFS(t)
	a, err := scu.Dial(context.Background(), addr, scu.Options{CalledAE: "OFFIS", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(context.Background())
	ts, _ := a.Syntax(dimse.ModalityWorklistFind)
	ctx, cancel := context.WithCancel(context.Background())
	got := 0
	status, err := a.Find(ctx, dimse.ModalityWorklistFind, query(t, ts, ""), func([]byte) error {
		got++
		if got == 1 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// wlmscpfs answers a C-CANCEL with 0xFE00 once it sees it; our side
	// stops delivering answers the moment the context ends.
	if status != dimse.StatusCancel && status != dimse.StatusSuccess {
		t.Fatalf("final status 0x%04X", status)
	}
	if got != 1 || items < 2 {
		t.Fatalf("callback ran %d times after cancel", got)
	}
	// The association must still be usable after a cancelled query.
	if err := a.Echo(context.Background()); err != nil {
		t.Fatalf("echo after cancel: %v", err)
	}
}

func TestRejectedByWLMSCPFS(t *testing.T) {
	addr, _ := startWLMSCPFS(t)
	// wlmscpfs accepts any called AE at association time but proposes no
	// contexts we did not ask for; propose an unsupported SOP class only.
	_, err := scu.Dial(context.Background(), addr, scu.Options{CalledAE: "OFFIS", Timeout: 5 * time.Second,
		Contexts: []scu.Context{{AbstractSyntax: "1.2.840.10008.5.1.4.1.2.2.1", TransferSyntaxes: []string{dimse.ImplicitVRLittleEndian}}}})
	if err == nil {
		t.Fatal("association with no usable context succeeded")
	}
	var rj *scu.RejectedError
	if errors.As(err, &rj) {
		t.Logf("rejected: %v", rj)
	} else if !strings.Contains(err.Error(), "accepted none") {
		t.Fatalf("err = %v", err)
	}
}

// query builds a worklist identifier with the return keys a modality asks
// for and an optional patient name pattern.
func query(t testing.TB, ts scu.TransferSyntax, name string) []byte {
	t.Helper()
	sps := [][]*dicom.Element{{
		mustElem(t, tag.Modality, []string{""}),
		mustElem(t, tag.ScheduledStationAETitle, []string{""}),
		mustElem(t, tag.ScheduledProcedureStepStartDate, []string{""}),
		mustElem(t, tag.ScheduledProcedureStepStartTime, []string{""}),
		mustElem(t, tag.ScheduledProcedureStepID, []string{""}),
	}}
	b, err := encode(ts,
		mustElem(t, tag.AccessionNumber, []string{""}),
		mustElem(t, tag.PatientName, []string{name}),
		mustElem(t, tag.PatientID, []string{""}),
		mustElem(t, tag.StudyInstanceUID, []string{""}),
		mustElem(t, tag.ScheduledProcedureStepSequence, sps),
	)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
