// Real clients, unmodified: the official `openai` package and the Vercel `ai`
// SDK (through `@ai-sdk/openai`'s chat-completions model) pointed at the
// gateway complete a non-streaming and a streaming request, and an aborted
// stream. Every assertion is on what a user of that client sees; the mock's
// record of the upstream call and the gateway's log record are only used to
// confirm what happened behind the client.
//
// Run with: node tests/run.mjs tests/e2e/clients.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import {
  GATEWAY, GATEWAY_KEY, PROVIDER_KEY, scenario, scenarioState, logRecord, logRecords, gatewayLogText, waitFor,
} from './helpers.mjs';

const BASE_URL = `${GATEWAY}/v1`;

// Everything the clients handed back to us (bodies, chunks, errors, headers),
// as text, to check at the end that the provider key never reached a caller.
const received = [];
function keep(value) {
  received.push(typeof value === 'string' ? value : JSON.stringify(value));
  return value;
}
function keepHeaders(headers) {
  const entries = typeof headers?.entries === 'function' ? [...headers.entries()] : Object.entries(headers ?? {});
  keep(entries.map(([k, v]) => `${k}: ${v}`).join('\n'));
  return headers;
}
function keepError(error) {
  keep(`${error?.name}: ${error?.message}`);
  if (error?.error) keep(error.error);
  if (error?.headers) keepHeaders(error.headers);
  return error;
}

/** An openai client that reports what it sees, without retries masking it. */
function openai() {
  return new OpenAI({ baseURL: BASE_URL, apiKey: GATEWAY_KEY, maxRetries: 0 });
}

/** The ai SDK's chat-completions model for `model`, served by the gateway. */
function aiModel(model) {
  return createOpenAI({ baseURL: BASE_URL, apiKey: GATEWAY_KEY }).chat(model);
}

/** The pieces the mock and the demo split an answer into: one per word. */
function wordCount(text) {
  return text.split(/\s+/).filter(Boolean).length;
}

/** The mock's prompt-token estimate: ceil(characters of all contents / 4). */
function mockPromptTokens(...contents) {
  return Math.ceil(contents.join('').length / 4);
}

function user(content) {
  return [{ role: 'user', content }];
}

/** Headers every gateway answer carries, checked as the client exposes them. */
function assertGatewayHeaders(get, { provider, route, model }) {
  assert.match(get('x-request-id') ?? '', /\S/, 'x-request-id is set');
  assert.equal(get('x-edgeway-provider'), provider);
  assert.equal(get('x-edgeway-route'), route);
  assert.equal(get('x-edgeway-model'), model);
  assert.equal(get('x-edgeway-attempts'), '1');
}

/** Reads a whole openai stream: its chunks, their text and any thrown error. */
async function drain(stream) {
  const chunks = [];
  let error;
  try {
    for await (const chunk of stream) chunks.push(keep(chunk));
  } catch (e) {
    error = keepError(e);
  }
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  return { chunks, text, error };
}

/** The full `demo-story` answer to `prompt`; non-streamed, so it is instant. */
async function fullStory(prompt) {
  const story = await openai().chat.completions.create({ model: 'demo-story', messages: user(prompt) });
  keep(story);
  const text = story.choices[0].message.content;
  assert.ok(wordCount(text) > 100, `the story is long (${wordCount(text)} words)`);
  return text;
}

// ---------------------------------------------------------------------------
// openai: non-streaming

test('openai: a non-streamed completion from the demo model', async () => {
  const prompt = 'hello from the official openai client';
  const { data, response, request_id } = await openai().chat.completions
    .create({ model: 'demo', messages: user(prompt) })
    .withResponse();
  keep(data);
  keepHeaders(response.headers);

  const expected = `You said: ${prompt}`;
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices.length, 1);
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.equal(data.choices[0].message.content, expected);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0, 'prompt tokens counted');
  assert.equal(data.usage.completion_tokens, wordCount(expected));
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);

  assertGatewayHeaders((h) => response.headers.get(h), { provider: 'demo', route: 'demo', model: 'echo' });
  assert.equal(request_id, response.headers.get('x-request-id'), 'the client exposes the gateway request id');

  const record = await logRecord(request_id);
  assert.equal(record.outcome, 'ok');
  assert.equal(record.status, 200);
  assert.equal(record.stream, false);
});

