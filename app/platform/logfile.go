package platform

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// LogFileName is the desktop app's log in the data directory: on Windows a
// tray app has no console, and support asks for this file.
const LogFileName = "vetbridge.log"

const (
	// maxLogSize bounds each log file. A tray app runs for months, and a
	// flood of queries logs fast, so the log rotates while it runs, not
	// only at start.
	maxLogSize = 10 << 20
	// logGenerations is how many previous files are kept (.1 newest) next
	// to the current one: enough for support to see the days before a
	// problem, bounded to 40 MB in all.
	logGenerations = 3
)

// OpenLogFile opens the log for appending. The writer it returns moves the
// file to vetbridge.log.1 (and older ones along, up to .3) whenever the
// next write would take it past 10 MB. It is safe for concurrent use.
func OpenLogFile(dir string) (io.WriteCloser, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return openRotating(filepath.Join(dir, LogFileName), maxLogSize, logGenerations, os.Rename)
}

// rotatingLog is an append-only file that rotates by size. One mutex
// orders writes and rotation, so each write lands whole in one file and
// none is lost while the files move.
type rotatingLog struct {
	path   string
	limit  int64
	keep   int
	rename func(from, to string) error

	mu     sync.Mutex
	f      *os.File // nil after a failed reopen: the next write tries again
	size   int64    // bytes in f, as far as this process knows
	closed bool
}

func openRotating(path string, limit int64, keep int, rename func(from, to string) error) (*rotatingLog, error) {
	l := &rotatingLog{path: path, limit: limit, keep: max(keep, 1), rename: rename}
	if st, err := os.Stat(path); err == nil && st.Size() >= limit {
		l.shift()
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open the log %s (check the data directory's permissions and free space): %w", l.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open the log %s: %w", l.path, err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past the
// limit. A write larger than the limit goes whole into a fresh file.
func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, os.ErrClosed
	}
	if l.f == nil {
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	if l.size > 0 && l.size+int64(len(p)) > l.limit {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate closes the file before moving it, because Windows renames no open
// file, then opens a new one. When the move fails (another program holds
// the file open on Windows) writing goes on in the same file, and the next
// attempt waits for another limit's worth of writes.
func (l *rotatingLog) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close the log %s to rotate it: %w", l.path, err)
	}
	l.f = nil
	moved := l.shift()
	if err := l.open(); err != nil {
		return err
	}
	if !moved {
		l.size = 0
	}
	return nil
}

// shift moves vetbridge.log to .1, .1 to .2 and so on, dropping the oldest.
// It reports whether the current file moved; when an older file cannot
// move, nothing more moves, so no generation is overwritten.
func (l *rotatingLog) shift() bool {
	_ = os.Remove(l.generation(l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		if err := l.rename(l.generation(i), l.generation(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return l.rename(l.path, l.generation(1)) == nil
}

func (l *rotatingLog) generation(i int) string { return l.path + "." + strconv.Itoa(i) }

// Close closes the file; later writes fail with os.ErrClosed.
func (l *rotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.f == nil {
		l.closed = true
		return nil
	}
	err := l.f.Close()
	l.f, l.closed = nil, true
	return err
}
