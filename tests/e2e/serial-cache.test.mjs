// Cache expiry, purges and KV failures. These move the gateway's test clock
// or switch KV off, so tests/run.mjs runs this file alone, last. Nothing
// sleeps: the clock is moved.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { admin, advanceClock, ask, cacheWrite, chat, chatAs, createKey, scenario, scenarioState, setFaults } from './helpers.mjs';

after(() => setFaults({}));

const ROUTE = 'gpt-4o-mini-cached';
const deterministic = (text) => ask(ROUTE, text, { temperature: 0 });

/** Asks once so the answer is stored; returns the response. */
async function stored(body, headers = {}) {
  const res = await chat(body, { headers });
  assert.equal(res.status, 200);
  assert.equal((await cacheWrite(res.headers.get('x-request-id'))).stored, true);
  return res;
}

test('entries expire by the gateway\'s clock, even under KV\'s 60 s minimum', async () => {
  const { id, tag } = await scenario([{}]);
  await stored(deterministic(`short-lived ${tag}`), { 'x-edgeway-cache-ttl': '10' });
  await advanceClock(9_000);
  const fresh = await chat(deterministic(`short-lived ${tag}`));
  assert.equal(fresh.headers.get('x-edgeway-cache'), 'HIT');
  assert.equal(fresh.headers.get('x-edgeway-cache-age'), '9');
  await advanceClock(2_000);
  assert.equal((await chat(deterministic(`short-lived ${tag}`))).headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await scenarioState(id)).requests, 2);
});

test('a purge of a key\'s namespace, or of everything, empties the cache for it', async () => {
  const { tag } = await scenario([{}]);
  const { key, record } = await createKey({});
  const ask1 = deterministic(`purge me ${tag}`);
  const first = await chatAs(key, ask1);
  await cacheWrite(first.headers.get('x-request-id'));
  assert.equal((await chatAs(key, ask1)).headers.get('x-edgeway-cache'), 'HIT');
  const purged = await admin('cache/purge', { method: 'POST', body: { namespace: record.id } });
  assert.equal(purged.status, 200);
  assert.equal((await chatAs(key, ask1)).headers.get('x-edgeway-cache'), 'MISS');

  const dev = deterministic(`purge all ${tag}`);
  await stored(dev);
  assert.equal((await admin('cache/purge', { method: 'POST', body: {} })).status, 200);
  assert.equal((await chat(dev)).headers.get('x-edgeway-cache'), 'MISS');
});

test('a KV failure degrades to a miss, never to an error', async () => {
  const { id, tag } = await scenario([{}]);
  const body = deterministic(`kv trouble ${tag}`);
  await stored(body);
  await setFaults({ kv_read: true });
  try {
    const res = await chat(body);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-edgeway-cache'), 'MISS');
  } finally {
    await setFaults({});
  }
  await setFaults({ kv_write: true });
  try {
    const res = await chat(deterministic(`kv write trouble ${tag}`));
    assert.equal(res.status, 200);
    assert.deepEqual(await cacheWrite(res.headers.get('x-request-id')), { stored: false, reason: 'KV write failed' });
  } finally {
    await setFaults({});
  }
  // Stored once, then asked again while KV reads failed, then a new question.
  assert.equal((await scenarioState(id)).requests, 3);
});
