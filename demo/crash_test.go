package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"

	"github.com/vetbridge/vetbridge/app"
	"github.com/vetbridge/vetbridge/app/provetsim"
	"github.com/vetbridge/vetbridge/app/signin"
)

// The crash tests run VetBridge in a child process (this test binary again)
// and kill it with SIGKILL at the worst moment: after a modality was told
// its MPPS was accepted, while the PATCH to Provet is unconfirmed.

const childEnv = "VETBRIDGE_CRASH_CHILD"

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("runs only as the crash tests' child process")
	}
	port, _ := strconv.Atoi(os.Getenv("VB_PORT"))
	sim := os.Getenv("VB_SIM")
	a, err := app.Open(app.Options{
		DataDir: os.Getenv("VB_DATA"),
		Logger:  app.NewLogger(os.Stderr, false),
		Override: func(c *app.Config) {
			c.Provet.Region, c.Provet.BaseURL, c.Provet.ProvetID, c.Provet.ClientID = "custom", sim, "4", "vetbridge-demo"
			c.DICOM.Port = port
			c.PollInterval = app.Duration(time.Second)
			c.SetupDone = true
			c.DICOM.OnlyKnownDevices = false
		},
		TokenStore: &signin.MemoryStore{},
		OpenURL:    playBrowser,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The simulator speaks the status values VetBridge assumes.
	if err := a.ConfirmDefaultStatuses(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.Login(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for a.Status().LastSync.IsZero() || a.Status().DICOMAddr == "" {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println("ready")
	}()
	_ = a.Run(ctx) // until killed
}

type crashChild struct {
	cmd   *exec.Cmd
	ready chan struct{}
}

func startCrashChild(t *testing.T, sim *provetsim.Server, dir string, port int) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "VB_SIM="+sim.URL(), "VB_DATA="+dir, "VB_PORT="+strconv.Itoa(port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if os.Getenv("VETBRIDGE_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashChild{cmd: cmd, ready: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(c.ready)
			}
		}
	}()
	select {
	case <-c.ready:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child VetBridge did not become ready")
	}
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *crashChild) kill() {
	_ = c.cmd.Process.Kill() // SIGKILL on Unix: no deferred code, no clean shutdown
	_, _ = c.cmd.Process.Wait()
}

// openOrder picks a scheduled order and derives the identifiers VetBridge
// put on the worklist for it (they depend only on the installation and id).
func openOrder(t *testing.T, sim *provetsim.Server) (provetsim.Item, map[tag.Tag]any) {
	t.Helper()
	for _, it := range sim.Items() {
		if it.Status != 1 {
			continue
		}
		cfg := app.DefaultConfig()
		cfg.Provet.Region, cfg.Provet.BaseURL, cfg.Provet.ProvetID = "custom", sim.URL(), "4"
		m := cfg.ItemMapping()
		id := int64(it.WorklistID)
		attrs := inProgress(app.Referral{Modality: "DX", PatientID: strconv.Itoa(it.PatientID)})
		attrs[tag.ScheduledStepAttributesSequence] = stepRef(t, m.StudyUID(id), m.Accession(id), "RP"+strconv.Itoa(it.WorklistID), "SPS"+strconv.Itoa(it.WorklistID))
		return it, attrs
	}
	t.Fatal("the simulator has no scheduled order")
	return provetsim.Item{}, nil
}

func TestCrashAfterDIMSEResponseLosesAndDuplicatesNothing(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("parent test")
	}
	cases := []struct {
		name string
		// fault is active from the N-CREATE until the child is killed.
		fault provetsim.Faults
		// appliedBeforeKill: Provet applied the PATCH but its answer was lost.
		appliedBeforeKill bool
	}{
		{"provet unreachable until the crash", provetsim.Faults{Outage: true}, false},
		{"patch applied, answer lost, then crash", provetsim.Faults{DropResponseRate: 1, DropResponseMethod: "PATCH"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := provetsim.New(provetsim.Options{Referrals: 6, Seed: 3, AutoApprove: true})
			if err := sim.Start("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			dir, port := t.TempDir(), freePort(t)
			child := startCrashChild(t, sim, dir, port)
			order, attrs := openOrder(t, sim)

			sim.SetFaults(tc.fault)
			rig := dialMPPS(t, port)
			if st := rig.create("1.2.826.0.1.3680043.10.1043.77", attrs); st != 0 {
				t.Fatalf("N-CREATE: 0x%04X", st)
			}
			if tc.appliedBeforeKill {
				waitFor(t, 20*time.Second, "Provet to apply the PATCH", func() bool { return len(patchesFor(sim, order.WorklistID)) == 1 })
			} else {
				time.Sleep(300 * time.Millisecond)
			}
			child.kill()
			sim.SetFaults(provetsim.Faults{})
			detailsBefore := sim.Requests()["worklist.detail"]

			startCrashChild(t, sim, dir, port)
			waitFor(t, 30*time.Second, "the restarted VetBridge to deliver the update", func() bool {
				p := patchesFor(sim, order.WorklistID)
				delivered := len(p) == 1 && p[0] == 2
				if tc.appliedBeforeKill {
					// The restart must read the order back instead of sending again.
					return delivered && sim.Requests()["worklist.detail"] > detailsBefore
				}
				return delivered
			})
			time.Sleep(2 * time.Second) // a duplicate would arrive now
			if p := patchesFor(sim, order.WorklistID); fmt.Sprint(p) != "[2]" {
				t.Fatalf("PATCHes reaching Provet: %v, want exactly one in-progress update", p)
			}
		})
	}
}
