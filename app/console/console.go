// Package console lets the Windows build, a GUI-subsystem program that Windows starts without
// a console, still print command output (serve, explain, status, ...) in the terminal that ran
// it. Elsewhere it does nothing: Unix programs always inherit their terminal.
package console

import (
	"log"
	"os"
)

// Stream names one of the three standard streams.
type Stream int

const (
	Stdin Stream = iota
	Stdout
	Stderr
)

// platform is what Attach needs from the operating system, so its decisions can be tested
// on any OS.
type platform interface {
	// Valid reports whether the stream already leads somewhere: a console, a file or a pipe
	// the parent redirected it to. Those must be kept.
	Valid(s Stream) bool
	// AttachParent attaches to the console of the parent process; false when it has none
	// (started from Explorer, the Start menu or autostart).
	AttachParent() bool
	// Open opens the attached console's input or output for s and makes it the process's
	// standard handle.
	Open(s Stream) (*os.File, error)
}

// Attach connects the standard streams that lead nowhere to the console of the process that
// started VetBridge, when it was started from one. Call it first thing in main, before
// anything captures os.Stdout or os.Stderr. Streams redirected to a file or pipe are kept.
// It reports whether any stream now leads to the parent's console.
func Attach() bool {
	return attach(osPlatform{}, func(s Stream, f *os.File) {
		switch s {
		case Stdin:
			os.Stdin = f
		case Stdout:
			os.Stdout = f
		case Stderr:
			os.Stderr = f
			// The log package (and slog's default handler through it) captured the old
			// os.Stderr when it was initialised.
			log.SetOutput(f)
		}
	})
}

func attach(p platform, set func(Stream, *os.File)) bool {
	var missing []Stream
	for _, s := range []Stream{Stdin, Stdout, Stderr} {
		if !p.Valid(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 || !p.AttachParent() {
		return false
	}
	attached := false
	for _, s := range missing {
		f, err := p.Open(s)
		if err != nil {
			// Nowhere to report it: the stream keeps leading nowhere, as before.
			continue
		}
		set(s, f)
		attached = true
	}
	return attached
}
