#!/bin/sh
# Builds the worker (release wasm + JS shim) into worker/build/, skipping the
# build when nothing it depends on changed since the last one. wrangler runs
# this as its build command; `make worker` does too.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=worker/build/index.js
# The wasm's function names cost about 40 KB gzipped; they are kept only for
# CPU profiling (EDGEWAY_KEEP_NAMES=1, see bench/profile.mjs).
names="${EDGEWAY_KEEP_NAMES:-0}"
stamp=worker/build/.names
if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$names" ] && [ -z "$(find core/src worker/src worker/build.rs worker/Cargo.toml core/Cargo.toml Cargo.toml Cargo.lock config -newer "$out" 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/node_modules/.bin/esbuild}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/node_modules/binaryen/bin/wasm-opt}"
cd worker
worker-build --release
if [ "$names" != 1 ]; then
  # Strip the names, and optimize once more: a second -Oz pass over
  # worker-build's output saves another ~1 KB gzipped. --low-memory-unused
  # (~2 KB more) lets constant offsets fold into loads and stores; it holds
  # because Rust lays the stack out first, from 1 MiB down, with the data
  # above it, so the lowest KiB is touched only by a stack that overflows.
  "$WASM_OPT_BIN" -Oz --low-memory-unused --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types --enable-multivalue --strip-debug --strip-producers build/index_bg.wasm -o build/index_bg.wasm
fi
cd "$root"
# Profiles read the glue's names too: kept when the function names are.
if [ "$names" != 1 ]; then
  node scripts/minify-imports.mjs worker/build
fi
echo "$names" > worker/build/.names
touch worker/build/index.js
