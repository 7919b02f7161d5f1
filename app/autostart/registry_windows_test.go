//go:build windows

package autostart

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The real registry, under a scratch key rather than the user's own Run key.
func TestCurrentUserRoundTrip(t *testing.T) {
	const root = `Software\VetBridge-autostart-test`
	t.Cleanup(func() { deleteTree(t, root) })
	reg := currentUser{root: root}
	k := NewRun(reg)
	if on, err := k.Enabled(); on || err != nil {
		t.Fatalf("Enabled() = %v, %v before the key exists", on, err)
	}
	if err := k.Disable(); err != nil {
		t.Fatalf("Disable before the key exists: %v", err)
	}
	exe := `C:\Users\Zoë Ågren\AppData\Local\Programs\VetBridge\vetbridge.exe`
	if err := k.Enable(exe, "--tray"); err != nil {
		t.Fatal(err)
	}
	v, ok, err := reg.GetString(RunKey, Name)
	if want := `"` + exe + `" --tray`; !ok || err != nil || v != want {
		t.Fatalf("Run value = %q, %v, %v, want %q", v, ok, err, want)
	}
	key, err := registry.OpenKey(registry.CURRENT_USER, root+`\`+RunKey, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	_, typ, err := key.GetStringValue(Name)
	key.Close()
	if err != nil || typ != registry.SZ {
		t.Errorf("value type %d, %v, want REG_SZ (Windows does not expand a REG_EXPAND_SZ Run value everywhere)", typ, err)
	}
	if on, err := k.Enabled(); !on || err != nil {
		t.Errorf("Enabled() = %v, %v after Enable", on, err)
	}
	// As Task Manager's Startup tab switches it off.
	approved, _, err := registry.CreateKey(registry.CURRENT_USER, root+`\`+StartupApprovedKey, registry.SET_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	err = approved.SetBinaryValue(Name, []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	approved.Close()
	if err != nil {
		t.Fatal(err)
	}
	if on, err := k.Enabled(); on || err != nil {
		t.Errorf("Enabled() = %v, %v when switched off in Task Manager", on, err)
	}
	if err := k.Enable(exe, "--tray"); err != nil {
		t.Fatal(err)
	}
	if on, err := k.Enabled(); !on || err != nil {
		t.Errorf("Enabled() = %v, %v after Enable over a Task Manager switch-off", on, err)
	}
	if err := k.Disable(); err != nil {
		t.Fatal(err)
	}
	if on, err := k.Enabled(); on || err != nil {
		t.Errorf("Enabled() = %v, %v after Disable", on, err)
	}
}

func TestNewUsesTheCurrentUsersKeys(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	r, ok := m.(*Run)
	if !ok || r.reg.(currentUser).path(RunKey) != `Software\Microsoft\Windows\CurrentVersion\Run` {
		t.Errorf("New() = %#v, want HKCU's own Run key", m)
	}
}

// deleteTree removes root and the keys under it (the registry deletes only empty keys).
func deleteTree(t *testing.T, root string) {
	k, err := registry.OpenKey(registry.CURRENT_USER, root, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return
	}
	subs, _ := k.ReadSubKeyNames(-1)
	k.Close()
	for _, s := range subs {
		deleteTree(t, root+`\`+s)
	}
	if err := registry.DeleteKey(registry.CURRENT_USER, root); err != nil {
		t.Errorf("delete HKCU\\%s: %v", root, err)
	}
}
