//go:build windows

package wintest

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Wine reports the Wine version when the process runs under Wine: its ntdll exports
// wine_get_version, which Windows' does not.
var Wine = sync.OnceValues(func() (string, bool) {
	proc := windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version")
	if proc.Find() != nil {
		return "", false
	}
	r, _, _ := proc.Call()
	if r == 0 {
		return "unknown", true
	}
	// A static string inside Wine's ntdll, not Go memory: reinterpreting the word is safe.
	return windows.BytePtrToString(*(**byte)(unsafe.Pointer(&r))), true
})
