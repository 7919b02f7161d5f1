#!/usr/bin/env bash
# Cross-compiles each package's tests for windows/amd64 and runs them under Wine.
#   scripts/wine-test.sh                     every package of the module
#   scripts/wine-test.sh ./store ./dicom/... only these
# Packages that need cgo (Fyne's GLFW driver: ui, main) are built with mingw-w64, the rest with
# CGO_ENABLED=0 as shipped. WINE_TEST_CGO=0 leaves the cgo ones out (their first build takes
# minutes). WINE_TEST_MINUTES (default 10) bounds each package (-test.timeout, so a hang ends
# with every goroutine's stack in the log; Wine itself is killed a minute later);
# WINE_TEST_RUN passes -test.run. Exits non-zero when any package fails to build or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/wine-lib.sh

TAGS=${TAGS:-migrated_fynedo}
MINUTES=${WINE_TEST_MINUTES:-10}
module=$(go list -m)

# "import-path cgo|nocgo" for each package.
packages() {
  GOOS=windows GOARCH=amd64 CGO_ENABLED=1 go list -tags "$TAGS" \
    -f '{{.ImportPath}} {{len .CgoFiles}} {{range .Deps}}{{if eq . "github.com/go-gl/glfw/v3.4/glfw"}}glfw{{end}}{{end}}' "$@" |
    while read -r pkg ncgo glfw; do
      if [ "$ncgo" != 0 ] || [ -n "$glfw" ]; then
        if [ "${WINE_TEST_CGO:-1}" = 1 ]; then echo "$pkg cgo"; fi
      else
        echo "$pkg nocgo"
      fi
    done
}

wine_setup
if [ $# -gt 0 ]; then list=$(packages "$@"); else list=$(packages ./...); fi
out="$WINE_ROOT/tests"
mkdir -p "$out"
tmp=$(wine_tempdir)
passed=() failed=() notests=()
total_pass=0 total_fail=0 total_skip=0

while read -r pkg mode; do
  [ -n "$pkg" ] || continue
  rel=${pkg#"$module"/}
  [ "$pkg" = "$module" ] && rel=.
  if [ "$mode" = cgo ]; then
    build_env=(CGO_ENABLED=1 CC=x86_64-w64-mingw32-gcc)
  else
    build_env=(CGO_ENABLED=0)
  fi
  name=$(echo "$rel" | tr / _)
  [ "$rel" = . ] && name=main
  exe="$out/$name.test.exe"
  log="$out/$name.log"
  rm -f "$exe"
  if ! env GOOS=windows GOARCH=amd64 "${build_env[@]}" go test -c -tags "$TAGS" -overlay "$WINE_OVERLAY" \
      -o "$exe" "$pkg" </dev/null >"$log" 2>&1; then
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
      ${WINE_TEST_RUN:+-test.run="$WINE_TEST_RUN"} -test.timeout="${MINUTES}m") </dev/null >"$log" 2>&1
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
done <<<"$list"
rm -rf "${tmp:?}"/* 2>/dev/null || true

echo "wine: ${#passed[@]} packages passed, ${#failed[@]} failed, ${#notests[@]} without tests;" \
  "tests: $total_pass passed, $total_fail failed, $total_skip skipped"
[ ${#failed[@]} -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
