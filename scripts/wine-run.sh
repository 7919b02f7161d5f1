#!/usr/bin/env bash
# Runs a Windows program under the project's Wine prefix, with the ProcessPrng shim:
#   scripts/wine-run.sh dist/windows/vetbridge.exe version
set -euo pipefail
. "$(dirname "$0")/wine-lib.sh"
wine_setup
exec wine "$@"
