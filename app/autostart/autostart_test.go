package autostart

import (
	"errors"
	"io/fs"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRegistry holds values as "key\\name"; binary ones as their bytes in a string.
type fakeRegistry struct {
	values map[string]string
	err    error
}

func (r *fakeRegistry) SetString(key, name, value string) error {
	if r.err != nil {
		return r.err
	}
	r.values[key+`\`+name] = value
	return nil
}

func (r *fakeRegistry) GetString(key, name string) (string, bool, error) {
	if r.err != nil {
		return "", false, r.err
	}
	v, ok := r.values[key+`\`+name]
	return v, ok, nil
}

func (r *fakeRegistry) GetBinary(key, name string) ([]byte, bool, error) {
	v, ok, err := r.GetString(key, name)
	return []byte(v), ok, err
}

func (r *fakeRegistry) Delete(key, name string) error {
	if r.err != nil {
		return r.err
	}
	delete(r.values, key+`\`+name)
	return nil
}

const (
	runValue      = `Software\Microsoft\Windows\CurrentVersion\Run\VetBridge`
	approvedValue = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run\VetBridge`
)

func TestRunKeyValue(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		args []string
		want string
	}{
		{`C:\Program Files\VetBridge\vetbridge.exe`, nil, `"C:\Program Files\VetBridge\vetbridge.exe"`},
		{`C:\Users\Zoë Ågren\AppData\Local\Programs\VetBridge\vetbridge.exe`, []string{"--tray"},
			`"C:\Users\Zoë Ågren\AppData\Local\Programs\VetBridge\vetbridge.exe" --tray`},
		{`D:\vb\vetbridge.exe`, []string{"--data", `D:\clinic data\`}, `"D:\vb\vetbridge.exe" --data "D:\clinic data\\"`},
		{`\\server\share\vetbridge.exe`, []string{`say "hi"`, ""}, `"\\server\share\vetbridge.exe" "say \"hi\"" ""`},
		{`C:\vb\vetbridge.exe`, []string{`a\\"b`}, `"C:\vb\vetbridge.exe" "a\\\\\"b"`},
	} {
		reg := &fakeRegistry{values: map[string]string{"Other": "x"}}
		k := NewRun(reg)
		if err := k.Enable(tc.exe, tc.args...); err != nil {
			t.Fatalf("Enable(%q, %q): %v", tc.exe, tc.args, err)
		}
		want := map[string]string{"Other": "x", runValue: tc.want}
		if !maps.Equal(reg.values, want) {
			t.Errorf("Enable(%q, %q) wrote %q, want %q", tc.exe, tc.args, reg.values, want)
		}
		if on, err := k.Enabled(); !on || err != nil {
			t.Errorf("Enabled() = %v, %v after Enable", on, err)
		}
		if err := k.Disable(); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(reg.values, map[string]string{"Other": "x"}) {
			t.Errorf("Disable left %q", reg.values)
		}
		if on, err := k.Enabled(); on || err != nil {
			t.Errorf("Enabled() = %v, %v after Disable", on, err)
		}
		if err := k.Disable(); err != nil {
			t.Errorf("Disable twice: %v", err)
		}
	}
}

func TestRunKeyRefusesRelativeOrBrokenPaths(t *testing.T) {
	reg := &fakeRegistry{values: map[string]string{}}
	k := NewRun(reg)
	for _, exe := range []string{"vetbridge.exe", `VetBridge\vetbridge.exe`, `C:vetbridge.exe`, "", `C:\a"b\vetbridge.exe`} {
		if err := k.Enable(exe); err == nil {
			t.Errorf("Enable(%q) accepted", exe)
		}
	}
	if err := k.Enable(`C:\vb\vetbridge.exe`, "a\nb"); err == nil {
		t.Error("an argument with a line break accepted")
	}
	if len(reg.values) != 0 {
		t.Errorf("refused Enable wrote %q", reg.values)
	}
}

func TestRunKeyErrorsSayWhere(t *testing.T) {
	k := NewRun(&fakeRegistry{err: errors.New("access denied")})
	for _, err := range []error{k.Enable(`C:\vb\vetbridge.exe`), k.Disable(), func() error { _, err := k.Enabled(); return err }()} {
		if err == nil || !errors.Is(err, k.reg.(*fakeRegistry).err) {
			t.Errorf("error %v does not wrap the registry's", err)
		}
	}
}

// Task Manager's Startup tab switches an entry off beside the Run value; turning autostart on
// in VetBridge must switch it back on.
func TestRunKeySwitchedOffInTaskManager(t *testing.T) {
	const exe = `C:\vb\vetbridge.exe`
	for approved, want := range map[string]bool{
		"\x03\x00\x00\x00\x00\x00\x00\x00\x10\x5f\x42\x8c\x3e\x1a\xdb\x01": false,
		"\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00":                 false,
		"\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00":                 true,
		"": true,
	} {
		reg := &fakeRegistry{values: map[string]string{runValue: `"` + exe + `"`, approvedValue: approved}}
		k := NewRun(reg)
		if on, err := k.Enabled(); on != want || err != nil {
			t.Errorf("Enabled() = %v, %v with StartupApproved % x, want %v", on, err, approved, want)
		}
		if err := k.Enable(exe); err != nil {
			t.Fatal(err)
		}
		if _, ok := reg.values[approvedValue]; ok {
			t.Errorf("Enable left the StartupApproved value % x", approved)
		}
		if on, err := k.Enabled(); !on || err != nil {
			t.Errorf("Enabled() = %v, %v after Enable", on, err)
		}
	}
	reg := &fakeRegistry{values: map[string]string{approvedValue: "\x02", "Other": "x"}}
	if err := NewRun(reg).Disable(); err != nil || !maps.Equal(reg.values, map[string]string{"Other": "x"}) {
		t.Errorf("Disable: %v, left %q", err, reg.values)
	}
	if on, _ := NewRun(&fakeRegistry{values: map[string]string{approvedValue: "\x02"}}).Enabled(); on {
		t.Error("enabled with only a StartupApproved value and no Run value")
	}
}

type fakeFiles struct{ files map[string]string }

func (f *fakeFiles) WriteFile(name string, data []byte) error {
	f.files[name] = string(data)
	return nil
}

func (f *fakeFiles) ReadFile(name string) ([]byte, error) {
	d, ok := f.files[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(d), nil
}

func (f *fakeFiles) Remove(name string) error {
	delete(f.files, name)
	return nil
}

func TestDesktopEntryWritten(t *testing.T) {
	files := &fakeFiles{files: map[string]string{}}
	x := NewXDG("/home/zoë/.config/autostart", files)
	if err := x.Enable("/opt/Vet Bridge/vetbridge", "--data", `/srv/100% "a"\b$c`); err != nil {
		t.Fatal(err)
	}
	want := "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=VetBridge\n" +
		"Comment=DICOM worklist for the clinic's modalities, from Provet Cloud\n" +
		`Exec="/opt/Vet Bridge/vetbridge" --data "/srv/100%% \\"a\\"\\\\b\\$c"` + "\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n"
	got, ok := files.files["/home/zoë/.config/autostart/vetbridge.desktop"]
	if !ok || got != want || len(files.files) != 1 {
		t.Fatalf("wrote %q\nwant %q", files.files, want)
	}
	if on, err := x.Enabled(); !on || err != nil {
		t.Errorf("Enabled() = %v, %v after Enable", on, err)
	}
	if err := x.Disable(); err != nil || len(files.files) != 0 {
		t.Errorf("Disable: %v, left %q", err, files.files)
	}
	if on, err := x.Enabled(); on || err != nil {
		t.Errorf("Enabled() = %v, %v after Disable", on, err)
	}
}

func TestDesktopEntrySimpleExecIsUnquoted(t *testing.T) {
	e, err := DesktopEntry("/usr/bin/vetbridge")
	if err != nil {
		t.Fatal(err)
	}
	if want := "\nExec=/usr/bin/vetbridge\n"; !strings.Contains(e, want) {
		t.Errorf("entry %q lacks %q", e, want)
	}
	for _, bad := range [][]string{{"vetbridge"}, {"/usr/bin/vetbridge", "a\nb"}, {"/usr/bin/vet\tbridge"}} {
		if _, err := DesktopEntry(bad[0], bad[1:]...); err == nil {
			t.Errorf("DesktopEntry(%q) accepted", bad)
		}
	}
}

func TestDesktopEntrySwitchedOffByTheDesktop(t *testing.T) {
	const file = "/a/autostart/vetbridge.desktop"
	for content, want := range map[string]bool{
		"[Desktop Entry]\nExec=/usr/bin/vetbridge\n":                                  true,
		"[Desktop Entry]\nExec=/usr/bin/vetbridge\nHidden=true\n":                     false,
		"[Desktop Entry]\nExec=/usr/bin/vetbridge\nX-GNOME-Autostart-enabled=false\n": false,
		"[Desktop Entry]\nExec=/usr/bin/vetbridge\n[Desktop Action x]\nHidden=true\n": true,
	} {
		x := NewXDG("/a/autostart", &fakeFiles{files: map[string]string{file: content}})
		if on, err := x.Enabled(); on != want || err != nil {
			t.Errorf("Enabled() = %v, %v for %q, want %v", on, err, content, want)
		}
	}
}

func TestXDGDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/a"}, "/x/cfg/autostart"},
		{map[string]string{"XDG_CONFIG_HOME": "relative", "HOME": "/home/a"}, "/home/a/.config/autostart"},
		{map[string]string{"HOME": "/home/a"}, "/home/a/.config/autostart"},
	} {
		got, err := XDGDir(env(tc.env))
		if err != nil || got != tc.want {
			t.Errorf("XDGDir(%v) = %q, %v, want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := XDGDir(env(nil)); err == nil {
		t.Error("no HOME and no XDG_CONFIG_HOME accepted")
	}
}

func TestOSFilesRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config", "autostart")
	x := NewXDG(dir, OSFiles{})
	exe := filepath.Join(t.TempDir(), "vetbridge")
	if !filepath.IsAbs(exe) || filepath.Separator != '/' {
		t.Skip("desktop entries hold Unix paths")
	}
	if err := x.Enable(exe); err != nil {
		t.Fatal(err)
	}
	if err := x.Enable(exe, "--data", "/srv/x"); err != nil {
		t.Fatalf("Enable over an existing entry: %v", err)
	}
	data, err := OSFiles{}.ReadFile(filepath.Join(dir, "vetbridge.desktop"))
	if err != nil || !strings.Contains(string(data), "\nExec="+exe+" --data /srv/x\n") {
		t.Fatalf("entry %q, %v", data, err)
	}
	if on, err := x.Enabled(); !on || err != nil {
		t.Errorf("Enabled() = %v, %v", on, err)
	}
	if err := x.Disable(); err != nil {
		t.Fatal(err)
	}
	if err := x.Disable(); err != nil {
		t.Errorf("Disable twice: %v", err)
	}
	if on, err := x.Enabled(); on || err != nil {
		t.Errorf("Enabled() = %v, %v after Disable", on, err)
	}
}
