// Chat completions through the gateway, streamed and not, via the demo
// provider and via an OpenAI-compatible upstream (the mock).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, contentOf, logRecord, readEvents, scenario, scenarioState, PROVIDER_KEY } from './helpers.mjs';

test('a non-streamed demo answer is a chat.completion with usage and gateway headers', async () => {
  const res = await chat(ask('demo', 'hello edge world'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const body = await res.json();
  assert.equal(body.object, 'chat.completion');
  assert.equal(body.choices[0].message.content, 'You said: hello edge world');
  assert.equal(body.choices[0].finish_reason, 'stop');
  assert.ok(body.usage.prompt_tokens > 0 && body.usage.completion_tokens > 0);
  assert.match(res.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/);
  assert.equal(res.headers.get('x-edgeway-provider'), 'demo');
  assert.equal(res.headers.get('x-edgeway-model'), 'echo');
  assert.equal(res.headers.get('x-edgeway-route'), 'demo');
  assert.equal(res.headers.get('x-edgeway-attempts'), '1');
  assert.equal(res.headers.get('x-edgeway-tokens-out'), String(body.usage.completion_tokens));
});

test('the demo provider is deterministic', async () => {
  const [a, b] = await Promise.all([chat(ask('demo-story', 'once')), chat(ask('demo-story', 'once'))]);
  const [x, y] = [await a.json(), await b.json()];
  assert.equal(x.choices[0].message.content, y.choices[0].message.content);
  assert.ok(x.choices[0].message.content.split(' ').length > 150);
});

test('a streamed demo answer arrives as chunks ending in [DONE]', async () => {
  const res = await chat(ask('demo', 'stream me please', { stream: true, stream_options: { include_usage: true } }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const events = await readEvents(res);
  assert.equal(events.at(-1).data, '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(contentOf(events), 'You said: stream me please');
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.ok(usage.usage.total_tokens > 0);
});

test('an OpenAI-compatible upstream answers through the gateway with our key, not the caller\'s', async () => {
  const { id, tag } = await scenario([{}]);
  const res = await chat(ask('gpt-4o-mini', `hi ${tag}`, { seed: 7, logprobs: false }));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.choices[0].message.content, `Mock reply: hi ${tag}`);
  assert.equal(res.headers.get('x-edgeway-provider'), 'openai');
  assert.equal(res.headers.get('x-edgeway-model'), 'gpt-4o-mini');
  const seen = await scenarioState(id);
  assert.equal(seen.requests, 1);
  const upstream = seen.log[0];
  assert.equal(upstream.headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assert.equal(upstream.body.model, 'gpt-4o-mini', 'the alias is replaced by the target model');
  assert.equal(upstream.body.seed, 7);
  assert.equal(upstream.body.logprobs, false, 'unknown fields are forwarded, not dropped');
});

test('a streamed upstream answer reaches the client chunk by chunk, as the upstream sends it', async () => {
  const pieces = ['one ', 'two ', 'three ', 'four ', 'five'];
  const { id, tag } = await scenario([{ pieces, chunkDelayMs: 250 }]);
  const res = await chat(ask('gpt-4o-mini', `count ${tag}`, { stream: true }));
  assert.equal(res.status, 200);
  const events = await readEvents(res);
  assert.equal(contentOf(events), pieces.join(''));
  assert.equal(events.at(-1).data, '[DONE]');
  // The usage chunk the gateway asked for is not shown to a caller who did not ask.
  assert.ok(events.every((e) => !e.data.includes('"prompt_tokens"')));

  const { log } = await scenarioState(id);
  const emitted = log[0].emitted.filter((e) => e.kind === 'delta');
  const arrived = events.filter((e) => e.data !== '[DONE]' && JSON.parse(e.data).choices[0]?.delta?.content);
  assert.equal(arrived.length, pieces.length);
  // Arrival tracks emission: the first piece arrives long before the last
  // one is even sent (nothing waits for the whole answer), and each piece
  // arrives after it was sent. How soon after is a latency figure, measured
  // by `make bench`, not asserted here.
  assert.ok(arrived[0].at < emitted.at(-1).at - 500, 'first chunk long before the last was emitted');
  for (let i = 0; i < pieces.length; i++) {
    assert.ok(arrived[i].at >= emitted[i].at - 5, `piece ${i} arrived after it was sent`);
  }
  assert.ok(arrived[1].at < emitted.at(-1).at, 'the second piece too arrived before the last was sent');
});

test('each request gets one log record with route, target, usage and timing', async () => {
  const res = await chat(ask('demo', 'log me', { stream: true }));
  await readEvents(res);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.route, 'demo');
  assert.equal(record.provider, 'demo');
  assert.equal(record.model, 'echo');
  assert.equal(record.status, 200);
  assert.equal(record.outcome, 'ok');
  assert.equal(record.stream, true);
  assert.equal(record.attempts.length, 1);
  assert.deepEqual({ target: record.attempts[0].target, outcome: record.attempts[0].outcome }, { target: 'demo/echo', outcome: 'ok' });
  assert.ok(record.tokens_in > 0 && record.tokens_out > 0);
  assert.ok(record.ttft_ms >= 0 && record.ttft_ms <= record.latency_ms);

  const plain = await chat(ask('demo', 'log me too'), { headers: { 'x-request-id': 'client-abc' } });
  const plainId = plain.headers.get('x-request-id');
  assert.notEqual(plainId, 'client-abc', "a caller's request id is never taken as ours");
  const plainRecord = await logRecord(plainId);
  assert.equal(plainRecord.client_request_id, 'client-abc');
  assert.equal(plainRecord.stream, false);
});

test('GET /v1/models lists the routes in OpenAI\'s list shape', async () => {
  const res = await fetch(`${process.env.EDGEWAY_URL}/v1/models`, { headers: { authorization: `Bearer ${(await import('./helpers.mjs')).GATEWAY_KEY}` } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.object, 'list');
  const ids = body.data.map((m) => m.id);
  for (const id of ['demo', 'demo-story', 'gpt-4o-mini']) assert.ok(ids.includes(id), id);
  assert.ok(body.data.every((m) => m.object === 'model'));
});

test('/healthz answers without a key', async () => {
  const res = await fetch(`${process.env.EDGEWAY_URL}/healthz`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).status, 'ok');
});
