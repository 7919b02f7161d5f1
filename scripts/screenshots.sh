#!/usr/bin/env bash
# Runs the desktop app on the built-in simulator under a virtual display,
# captures its views as PNGs into docs/, and measures its idle memory beside
# a bare Fyne window started the same way.
# Usage: scripts/screenshots.sh BIN OUTDIR
set -euo pipefail
bin=${1:-bin/vetbridge}
out=${2:-docs}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -tags migrated_fynedo -o "$work/barewindow" "$root/ui/barewindow"

run_x() { # run a command under its own virtual display and session bus
  xvfb-run -a -s "-screen 0 1280x860x24" dbus-run-session -- "$@"
}

# 1. Screenshots: the app captures its own canvas for each view, then quits.
VETBRIDGE_SCREENSHOTS="$out" run_x "$bin" demo --data "$work/shots" --dicom-port 11150 --new-referral-every 0 \
  >"$work/shots.log" 2>&1 || { cat "$work/shots.log"; exit 1; }
ls -1 "$out"/screenshot-*.png

# 2. Idle memory: both programs start, settle for 20 s, then VmRSS is read.
rss_of() { # rss_of NAME CMD... → prints the resident set in KiB after 20 s
  local name=$1; shift
  run_x "$@" >"$work/$name.log" 2>&1 &
  local runner=$!
  sleep 20
  local pid
  pid=$(pgrep -n -f "$1" || true)
  [ -n "$pid" ] || { echo "$name did not start" >&2; cat "$work/$name.log" >&2; kill $runner 2>/dev/null; return 1; }
  awk '/VmRSS/{print $2}' "/proc/$pid/status"
  kill "$pid" 2>/dev/null || true
  wait $runner 2>/dev/null || true
}
bare=$(rss_of bare "$work/barewindow")
vb=$(rss_of vetbridge "$bin" demo --data "$work/mem" --dicom-port 11151 --new-referral-every 0)
ratio=$(awk -v a="$vb" -v b="$bare" 'BEGIN{printf "%.2f", a/b}')
cat >"$out/memory.md" <<EOT
# Idle memory

Measured by \`make screenshots\` on $(date -u +%Y-%m-%d) under Xvfb, 20 s after start,
VmRSS of each process (the demo includes its built-in Provet simulator and 40 referrals).

| program | RSS (MiB) |
|---|---|
| bare Fyne window | $(awk -v k="$bare" 'BEGIN{printf "%.1f", k/1024}') |
| VetBridge demo, worklist window open | $(awk -v k="$vb" 'BEGIN{printf "%.1f", k/1024}') |
| ratio | ${ratio}× |
EOT
cat "$out/memory.md"
