#!/usr/bin/env bash
# Cross-compiles each non-UI package's tests for windows/amd64 and runs them under Wine.
#   scripts/wine-test.sh               every package but ui/..., the root main package and cgo ones
#   scripts/wine-test.sh ./store ./dicom/...   only these
# WINE_TEST_MINUTES (default 10) bounds each package (-test.timeout, so a hang ends with every
# goroutine's stack in the log; Wine itself is killed a minute later); WINE_TEST_RUN passes -test.run.
# Exits non-zero when any package fails to build or fails under Wine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wine-lib.sh

TAGS=${TAGS:-migrated_fynedo}
MINUTES=${WINE_TEST_MINUTES:-10}
module=$(go list -m)

# The desktop UI needs cgo (Fyne's GLFW); it is cross-compiled with mingw by `make windows-ui-tests`.
packages() {
  GOOS=windows GOARCH=amd64 CGO_ENABLED=1 go list -tags "$TAGS" \
    -f '{{.ImportPath}} {{len .CgoFiles}}' "$@" |
    while read -r pkg ncgo; do
      case $pkg in
        "$module" | "$module"/ui | "$module"/ui/*) continue ;;
      esac
      [ "$ncgo" = 0 ] && echo "$pkg"
    done
}

wine_setup
if [ $# -gt 0 ]; then pkgs=$(packages "$@"); else pkgs=$(packages ./...); fi
out="$WINE_ROOT/tests"
mkdir -p "$out"
tmp=$(wine_tempdir)
passed=() failed=() notests=()
total_pass=0 total_fail=0 total_skip=0

for pkg in $pkgs; do
  rel=${pkg#"$module"/}
  name=$(echo "$rel" | tr / _)
  exe="$out/$name.test.exe"
  log="$out/$name.log"
  rm -f "$exe"
  if ! GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -tags "$TAGS" -overlay "$WINE_OVERLAY" \
      -o "$exe" "$pkg" >"$log" 2>&1; then
    echo "BUILD FAIL $rel"; sed 's/^/    /' "$log"
    failed+=("$rel (build)"); continue
  fi
  if [ ! -f "$exe" ]; then notests+=("$rel"); continue; fi
  # Each package starts from an empty %TEMP% so leftovers of one cannot mask another's.
  rm -rf "${tmp:?}"/* 2>/dev/null || true
  dir=$(go list -f '{{.Dir}}' "$pkg")
  start=$(date +%s)
  set +e
  (cd "$dir" && timeout --kill-after=30s "$((MINUTES + 1))m" wine "$exe" -test.v -test.count=1 \
      ${WINE_TEST_RUN:+-test.run="$WINE_TEST_RUN"} -test.timeout="${MINUTES}m") >"$log" 2>&1
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  np=$(grep -c -- '^ *--- PASS' "$log" || true)
  nf=$(grep -c -- '^ *--- FAIL' "$log" || true)
  ns=$(grep -c -- '^ *--- SKIP' "$log" || true)
  total_pass=$((total_pass + np)) total_fail=$((total_fail + nf)) total_skip=$((total_skip + ns))
  if [ $rc -eq 0 ]; then
    printf 'ok         %-28s %4d passed %3d skipped  %4ss\n' "$rel" "$np" "$ns" "$secs"
    passed+=("$rel")
  else
    why="exit $rc"
    grep -q '^panic: test timed out' "$log" && why="timed out after ${MINUTES}m"
    [ $rc -eq 124 ] && why="Wine hung: killed after $((MINUTES + 1))m"
    printf 'FAIL       %-28s %4d passed %3d failed %3d skipped  %4ss  (%s, log %s)\n' \
      "$rel" "$np" "$nf" "$ns" "$secs" "$why" "$log"
    { grep -E -- '^ *--- FAIL|^panic:|Error|error' "$log" || tail -5 "$log"; } | head -20 | sed 's/^/    /' || true
    failed+=("$rel")
  fi
done
rm -rf "${tmp:?}"/* 2>/dev/null || true

echo "wine: ${#passed[@]} packages passed, ${#failed[@]} failed, ${#notests[@]} without tests;" \
  "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
[ ${#failed[@]} -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
