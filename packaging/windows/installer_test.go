package windows

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// script is vetbridge.nsi with comments dropped and its !defines expanded, split into the
// bodies of its Functions and Sections.
type script struct {
	defines map[string]string
	blocks  map[string][]string
	global  []string
}

var defineRE = regexp.MustCompile(`^!define\s+(\w+)\s+(?:"([^"]*)"|(\S+))\s*$`)

func loadScript(t *testing.T) *script {
	t.Helper()
	data, err := os.ReadFile("vetbridge.nsi")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{defines: map[string]string{}, blocks: map[string][]string{}}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		if m := defineRE.FindStringSubmatch(l); m != nil {
			s.defines[m[1]] = m[2] + m[3]
		}
		lines = append(lines, l)
	}
	block := ""
	for _, l := range lines {
		for k, v := range s.defines {
			l = strings.ReplaceAll(l, "${"+k+"}", v)
		}
		switch {
		case strings.HasPrefix(l, "Function "), strings.HasPrefix(l, "Section "):
			// Function NAME, Section "Uninstall", Section "Title" IndexName
			f := strings.Fields(l)
			block = strings.Trim(f[len(f)-1], `"`)
		case l == "FunctionEnd", l == "SectionEnd":
			block = ""
		case block != "":
			s.blocks[block] = append(s.blocks[block], l)
		default:
			s.global = append(s.global, l)
		}
	}
	return s
}

func (s *script) block(t *testing.T, name string) []string {
	t.Helper()
	b, ok := s.blocks[name]
	if !ok {
		t.Fatalf("vetbridge.nsi has no Function or Section %q", name)
	}
	return b
}

// index is the first line of b holding want, or -1.
func index(b []string, want string) int {
	for i, l := range b {
		if strings.Contains(l, want) {
			return i
		}
	}
	return -1
}

// guard is the ${If} that encloses line i of b.
func guard(b []string, i int) string {
	if g := guards(b, i); len(g) > 0 {
		return g[0]
	}
	return ""
}

// guards are the ${If}s enclosing line i of b, innermost first; "else" for an ${Else} branch.
func guards(b []string, i int) []string {
	var out []string
	depth := 0
	for j := i - 1; j >= 0; j-- {
		switch {
		case strings.HasPrefix(b[j], "${EndIf}"):
			depth++
		case strings.HasPrefix(b[j], "${If}"):
			if depth == 0 {
				out = append(out, b[j])
			} else {
				depth--
			}
		case strings.HasPrefix(b[j], "${Else}") && depth == 0:
			out = append(out, "else")
			// Skip to this branch's ${If}: it guards the else, negated.
			for d := 0; j > 0; j-- {
				if strings.HasPrefix(b[j-1], "${EndIf}") {
					d++
				} else if strings.HasPrefix(b[j-1], "${If}") {
					if d == 0 {
						j--
						break
					}
					d--
				}
			}
		}
	}
	return out
}

func TestFirewallRuleAddedWhenElevated(t *testing.T) {
	s := loadScript(t)
	if got := s.defines["DEFAULT_DICOM_PORT"]; got != "11112" {
		t.Errorf("default DICOM port %q, want 11112 (VetBridge's default)", got)
	}
	b := s.block(t, "AddFirewallRule")
	const add = `nsExec::ExecToLog 'netsh advfirewall firewall add rule name="VetBridge DICOM" dir=in action=allow program="$INSTDIR\vetbridge.exe" protocol=TCP localport=$DicomPort'`
	i := index(b, add)
	if i < 0 {
		t.Fatalf("AddFirewallRule does not run\n%s\nit holds:\n%s", add, strings.Join(b, "\n"))
	}
	if g := guard(b, i); g != "${If} $Elevated == 1" {
		t.Errorf("the firewall rule is added under %q, want only when elevated", g)
	}
	if index(s.block(t, "SecMain"), "Call AddFirewallRule") < 0 {
		t.Error("the install section never calls AddFirewallRule")
	}
	if index(s.block(t, ".onInit"), `${GetOptions} $R0 "/DICOMPORT=" $1`) < 0 {
		t.Error("the installer does not read /DICOMPORT=")
	}
}

