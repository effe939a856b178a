#!/bin/sh
# Builds the browser SDK into sdk-wasm/pkg/, the `edgeway` npm package:
# release wasm (wasm-bindgen --target web, then wasm-opt -Oz), its JS glue
# and types, the package entry (sdk-wasm/js), package.json and README.
# Skips the build when nothing it depends on changed since the last one.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pkg=sdk-wasm/pkg
if [ -f "$pkg/edgeway_sdk_bg.wasm" ] && [ -z "$(find core/src sdk-wasm/src sdk-wasm/js sdk-wasm/npm sdk-wasm/README.md sdk-wasm/Cargo.toml core/Cargo.toml Cargo.toml Cargo.lock -newer "$pkg/edgeway_sdk_bg.wasm" 2>/dev/null | head -n 1)" ]; then
  exit 0
fi
cargo build -q -p edgeway-sdk --target wasm32-unknown-unknown --release
rm -rf "$pkg"
"${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}" --target web --out-dir "$pkg" --out-name edgeway_sdk \
  target/wasm32-unknown-unknown/release/edgeway_sdk.wasm
"${WASM_OPT_BIN:-$root/node_modules/binaryen/bin/wasm-opt}" -Oz --enable-bulk-memory --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types --enable-multivalue \
  --strip-debug --strip-producers "$pkg/edgeway_sdk_bg.wasm" -o "$pkg/edgeway_sdk_bg.wasm"
# wasm-bindgen declares `[Symbol.dispose]()` on the engine's classes, which
# fails type checking in apps whose `lib` predates disposables (ES2022) and
# that check libraries. The engine's classes are internal to the package,
# and the JS adds the method only where the symbol exists.
sed -i '/\[Symbol\.dispose\]()/d' "$pkg/edgeway_sdk.d.ts"
cp sdk-wasm/js/index.js sdk-wasm/js/index.d.ts sdk-wasm/npm/package.json sdk-wasm/README.md "$pkg/"
size() { gzip -9c "$1" | wc -c; }
total=$(( $(size "$pkg/edgeway_sdk_bg.wasm") + $(size "$pkg/edgeway_sdk.js") + $(size "$pkg/index.js") + $(size "$(find "$pkg/snippets" -name runtime.js)") ))
echo "sdk: built $pkg ($total bytes gzipped: wasm + JS)"
