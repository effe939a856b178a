#!/bin/sh
# Installs what building and testing Edgeway needs, skipping what is there:
# one line per step. Safe to run again and again; `make dev` and `make test`
# run it first. Works on a fresh Debian machine that reaches the package
# registries (crates.io, npm, Debian) and nothing else.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf 'setup: %-34s %s\n' "$1" "$2"; }

# 1. The wasm target for the worker and the SDK.
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  step "rust target wasm32" "present"
else
  step "rust target wasm32" "installing"
  rustup target add wasm32-unknown-unknown >/dev/null
fi

# 2. wasm-bindgen CLI, exactly the version Cargo.lock resolved (the CLI and
#    the library must match). Not --locked: the registry mirror lacks one
#    locked transitive version, and the unlocked install works.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
  step "wasm-bindgen-cli $want" "present"
else
  step "wasm-bindgen-cli $want" "installing (about 2 min)"
  cargo install -q wasm-bindgen-cli --version "$want" --force
fi

# 3. worker-build, which runs wasm-bindgen, wasm-opt and esbuild for the worker.
worker_build=0.8.7
if worker-build --version 2>/dev/null | grep -q "$worker_build"; then
  step "worker-build $worker_build" "present"
else
  step "worker-build $worker_build" "installing (about 3 min)"
  cargo install -q worker-build --version "$worker_build" --locked --force
fi

# 4. npm packages (wrangler/workerd, esbuild, binaryen's wasm-opt, test clients).
#    npm ci only when package-lock.json changed since the last install.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  step "npm packages" "present"
else
  step "npm packages" "installing (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  touch node_modules/.package-lock.json
fi

# 5. Debian packages: Chromium and its driver for browser tests, wrk for
#    benchmarks.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
if [ -z "$missing" ]; then
  step "chromium, chromedriver, wrk" "present"
else
  step "apt:$missing" "installing"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi
