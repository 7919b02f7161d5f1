// Package wintest lets tests tell Wine from Windows. `make test-windows` runs the Windows
// tests under Wine 8, which lacks some of what VetBridge relies on (AF_UNIX sockets, reads on
// named pipes); tests of those skip there with a reason, and still run on real Windows.
package wintest

import "testing"

// SkipUnderWine skips t when it runs under Wine, saying which Wine gap is why.
func SkipUnderWine(t testing.TB, why string) {
	t.Helper()
	if v, ok := Wine(); ok {
		t.Skipf("Wine %s: %s; this is proven on Windows only", v, why)
	}
}

// UnderWine reports whether the process runs under Wine.
func UnderWine() bool {
	_, ok := Wine()
	return ok
}
