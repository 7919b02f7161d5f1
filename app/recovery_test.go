package app

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
