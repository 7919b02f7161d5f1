//go:build windows

package wintest

import (
	"testing"

	"golang.org/x/sys/windows/registry"
)

// A second, independent sign of Wine: every Wine prefix has HKCU\Software\Wine.
func TestAgreesWithTheWineRegistryKey(t *testing.T) {
	k, err := registry.OpenKey(registry.CURRENT_USER, `Software\Wine`, registry.QUERY_VALUE)
	hasKey := err == nil
	if hasKey {
		k.Close()
	}
	v, ok := Wine()
	if ok != hasKey {
		t.Errorf("wine_get_version says %v (%q), HKCU\\Software\\Wine exists %v", ok, v, hasKey)
	}
	if ok && v == "" {
		t.Error("under Wine with an empty version")
	}
	t.Logf("Wine: %q %v", v, ok)
}
