package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetbridge/vetbridge/app/provetsync"
	"github.com/vetbridge/vetbridge/store"
)

type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) Notify(title, msg string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, title+": "+msg)
	return nil
}

// An empty database file (a disk that filled up, a copy cut short) starts
// with a notice in words, not a silent empty worklist, and the notice is
// given once: by the app, not by a command that happened to open first.
func TestDamagedDatabaseIsANoticeNotACrash(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, store.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, err := Open(Options{DataDir: dir, ForCommand: true})
	if err != nil {
		t.Fatalf("a command on a damaged database: %v", err)
	}
	if !strings.Contains(cmd.Status().Message, "moved to") {
		t.Errorf("the command does not say what happened: %q", cmd.Status().Message)
	}
	cmd.Close()

	n := &notes{}
	a, err := Open(Options{DataDir: dir, Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	msg := a.Status().Message
	a.Close()
	if !strings.Contains(msg, "rebuilt from Provet") || len(n.got) != 1 {
		t.Fatalf("status %q, notifications %q; want the repair said once", msg, n.got)
	}
	moved, _ := filepath.Glob(filepath.Join(dir, store.FileName+".damaged-*"))
	if len(moved) != 1 {
		t.Errorf("the damaged file was not kept aside: %v", moved)
	}
	a, err = Open(Options{DataDir: dir, Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if strings.Contains(a.Status().Message, "damaged") || len(n.got) != 1 {
		t.Errorf("the notice came back after it was given: %q, %q", a.Status().Message, n.got)
	}
}

// Provet unreachable for a while is worth one notification, not one per
// poll, and a sync that works again resets it.
func TestLongOutageIsNotifiedOnce(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	n := &notes{}
	a, err := Open(Options{DataDir: t.TempDir(), Notifier: n, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fail := errors.New("dial tcp: no route to host")
	for i := 0; i < 10; i++ {
		syncReport{a}.Failed(fail, time.Time{})
		now = now.Add(5 * time.Minute)
	}
	if len(n.got) != 1 || !strings.Contains(n.got[0], "Since 10:00") {
		t.Fatalf("notifications %q; want one that says since when", n.got)
	}
	syncReport{a}.Synced(provetsync.Result{At: now})
	for i := 0; i < 4; i++ {
		syncReport{a}.Failed(fail, now)
		now = now.Add(5 * time.Minute)
	}
	if len(n.got) != 2 {
		t.Fatalf("a second outage after a good sync should be told again: %q", n.got)
	}
}
