#!/usr/bin/env bash
# `vetbridge serve` with 10,000 stored referrals, started as a clinic would:
# time to the first C-ECHO and resident memory once idle. Two builds are
# measured: the headless one a server runs (docs/bench-serve.md, held to the
# targets: first C-ECHO within 300 ms, idle RSS at most 40 MB) and the
# desktop one (docs/bench-serve-desktop.md, whose graphics libraries add
# their own pages). `make bench` builds both first; about 80 s.
set -euo pipefail

cd "$(dirname "$0")/.."
HEADLESS_BIN=${HEADLESS_BIN:-bin/vetbridge-headless}
DESKTOP_BIN=${VETBRIDGE_BIN:-bin/vetbridge}

if [ "$(uname -s)" != Linux ]; then
	echo "bench-serve: reads the server's memory from /proc; run it on Linux" >&2
	exit 1
fi
for b in "$HEADLESS_BIN" "$DESKTOP_BIN"; do
	[ -x "$b" ] || { echo "bench-serve: $b not built (make bench builds it)" >&2; exit 1; }
done
go build -o bin/benchserve ./tools/benchserve
bin/benchserve --build=false --bin "$DESKTOP_BIN" --items 10000 --out docs/bench-serve-desktop.md "$@"
bin/benchserve --build=false --bin "$HEADLESS_BIN" --items 10000 --out docs/bench-serve.md --check "$@"