test('openai: a non-streamed completion from gpt-4o-mini (openai provider, mock upstream)', async () => {
  const { id, tag } = await scenario([{}]);
  const prompt = `What is the capital of France? ${tag}`;
  const { data, response, request_id } = await openai().chat.completions
    .create({ model: 'gpt-4o-mini', messages: user(prompt) })
    .withResponse();
  keep(data);
  keepHeaders(response.headers);

  const expected = `Mock reply: ${prompt}`;
  assert.equal(data.choices[0].message.content, expected);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.deepEqual(
    { prompt: data.usage.prompt_tokens, completion: data.usage.completion_tokens, total: data.usage.total_tokens },
    { prompt: mockPromptTokens(prompt), completion: wordCount(expected), total: mockPromptTokens(prompt) + wordCount(expected) },
  );
  assertGatewayHeaders((h) => response.headers.get(h), { provider: 'openai', route: 'gpt-4o-mini', model: 'gpt-4o-mini' });
  assert.equal(request_id, response.headers.get('x-request-id'));

  // Behind the client: one upstream call, with the provider key, not ours.
  const seen = await scenarioState(id);
  assert.equal(seen.requests, 1);
  assert.equal(seen.log[0].headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assert.equal(seen.log[0].body.model, 'gpt-4o-mini');

  const record = await logRecord(request_id);
  assert.equal(record.outcome, 'ok');
  assert.equal(record.provider, 'openai');
});

// ---------------------------------------------------------------------------
// openai: streaming

for (const target of ['demo', 'gpt-4o-mini']) {
  test(`openai: a stream from ${target} with include_usage ends with a usage chunk`, async () => {
    const { id, tag } = await scenario([{ chunkDelayMs: 5 }]);
    const prompt = target === 'demo' ? 'stream these words back please' : `stream these words back please ${tag}`;
    const expected = target === 'demo' ? `You said: ${prompt}` : `Mock reply: ${prompt}`;
    const { data: stream, response } = await openai().chat.completions
      .create({ model: target, messages: user(prompt), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    keepHeaders(response.headers);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    assertGatewayHeaders((h) => response.headers.get(h), {
      provider: target === 'demo' ? 'demo' : 'openai', route: target, model: target === 'demo' ? 'echo' : 'gpt-4o-mini',
    });

    const { chunks, text, error } = await drain(stream);
    assert.equal(error, undefined, 'the stream ends without an error');
    assert.equal(text, expected, 'the deltas add up to the answer');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'one completion id on every chunk');
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'), 'a finish chunk arrives');

    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
    assert.ok(last.usage.prompt_tokens > 0);
    assert.equal(last.usage.completion_tokens, wordCount(expected));
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    if (target === 'gpt-4o-mini') assert.equal(last.usage.prompt_tokens, mockPromptTokens(prompt));
    for (const chunk of chunks.slice(0, -1)) assert.ok(!chunk.usage, 'only the last chunk carries usage');

    const record = await logRecord(response.headers.get('x-request-id'));
    assert.equal(record.outcome, 'ok');
    assert.equal(record.stream, true);
    assert.equal(record.tokens_out, wordCount(expected));
    if (target === 'gpt-4o-mini') assert.equal((await scenarioState(id)).log[0].body.stream_options?.include_usage, true);
  });

  test(`openai: a stream from ${target} without include_usage carries no usage`, async () => {
    const { id, tag } = await scenario([{ chunkDelayMs: 5 }]);
    const prompt = target === 'demo' ? 'no usage for me thanks' : `no usage for me thanks ${tag}`;
    const expected = target === 'demo' ? `You said: ${prompt}` : `Mock reply: ${prompt}`;
    const { data: stream, response } = await openai().chat.completions
      .create({ model: target, messages: user(prompt), stream: true })
      .withResponse();
    keepHeaders(response.headers);

    const { chunks, text, error } = await drain(stream);
    assert.equal(error, undefined);
    assert.equal(text, expected);
    assert.equal(chunks.at(-1).choices[0]?.finish_reason, 'stop', 'the finish chunk is the last one');
    assert.deepEqual(chunks.filter((c) => c.usage), [], 'no chunk carries usage totals');
    assert.ok(chunks.every((c) => c.choices.length === 1), 'no empty-choices usage chunk');

    // The gateway still asked the upstream for usage, and counted it.
    if (target === 'gpt-4o-mini') assert.equal((await scenarioState(id)).log[0].body.stream_options?.include_usage, true);
    const record = await logRecord(response.headers.get('x-request-id'));
    assert.equal(record.outcome, 'ok');
    assert.equal(record.tokens_out, wordCount(expected));
  });
}

// ---------------------------------------------------------------------------
// openai: aborted streams

for (const how of ['an AbortSignal', 'stream.controller.abort()']) {
  test(`openai: a demo-story stream aborted with ${how} stops promptly and is logged as client_closed`, async () => {
    const prompt = `tell me a story, aborted with ${how}`;
    const story = await fullStory(prompt);
    const ac = new AbortController();
    const started = performance.now();
    const { data: stream, response } = await openai().chat.completions
      .create({ model: 'demo-story', messages: user(prompt), stream: true }, { signal: ac.signal })
      .withResponse();
    keepHeaders(response.headers);
    const requestId = response.headers.get('x-request-id');

    const chunks = [];
    let abortedAt;
    let error;
    try {
      for await (const chunk of stream) {
        chunks.push(keep(chunk));
        if (chunks.length === 4) {
          abortedAt = performance.now();
          if (how === 'an AbortSignal') ac.abort();
          else stream.controller.abort();
        }
      }
    } catch (e) {
      error = keepError(e);
    }
    const endedAt = performance.now();

    // openai v6 ends the iteration quietly when the caller aborts a stream
    // whose response has arrived (Stream.fromSSEResponse swallows the abort
    // error); APIUserAbortError is for aborts before the response (next test).
    assert.equal(error, undefined, `the iteration ends without throwing (got ${error})`);
    assert.ok(abortedAt, 'four chunks arrived before the abort');
    assert.ok(endedAt - abortedAt < 1000, `the iteration ended ${Math.round(endedAt - abortedAt)} ms after the abort`);
    assert.ok(endedAt - started < 3000, 'far sooner than the whole story would take');
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.ok(chunks.length < wordCount(story), `${chunks.length} chunks, fewer than the ${wordCount(story)} words of the story`);
    assert.ok(story.startsWith(text) && text.length < story.length, 'a strict prefix of the story');
    assert.ok(chunks.every((c) => !c.choices[0]?.finish_reason), 'no finish chunk was seen');

    // The runtime delivered the disconnect: the gateway noticed the caller
    // left before the end (outcome "ok" would mean it played to the end).
    const record = await logRecord(requestId);
    assert.equal(record.outcome, 'client_closed');
    assert.equal(record.stream, true);
    assert.ok(record.latency_ms < 3000, `logged after ${record.latency_ms} ms, not after the whole story`);
  });
}

test('openai: aborting before the response arrives throws APIUserAbortError', async () => {
  const ac = new AbortController();
  const call = openai().chat.completions.create(
    { model: 'demo-slow', messages: user('never mind'), stream: true },
    { signal: ac.signal },
  );
  const calledAt = performance.now();
  setTimeout(() => ac.abort(), 100); // the action under test, not a wait
  const error = await call.then(() => null, (e) => keepError(e));
  const endedAt = performance.now();
  assert.ok(error instanceof OpenAI.APIUserAbortError, `APIUserAbortError, got ${error?.constructor?.name}: ${error?.message}`);
  assert.ok(endedAt - calledAt < 1000, `thrown ${Math.round(endedAt - calledAt)} ms after the call (demo-slow waits 1500 ms)`);
});

// ---------------------------------------------------------------------------
// openai: errors

test('openai: an unknown model surfaces as NotFoundError with code model_not_found', async () => {
  const error = await openai().chat.completions
    .create({ model: 'no-such-model', messages: user('hello') })
    .then(() => null, (e) => keepError(e));
  assert.ok(error instanceof OpenAI.NotFoundError, `NotFoundError, got ${error?.constructor?.name}: ${error?.message}`);
  assert.equal(error.status, 404);
  assert.equal(error.code, 'model_not_found');
  assert.match(error.message, /no-such-model/);
  assert.match(error.requestID ?? '', /\S/, 'the error carries the gateway request id');
  const record = await logRecord(error.requestID);
  assert.equal(record.outcome, 'error');
  assert.equal(record.error_code, 'model_not_found');
});

test('openai: an upstream drop mid-stream throws from the iterator with code stream_interrupted', async () => {
  const { id, tag } = await scenario([{ dropAfterChunks: 2, chunkDelayMs: 20 }]);
  const prompt = `one two three four five six seven ${tag}`;
  const { data: stream, response } = await openai().chat.completions
    .create({ model: 'gpt-4o-mini', messages: user(prompt), stream: true })
    .withResponse();
  keepHeaders(response.headers);
  assert.equal(response.status, 200, 'the stream had started');

  const { chunks, text, error } = await drain(stream);
  // The mock writes two content chunks and destroys the socket; the second
  // one does not always leave the mock before the socket goes, so the caller
  // sees the first one or both. Either way: a strict prefix, then the error.
  const answer = `Mock reply: ${prompt}`;
  assert.ok(text.length > 0 && answer.startsWith(text) && text.length <= 'Mock reply: '.length,
    `the chunks sent before the drop arrived (${JSON.stringify(text)})`);
  assert.ok(chunks.every((c) => !c.choices[0]?.finish_reason), 'no finish chunk: it must not look complete');
  assert.ok(error instanceof OpenAI.APIError, `the iterator throws an APIError, got ${error?.constructor?.name}: ${error?.message}`);
  assert.equal(error.code, 'stream_interrupted');
  assert.equal(error.type, 'server_error');

  assert.equal((await scenarioState(id)).requests, 1, 'no hidden retry after the stream started');
  const record = await logRecord(response.headers.get('x-request-id'));
  assert.equal(record.outcome, 'interrupted');
  assert.equal(record.error_code, 'stream_interrupted');
});

test('openai: upstream errors that echo the provider key reach the client without it', async () => {
  // An upstream that echoes the key it was given: whatever the gateway makes
  // of the error, the key must not be in it.
  const echoed = (code) => ({ error: { message: `Incorrect API key provided: ${PROVIDER_KEY}.`, type: 'invalid_request_error', param: null, code } });
  const rejected = await scenario([{ status: 401, body: echoed('invalid_api_key') }]);
  const broken = await scenario([{ status: 500, body: echoed(null) }]);

  // 401 from the upstream: the gateway's own key is wrong, the caller's is fine.
  const e401 = await openai().chat.completions
    .create({ model: 'gpt-4o-mini', messages: user(`hello ${rejected.tag}`) })
    .then(() => null, (e) => keepError(e));
  assert.ok(e401 instanceof OpenAI.InternalServerError, `InternalServerError, got ${e401?.constructor?.name}: ${e401?.message}`);
  assert.equal(e401.status, 502);
  assert.equal(e401.code, 'gateway_misconfigured');

  // 500 from the upstream, message passed along: redacted.
  // openai-fast has no gateway retries; a target of its own keeps this
  // test's failure out of the shared target's circuit breaker.
  const e500 = await openai().chat.completions
    .create({ model: 'openai-fast', messages: user(`hello ${broken.tag}`) }, { headers: { 'x-edgeway-target': `openai/echo-${broken.id}` } })
    .then(() => null, (e) => keepError(e));
  assert.ok(e500 instanceof OpenAI.InternalServerError, `InternalServerError, got ${e500?.constructor?.name}: ${e500?.message}`);
  assert.equal(e500.status, 502);
  assert.equal(e500.code, 'upstream_error');
  assert.match(e500.message, /Incorrect API key provided: \[redacted\]/, 'the upstream message, with the key redacted');

  for (const error of [e401, e500]) {
    assert.ok(!JSON.stringify(error.error).includes(PROVIDER_KEY), `the error body does not show the provider key: ${JSON.stringify(error.error)}`);
    assert.ok(!error.message.includes(PROVIDER_KEY), 'the error message does not show the provider key');
  }
  assert.equal((await scenarioState(broken.id)).requests, 1, 'maxRetries: 0 and no gateway retry');
});

// ---------------------------------------------------------------------------
// ai SDK (ai v5 + @ai-sdk/openai v2, chat-completions model)

for (const target of ['demo', 'gpt-4o-mini']) {
  test(`ai SDK: generateText through ${target}`, async () => {
    const { tag } = await scenario([{}]);
    const prompt = target === 'demo' ? 'generate some text for me' : `generate some text for me ${tag}`;
    const expected = target === 'demo' ? `You said: ${prompt}` : `Mock reply: ${prompt}`;
    const result = await generateText({ model: aiModel(target), prompt, maxRetries: 0 });
    keep(result.text);
    keep(result.response.body ?? '');
    keepHeaders(result.response.headers);

    assert.equal(result.text, expected);
    assert.equal(result.finishReason, 'stop');
    assert.ok(result.usage.inputTokens > 0);
    assert.equal(result.usage.outputTokens, wordCount(expected));
    assert.equal(result.usage.totalTokens, result.usage.inputTokens + result.usage.outputTokens);
    if (target === 'gpt-4o-mini') assert.equal(result.usage.inputTokens, mockPromptTokens(prompt));
    assertGatewayHeaders((h) => result.response.headers[h], {
      provider: target === 'demo' ? 'demo' : 'openai', route: target, model: target === 'demo' ? 'echo' : 'gpt-4o-mini',
    });
    assert.equal((await logRecord(result.response.headers['x-request-id'])).outcome, 'ok');
  });

  test(`ai SDK: streamText through ${target}`, async () => {
    const { tag } = await scenario([{ chunkDelayMs: 5 }]);
    const prompt = target === 'demo' ? 'stream some text for me' : `stream some text for me ${tag}`;
    const expected = target === 'demo' ? `You said: ${prompt}` : `Mock reply: ${prompt}`;
    const errors = [];
    const result = streamText({ model: aiModel(target), prompt, maxRetries: 0, onError: ({ error }) => errors.push(keepError(error)) });
    const deltas = [];
    for await (const delta of result.textStream) deltas.push(keep(delta));

    assert.deepEqual(errors, []);
    assert.ok(deltas.length > 1, `streamed in pieces (${deltas.length})`);
    assert.equal(deltas.join(''), expected);
    assert.equal(await result.text, expected);
    assert.equal(await result.finishReason, 'stop');
    const usage = await result.usage;
    assert.ok(usage.inputTokens > 0);
    assert.equal(usage.outputTokens, wordCount(expected));
    assert.equal(usage.totalTokens, usage.inputTokens + usage.outputTokens);
    if (target === 'gpt-4o-mini') assert.equal(usage.inputTokens, mockPromptTokens(prompt));
    const response = await result.response;
    keepHeaders(response.headers);
    assert.equal(response.headers['x-edgeway-provider'], target === 'demo' ? 'demo' : 'openai');
    const record = await logRecord(response.headers['x-request-id']);
    assert.equal(record.outcome, 'ok');
    assert.equal(record.stream, true);
  });
}

test('ai SDK: streamText aborted with abortSignal stops promptly and cancels the upstream', async () => {
  const words = Array.from({ length: 200 }, (_, i) => `word${i}`);
  const { id, tag } = await scenario([{ pieces: words.map((w) => `${w} `), chunkDelayMs: 20 }]);
  const clientRequestId = `ai-sdk-abort-${id}`;
  const ac = new AbortController();
  let onAbortCalled = false;
  const errors = [];
  const started = performance.now();
  const result = streamText({
    model: aiModel('gpt-4o-mini'),
    prompt: `talk for a long time ${tag}`,
    maxRetries: 0,
    abortSignal: ac.signal,
    headers: { 'x-request-id': clientRequestId },
    onAbort: () => { onAbortCalled = true; },
    onError: ({ error }) => errors.push(keepError(error)),
  });
  const deltas = [];
  let abortedAt;
  for await (const delta of result.textStream) {
    deltas.push(keep(delta));
    if (deltas.length === 3) {
      abortedAt = performance.now();
      ac.abort();
    }
  }
  const endedAt = performance.now();

  assert.ok(abortedAt, 'three deltas arrived before the abort');
  assert.ok(endedAt - abortedAt < 1000, `the text stream ended ${Math.round(endedAt - abortedAt)} ms after the abort`);
  assert.ok(endedAt - started < 3000, 'far sooner than the whole answer would take');
  assert.ok(onAbortCalled, 'onAbort was called');
  assert.deepEqual(errors, [], 'an abort is not reported as an error');
  const text = deltas.join('');
  assert.ok(text.length > 0 && words.join(' ').startsWith(text.trimEnd()), `a prefix of the answer: ${JSON.stringify(text)}`);
  assert.ok(deltas.length < words.length, `${deltas.length} deltas, fewer than ${words.length}`);

  // Behind the client: the gateway let go of the upstream, and logged it.
  const seen = await waitFor(async () => {
    const state = await scenarioState(id);
    return state.log[0]?.clientClosedEarly ? state : null;
  }, { what: 'the mock to see the gateway go away', timeoutMs: 5_000 });
  assert.equal(seen.log[0].finished, false);
  const record = await waitFor(() => logRecords().find((r) => r.client_request_id === clientRequestId),
    { what: `log record of ${clientRequestId}`, timeoutMs: 15_000 });
  assert.notEqual(record.request_id, clientRequestId, 'the gateway uses its own request id');
  assert.equal(record.outcome, 'client_closed');
});

// ---------------------------------------------------------------------------
// Secrets

test('the provider key never reached a client, nor the gateway log', () => {
  assert.ok(received.length > 20, `the tests above recorded what they received (${received.length} items)`);
  const leaks = received.filter((text) => text.includes(PROVIDER_KEY));
  assert.deepEqual(leaks, [], 'no response body, chunk, error or header held the provider key');
  assert.ok(!gatewayLogText().includes(PROVIDER_KEY), 'the gateway log never holds the provider key');
});
