// Package autostart starts VetBridge when the user signs in: the Windows Run key, or an XDG
// autostart desktop entry on Linux and the BSDs. The app owns this setting (Settings and
// first run turn it on or off), so the installer never writes it and both always agree.
//
// The operating-system side sits behind Registry and Files, so that what is written for
// either system is checked by tests on any machine.
package autostart

import (
	"errors"
	"fmt"
	"strings"
)

// Name is the Run key value's name and, lower-cased, the desktop entry's file name.
const Name = "VetBridge"

// ErrUnsupported is returned by New where no autostart mechanism is known (macOS).
var ErrUnsupported = errors.New("autostart is not supported on this system")

// Manager turns starting at sign-in on and off.
type Manager interface {
	// Enable starts exe with args at every sign-in, replacing any earlier command (so an
	// exe that moved, or an upgrade into another directory, is followed).
	Enable(exe string, args ...string) error
	// Disable stops it; disabling what is not enabled is not an error.
	Disable() error
	// Enabled reports whether the system will start VetBridge at the next sign-in.
	Enabled() (bool, error)
}

// The HKEY_CURRENT_USER keys autostart uses. Task Manager's Startup tab (and Settings >
// Apps > Startup) switch a Run entry off without removing it, by a binary value of the same
// name under StartupApprovedKey whose first byte is odd (02 on, 03 off).
const (
	RunKey             = `Software\Microsoft\Windows\CurrentVersion\Run`
	StartupApprovedKey = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
)

// Registry is the part of HKEY_CURRENT_USER autostart uses; key is a path under it.
type Registry interface {
	// SetString writes a REG_SZ value, creating the key if needed.
	SetString(key, name, value string) error
	// GetString reports ok=false, and no error, when the value or key does not exist.
	GetString(key, name string) (value string, ok bool, err error)
	// GetBinary reads a REG_BINARY value like GetString.
	GetBinary(key, name string) (value []byte, ok bool, err error)
	// Delete removes the value; a missing value or key is not an error.
	Delete(key, name string) error
}

// Run is the Windows Manager: a REG_SZ value, named Name, under RunKey holding the command
// line, not switched off under StartupApprovedKey.
type Run struct{ reg Registry }

// NewRun returns the Windows Manager over reg.
func NewRun(reg Registry) *Run { return &Run{reg: reg} }

// Enable also clears a switch-off made in Task Manager: turning autostart on in VetBridge's
// settings must mean Windows starts it.
func (k *Run) Enable(exe string, args ...string) error {
	cmd, err := WindowsCommandLine(exe, args...)
	if err != nil {
		return err
	}
	if err := k.reg.SetString(RunKey, Name, cmd); err != nil {
		return fmt.Errorf("write the autostart entry (HKCU\\%s, %q): %w", RunKey, Name, err)
	}
	if err := k.reg.Delete(StartupApprovedKey, Name); err != nil {
		return fmt.Errorf("clear the Task Manager switch-off (HKCU\\%s, %q): %w", StartupApprovedKey, Name, err)
	}
	return nil
}

func (k *Run) Disable() error {
	for _, key := range []string{RunKey, StartupApprovedKey} {
		if err := k.reg.Delete(key, Name); err != nil {
			return fmt.Errorf("remove the autostart entry (HKCU\\%s, %q): %w", key, Name, err)
		}
	}
	return nil
}

func (k *Run) Enabled() (bool, error) {
	v, ok, err := k.reg.GetString(RunKey, Name)
	if err != nil {
		return false, fmt.Errorf("read the autostart entry (HKCU\\%s, %q): %w", RunKey, Name, err)
	}
	if !ok || strings.TrimSpace(v) == "" {
		return false, nil
	}
	approved, ok, err := k.reg.GetBinary(StartupApprovedKey, Name)
	if err != nil {
		return false, fmt.Errorf("read the Task Manager startup state (HKCU\\%s, %q): %w", StartupApprovedKey, Name, err)
	}
	return !ok || len(approved) == 0 || approved[0]&1 == 0, nil
}

// WindowsCommandLine is exe and args as Windows parses a Run key command line: the program
// always in quotes (the path may hold spaces, as in C:\Program Files), each argument quoted
// by the rules of CommandLineToArgvW when it needs it.
func WindowsCommandLine(exe string, args ...string) (string, error) {
	if !isWindowsAbs(exe) {
		return "", fmt.Errorf("autostart needs the full path of vetbridge.exe, not %q", exe)
	}
	if strings.ContainsAny(exe, "\"\x00\r\n") {
		return "", fmt.Errorf("the program path %q holds a character Windows does not allow", exe)
	}
	var b strings.Builder
	b.WriteString(`"` + exe + `"`)
	for _, a := range args {
		if strings.ContainsAny(a, "\x00\r\n") {
			return "", fmt.Errorf("autostart argument %q holds a line break or NUL", a)
		}
		b.WriteByte(' ')
		b.WriteString(quoteWindowsArg(a))
	}
	return b.String(), nil
}

func isWindowsAbs(p string) bool {
	if strings.HasPrefix(p, `\\`) { // UNC, \\server\share\...
		return len(p) > 2
	}
	return len(p) >= 3 && (p[0]|0x20 >= 'a' && p[0]|0x20 <= 'z') && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

// quoteWindowsArg: backslashes are literal except before a quote, where 2n backslashes and a
// quote encode n backslashes and a literal quote.
func quoteWindowsArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch c {
		case '\\':
			slashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*slashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, slashes))
		}
		slashes = 0
		b.WriteByte(c)
	}
	b.WriteString(strings.Repeat(`\`, 2*slashes))
	b.WriteByte('"')
	return b.String()
}
