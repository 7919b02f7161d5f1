#!/usr/bin/env bash
# `vetbridge serve` with 10,000 stored referrals, started as a clinic would:
# time to the first C-ECHO and resident memory once idle, written to
# docs/bench-serve.md. `make bench` runs it after `make build`; about 40 s.
set -euo pipefail

cd "$(dirname "$0")/.."
VETBRIDGE_BIN=${VETBRIDGE_BIN:-bin/vetbridge}
OUT=${OUT:-docs/bench-serve.md}

if [ "$(uname -s)" != Linux ]; then
	echo "bench-serve: reads the server's memory from /proc; run it on Linux" >&2
	exit 1
fi
go build -o bin/benchserve ./tools/benchserve
# benchserve rebuilds $VETBRIDGE_BIN itself when it is missing or older
# than the sources, so the figures are never those of a stale binary.
bin/benchserve --bin "$VETBRIDGE_BIN" --items 10000 --out "$OUT" "$@"
