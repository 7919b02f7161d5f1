package console

import (
	"errors"
	"os"
	"slices"
	"testing"
)

type fakePlatform struct {
	valid     map[Stream]bool
	hasParent bool
	failOpen  map[Stream]bool
	attaches  int
	opened    []Stream
}

func (p *fakePlatform) Valid(s Stream) bool { return p.valid[s] }

func (p *fakePlatform) AttachParent() bool {
	p.attaches++
	return p.hasParent
}

func (p *fakePlatform) Open(s Stream) (*os.File, error) {
	p.opened = append(p.opened, s)
	if p.failOpen[s] {
		return nil, errors.New("no console")
	}
	return os.NewFile(uintptr(100+s), "fake"), nil
}

func run(p *fakePlatform) (bool, []Stream) {
	var set []Stream
	ok := attach(p, func(s Stream, f *os.File) {
		if f == nil {
			panic("nil file set")
		}
		set = append(set, s)
	})
	return ok, set
}

func TestAllStreamsAlreadyLeadSomewhere(t *testing.T) {
	p := &fakePlatform{valid: map[Stream]bool{Stdin: true, Stdout: true, Stderr: true}, hasParent: true}
	ok, set := run(p)
	if ok || len(set) != 0 || p.attaches != 0 {
		t.Errorf("attached=%v set=%v attaches=%d: a process with working streams must not touch them", ok, set, p.attaches)
	}
}

func TestOnlyMissingStreamsAreReopened(t *testing.T) {
	// `vetbridge status 2> err.txt` from cmd.exe: stderr is a file, the others are null.
	p := &fakePlatform{valid: map[Stream]bool{Stderr: true}, hasParent: true}
	ok, set := run(p)
	if !ok || !slices.Equal(set, []Stream{Stdin, Stdout}) || !slices.Equal(p.opened, []Stream{Stdin, Stdout}) {
		t.Errorf("attached=%v set=%v opened=%v, want stdin and stdout only", ok, set, p.opened)
	}
	if p.attaches != 1 {
		t.Errorf("attached to the parent %d times", p.attaches)
	}
}

func TestNoParentConsole(t *testing.T) {
	// Started from Explorer, the Start menu or the Run key.
	p := &fakePlatform{valid: map[Stream]bool{}, hasParent: false}
	ok, set := run(p)
	if ok || len(set) != 0 || len(p.opened) != 0 {
		t.Errorf("attached=%v set=%v opened=%v without a parent console", ok, set, p.opened)
	}
}

func TestOneStreamFailingKeepsTheOthers(t *testing.T) {
	p := &fakePlatform{valid: map[Stream]bool{}, hasParent: true, failOpen: map[Stream]bool{Stdin: true}}
	ok, set := run(p)
	if !ok || !slices.Equal(set, []Stream{Stdout, Stderr}) {
		t.Errorf("attached=%v set=%v, want stdout and stderr despite stdin failing", ok, set)
	}
	p = &fakePlatform{valid: map[Stream]bool{}, hasParent: true,
		failOpen: map[Stream]bool{Stdin: true, Stdout: true, Stderr: true}}
	if ok, set := run(p); ok || len(set) != 0 {
		t.Errorf("attached=%v set=%v when nothing could be opened", ok, set)
	}
}
