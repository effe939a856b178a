// Builds the operator dashboard into www/dist, which the worker serves as
// static assets. Works from the repository root (`npx vite build www`: Vite
// looks for this file in the root it is given) and from www/ alike, because
// every path here is relative to this file, not to the working directory.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Where `npx vite www` (the dev server) finds a gateway: `make dev`'s.
const gateway = process.env.EDGEWAY_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  root: here('.'),
  // The dashboard lives at the site's root: `/logs/req_…` must load
  // `/assets/…`, not `/logs/assets/…`.
  base: '/',
  resolve: {
    alias: {
      // The dashboard uses the SDK exactly as a frontend developer's app
      // would, by its package name, so it doubles as a real user of the
      // package. The package is built into sdk-wasm/pkg by
      // scripts/build-sdk.sh rather than installed from the registry, so
      // the name points there: the dashboard always runs this checkout's SDK.
      edgeway: here('../sdk-wasm/pkg/index.js'),
    },
  },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
  },
  server: {
    // The SDK lives outside www/; let the dev server read it.
    fs: { allow: [here('..')] },
    // The dev server forwards API calls so the page's own origin works as
    // the gateway, as it does when the worker serves the built files.
    proxy: Object.fromEntries(['/v1', '/admin/api', '/healthz'].map((path) => [path, gateway])),
  },
});
