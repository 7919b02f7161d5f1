//go:build windows

package app

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/vetbridge/vetbridge/internal/wintest"
)

// assertOwnerOnly reads the pipe's security descriptor back: one allowing
// entry, for this user, in a protected DACL.
func assertOwnerOnly(t *testing.T, pipe, _ string) {
	t.Helper()
	wintest.SkipUnderWine(t, "Wine keeps no security descriptors on named pipes")
	sd, err := windows.GetNamedSecurityInfo(pipe, windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		t.Fatal(err)
	}
	if dacl == nil || dacl.AceCount != 1 {
		t.Fatalf("pipe DACL %v: want exactly one entry", sd)
	}
	var ace *windows.ACCESS_ALLOWED_ACE
	if err := windows.GetAce(dacl, 0, &ace); err != nil {
		t.Fatal(err)
	}
	me, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
	if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || !sid.Equals(me.User.Sid) {
		t.Errorf("pipe DACL %v: its one entry is not this user's", sd)
	}
}
