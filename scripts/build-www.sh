#!/bin/sh
# Builds the dashboard (www/) into www/dist/, which the worker serves as
# static assets. It bundles the SDK package (sdk-wasm/pkg), built first.
# Skips the build when nothing it depends on changed since the last one.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sh scripts/build-sdk.sh
out=www/dist/index.html
if [ -f "$out" ] && [ -z "$(find www -path www/dist -prune -o -newer "$out" -type f -print 2>/dev/null | head -n 1)" ] \
  && [ ! sdk-wasm/pkg/edgeway_sdk_bg.wasm -nt "$out" ]; then
  exit 0
fi
npx vite build www --logLevel warn
