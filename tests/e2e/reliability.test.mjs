// Retries, fallback and circuit breaking, as a caller sees them: the answer,
// the attempt headers, the attempts in the log, and the upstream's own count
// of the calls it received.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, contentOf, expectError, logRecord, readEvents, scenario, scenarioState } from './helpers.mjs';

const pin = (id) => ({ headers: { 'x-edgeway-target': `openai/r-${id}` } });

test('a 429 with Retry-After is retried after the wait it asked for, then answered', async () => {
  const { id, tag } = await scenario([{ status: 429, retryAfter: '1' }, {}]);
  const res = await chat(ask('gpt-4o-mini', `patience ${tag}`), pin(id));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).choices[0].message.content, `Mock reply: patience ${tag}`);
  assert.equal(res.headers.get('x-edgeway-attempts'), '2');
  const { log } = await scenarioState(id);
  assert.equal(log.length, 2);
  const waited = log[1].receivedAt - log[0].receivedAt;
  assert.ok(waited >= 950, `the retry came ${waited} ms after the 429, not after Retry-After`);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.deepEqual(record.attempts.map((a) => [a.outcome, a.status ?? null]), [['retry', 429], ['ok', 200]]);
});

test('503s are retried with backoff, then the next target answers', async () => {
  const { id, tag } = await scenario([{ status: 503 }]);
  const res = await chat(ask('openai-retry', `fall back ${tag}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-provider'), 'demo');
  assert.equal(res.headers.get('x-edgeway-model'), 'echo');
  assert.match((await res.json()).choices[0].message.content, /^You said: fall back/);
  const record = await logRecord(res.headers.get('x-request-id'));
  const outcomes = record.attempts.map((a) => `${a.target}:${a.outcome}`);
  // Three calls to the failing target (unless its circuit was already open), then the fallback.
  assert.equal(outcomes.at(-1), 'demo/echo:ok');
  const upstreamCalls = (await scenarioState(id)).requests;
  assert.equal(upstreamCalls, record.attempts.filter((a) => a.target === 'openai/gpt-4.1-mini' && a.outcome !== 'skipped').length);
  assert.ok(upstreamCalls <= 3);
});

test('a stream that fails before its first chunk is retried transparently', async () => {
  // First a 503, then a stream that breaks before its first event, then a good one.
  const { id, tag } = await scenario([{ status: 503 }, { malformed: 'json' }, { pieces: ['all ', 'good'] }]);
  const res = await chat(ask('gpt-4o-mini', `stream ${tag}`, { stream: true }), pin(id));
  assert.equal(res.status, 200);
  const events = await readEvents(res);
  assert.equal(contentOf(events), 'all good');
  assert.equal(events.at(-1).data, '[DONE]');
  assert.equal(res.headers.get('x-edgeway-attempts'), '3');
  assert.equal((await scenarioState(id)).requests, 3);
});

test('demo-retry: flaky-2 succeeds on the third attempt', async () => {
  const res = await chat(ask('demo-retry', 'third time lucky'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-attempts'), '3');
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.deepEqual(record.attempts.map((a) => a.outcome), ['retry', 'retry', 'ok']);
});

test('demo-fallback: a dead first target hands over to echo', async () => {
  const res = await chat(ask('demo-fallback', 'anyone home'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-model'), 'echo');
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.ok(['fallback', 'skipped'].includes(record.attempts[0].outcome), record.attempts[0].outcome);
});

test('every target failing is one clear 503 listing every attempt', async () => {
  const res = await chat(ask('demo-down', 'is anything up'));
  const error = await expectError(res, 503, 'upstream_unavailable', assert);
  assert.match(error.message, /demo\/fail-503/);
  assert.match(error.message, /demo\/fail-500/);
});

test('x-edgeway-fallback: off keeps the request on its first target', async () => {
  const res = await chat(ask('demo-fallback', 'stay'), { headers: { 'x-edgeway-fallback': 'off' } });
  assert.ok([502, 503].includes(res.status), String(res.status));
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.ok(record.attempts.every((a) => a.target === 'demo/fail-503'));
});

test('a pinned target that does not exist is refused with a clear 400', async () => {
  const error = await expectError(await chat(ask('demo', 'x'), { headers: { 'x-edgeway-target': 'nowhere/model' } }), 400, 'invalid_request', assert);
  assert.equal(error.param, 'x-edgeway-target');
});

test('after repeated failures the circuit opens and later requests skip the dead target without calling it', async () => {
  const { id, tag } = await scenario([{ status: 503 }]);
  // openai-fast makes no retries: one upstream call per request.
  for (let i = 0; i < 5; i++) {
    const res = await chat(ask('openai-fast', `down ${tag}`), pin(id));
    assert.equal(res.status, 502);
  }
  assert.equal((await scenarioState(id)).requests, 5);
  const res = await chat(ask('openai-fast', `down ${tag}`), pin(id));
  await expectError(res, 503, 'upstream_unavailable', assert);
  assert.equal((await scenarioState(id)).requests, 5, 'the open circuit spared the upstream');
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.deepEqual(record.attempts.map((a) => a.outcome), ['skipped']);
});

test('weighted targets split traffic by weight', async () => {
  const n = 200;
  const models = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await chat(ask('demo-balanced', `request ${i}`));
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    return res.headers.get('x-edgeway-model');
  }));
  const echo = models.filter((m) => m === 'echo').length;
  assert.equal(echo + models.filter((m) => m === 'tools').length, n);
  // 3:1 weights: 150 of 200 expected; ±30 is over four standard deviations.
  assert.ok(Math.abs(echo - 150) <= 30, `echo answered ${echo} of ${n}`);
});

test('a Retry-After longer than the deadline allows moves to the next target at once', async () => {
  const { id, tag } = await scenario([{ status: 429, retryAfter: '30' }]);
  const started = Date.now();
  const res = await chat(ask('openai-retry', `no time ${tag}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-model'), 'echo');
  assert.ok(Date.now() - started < 5_000, 'did not wait for the 30 s Retry-After');
  assert.ok((await scenarioState(id)).requests <= 1);
});

test('a stream never outlives the route\'s total deadline', async () => {
  // Each chunk comes within the idle timeout (2 s), but the whole answer
  // would take ~18 s against a total of 8 s.
  const pieces = Array.from({ length: 20 }, (_, i) => `w${i} `);
  const { id, tag } = await scenario([{ pieces, chunkDelayMs: 900 }]);
  const started = Date.now();
  const res = await chat(ask('openai-retry', `slowly ${tag}`, { stream: true }), pin(id));
  const events = await readEvents(res);
  const elapsed = Date.now() - started;
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.code, 'stream_interrupted');
  assert.match(last.error.message, /total deadline/);
  assert.ok(elapsed >= 7_500 && elapsed < 11_000, `ended after ${elapsed} ms`);
});

test('flaky-n counts attempts across a client\'s retries with the same idempotency key', async () => {
  // demo-fallback makes no retries; the pin puts it on flaky-1 alone, so each
  // request makes exactly one attempt.
  const key = `idem-${Date.now()}-${Math.random()}`;
  const headers = { 'x-edgeway-target': 'demo/flaky-1', 'x-edgeway-idempotency-key': key };
  const first = await chat(ask('demo-fallback', 'again'), { headers });
  assert.equal(first.status, 502, 'the first try fails');
  const retried = await chat(ask('demo-fallback', 'again'), { headers });
  assert.equal(retried.status, 200, 'the client\'s retry with the same key is the second attempt');
  const fresh = await chat(ask('demo-fallback', 'again'), { headers: { 'x-edgeway-target': 'demo/flaky-1' } });
  assert.equal(fresh.status, 502, 'without the key, counting starts afresh');
});
