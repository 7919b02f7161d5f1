#!/bin/sh
# Builds the ProcessPrng shim DLL with mingw-w64: tools/processprng/build.sh OUT.dll
set -eu
out=${1:?usage: build.sh OUT.dll}
src=$(dirname "$0")
mkdir -p "$(dirname "$out")"
x86_64-w64-mingw32-gcc -O2 -Wall -Werror -shared -s \
  -o "$out" "$src/processprng.c" "$src/bcryptprimitives.def" -ladvapi32
