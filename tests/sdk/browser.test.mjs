// The SDK's engine tests (sdk-wasm/tests/browser.rs: wasm-bindgen-test in
// headless Chromium) against this run's gateway. This file plays the app's
// backend: it creates the publishable keys the page may use, serves them to
// the tests, and mints short-lived tokens with the key's signing secret, as
// a real app's backend would. Then it runs `cargo test` for the wasm target.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { runCommand } from '../../bench/lib/processes.mjs';
import { GATEWAY, createKey, jwt, setFaults } from '../e2e/helpers.mjs';
import { freePort, repoRoot } from '../harness/processes.mjs';

let backend;
let backendUrl;
let pageOrigin;

before(async () => {
  // These tests count the SDK's own retries against demo/flaky-2, which
  // fails twice per call: circuit breakers (the gateway's business, tested
  // elsewhere) would open on it and change what the client sees. This file
  // runs alone, so holding them closed affects no other test.
  await setFaults({ hold_breakers: true });
  // wasm-bindgen's runner serves the test page here; the keys allow it.
  pageOrigin = `http://127.0.0.1:${await freePort()}`;
  const browserKey = (input = {}) => createKey({ kind: 'publishable', origins: [pageOrigin], ...input });
  const oneEvery2s = { requests: { limit: 1, window_ms: 2_000, burst: 1 } };
  // A budget the first answer spends: the next call gets insufficient_quota
  // with x-should-retry: false.
  const spentAtOnce = { budget_daily_usd: 0.000001 };
  const [main, limitedA, limitedB, broke, tokens] = await Promise.all([
    browserKey(), browserKey({ limits: oneEvery2s }), browserKey({ limits: oneEvery2s }), browserKey({ limits: spentAtOnce }), browserKey(),
  ]);
  const config = { gateway: GATEWAY, key: main.key, limitedKeys: [limitedA.key, limitedB.key], brokeKey: broke.key };
  const secret = Buffer.from(tokens.signing_secret, 'base64url');
  backend = createServer((req, res) => {
    const url = new URL(req.url, 'http://backend');
    const cors = { 'access-control-allow-origin': pageOrigin };
    if (url.pathname === '/config') {
      res.writeHead(200, { ...cors, 'content-type': 'application/json' });
      res.end(JSON.stringify(config));
    } else if (url.pathname === '/token') {
      const now = Math.floor(Date.now() / 1000);
      const exp = url.searchParams.has('expired') ? now - 5 : now + 300;
      res.writeHead(200, { ...cors, 'content-type': 'text/plain' });
      res.end(jwt({ kid: tokens.record.id }, { sub: 'browser-user', exp }, secret));
    } else {
      res.writeHead(404, cors);
      res.end();
    }
  });
  await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${backend.address().port}`;
});

after(async () => {
  backend?.close();
  await setFaults({ hold_breakers: false });
});

test('the SDK engine passes its browser tests in headless Chromium against the gateway', async (t) => {
  const args = ['test', '-p', 'edgeway-sdk', '--target', 'wasm32-unknown-unknown', '--test', 'browser'];
  const { code, stdout, stderr } = await runCommand('cargo test (sdk, browser)', 'cargo', args, {
    cwd: repoRoot,
    env: {
      EDGEWAY_SDK_TEST_BACKEND: backendUrl,
      WASM_BINDGEN_TEST_ADDRESS: pageOrigin.replace('http://', ''),
      CHROMEDRIVER: process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver',
    },
    // Compiling the tests for wasm comes first.
    timeoutMs: 600_000,
  });
  const output = stdout + stderr;
  for (const line of output.match(/^\s*test \S+ \.\.\. \w+$/gm) ?? []) t.diagnostic(line.trim());
  assert.equal(code, 0, output);
  const summary = /test result: ok\. (\d+) passed; (\d+) failed/.exec(output);
  assert.ok(summary && Number(summary[1]) >= 10 && summary[2] === '0', output);
});
