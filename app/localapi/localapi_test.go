package localapi

import (
	"strings"
	"testing"
)

func TestOwnerOnlySDDLGrantsTheOwnerAlone(t *testing.T) {
	sid := "S-1-5-21-1004336348-1177238915-682003330-512"
	got := OwnerOnlySDDL(sid)
	if want := "O:" + sid + "D:P(A;;GA;;;" + sid + ")"; got != want {
		t.Fatalf("SDDL %q, want %q", got, want)
	}
	// One ACE only, protected from inheritance: no Everyone (WD), no
	// Administrators (BA), no SYSTEM (SY), no network logon (NU).
	if strings.Count(got, "(A;") != 1 || !strings.Contains(got, "D:P") {
		t.Errorf("SDDL %q must hold one allow entry in a protected DACL", got)
	}
	for _, other := range []string{";WD)", ";BA)", ";SY)", ";NU)", ";AU)"} {
		if strings.Contains(got, other) {
			t.Errorf("SDDL %q grants %s", got, other)
		}
	}
}

func TestPipeNameIsPerDirectoryAndCaseInsensitive(t *testing.T) {
	a, b := pipeName(`C:\Users\Anna\AppData\Local\VetBridge`), pipeName(`c:\users\anna\appdata\local\vetbridge`)
	if a != b {
		t.Errorf("Windows paths differing in case name two pipes: %s, %s", a, b)
	}
	if a == pipeName(`C:\Users\Anna\AppData\Local\VetBridge\demo`) {
		t.Error("the demo's directory shares the installation's pipe")
	}
	if !strings.HasPrefix(a, `\\.\pipe\vetbridge-`) {
		t.Errorf("pipe name %s", a)
	}
}
