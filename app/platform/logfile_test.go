package platform

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// readLines returns every line of the current log and its kept
// generations, failing on a line cut in two by a rotation.
func readLines(t *testing.T, path string, keep int) (lines map[string]int, files int) {
	t.Helper()
	lines = map[string]int{}
	for i := 0; i <= keep+1; i++ {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if i > keep {
			t.Errorf("%s exists: only %d generations are kept", p, keep)
		}
		files++
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s ends inside a line", p)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "w") || !strings.HasSuffix(sc.Text(), ".") {
				t.Errorf("%s holds a broken line %q", p, sc.Text())
			}
			lines[sc.Text()]++
		}
	}
	return lines, files
}

// writeConcurrently writes lines from several goroutines at once, as slog
// handlers do, and returns every line written.
func writeConcurrently(t *testing.T, l *rotatingLog, writers, each int) []string {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("w%d line %d %s.\n", w, i, strings.Repeat("x", i%40))
				if _, err := l.Write([]byte(line)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []string
	for w := range writers {
		for i := range each {
			all = append(all, fmt.Sprintf("w%d line %d %s.", w, i, strings.Repeat("x", i%40)))
		}
	}
	return all
}

// TestLogRotatesWithoutLosingWrites: with room for every generation,
// concurrent writers across many rotations leave every line exactly once,
// whole, and no file past the limit.
func TestLogRotatesWithoutLosingWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFileName)
	const limit, keep = 2048, 200
	l, err := openRotating(path, limit, keep, os.Rename)
	if err != nil {
		t.Fatal(err)
	}
	all := writeConcurrently(t, l, 8, 150)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines, files := readLines(t, path, keep)
	if files < 10 {
		t.Fatalf("%d files: the log did not rotate as it grew", files)
	}
	for _, s := range all {
		if lines[s] != 1 {
			t.Errorf("line %q is there %d times", s, lines[s])
		}
	}
	for i := 0; i <= files; i++ {
		p := path
		if i > 0 {
			p = fmt.Sprintf("%s.%d", path, i)
		}
		if st, err := os.Stat(p); err == nil && st.Size() > limit {
			t.Errorf("%s has %d bytes, past the %d limit", p, st.Size(), limit)
		}
	}
}

// TestLogKeepsGenerations: only the newest generations stay, and the last
// line written is in the current file.
func TestLogKeepsGenerations(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFileName)
	l, err := openRotating(path, 512, 3, os.Rename)
	if err != nil {
		t.Fatal(err)
	}
	all := writeConcurrently(t, l, 4, 100)
	last := "w9 line 0 ."
	if _, err := l.Write([]byte(last + "\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	lines, files := readLines(t, path, 3)
	if files != 4 {
		t.Errorf("%d files, want the current one and 3 generations", files)
	}
	if len(lines) >= len(all) {
		t.Errorf("%d lines kept of %d: nothing was dropped with the oldest generation", len(lines), len(all))
	}
	b, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(b), last+"\n") {
		t.Errorf("the last line is not at the end of the current file:\n%s", b)
	}
	if _, err := l.Write([]byte("w0 after close.\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
}

// TestLogRotationRenameRefused is Windows with another program holding the
// log open: the move fails, writing goes on in the same file, nothing is
// lost, and the move is tried again later.
func TestLogRotationRenameRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFileName)
	var mu sync.Mutex
	refuse, tries := true, 0
	rename := func(from, to string) error {
		mu.Lock()
		defer mu.Unlock()
		if from == path {
			tries++
			if refuse {
				return &os.LinkError{Op: "rename", Old: from, New: to, Err: errors.New("the file is being used by another process")}
			}
		}
		return os.Rename(from, to)
	}
	l, err := openRotating(path, 1024, 3, rename)
	if err != nil {
		t.Fatal(err)
	}
	all := writeConcurrently(t, l, 4, 60)
	lines, files := readLines(t, path, 3)
	if files != 1 {
		t.Errorf("%d files, want the one that could not move", files)
	}
	for _, s := range all {
		if lines[s] != 1 {
			t.Errorf("line %q is there %d times", s, lines[s])
		}
	}
	mu.Lock()
	if tries < 2 {
		t.Errorf("the move was tried %d times; it must be tried again later", tries)
	}
	refuse = false
	mu.Unlock()
	writeConcurrently(t, l, 1, 80)
	l.Close()
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Errorf("once the move was allowed the log still did not rotate: %v", err)
	}
}

// TestOpenLogFileRotatesLargeLogAtStart: a log left past the limit by an
// earlier run moves aside before the first write.
func TestOpenLogFileRotatesLargeLogAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFileName)
	if err := os.WriteFile(path, []byte(strings.Repeat("old line.\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := openRotating(path, 1024, 3, os.Rename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write([]byte("new line.\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "new line.\n" {
		t.Errorf("current log holds %d bytes, want only the new line", len(b))
	}
	if st, err := os.Stat(path + ".1"); err != nil || st.Size() != 2000 {
		t.Errorf("the old log did not move to .1 whole: %v", err)
	}
	w, err := OpenLogFile(filepath.Join(dir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("through OpenLogFile.\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
