// What the gateway assumes of the Workers runtime, checked against the
// workerd that runs it. If an update changed one of these, the gateway
// would go wrong quietly, so each is pinned here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stopProcess } from '../../bench/lib/processes.mjs';
import { moduleGraph, startWorker, wranglerSettings } from '../../bench/lib/workerd.mjs';
import { repoRoot, tempDir } from '../harness/processes.mjs';

let temp;
let worker;

before(async () => {
  temp = tempDir('edgeway-runtime-');
  const { compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  worker = await startWorker({
    name: 'runtime-assumptions',
    dir: temp.dir,
    modules: moduleGraph(join(repoRoot, 'tests/fixtures/runtime/body-copies.js')),
    compatibilityDate,
    compatibilityFlags,
  });
});

after(async () => {
  if (worker) await stopProcess(worker);
  temp?.remove();
});

// worker/src/http/respond.rs and upstream/http.rs pass bodies as views of
// wasm memory, without copying them first.
test('a body given as a view of memory is copied when a Response, a Request or a fetch is made', async () => {
  const seen = await (await fetch(worker.url)).json();
  assert.deepEqual(seen, { response: 'original', request: 'original', fetch: 'original' });
});
