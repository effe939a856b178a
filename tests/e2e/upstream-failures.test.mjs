// What a caller sees when the upstream fails: a clear 4xx/5xx with a stable
// code before the stream starts, and a final `stream_interrupted` event once
// it has — never a hang, never a truncated answer that looks complete.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, contentOf, expectError, gatewayLogText, logRecord, readEvents, scenario, scenarioState, waitFor, PROVIDER_KEY } from './helpers.mjs';

// Each test pins a target of its own (same provider, a model name only it
// uses), so the failures it provokes open no circuit other tests go through.
async function failing(step, { model = 'gpt-4o-mini', stream = false } = {}) {
  const { id, tag } = await scenario([step]);
  const res = await chat(ask(model, `fail ${tag}`, { stream }), { headers: { 'x-edgeway-target': `openai/t-${id}` } });
  return { res, id };
}

test('an upstream 500 is upstream_error (502) naming the provider and status', async () => {
  const { res } = await failing({ status: 500 });
  const error = await expectError(res, 502, 'upstream_error', assert);
  assert.match(error.message, /openai/);
  assert.match(error.message, /500/);
  assert.equal(res.headers.get('x-edgeway-provider'), 'openai');
});

test('an upstream 429 with Retry-After is upstream_error (502) once retries on the only target are spent', async () => {
  const { res, id } = await failing({ status: 429, retryAfter: '1' });
  await expectError(res, 502, 'upstream_error', assert);
  assert.equal(res.headers.get('x-edgeway-attempts'), '3');
  assert.equal((await scenarioState(id)).requests, 3);
});

test('an upstream that rejects our key is gateway_misconfigured, and its message (with the key) is not echoed', async () => {
  const body = { error: { message: `Incorrect API key provided: ${PROVIDER_KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } };
  const { res } = await failing({ status: 401, body });
  const error = await expectError(res, 502, 'gateway_misconfigured', assert);
  assert.match(error.message, /OPENAI_API_KEY/);
  assert.ok(!gatewayLogText().includes(PROVIDER_KEY));
});

test('an upstream 400 is passed back as the caller\'s error with the upstream code', async () => {
  const body = { error: { message: 'maximum context length is 128000 tokens', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } };
  const { res } = await failing({ status: 400, body });
  const error = await expectError(res, 400, 'context_length_exceeded', assert);
  assert.equal(error.param, 'messages');
  assert.equal(res.headers.get('x-should-retry'), 'false');
});

test('malformed JSON from the upstream is upstream_error (502)', async () => {
  const { res } = await failing({ malformed: 'json' }, { model: 'openai-fast' });
  const error = await expectError(res, 502, 'upstream_error', assert);
  assert.match(error.message, /not a valid chat completion/);
});

test('an upstream that never sends headers is upstream_timeout (504) after the route\'s header timeout', async () => {
  const { res, id } = await failing({ hang: true }, { model: 'openai-fast' });
  const error = await expectError(res, 504, 'upstream_timeout', assert);
  assert.match(error.message, /response headers/);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.error_code, 'upstream_timeout');
  assert.ok(record.latency_ms >= 2000 && record.latency_ms < 8000, `waited ${record.latency_ms} ms`);
  assert.equal((await scenarioState(id)).requests, 1);
  // Giving up before the headers drops the pending call, and the runtime
  // cancels it when the request ends (a whole answer's call has no abort
  // controller of its own: worker/src/cancel.rs): the upstream sees the
  // gateway hang up. This is the same path a caller leaving before the
  // headers takes where the runtime reports it (the local runtime does not:
  // DESIGN.md).
  await waitFor(async () => (await scenarioState(id)).log[0]?.clientClosedEarly, { what: 'the upstream call to be aborted' });
});

test('a stream whose first token never comes is upstream_timeout (504), not a hung 200', async () => {
  const { res } = await failing({ firstChunkDelayMs: 30_000 }, { model: 'openai-fast', stream: true });
  const error = await expectError(res, 504, 'upstream_timeout', assert);
  assert.match(error.message, /first token/);
});

test('connection refused is upstream_error (502)', async () => {
  // The harness points the llama route's provider at a port where nothing listens.
  const res = await chat(ask('llama', 'anyone there?'));
  const error = await expectError(res, 502, 'upstream_error', assert);
  assert.match(error.message, /ollama/);
});

test('a stream dropped after its first chunks ends with a stream_interrupted event, no [DONE]', async () => {
  const { res } = await failing({ dropAfterChunks: 2, chunkDelayMs: 50, pieces: ['a ', 'b ', 'c ', 'd'] }, { stream: true });
  assert.equal(res.status, 200);
  const events = await readEvents(res);
  assert.ok(events.every((e) => e.data !== '[DONE]'), 'a cut stream must not look complete');
  assert.equal(contentOf(events.slice(0, -1)), 'a b ');
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.code, 'stream_interrupted');
  assert.equal(last.error.request_id, res.headers.get('x-request-id'));
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.outcome, 'interrupted');
  assert.equal(record.error_code, 'stream_interrupted');
});

test('a stream that stalls mid-way is cut at the idle timeout with stream_interrupted', async () => {
  const { res } = await failing({ stallAfterChunks: 1, pieces: ['a ', 'b ', 'c'] }, { model: 'openai-fast', stream: true });
  const events = await readEvents(res);
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.code, 'stream_interrupted');
  assert.match(last.error.message, /idle/);
});

test('malformed SSE from the upstream ends the stream with stream_interrupted', async () => {
  const { res } = await failing({ malformed: 'sse' }, { stream: true });
  const events = await readEvents(res);
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.code, 'stream_interrupted');
  assert.match(last.error.message, /not valid JSON/);
});

test('the demo provider\'s fault models fail the same way', async () => {
  const failed = await chat(ask('demo-fail', 'x'));
  // Retried (or skipped once its circuit opened): either way one clear error.
  assert.ok([502, 503].includes(failed.status), String(failed.status));
  assert.match((await failed.json()).error.code, /^upstream_(error|unavailable)$/);
  const dropped = await readEvents(await chat(ask('demo-drop', 'one two three four five six', { stream: true })));
  assert.equal(JSON.parse(dropped.at(-1).data).error.code, 'stream_interrupted');
});
