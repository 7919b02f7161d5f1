//go:build windows

package console

import (
	"os"
	"testing"

	"golang.org/x/sys/windows"
)

// The test binary runs with its output captured (a file or a pipe): exactly the redirected
// case that Attach must leave alone.
func TestRedirectedStreamsAreValidAndKept(t *testing.T) {
	out := os.Stdout
	if !(osPlatform{}).Valid(Stdout) {
		t.Fatal("a redirected stdout reported as leading nowhere")
	}
	if Attach() && os.Stdout != out {
		t.Error("Attach replaced a redirected stdout")
	}
	if os.Stdout != out {
		t.Error("Attach replaced a redirected stdout")
	}
}

func TestNullHandleIsNotValid(t *testing.T) {
	h, err := windows.GetStdHandle(windows.STD_ERROR_HANDLE)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.SetStdHandle(windows.STD_ERROR_HANDLE, 0); err != nil {
		t.Fatal(err)
	}
	defer windows.SetStdHandle(windows.STD_ERROR_HANDLE, h)
	if (osPlatform{}).Valid(Stderr) {
		t.Error("a null stderr, as a GUI program started from a console gets, reported as valid")
	}
}
