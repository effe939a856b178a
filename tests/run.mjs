// Runs every end-to-end test against one gateway and one mock upstream.
//
// Starts the mock and `wrangler dev` (the worker must be built: `make test`
// does it), runs tests/**/*.test.mjs with Node's test runner, and stops both
// servers by PID whatever happens. Tests share the servers but not their
// state: each misbehaviour lives in its own mock scenario.
//
// Usage: node tests/run.mjs [test files...]

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startStack } from './harness/gateway.mjs';
import { repoRoot } from './harness/processes.mjs';

const outDir = join(repoRoot, 'test-output');
mkdirSync(outDir, { recursive: true });

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : testFiles(path);
    return entry.name.endsWith('.test.mjs') ? [relative(repoRoot, path)] : [];
  });
}

const files = process.argv.slice(2).length ? process.argv.slice(2) : testFiles(join(repoRoot, 'tests'));
const stack = await startStack({ logDir: outDir });
console.log(`gateway ${stack.url} (log: test-output/gateway.log), mock upstream ${stack.mockUrl}`);

// Load tests run after the rest and alone: they saturate the gateway on
// purpose, which would skew the timing of tests running beside them. Serial
// tests run last, one file at a time: they move the gateway's test clock or
// make its bindings fail, which every other test would notice.
const isLoad = (f) => /(^|\/)load[^/]*\.test\.mjs$/.test(f);
const isSerial = (f) => /(^|\/)serial[^/]*\.test\.mjs$/.test(f);
// The SDK's tests drive Chromium and a bundler: alone, after the rest, so
// their CPU does not skew the timing of other tests (nor theirs).
const isSdk = (f) => /(^|\/)tests\/sdk\//.test(f);
const phases = [
  { files: files.filter((f) => !isLoad(f) && !isSerial(f) && !isSdk(f)), concurrency: 4 },
  { files: files.filter(isSdk), concurrency: 1 },
  { files: files.filter(isLoad), concurrency: 1 },
  { files: files.filter(isSerial), concurrency: 1 },
].filter((p) => p.files.length);

let code = 1;
const totals = { pass: 0, fail: 0 };
try {
  for (const phase of phases) {
    code = await runPhase(phase.files, phase.concurrency);
    if (code !== 0) break;
  }
} finally {
  await stack.stop();
}
console.log(`e2e: ${totals.pass} passed, ${totals.fail} failed`);
process.exit(code);

function runPhase(phaseFiles, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...phaseFiles], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        EDGEWAY_URL: stack.url,
        MOCK_URL: stack.mockUrl,
        EDGEWAY_GATEWAY_LOG: join(outDir, 'gateway.log'),
      },
    });
    // Pass the TAP output through, counting results across phases.
    let partial = '';
    child.stdout.on('data', (data) => {
      process.stdout.write(data);
      const lines = (partial + data.toString()).split('\n');
      partial = lines.pop();
      for (const line of lines) {
        const m = /^# (pass|fail) (\d+)$/.exec(line);
        if (m) totals[m[1]] += Number(m[2]);
      }
    });
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
}
