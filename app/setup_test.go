package app

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/dicom/scu"
)

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func echo(ctx context.Context, port int, ae string) error {
	as, err := scu.Dial(ctx, "127.0.0.1:"+strconv.Itoa(port), scu.Options{CallingAE: ae, CalledAE: "VETBRIDGE"})
	if err != nil {
		return err
	}
	defer as.Release(ctx)
	return as.Echo(ctx)
}

// First run's modality step: the device's worklist button knocks, the
// device shows as refused, Allow lets it in, and Finish hands the port to
// the real server. Nothing listens before that step.
func TestFirstRunLearnsTheDeviceThatKnocks(t *testing.T) {
	a, err := Open(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = a.Run(ctx) }()
	defer func() { cancel(); <-runDone }()

	port := freeTCPPort(t)
	if err := echo(ctx, port, "DX-ROOM2"); err == nil {
		t.Fatal("something listens before first run's modality step")
	}
	cfg := a.Config()
	cfg.DICOM.Port, cfg.DICOM.Listen = port, "127.0.0.1"
	stop, err := a.ListenForDevices(ctx, cfg.DICOM)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if a.Status().DICOMAddr != "" {
		t.Error("the first-run listener must not look like the running server")
	}
	if err := echo(ctx, port, "DX-ROOM2"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "calling ae") {
		t.Fatalf("an unregistered device during first run: %v, want a refusal", err)
	}
	var knocked bool
	for _, d := range a.Devices() {
		if d.CallingAE == "DX-ROOM2" && d.Refused == 1 && !d.Known {
			knocked = true
		}
	}
	if !knocked {
		t.Fatalf("the device that knocked is not listed: %+v", a.Devices())
	}
	if err := a.AllowDevice(ctx, "DX-ROOM2", nil); err != nil {
		t.Fatal(err)
	}
	if err := echo(ctx, port, "DX-ROOM2"); err != nil {
		t.Fatalf("after Allow: %v", err)
	}
	cfg = a.Config()
	cfg.Provet.ClientID, cfg.Provet.ProvetID = "client", "4"
	cfg.DICOM.Port, cfg.DICOM.Listen = port, "127.0.0.1"
	if err := a.FinishSetup(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Status().DICOMAddr == "" {
		if time.Now().After(deadline) {
			t.Fatal("the real server did not take the port after first run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := echo(ctx, port, "DX-ROOM2"); err != nil {
		t.Fatalf("the allowed device after first run: %v", err)
	}
}
