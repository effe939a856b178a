// The response cache end to end: a repeated question is answered from KV
// without calling the upstream (counted on the mock), streamed and
// non-streamed answers share one entry, keys never share entries, and
// nothing broken is ever stored. Expiry, purges and KV failures are in
// serial-cache.test.mjs (they move the clock or switch KV off).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ask, cacheWrite, chat, chatAs, contentOf, createKey, logRecord, readEvents, scenario, scenarioState,
} from './helpers.mjs';

const ROUTE = 'gpt-4o-mini-cached';
const deterministic = (text, extra = {}) => ask(ROUTE, text, { temperature: 0, ...extra });

test('a miss calls the upstream once; the same question again is a hit from the cache', async () => {
  const { id, tag } = await scenario([{}]);
  const first = await chat(deterministic(`capital of France? ${tag}`));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-edgeway-cache'), 'MISS');
  const answer = await first.json();
  assert.deepEqual(await cacheWrite(first.headers.get('x-request-id')), { stored: true, reason: undefined });

  // Field order and whitespace do not matter.
  const again = await chat(`{ "temperature": 0,
    "messages": [{"content": "capital of France? ${tag}", "role": "user"}], "model": "${ROUTE}" }`);
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('x-edgeway-cache'), 'HIT');
  assert.equal(again.headers.get('x-edgeway-attempts'), '0');
  assert.match(again.headers.get('x-edgeway-cache-age'), /^\d+$/);
  assert.equal(again.headers.get('x-edgeway-provider'), 'openai');
  const cached = await again.json();
  assert.equal(cached.choices[0].message.content, answer.choices[0].message.content);
  assert.deepEqual(cached.usage, answer.usage);
  assert.notEqual(cached.id, answer.id, 'a hit is a new response');
  assert.equal((await scenarioState(id)).requests, 1, 'the upstream was called once');

  const record = await logRecord(again.headers.get('x-request-id'));
  assert.equal(record.cache, 'hit');
  assert.equal(record.cost_usd, 0);
  assert.ok(record.cost_saved_usd > 0, 'the hit saved the original cost');
});

test('a streamed miss is stored and served to streamed and non-streamed callers alike', async () => {
  const { id, tag } = await scenario([{ pieces: ['Paris ', 'is ', 'the  capital.\n', 'Oui ', '— ', 'ça ', 'va.'] }]);
  const miss = await chat(deterministic(`stream me ${tag}`, { stream: true }));
  assert.equal(miss.headers.get('x-edgeway-cache'), 'MISS');
  const streamed = contentOf(await readEvents(miss));
  assert.equal(streamed, 'Paris is the  capital.\nOui — ça va.');
  assert.equal((await cacheWrite(miss.headers.get('x-request-id'))).stored, true);

  const replay = await chat(deterministic(`stream me ${tag}`, { stream: true, stream_options: { include_usage: true } }));
  assert.equal(replay.headers.get('x-edgeway-cache'), 'HIT');
  assert.match(replay.headers.get('content-type'), /text\/event-stream/);
  const events = await readEvents(replay);
  assert.equal(contentOf(events), streamed);
  const chunks = events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data));
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
  assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, 'stop');
  assert.ok(chunks.at(-1).usage.completion_tokens > 0, 'usage, as asked');
  assert.equal(events.at(-1).data, '[DONE]');

  const whole = await chat(deterministic(`stream me ${tag}`));
  assert.equal(whole.headers.get('x-edgeway-cache'), 'HIT');
  assert.equal((await whole.json()).choices[0].message.content, streamed);
  assert.equal((await scenarioState(id)).requests, 1);
});

test('two keys never share entries', async () => {
  const { id, tag } = await scenario([{}]);
  const [a, b] = await Promise.all([createKey({}), createKey({})]);
  const first = await chatAs(a.key, deterministic(`tenant question ${tag}`));
  await cacheWrite(first.headers.get('x-request-id'));
  assert.equal((await chatAs(a.key, deterministic(`tenant question ${tag}`))).headers.get('x-edgeway-cache'), 'HIT');
  const other = await chatAs(b.key, deterministic(`tenant question ${tag}`));
  assert.equal(other.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await scenarioState(id)).requests, 2);
});

test('an interrupted stream and an upstream error are never cached', async () => {
  const cut = await scenario([{ dropAfterChunks: 2 }, {}]);
  const broken = await chat(deterministic(`cut ${cut.tag}`, { stream: true }));
  const events = await readEvents(broken);
  assert.equal(JSON.parse(events.at(-1).data).error.code, 'stream_interrupted');
  assert.equal((await cacheWrite(broken.headers.get('x-request-id'))).stored, false);
  const next = await chat(deterministic(`cut ${cut.tag}`, { stream: true }));
  assert.equal(next.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal(contentOf(await readEvents(next)), `Mock reply: cut ${cut.tag}`);

  const failing = await scenario([{ status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', code: 'invalid_request' } } }, {}]);
  const error = await chat(deterministic(`fails ${failing.tag}`));
  assert.equal(error.status, 400);
  const after = await chat(deterministic(`fails ${failing.tag}`));
  assert.equal(after.status, 200);
  assert.equal(after.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await scenarioState(failing.id)).requests, 2);
});

test('skip bypasses, refresh replaces, and sampled requests bypass unless the route caches every temperature', async () => {
  const { id, tag } = await scenario([{ pieces: ['first'] }, { pieces: ['second'] }, { pieces: ['third'] }]);
  const body = deterministic(`control ${tag}`);
  const stored = await chat(body);
  await cacheWrite(stored.headers.get('x-request-id'));
  const skipped = await chat(body, { headers: { 'x-edgeway-cache': 'skip' } });
  assert.equal(skipped.headers.get('x-edgeway-cache'), 'BYPASS');
  assert.equal((await skipped.json()).choices[0].message.content, 'second');
  const refreshed = await chat(body, { headers: { 'x-edgeway-cache': 'refresh' } });
  assert.equal(refreshed.headers.get('x-edgeway-cache'), 'REFRESH');
  await cacheWrite(refreshed.headers.get('x-request-id'));
  const hit = await chat(body);
  assert.equal((await hit.json()).choices[0].message.content, 'third', 'the refreshed answer replaced the old one');
  assert.equal((await scenarioState(id)).requests, 3);

  const sampled = await chat(ask(ROUTE, `sampled ${tag}`, { temperature: 0.8 }));
  assert.equal(sampled.headers.get('x-edgeway-cache'), 'BYPASS');
  const bad = await chat(body, { headers: { 'x-edgeway-cache': 'sometimes' } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.param, 'x-edgeway-cache');
});

test('demo-cached: two identical requests, the second a hit', async () => {
  const text = `Hello, cache ${Math.random()}`;
  const first = await chat(ask('demo-cached', text));
  assert.equal(first.headers.get('x-edgeway-cache'), 'MISS');
  await cacheWrite(first.headers.get('x-request-id'));
  const second = await chat(ask('demo-cached', text));
  assert.equal(second.headers.get('x-edgeway-cache'), 'HIT');
  assert.equal((await second.json()).choices[0].message.content, `You said: ${text}`);
});
