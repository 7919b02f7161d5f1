package app

import (
	"context"
	"testing"
)

// fakeStartup records what the app asks of the system's autostart.
type fakeStartup struct {
	enabled bool
	args    []string
	calls   int
}

func (f *fakeStartup) Enable(exe string, args ...string) error {
	f.enabled, f.args = true, args
	f.calls++
	return nil
}

func (f *fakeStartup) Disable() error {
	f.enabled = false
	f.calls++
	return nil
}

func (f *fakeStartup) Enabled() (bool, error) { return f.enabled, nil }

// First run turns start-at-sign-in on; Settings turns it off again, and the
// system's entry follows each time.
func TestStartAtSignInFollowsTheSetting(t *testing.T) {
	dir := t.TempDir()
	f := &fakeStartup{}
	a, err := Open(Options{DataDir: dir, Autostart: f})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if f.enabled {
		t.Fatal("enabled before first run")
	}
	cfg := a.Config()
	cfg.Provet.ClientID, cfg.Provet.ProvetID = "client", "4"
	if err := a.FinishSetup(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !f.enabled || !a.Config().StartAtSignIn {
		t.Fatalf("after first run: enabled %v, setting %v", f.enabled, a.Config().StartAtSignIn)
	}
	if len(f.args) != 2 || f.args[0] != "--data" || f.args[1] != dir {
		t.Errorf("a data directory other than the default must be named: %q", f.args)
	}
	cfg = a.Config()
	cfg.StartAtSignIn = false
	if err := a.SaveConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if f.enabled {
		t.Error("turned off in Settings, still enabled in the system")
	}
}
