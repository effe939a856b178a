// The built worker in bare workerd — no wrangler, no bindings but text
// vars, a `request.cf` without most fields — as `make bench` runs it. A
// runtime that offers less than Cloudflare's must still get answers and
// JSON errors, never a panic (which would abort the isolate mid-request).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopProcess } from '../../bench/lib/processes.mjs';
import { moduleGraph, startWorker, wranglerSettings } from '../../bench/lib/workerd.mjs';
import { repoRoot, tempDir } from '../harness/processes.mjs';

const KEY = 'ew-bare-workerd-test-key';
let temp;
let worker;

before(async () => {
  temp = tempDir('edgeway-bare-');
  const { main, compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  worker = await startWorker({
    name: 'edgeway-bare',
    dir: temp.dir,
    modules: moduleGraph(join(repoRoot, main)),
    bindings: { EDGEWAY_DEV_KEY: KEY },
    readyPath: '/healthz',
    compatibilityDate,
    compatibilityFlags,
  });
});

after(async () => {
  if (worker) await stopProcess(worker);
  temp?.remove();
});

const call = (path, body) => fetch(`${worker.url}${path}`, {
  method: body ? 'POST' : 'GET',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: body && JSON.stringify(body),
});

test('answers, streams and errors work without Cloudflare\'s extras, and nothing panics', async () => {
  const answer = await call('/v1/chat/completions', { model: 'demo', messages: [{ role: 'user', content: 'bare' }] });
  assert.equal(answer.status, 200);
  assert.equal((await answer.json()).choices[0].message.content, 'You said: bare');

  const stream = await call('/v1/chat/completions', { model: 'demo', stream: true, messages: [{ role: 'user', content: 'bare stream' }] });
  assert.equal(stream.status, 200);
  assert.match(await stream.text(), /data: \[DONE\]/);

  const missing = await call('/v1/chat/completions', { model: 'no-such-route', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'model_not_found');
  assert.equal((await call('/v1/models')).status, 200);

  const log = readFileSync(join(temp.dir, 'workerd.log'), 'utf8');
  assert.ok(!/panicked|RuntimeError: unreachable/.test(log), log.slice(-2000));
});
