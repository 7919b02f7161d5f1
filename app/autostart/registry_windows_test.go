//go:build windows

package autostart

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The real registry, under a scratch key rather than the user's Run key.
func TestUserKeyRoundTrip(t *testing.T) {
	const path = `Software\VetBridge-autostart-test\Run`
	t.Cleanup(func() {
		registry.DeleteKey(registry.CURRENT_USER, path)
		registry.DeleteKey(registry.CURRENT_USER, `Software\VetBridge-autostart-test`)
	})
	k := NewRunKey(userKey{path: path})
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
	v, ok, err := userKey{path: path}.GetString(Name)
	if want := `"` + exe + `" --tray`; !ok || err != nil || v != want {
		t.Fatalf("Run value = %q, %v, %v, want %q", v, ok, err, want)
	}
	key, err := registry.OpenKey(registry.CURRENT_USER, path, registry.QUERY_VALUE)
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
	if err := k.Disable(); err != nil {
		t.Fatal(err)
	}
	if on, err := k.Enabled(); on || err != nil {
		t.Errorf("Enabled() = %v, %v after Disable", on, err)
	}
}

func TestNewUsesTheRunKey(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := m.(*RunKey)
	if !ok || rk.reg.(userKey).path != `Software\Microsoft\Windows\CurrentVersion\Run` {
		t.Errorf("New() = %#v, want the HKCU Run key", m)
	}
}
