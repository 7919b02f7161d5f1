//go:build windows

package console

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

type osPlatform struct{}

// x/sys/windows has no AttachConsole.
var procAttachConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")

const attachParentProcess = ^uint32(0) // ATTACH_PARENT_PROCESS, (DWORD)-1

func stdHandleID(s Stream) uint32 {
	switch s {
	case Stdin:
		return windows.STD_INPUT_HANDLE
	case Stdout:
		return windows.STD_OUTPUT_HANDLE
	default:
		return windows.STD_ERROR_HANDLE
	}
}

// Valid: a GUI-subsystem process started from a console gets null standard handles, unless
// the parent redirected them (`vetbridge status > out.txt`, a pipe from a deployment tool or
// the installer's nsExec), in which case they are real files or pipes.
func (osPlatform) Valid(s Stream) bool {
	h, err := windows.GetStdHandle(stdHandleID(s))
	if err != nil || h == 0 || h == windows.InvalidHandle {
		return false
	}
	t, err := windows.GetFileType(h)
	return err == nil && t != windows.FILE_TYPE_UNKNOWN
}

func (osPlatform) AttachParent() bool {
	if procAttachConsole.Find() != nil {
		return false
	}
	r, _, _ := procAttachConsole.Call(uintptr(attachParentProcess))
	return r != 0
}

func (osPlatform) Open(s Stream) (*os.File, error) {
	name, access := "CONOUT$", uint32(windows.GENERIC_READ|windows.GENERIC_WRITE)
	if s == Stdin {
		name = "CONIN$"
	}
	h, err := windows.CreateFile(windows.StringToUTF16Ptr(name), access,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("open the console's %s: %w", name, err)
	}
	if err := windows.SetStdHandle(stdHandleID(s), h); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("make %s a standard handle: %w", name, err)
	}
	return os.NewFile(uintptr(h), name), nil
}
