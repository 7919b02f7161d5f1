package autostart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Files is the file system under the autostart directory.
type Files interface {
	// WriteFile replaces name with data as a whole, creating the directory if needed.
	WriteFile(name string, data []byte) error
	// ReadFile fails with an error matching fs.ErrNotExist when name does not exist.
	ReadFile(name string) ([]byte, error)
	// Remove deletes name; a missing file is not an error.
	Remove(name string) error
}

// XDG is the freedesktop.org Manager: a desktop entry in the user's autostart directory,
// started by the desktop session at sign-in.
type XDG struct {
	file  string
	files Files
}

// NewXDG returns the XDG Manager for the autostart directory dir (see XDGDir).
func NewXDG(dir string, files Files) *XDG {
	return &XDG{file: path.Join(dir, strings.ToLower(Name)+".desktop"), files: files}
}

// XDGDir is $XDG_CONFIG_HOME/autostart, or ~/.config/autostart when that is unset or not
// absolute, as the XDG Base Directory specification says. XDG paths are Unix paths.
func XDGDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); path.IsAbs(d) {
		return path.Join(d, "autostart"), nil
	}
	home := getenv("HOME")
	if !path.IsAbs(home) {
		return "", errors.New("autostart: neither XDG_CONFIG_HOME nor HOME is set to an absolute path")
	}
	return path.Join(home, ".config", "autostart"), nil
}

func (x *XDG) Enable(exe string, args ...string) error {
	entry, err := DesktopEntry(exe, args...)
	if err != nil {
		return err
	}
	if err := x.files.WriteFile(x.file, []byte(entry)); err != nil {
		return fmt.Errorf("write the autostart entry %s: %w", x.file, err)
	}
	return nil
}

func (x *XDG) Disable() error {
	if err := x.files.Remove(x.file); err != nil {
		return fmt.Errorf("remove the autostart entry %s: %w", x.file, err)
	}
	return nil
}

// Enabled also honours an entry the user switched off in the desktop's own startup settings
// (Hidden=true, or GNOME's X-GNOME-Autostart-enabled=false).
func (x *XDG) Enabled() (bool, error) {
	data, err := x.files.ReadFile(x.file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the autostart entry %s: %w", x.file, err)
	}
	group := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			group = line
			continue
		}
		if group != "[Desktop Entry]" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if (k == "Hidden" && v == "true") || (k == "X-GNOME-Autostart-enabled" && v == "false") {
			return false, nil
		}
	}
	return true, nil
}

// DesktopEntry is the autostart desktop entry that runs exe with args.
func DesktopEntry(exe string, args ...string) (string, error) {
	if !path.IsAbs(exe) {
		return "", fmt.Errorf("autostart needs the full path of vetbridge, not %q", exe)
	}
	words := make([]string, 0, 1+len(args))
	for _, w := range append([]string{exe}, args...) {
		q, err := quoteExecArg(w)
		if err != nil {
			return "", err
		}
		words = append(words, q)
	}
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=" + Name + "\n" +
		"Comment=DICOM worklist for the clinic's modalities, from Provet Cloud\n" +
		"Exec=" + strings.Join(words, " ") + "\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n", nil
}

// quoteExecArg quotes one Exec argument by the Desktop Entry Specification: an argument with
// a reserved character goes in double quotes, inside which " ` $ and \ take a backslash; a
// literal % is %%. The Exec value is then a string value, whose own escaping doubles every
// backslash once more.
func quoteExecArg(a string) (string, error) {
	for _, r := range a {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("autostart argument %q holds a control character a desktop entry cannot carry", a)
		}
	}
	a = strings.ReplaceAll(a, "%", "%%")
	if a != "" && !strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`") {
		return a, nil
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range a {
		switch r {
		case '"', '`', '$':
			b.WriteString(`\\`) // the quoting backslash, escaped for the string value
		case '\\':
			b.WriteString(`\\\`) // escaped backslash \\, each escaped again: \\\\
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// OSFiles is Files on the real file system.
type OSFiles struct{}

func (OSFiles) WriteFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".vetbridge-*.desktop")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

func (OSFiles) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

func (OSFiles) Remove(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
