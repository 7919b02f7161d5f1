#!/usr/bin/env bash
# Side-by-side benchmark of VetBridge's worklist server and DCMTK wlmscpfs on
# the same generated items, written to docs/bench-wlmscpfs.md. `make bench`
# runs it after building; bounded to about 10 minutes on a 2-core machine.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCHWL_BIN=${BENCHWL_BIN:-bin/benchwl}
OUT=${OUT:-docs/bench-wlmscpfs.md}

if ! command -v wlmscpfs >/dev/null 2>&1; then
	echo "bench-vs-wlmscpfs: DCMTK wlmscpfs is not installed (make deps, or apt-get install dcmtk)" >&2
	exit 1
fi
if [ ! -x "$BENCHWL_BIN" ]; then
	echo "bench-vs-wlmscpfs: $BENCHWL_BIN not built (make bench builds it)" >&2
	exit 1
fi

"$BENCHWL_BIN" --items 1000,100000 --clients 1,8 --queries 200 --out "$OUT" "$@"
echo "bench-vs-wlmscpfs: wrote $OUT"
