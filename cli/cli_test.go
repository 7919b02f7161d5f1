package cli

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/dicom/worklist"
)

// run runs one command line in-process and returns its exit code and output.
func run(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	var out strings.Builder
	code := Main(ctx, args, Env{Stdout: &out, Stderr: &out})
	return code, out.String()
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

// installation is a data directory holding one referral, imported from a
// .wl file as a clinic moving from a file-based server would.
func installation(t *testing.T) string {
	t.Helper()
	data, wl := t.TempDir(), t.TempDir()
	cfg := app.DefaultConfig()
	cfg.DICOM.Listen = "127.0.0.1" // tests stay on loopback
	if err := app.SaveConfig(data, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(wl, "one.wl"))
	if err != nil {
		t.Fatal(err)
	}
	it := worklist.Item{PatientName: "Mäkinen^Pörri", PatientID: "1234", AccessionNumber: "ACC42",
		Modality: "US", StationAETitle: "US1", StartDate: time.Now().Format("20060102"), StartTime: "101500"}
	if err := worklist.WriteFile(f, it); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, out := run(t, t.Context(), "import-wl", "--data", data, wl); code != 0 {
		t.Fatalf("import-wl: %d %s", code, out)
	}
	return data
}

func TestHeadlessBuildSaysToServe(t *testing.T) {
	code, out := run(t, t.Context(), "--data", t.TempDir())
	if code != 1 || !strings.Contains(out, "built without its window") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestUnknownCommandIsAnError(t *testing.T) {
	code, out := run(t, t.Context(), "images-please", "--data", t.TempDir())
	if code != 2 || !strings.Contains(out, `unknown command "images-please"`) {
		t.Fatalf("exit %d, output %q; want exit 2 naming the command", code, out)
	}
}

func TestDesktopWithoutDisplaySaysWhatToRun(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("an interactive Windows or macOS session always has a desktop")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	data := t.TempDir()
	var out strings.Builder
	code := Main(t.Context(), []string{"--data", data}, Env{Stdout: &out, Stderr: &out,
		Desktop: func(context.Context, *app.App, DesktopOptions) error {
			t.Error("the window was started without a display")
			return nil
		}})
	if code != 1 || !strings.Contains(out.String(), "no desktop found") || !strings.Contains(out.String(), "vetbridge serve") {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(data, "vetbridge.db")); err == nil {
		t.Error("the data directory was opened although no window can be shown")
	}
}

// TestCommandsWorkWhileServeRuns is the support person's case: explain and
// status give the same answers while `vetbridge serve` holds the data
// directory as when nothing runs, and quit stops it.
func TestCommandsWorkWhileServeRuns(t *testing.T) {
	data := installation(t)
	explain := []string{"explain", "--data", data, "--accession", "ACC42", "--ae", "DX1"}
	code, before := run(t, t.Context(), explain...)
	if code != 0 || !strings.Contains(before, "DX1 does NOT see referral ACC42") || !strings.Contains(before, "not a registered device") {
		t.Fatalf("explain with nothing running: exit %d\n%s", code, before)
	}
	_, statusBefore := run(t, t.Context(), "status", "--data", data)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan int, 1)
	port := freePort(t)
	go func() {
		code, _ := run(t, ctx, "serve", "--data", data, "--dicom-port", strconv.Itoa(port))
		served <- code
	}()
	waitRunning(t, data)

	code, during := run(t, t.Context(), explain...)
	if code != 0 || during != before {
		t.Errorf("explain while serve runs: exit %d\n%s\nwant the same as before:\n%s", code, during, before)
	}
	_, status := run(t, t.Context(), "status", "--data", data)
	if !strings.Contains(status, "VetBridge:         running") || !strings.Contains(statusBefore, "not running") {
		t.Errorf("status while running:\n%s\nbefore:\n%s", status, statusBefore)
	}
	// Closed by default: a stranger's findscu gets no worklist.
	if _, err := exec.LookPath("findscu"); err == nil {
		if out := findscu(t, "DX1", port); !strings.Contains(out, "Calling AE Title Not Recognized") {
			t.Errorf("an unregistered device was not refused:\n%s", out)
		}
	}
	// Allowed from the command line while serve runs, it sees the referral
	// at once, and the answer is the same as the running instance's.
	if code, out := run(t, t.Context(), "devices", "allow", "DX1", "--data", data, "--addr", "127.0.0.1"); code != 0 {
		t.Fatalf("devices allow: %d %s", code, out)
	}
	if _, out := run(t, t.Context(), explain...); !strings.Contains(out, "DX1 sees referral ACC42") {
		t.Errorf("after allowing DX1:\n%s", out)
	}
	if _, err := exec.LookPath("findscu"); err == nil {
		if out := findscu(t, "DX1", port); !strings.Contains(out, "(0008,0050) SH [ACC42 ]") {
			t.Errorf("the allowed device got no worklist:\n%s", out)
		}
	}
	if _, out := run(t, t.Context(), "devices", "list", "--data", data); !strings.Contains(out, "DX1") || !strings.Contains(out, "yes, from 127.0.0.1") {
		t.Errorf("devices list:\n%s", out)
	}
	if code, out := run(t, t.Context(), "serve", "--data", data); code != 1 || !strings.Contains(out, "vetbridge quit") {
		t.Errorf("a second serve: exit %d, %q; want a refusal that names quit", code, out)
	}
	if code, out := run(t, t.Context(), "quit", "--data", data); code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("quit: exit %d %s", code, out)
	}
	select {
	case code := <-served:
		if code != 0 {
			t.Errorf("serve ended with %d after quit", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after quit")
	}
	if code, out := run(t, t.Context(), "quit", "--data", data); code != 0 || !strings.Contains(out, "not running") {
		t.Errorf("quit with nothing running: exit %d %s", code, out)
	}
}

// findscu queries the worklist as a modality with calling AE ae would.
func findscu(t *testing.T, ae string, port int) string {
	t.Helper()
	out, _ := exec.Command("findscu", "-W", "-aet", ae, "-aec", "VETBRIDGE", "-k", "PatientName", "-k", "AccessionNumber",
		"127.0.0.1", strconv.Itoa(port)).CombinedOutput()
	return string(out)
}

func waitRunning(t *testing.T, data string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := app.Reach(t.Context(), data)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never answered on the local API: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
