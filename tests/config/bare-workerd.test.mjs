// The built worker in bare workerd — no wrangler, no bindings but text
// vars, a `request.cf` without most fields — as `make bench` runs it. A
// runtime that offers less than Cloudflare's must still get answers and
// JSON errors, never a panic (which would abort the isolate mid-request).
// Here, with nothing between workerd and the mock upstream, is also where
// the gateway's upstream connections can be counted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopProcess } from '../../bench/lib/processes.mjs';
import { moduleGraph, startWorker, wranglerSettings } from '../../bench/lib/workerd.mjs';
import { repoRoot, tempDir } from '../harness/processes.mjs';
import { startMockUpstream } from '../mock/upstream.mjs';

const KEY = 'ew-bare-workerd-test-key';
const PROVIDER_KEY = 'sk-bare-workerd-provider';
let temp;
let worker;
let mock;

before(async () => {
  mock = await startMockUpstream({ apiKey: PROVIDER_KEY });
  temp = tempDir('edgeway-bare-');
  const { main, compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  worker = await startWorker({
    name: 'edgeway-bare',
    dir: temp.dir,
    modules: moduleGraph(join(repoRoot, main)),
    bindings: { EDGEWAY_DEV_KEY: KEY, OPENAI_BASE_URL: `${mock.url}/v1`, OPENAI_API_KEY: PROVIDER_KEY },
    readyPath: '/healthz',
    compatibilityDate,
    compatibilityFlags,
  });
});

after(async () => {
  if (worker) await stopProcess(worker);
  await mock?.close();
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

// An answer read to its end leaves its connection to the runtime's pool, so
// the next request to the same provider does not open a new one. A stream
// used to be cancelled as soon as its final event arrived, which closed
// the connection after every streamed answer.
for (const stream of [true, false]) {
  test(`${stream ? 'streamed' : 'whole'} answers in a row reuse one upstream connection`, async () => {
    const id = mock.createScenario([{}]);
    for (let i = 0; i < 5; i++) {
      const res = await call('/v1/chat/completions', { model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: `connection ${i} mock-scenario:${id}` }] });
      assert.equal(res.status, 200);
      if (stream) assert.match(await res.text(), /data: \[DONE\]\n\n$/);
      else assert.match((await res.json()).choices[0].message.content, /^Mock reply: connection/);
    }
    const seen = mock.scenario(id);
    assert.equal(seen.requests, 5);
    const ports = new Set(seen.log.map((entry) => entry.remotePort));
    assert.equal(ports.size, 1, `the five requests came on ${ports.size} connections`);
  });
}

// A crash (here a panic, in test mode, on purpose) loses the wasm instance.
// The next request must get a new one — worker/entry.js sends it through
// worker-build's recovery path — not "Module terminated" forever after.
test('after the wasm instance crashes, the next request gets a new one', async () => {
  const crashTemp = tempDir('edgeway-crash-');
  const { main, compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  const admin = 'ew-bare-workerd-admin';
  const crashing = await startWorker({
    name: 'edgeway-crash',
    dir: crashTemp.dir,
    modules: moduleGraph(join(repoRoot, main)),
    bindings: { EDGEWAY_DEV_KEY: KEY, EDGEWAY_TEST_MODE: '1', EDGEWAY_ADMIN_TOKEN: admin },
    readyPath: '/healthz',
    compatibilityDate,
    compatibilityFlags,
  });
  try {
    const ask = (content) => fetch(`${crashing.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content }] }),
    });
    assert.equal((await ask('before')).status, 200);
    // The instance keeps the test clock; a new instance starts it afresh.
    const advanced = await fetch(`${crashing.url}/admin/api/test/clock`, {
      method: 'POST', headers: { 'x-edgeway-admin-token': admin }, body: JSON.stringify({ advance_ms: 3_600_000 }),
    });
    const before = (await advanced.json()).now_ms;

    const crash = await fetch(`${crashing.url}/admin/api/test/crash`, { method: 'POST', headers: { 'x-edgeway-admin-token': admin } });
    assert.equal(crash.status, 500);
    await crash.arrayBuffer();
    assert.match(readFileSync(join(crashTemp.dir, 'workerd.log'), 'utf8'), /crashed on purpose/);

    for (const content of ['after', 'and again']) {
      const answer = await ask(content);
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.equal((await answer.json()).choices[0].message.content, `You said: ${content}`);
    }
    const clock = await fetch(`${crashing.url}/admin/api/test/clock`, {
      method: 'POST', headers: { 'x-edgeway-admin-token': admin }, body: JSON.stringify({ advance_ms: 0 }),
    });
    assert.ok((await clock.json()).now_ms < before, 'the test clock was not reset: the old instance answered');
  } finally {
    await stopProcess(crashing);
    crashTemp.remove();
  }
});