func TestFirewallRuleRemovedOnUninstall(t *testing.T) {
	b := loadScript(t).block(t, "Uninstall")
	const del = `nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="VetBridge DICOM" program="$INSTDIR\vetbridge.exe"'`
	if index(b, del) < 0 {
		t.Errorf("the uninstaller does not run\n%s", del)
	}
}

func TestUpgradeQuitsTheRunningAppBeforeReplacingIt(t *testing.T) {
	s := loadScript(t)
	quit := index(s.block(t, "QuitRunning"), `nsExec::ExecToLog '"$INSTDIR\vetbridge.exe" quit'`)
	if quit < 0 {
		t.Fatal(`QuitRunning does not run "$INSTDIR\vetbridge.exe" quit`)
	}
	main := s.block(t, "SecMain")
	call, file := index(main, "Call QuitRunning"), index(main, `File "/oname=vetbridge.exe"`)
	if call < 0 || file < 0 || call > file {
		t.Errorf("QuitRunning at line %d, File at %d of the install section: the app must quit first", call, file)
	}
	if index(s.block(t, "Uninstall"), `"$INSTDIR\vetbridge.exe" quit`) < 0 {
		t.Error("the uninstaller does not ask a running VetBridge to quit")
	}
}

func TestUninstallKeepsDataUnlessPurged(t *testing.T) {
	s := loadScript(t)
	if index(s.block(t, "un.onInit"), `StrCpy $DataDir "$LOCALAPPDATA\VetBridge"`) < 0 {
		t.Error(`the uninstaller's $DataDir is not %LOCALAPPDATA%\VetBridge`)
	}
	b := s.block(t, "Uninstall")
	for _, l := range b {
		if (strings.Contains(l, "$LOCALAPPDATA") || strings.Contains(l, "$DataDir")) && strings.HasPrefix(l, "RMDir") {
			i := index(b, l)
			if g := guard(b, i); g != "${If} $Purge == 1" {
				t.Errorf("%q runs under %q, want only with /PURGE", l, g)
			}
		}
	}
	if index(b, `RMDir /r "$DataDir"`) < 0 {
		t.Error("/PURGE does not delete the data directory")
	}
	if index(b, `DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "VetBridge"`) < 0 {
		t.Error("the uninstaller leaves the autostart Run value pointing at a deleted exe")
	}
}

func TestPerUserByDefault(t *testing.T) {
	s := loadScript(t)
	for _, want := range []string{
		"RequestExecutionLevel user",
		`InstallDir "$LOCALAPPDATA\Programs\VetBridge"`,
		"Target amd64-unicode",
	} {
		if index(s.global, want) < 0 {
			t.Errorf("vetbridge.nsi lacks %q", want)
		}
	}
	init := s.block(t, ".onInit")
	if i := index(init, `StrCpy $INSTDIR "$PROGRAMFILES64\VetBridge"`); i < 0 || !slices.Contains(guards(init, i), "${If} $AllUsers == 1") {
		t.Error("only /ALLUSERS may install into Program Files")
	}
	main := s.block(t, "SecMain")
	for _, want := range []string{
		`WriteRegStr SHCTX "Software\Microsoft\Windows\CurrentVersion\Uninstall\VetBridge" "UninstallString"`,
		`WriteRegStr SHCTX "Software\Microsoft\Windows\CurrentVersion\Uninstall\VetBridge" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'`,
		`CreateShortcut "$SMPROGRAMS\VetBridge.lnk" "$INSTDIR\vetbridge.exe"`,
	} {
		if index(main, want) < 0 {
			t.Errorf("the install section lacks %q", want)
		}
	}
}
