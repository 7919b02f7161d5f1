#!/usr/bin/env bash
# Runs the NSIS installer under Wine and checks what it does: per-user install, upgrade in
# place (quit first, data kept), uninstall keeping or purging the data, /ALLUSERS, and a bad
# /DICOMPORT refused. VetBridge itself is replaced by a probe exe that logs how the installer
# calls it. The firewall rule is not checked here (Wine's netsh is a stub): the Go tests in
# packaging/windows pin its text.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wine-lib.sh
# The /D= check uses a non-ASCII directory name, passed on through a UTF-8 locale.
export LC_ALL=C.UTF-8
wine_setup

work="$WINE_ROOT/installer-test"
rm -rf "$work" && mkdir -p "$work/probe"
user=$(id -un)
drive_c="$WINEPREFIX/drive_c"
local_app="$drive_c/users/$user/AppData/Local"
programs="$drive_c/users/$user/AppData/Roaming/Microsoft/Windows/Start Menu/Programs"
uninstkey='Software\Microsoft\Windows\CurrentVersion\Uninstall\VetBridge'
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { if eval "$2"; then echo "ok    $1"; else fail "$1"; fi; }
winpath() { echo "Z:${1//\//\\}"; }
reg_value() { wine reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' | awk -v v="$2" '$1 == v {print $3}'; }
probe_calls() { tr -d '\r' 2>/dev/null <"$work/probe.log" | grep -c -x "$1" || true; }

cat >"$work/probe/main.go" <<'GO'
// A stand-in for vetbridge.exe: records each call's arguments.
package main

import (
	"os"
	"strings"
)

func main() {
	f, err := os.OpenFile(os.Getenv("VETBRIDGE_PROBE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		os.Exit(3)
	}
	defer f.Close()
	f.WriteString(strings.Join(append([]string{"call"}, os.Args[1:]...), " ") + "\n")
}
GO
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -o "$work/vetbridge.exe" "$work/probe/main.go"
export VETBRIDGE_PROBE_LOG
VETBRIDGE_PROBE_LOG=$(winpath "$work/probe.log")

build() { # version → setup exe path
  makensis -V1 -WX -DVERSION="$1" -DEXE="$work/vetbridge.exe" -DOUTFILE="$work/VetBridge-$1-Setup.exe" \
    packaging/windows/vetbridge.nsi >&2
  echo "$work/VetBridge-$1-Setup.exe"
}
# The uninstaller copies itself to %TEMP% and returns at once: wait for the prefix to idle.
run() { local rc=0; wine "$@" || rc=$?; wineserver -w; return $rc; }

# Leftovers of an earlier, interrupted run.
wine reg delete "HKCU\\$uninstkey" /f >/dev/null 2>&1 || true
wine reg delete "HKLM\\$uninstkey" /f >/dev/null 2>&1 || true
rm -rf "$local_app/Programs/VetBridge" "$local_app/VetBridge" "$drive_c/Program Files/VetBridge" \
  "$programs/VetBridge.lnk"

v1=$(build 0.0.1) v2=$(build 0.0.2)
inst="$local_app/Programs/VetBridge"

echo "-- fresh per-user install, silent"
run "$v1" /S /NOSTART
check "exe in %LOCALAPPDATA%\\Programs\\VetBridge" '[ -f "$inst/vetbridge.exe" ] && [ -f "$inst/uninstall.exe" ]'
check "Start-menu shortcut" '[ -f "$programs/VetBridge.lnk" ]'
check "Add/Remove Programs entry (HKCU) at 0.0.1" '[ "$(reg_value "HKCU\\$uninstkey" DisplayVersion)" = 0.0.1 ]'
check "no quit call when nothing was installed" '[ "$(probe_calls "call quit")" = 0 ]'
check "/NOSTART: not started" '[ "$(probe_calls "call")" = 0 ]'

echo "-- upgrade in place"
mkdir -p "$local_app/VetBridge" && echo keep >"$local_app/VetBridge/config.json"
run "$v2" /S /NOSTART
check "the old VetBridge was asked to quit, once" '[ "$(probe_calls "call quit")" = 1 ]'
check "Add/Remove Programs entry at 0.0.2" '[ "$(reg_value "HKCU\\$uninstkey" DisplayVersion)" = 0.0.2 ]'
check "data directory untouched" '[ "$(cat "$local_app/VetBridge/config.json")" = keep ]'

echo "-- uninstall, silent, keeping the data"
run "$inst/uninstall.exe" /S
check "program removed" '[ ! -e "$inst/vetbridge.exe" ] && [ ! -e "$inst/uninstall.exe" ]'
check "shortcut removed" '[ ! -e "$programs/VetBridge.lnk" ]'
check "Add/Remove Programs entry removed" '! wine reg query "HKCU\\$uninstkey" >/dev/null 2>&1'
check "asked to quit before removal" '[ "$(probe_calls "call quit")" = 2 ]'
check "data directory kept" '[ "$(cat "$local_app/VetBridge/config.json")" = keep ]'
check "sign-in kept (no logout)" '[ "$(probe_calls "call logout")" = 0 ]'

echo "-- uninstall /PURGE"
run "$v2" /S /NOSTART
run "$inst/uninstall.exe" /S /PURGE
check "data directory deleted" '[ ! -e "$local_app/VetBridge" ]'
check "sign-in forgotten (logout)" '[ "$(probe_calls "call logout")" = 1 ]'

echo "-- /ALLUSERS (Wine runs it as an administrator)"
run "$v2" /S /NOSTART /ALLUSERS
check "exe in Program Files" '[ -f "$drive_c/Program Files/VetBridge/vetbridge.exe" ]'
check "Add/Remove Programs entry in HKLM" '[ "$(reg_value "HKLM\\$uninstkey" DisplayVersion)" = 0.0.2 ]'
check "firewall port recorded (11112)" '[ "$(reg_value "HKLM\\$uninstkey" FirewallPort)" = 0x2b68 ]'
run "$drive_c/Program Files/VetBridge/uninstall.exe" /S
check "per-machine uninstall" '[ ! -e "$drive_c/Program Files/VetBridge/vetbridge.exe" ] && ! wine reg query "HKLM\\$uninstkey" >/dev/null 2>&1'

echo "-- /DICOMPORT"
rc=0; run "$v2" /S /NOSTART /DICOMPORT=http || rc=$?
check "a port that is not a number refused (exit 2)" '[ $rc = 2 ] && [ ! -e "$inst/vetbridge.exe" ]'
run "$v2" /S /NOSTART /DICOMPORT=104
check "/DICOMPORT=104 used for the rule" '[ "$(reg_value "HKCU\\$uninstkey" FirewallPort)" = 0x68 ]'
run "$inst/uninstall.exe" /S

echo "-- /D= and an upgrade that follows it"
custom="$drive_c/Vet Bridge Zoë"
rm -rf "$custom"
# NSIS takes /D= unquoted, as the rest of the command line: through cmd, not wine's argv quoting.
run cmd /c "$(winpath "$v1") /S /NOSTART /D=C:\Vet Bridge Zoë"
check "/D= installs into a path with spaces and non-ASCII" '[ -f "$custom/vetbridge.exe" ] && [ ! -e "$inst/vetbridge.exe" ]'
run "$v2" /S /NOSTART
check "the upgrade goes where the old version is" '[ "$(reg_value "HKCU\\$uninstkey" DisplayVersion)" = 0.0.2 ] && [ ! -e "$inst/vetbridge.exe" ]'
run "$custom/uninstall.exe" /S
check "uninstalled from there" '[ ! -e "$custom/vetbridge.exe" ]'
rm -rf "$custom"

[ $fails = 0 ] || { echo "installer under Wine: $fails checks failed"; exit 1; }
echo "installer under Wine: all checks passed"
