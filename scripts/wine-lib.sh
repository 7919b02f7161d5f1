# shellcheck shell=bash
# Sourced by scripts/wine-*.sh: a project-local Wine prefix in which Go 1.26 Windows
# programs run under Debian 12's Wine 8. Idempotent; works on a fresh machine with wine and
# gcc-mingw-w64-x86-64 installed (`make deps`).
#
# Two Wine 8 gaps are bridged, for tests only, never for the shipped exe:
#  - Go's runtime needs ProcessPrng from bcryptprimitives.dll: tools/processprng builds a
#    native one, installed into the prefix's system32 and preferred via WINEDLLOVERRIDES.
#  - os.RemoveAll deletes through NtSetInformationFile(FileDispositionInformationEx), which
#    Wine 8 answers STATUS_NOT_IMPLEMENTED ("Invalid function"); Go falls back to the older
#    FileDispositionInfo only on STATUS_NOT_SUPPORTED and friends, as it does on pre-1607
#    Windows or FAT32. A build overlay adds STATUS_NOT_IMPLEMENTED to that fallback list in a
#    copy of the installed Go's internal/syscall/windows/at_windows.go, so t.TempDir cleanup
#    works without touching any test.

# Under bin/ (ignored by git and, being a dot directory, by go list ./...).
WINE_ROOT=${VETBRIDGE_WINE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bin/.wine}
export WINEPREFIX="$WINE_ROOT/prefix"
export WINEARCH=win64
# No Mono/Gecko download prompts, no debug chatter, no window: tests never need a display.
export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="
export WINEDEBUG=${WINEDEBUG:--all}
unset DISPLAY WAYLAND_DISPLAY
WINE_OVERLAY="$WINE_ROOT/overlay/overlay.json"

wine_die() { echo "wine-setup: $*" >&2; exit 1; }

wine_setup() {
  command -v wine >/dev/null || wine_die "wine is missing: run make deps (apt package wine)"
  command -v x86_64-w64-mingw32-gcc >/dev/null ||
    wine_die "x86_64-w64-mingw32-gcc is missing: run make deps (apt package gcc-mingw-w64-x86-64)"
  mkdir -p "$WINE_ROOT"
  local src dll="$WINE_ROOT/bcryptprimitives.dll"
  src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/processprng
  if [ ! -s "$dll" ] || [ "$src/processprng.c" -nt "$dll" ] || [ "$src/bcryptprimitives.def" -nt "$dll" ]; then
    "$src/build.sh" "$dll.tmp" && mv "$dll.tmp" "$dll"
  fi
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "wine-setup: creating the Wine prefix $WINEPREFIX" >&2
    rm -rf "$WINEPREFIX"
    wineboot -i >"$WINE_ROOT/wineboot.log" 2>&1 || { cat "$WINE_ROOT/wineboot.log" >&2; wine_die "wineboot failed"; }
    # The registry files are written when the prefix's wineserver exits.
    wineserver -w
    [ -f "$WINEPREFIX/system.reg" ] || wine_die "wineboot left no registry in $WINEPREFIX"
  fi
  local sys32="$WINEPREFIX/drive_c/windows/system32"
  cmp -s "$dll" "$sys32/bcryptprimitives.dll" || cp "$dll" "$sys32/bcryptprimitives.dll"
  wine_overlay
}

wine_overlay() {
  local goroot orig patched
  goroot=$(go env GOROOT)
  orig="$goroot/src/internal/syscall/windows/at_windows.go"
  patched="$WINE_ROOT/overlay/at_windows.go.overlay"
  mkdir -p "$WINE_ROOT/overlay"
  sed 's|^\(\t\tSTATUS_NOT_SUPPORTED\):\( *//.*\)$|\1, NTStatus(0xC0000002) /* STATUS_NOT_IMPLEMENTED: Wine 8 */:\2|' \
    "$orig" >"$patched.tmp"
  # A Go release that reshapes this switch must be looked at again, not silently unpatched.
  grep -q 'NTStatus(0xC0000002)' "$patched.tmp" ||
    wine_die "cannot patch $orig for Wine's missing FileDispositionInformationEx: look at its Deleteat"
  if cmp -s "$patched.tmp" "$patched"; then rm "$patched.tmp"; else mv "$patched.tmp" "$patched"; fi
  printf '{"Replace":{"%s":"%s"}}\n' "$orig" "$patched" >"$WINE_OVERLAY"
}

# The prefix's %TEMP% (Wine takes it from the prefix registry, not from the Unix environment).
wine_tempdir() { echo "$WINEPREFIX/drive_c/users/$(id -un)/Temp"; }
