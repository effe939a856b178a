// A bad config fails the worker's build — with every problem named by its
// path — so it can never reach a live request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../harness/processes.mjs';

test('a bad config fails the worker build, listing every problem by path', () => {
  const result = spawnSync('cargo', ['check', '-q', '-p', 'edgeway-worker', '--target', 'wasm32-unknown-unknown'], {
    cwd: repoRoot,
    env: { ...process.env, EDGEWAY_CONFIG: join(repoRoot, 'tests/config/bad-config.toml') },
    encoding: 'utf8',
  });
  assert.notEqual(result.status, 0, 'the build must fail');
  const output = result.stderr;
  assert.match(output, /routes\.fast\.targets\[1\]\.provider: unknown provider "opanai"/);
  assert.match(output, /routes\.broken\.targets: a route needs at least one target/);
  assert.match(output, /routes\.broken\.timeouts\.first_token_ms: must be greater than 0/);
});
