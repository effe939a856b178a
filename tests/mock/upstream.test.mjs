// Self-test for the mock upstream: run with `node --test tests/mock/upstream.test.mjs`.
// Talks to the mock directly with fetch and checks every behaviour the
// end-to-end tests rely on.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startMockUpstream } from './upstream.mjs';

const API_KEY = 'sk-test-secret-key';
const MOCK_PATH = fileURLToPath(new URL('./upstream.mjs', import.meta.url));

let mock;
before(async () => { mock = await startMockUpstream({ apiKey: API_KEY }); });
after(() => mock.close());

// ---------------------------------------------------------------------------
// helpers

function chat(body, { key = API_KEY, signal, raw } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  return fetch(`${mock.url}/v1/chat/completions`, {
    method: 'POST', headers, signal, body: raw ?? JSON.stringify(body),
  });
}

function request(text, extra = {}) {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], ...extra };
}

async function newScenario(steps) {
  const res = await fetch(`${mock.url}/__mock/scenarios`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ steps }),
  });
  assert.equal(res.status, 200);
  const { id } = await res.json();
  assert.match(id, /^[A-Za-z0-9_-]+$/);
  return id;
}

async function scenarioState(id) {
  const res = await fetch(`${mock.url}/__mock/scenarios/${id}`);
  assert.equal(res.status, 200);
  return res.json();
}

/** Polls the scenario endpoint until `predicate(state)` holds (bounded tries). */
async function pollScenario(id, predicate, tries = 200) {
  for (let i = 0; i < tries; i++) {
    const state = await scenarioState(id);
    if (predicate(state)) return state;
    await new Promise(setImmediate);
  }
  assert.fail(`scenario ${id} never reached the expected state`);
}

/**
 * Incremental SSE reader: `next(n)` resolves with the next n `data:` payloads
 * (fewer if the stream ends) without cancelling the stream, so a test can
 * read part of a stream and keep the connection open.
 */
function eventReader(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const queued = [];
  let buffer = '';
  let done = false;
  async function next(n = Infinity) {
    while (queued.length < n && !done) {
      const { value, done: ended } = await reader.read();
      done = ended;
      buffer += decoder.decode(value ?? new Uint8Array(), { stream: !ended });
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        assert.ok(event.startsWith('data: '), `bad SSE event: ${event}`);
        queued.push(event.slice('data: '.length));
      }
    }
    return queued.splice(0, n);
  }
  return { next };
}

/** Reads all SSE `data:` payloads until the stream ends. */
function readEvents(res) {
  return eventReader(res).next();
}

function parseChunks(events) {
  assert.equal(events.at(-1), '[DONE]');
  return events.slice(0, -1).map((e) => JSON.parse(e));
}

// ---------------------------------------------------------------------------

describe('OpenAI surface', () => {
  test('GET /v1/models lists models in OpenAI list shape', async () => {
    const res = await fetch(`${mock.url}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.object, 'list');
    assert.ok(body.data.length >= 2);
    for (const m of body.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.id, 'string');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
    }
  });

  test('wrong or missing API key → 401 invalid_api_key, key not echoed', async () => {
    const res = await chat(request('hi'), { key: 'sk-wrong-key-123' });
    assert.equal(res.status, 401);
    const text = await res.text();
    assert.ok(!text.includes('sk-wrong-key-123'));
    assert.deepEqual(JSON.parse(text).error.type, 'invalid_request_error');
    assert.equal(JSON.parse(text).error.code, 'invalid_api_key');
    assert.equal(JSON.parse(text).error.param, null);
    assert.match(JSON.parse(text).error.message, /^Incorrect API key provided: /);

    const missing = await chat(request('hi'), { key: null });
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).error.type, 'invalid_request_error');
  });

  test('no apiKey configured → any key accepted', async () => {
    const open = await startMockUpstream();
    try {
      assert.match(open.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${open.url}/v1/chat/completions`, {
        method: 'POST', body: JSON.stringify(request('hi')),
      });
      assert.equal(res.status, 200);
    } finally {
      await open.close();
    }
  });

  test('invalid JSON body → 400 OpenAI error', async () => {
    const res = await chat(null, { raw: '{"model": "gpt-4o-mini", "messages": [' });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.param, null);
    assert.ok(error.message.length > 0);
  });

  test('non-streaming answer has the chat.completion shape', async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await chat(request('hello big world', { model: 'gpt-4o' }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.object, 'chat.completion');
    assert.ok(body.created >= before && body.created <= before + 5);
    assert.equal(body.model, 'gpt-4o');
    assert.equal(body.system_fingerprint, 'fp_mock');
    assert.deepEqual(body.choices, [{
      index: 0,
      message: { role: 'assistant', content: 'Mock reply: hello big world', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    }]);
    // "hello big world" = 15 chars → ceil(15/4) = 4; pieces: Mock reply: hello big world = 5
    assert.deepEqual(body.usage, { prompt_tokens: 4, completion_tokens: 5, total_tokens: 9 });
  });

  test('array content: text parts are concatenated, all messages count for prompt tokens', async () => {
    const res = await chat({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'be brief' }, // 8 chars
        { role: 'user', content: 'first question' }, // 14 chars
        { role: 'assistant', content: 'answer' }, // 6 chars
        { role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: ' two' }] }, // 12
      ],
    });
    const body = await res.json();
    assert.equal(body.choices[0].message.content, 'Mock reply: part one two');
    assert.equal(body.usage.prompt_tokens, Math.ceil(40 / 4));
  });

  test('streaming: role chunk, word pieces, finish chunk, [DONE]; no usage field', async () => {
    const res = await chat(request('one two', { stream: true }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(res.headers.get('content-length'), null);
    const chunks = parseChunks(await readEvents(res));
    assert.equal(chunks.length, 1 + 4 + 1);
    const { id, created } = chunks[0];
    for (const c of chunks) {
      assert.equal(c.id, id);
      assert.match(id, /^chatcmpl-/);
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.created, created);
      assert.equal(c.model, 'gpt-4o-mini');
      assert.equal(c.system_fingerprint, 'fp_mock');
      assert.ok(!('usage' in c));
      assert.equal(c.choices.length, 1);
      assert.equal(c.choices[0].index, 0);
      assert.equal(c.choices[0].logprobs, null);
    }
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.deepEqual(chunks.slice(1, 5).map((c) => c.choices[0].delta.content),
      ['Mock ', 'reply: ', 'one ', 'two']);
    assert.ok(chunks.slice(0, 5).every((c) => c.choices[0].finish_reason === null));
    assert.deepEqual(chunks[5].choices[0].delta, {});
    assert.equal(chunks[5].choices[0].finish_reason, 'stop');
  });

  test('streaming with include_usage: usage null on earlier chunks, final usage chunk', async () => {
    const res = await chat(request('abcd', { stream: true, stream_options: { include_usage: true } }));
    const chunks = parseChunks(await readEvents(res));
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    assert.equal(last.object, 'chat.completion.chunk');
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  });

  test('unknown /v1 route → 404 OpenAI error', async () => {
    const res = await fetch(`${mock.url}/v1/nope`, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(res.status, 404);
    assert.equal((await res.json()).error.type, 'invalid_request_error');
  });
});

describe('tool calls', () => {
  const tools = [{
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
    },
  }];

  test('non-streaming tool call', async () => {
    const id = await newScenario([{ toolCall: true }]);
    const res = await chat(request(`weather? mock-scenario:${id}`, { tools }));
    const body = await res.json();
    const choice = body.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'mock', days: 1 });
  });

  test('streaming tool call: header delta then argument fragments', async () => {
    const id = await newScenario([{ toolCall: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    const res = await chat(request(`mock-scenario:${id}`, { tools, stream: true }));
    const chunks = parseChunks(await readEvents(res));
    const first = chunks[0].choices[0].delta;
    assert.equal(first.role, 'assistant');
    assert.equal(first.tool_calls[0].index, 0);
    assert.match(first.tool_calls[0].id, /^call_/);
    assert.equal(first.tool_calls[0].type, 'function');
    assert.equal(first.tool_calls[0].function.name, 'get_weather');
    const fragments = chunks.slice(1, -1).map((c) => {
      const [call] = c.choices[0].delta.tool_calls;
      assert.equal(call.index, 0);
      return call.function.arguments;
    });
    assert.ok(fragments.length > 1);
    assert.deepEqual(JSON.parse(first.tool_calls[0].function.arguments + fragments.join('')), { city: 'Paris' });
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(chunks.at(-1).choices[0].delta, {});
  });

  test('tool_choice "none" or no tools → plain text answer', async () => {
    const id = await newScenario([{ toolCall: true }]);
    for (const extra of [{ tools, tool_choice: 'none' }, {}]) {
      const res = await chat(request(`x mock-scenario:${id}`, extra));
      const body = await res.json();
      assert.equal(body.choices[0].finish_reason, 'stop');
      assert.equal(body.choices[0].message.content, `Mock reply: x mock-scenario:${id}`);
    }
  });
});

describe('scenarios', () => {
  test('steps are used in order, the last one repeats; errors have OpenAI bodies', async () => {
    const id = await newScenario([
      { status: 429, retryAfter: '2' },
      { status: 503 },
      { status: 502, body: '<html>bad gateway</html>', headers: { 'content-type': 'text/html' } },
      { status: 400, body: { error: { message: 'custom', type: 'x', param: null, code: 'y' } } },
      {},
    ]);
    const tagged = request(`hi mock-scenario:${id}`);

    const r429 = await chat(tagged);
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get('retry-after'), '2');
    const e429 = (await r429.json()).error;
    assert.equal(e429.type, 'requests');
    assert.equal(e429.code, 'rate_limit_exceeded');

    const r503 = await chat(tagged);
    assert.equal(r503.status, 503);
    assert.equal((await r503.json()).error.type, 'server_error');

    const r502 = await chat(tagged);
    assert.equal(r502.status, 502);
    assert.equal(r502.headers.get('content-type'), 'text/html');
    assert.equal(await r502.text(), '<html>bad gateway</html>');

    const r400 = await chat(tagged);
    assert.equal(r400.status, 400);
    assert.deepEqual(await r400.json(), { error: { message: 'custom', type: 'x', param: null, code: 'y' } });

    for (let i = 0; i < 2; i++) {
      const ok = await chat(tagged);
      assert.equal(ok.status, 200);
      await ok.json();
    }
    assert.equal((await scenarioState(id)).requests, 6);
  });

  test('log records receivedAt, headers, body, emitted chunks and finished', async () => {
    const id = await newScenario([{}]);
    const t0 = performance.timeOrigin + performance.now();
    const body = request(`log me mock-scenario:${id}`, { stream: true });
    const res = await chat(body);
    await readEvents(res);
    const state = await pollScenario(id, (s) => s.log[0]?.finished);
    assert.equal(state.requests, 1);
    const [entry] = state.log;
    assert.ok(entry.receivedAt >= t0 - 1 && entry.receivedAt <= performance.timeOrigin + performance.now());
    assert.equal(entry.headers.authorization, `Bearer ${API_KEY}`);
    assert.deepEqual(entry.body, body);
    assert.equal(entry.clientClosedEarly, false);
    assert.ok(Number.isInteger(entry.remotePort) && entry.remotePort > 0);
    // role + 5 pieces + finish + [DONE]
    assert.equal(entry.emitted.length, 8);
    entry.emitted.forEach((e, i) => {
      assert.equal(e.index, i);
      assert.ok(e.at >= entry.receivedAt);
    });
  });

  test('invalid JSON in a tagged request is logged with body null', async () => {
    const id = await newScenario([{}]);
    const res = await chat(null, { raw: `{"oops mock-scenario:${id}` });
    assert.equal(res.status, 400);
    await res.json();
    const { log } = await scenarioState(id);
    assert.equal(log[0].body, null);
  });

  test('pieces and usage override', async () => {
    const id = await newScenario([{ pieces: ['Hel', 'lo', '!'], usage: { prompt_tokens: 7 } }]);
    const res = await chat(request(`mock-scenario:${id}`));
    const body = await res.json();
    assert.equal(body.choices[0].message.content, 'Hello!');
    assert.deepEqual(body.usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });

    const res2 = await chat(request(`mock-scenario:${id}`, { stream: true, stream_options: { include_usage: true } }));
    const chunks = parseChunks(await readEvents(res2));
    assert.deepEqual(chunks.slice(1, 4).map((c) => c.choices[0].delta.content), ['Hel', 'lo', '!']);
    assert.equal(chunks.at(-1).usage.total_tokens, 10);
  });

  test('headerDelayMs delays the response headers', async () => {
    const id = await newScenario([{ headerDelayMs: 150 }]);
    const start = performance.now();
    const res = await chat(request(`mock-scenario:${id}`));
    assert.ok(performance.now() - start >= 140, 'headers came too early');
    await res.json();
  });

  test('firstChunkDelayMs and chunkDelayMs space out stream chunks', async () => {
    const id = await newScenario([{ firstChunkDelayMs: 120, chunkDelayMs: 40, pieces: ['a', 'b'] }]);
    const res = await chat(request(`mock-scenario:${id}`, { stream: true }));
    const headersAt = performance.timeOrigin + performance.now(); // same clock as the mock's log
    const chunks = parseChunks(await readEvents(res));
    assert.deepEqual(chunks.slice(1, 3).map((c) => c.choices[0].delta.content), ['a', 'b']);
    const { log: [entry] } = await pollScenario(id, (s) => s.log[0]?.finished);
    const at = entry.emitted.map((e) => e.at);
    assert.ok(headersAt < at[0], 'headers must arrive before the first chunk is sent');
    assert.ok(at[0] - entry.receivedAt >= 115);
    for (let i = 1; i <= 3; i++) assert.ok(at[i] - at[i - 1] >= 35, `gap before chunk ${i}`);
  });

  test('malformed json → 200 application/json with unparsable body', async () => {
    const id = await newScenario([{ malformed: 'json' }]);
    const res = await chat(request(`mock-scenario:${id}`));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const text = await res.text();
    assert.throws(() => JSON.parse(text));
  });

  test('malformed sse → role chunk, broken event, [DONE]', async () => {
    const id = await newScenario([{ malformed: 'sse' }]);
    const res = await chat(request(`mock-scenario:${id}`, { stream: true }));
    const events = await readEvents(res);
    assert.equal(events.length, 3);
    assert.deepEqual(JSON.parse(events[0]).choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(events[1], '{not json');
    assert.equal(events[2], '[DONE]');
  });

  test('dropAfterChunks destroys the socket mid-stream', async () => {
    const id = await newScenario([{ dropAfterChunks: 2 }]);
    const res = await chat(request(`one two three four mock-scenario:${id}`, { stream: true }));
    await assert.rejects(readEvents(res));
    const state = await pollScenario(id, (s) => s.log[0]?.emitted.length === 3);
    const [entry] = state.log;
    assert.deepEqual(entry.emitted.map((e) => e.kind), ['role', 'delta', 'delta']);
    assert.equal(entry.finished, false);
    assert.equal(entry.clientClosedEarly, false);
  });

  test('dropAfterChunks on a non-streaming request truncates the body', async () => {
    const id = await newScenario([{ dropAfterChunks: 0 }]);
    const res = await chat(request(`mock-scenario:${id}`));
    assert.equal(res.status, 200);
    await assert.rejects(res.text());
  });

  test('stallAfterChunks stalls; client abort is seen as clientClosedEarly', async () => {
    const id = await newScenario([{ stallAfterChunks: 1 }]);
    const controller = new AbortController();
    const res = await chat(request(`a b c mock-scenario:${id}`, { stream: true }), { signal: controller.signal });
    const events = await eventReader(res).next(2);
    assert.equal(JSON.parse(events[1]).choices[0].delta.content, 'Mock ');
    let state = await scenarioState(id);
    assert.equal(state.log[0].clientClosedEarly, false);
    controller.abort();
    state = await pollScenario(id, (s) => s.log[0].clientClosedEarly);
    assert.equal(state.log[0].finished, false);
    assert.equal(state.log[0].emitted.length, 2);
  });

  test('hang never sends headers; client abort is seen as clientClosedEarly', async () => {
    const id = await newScenario([{ hang: true }]);
    const controller = new AbortController();
    const pending = chat(request(`mock-scenario:${id}`), { signal: controller.signal });
    await pollScenario(id, (s) => s.requests === 1);
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    const state = await pollScenario(id, (s) => s.log[0].clientClosedEarly);
    assert.equal(state.log[0].emitted.length, 0);
  });

  test('client abort during headerDelayMs clears the timer and is recorded', async () => {
    const id = await newScenario([{ headerDelayMs: 60_000 }]);
    const controller = new AbortController();
    const pending = chat(request(`mock-scenario:${id}`), { signal: controller.signal });
    await pollScenario(id, (s) => s.requests === 1);
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await pollScenario(id, (s) => s.log[0].clientClosedEarly);
  });

  test('scenarios run in parallel without interfering', async () => {
    const [a, b] = await Promise.all([newScenario([{ status: 500 }]), newScenario([{ pieces: ['B'] }])]);
    const results = await Promise.all([
      chat(request(`mock-scenario:${a}`)), chat(request(`mock-scenario:${b}`)),
      chat(request('untagged')),
    ]);
    assert.deepEqual(results.map((r) => r.status), [500, 200, 200]);
    assert.equal((await results[1].json()).choices[0].message.content, 'B');
    assert.equal((await results[2].json()).choices[0].message.content, 'Mock reply: untagged');
    await results[0].json();
    assert.equal((await scenarioState(a)).requests, 1);
    assert.equal((await scenarioState(b)).requests, 1);
  });

  test('unknown scenario tag → 400, unknown scenario id → 404', async () => {
    const res = await chat(request('mock-scenario:doesnotexist'));
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, 'mock_unknown_scenario');
    const state = await fetch(`${mock.url}/__mock/scenarios/doesnotexist`);
    assert.equal(state.status, 404);
    await state.json();
  });

  test('createScenario/scenario work in-process', async () => {
    const id = mock.createScenario([{ pieces: ['in-proc'] }]);
    const res = await chat(request(`mock-scenario:${id}`));
    assert.equal((await res.json()).choices[0].message.content, 'in-proc');
    assert.equal(mock.scenario(id).requests, 1);
    assert.equal(mock.scenario('nope'), null);
  });
});

describe('control routes and lifecycle', () => {
  test('stats count requests; reset clears scenarios and counters', async () => {
    const own = await startMockUpstream();
    try {
      const id = own.createScenario([{}]);
      await (await fetch(`${own.url}/v1/models`)).json();
      await (await fetch(`${own.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(request('x')) })).json();
      let stats = await (await fetch(`${own.url}/__mock/stats`)).json();
      assert.deepEqual(stats, { requests: 2, chatCompletions: 1, models: 1, scenarios: 1 });
      const reset = await fetch(`${own.url}/__mock/reset`, { method: 'POST' });
      assert.equal(reset.status, 200);
      await reset.json();
      stats = await (await fetch(`${own.url}/__mock/stats`)).json();
      assert.deepEqual(stats, { requests: 0, chatCompletions: 0, models: 0, scenarios: 0 });
      assert.equal(own.scenario(id), null);
    } finally {
      await own.close();
    }
  });

  test('close() does not hang on stalled or hanging responses', async () => {
    const own = await startMockUpstream();
    const stall = own.createScenario([{ stallAfterChunks: 0 }]);
    const hang = own.createScenario([{ hang: true }]);
    const post = (text) => fetch(`${own.url}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify(request(text, { stream: true })),
    });
    const stalled = eventReader(await post(`mock-scenario:${stall}`));
    assert.equal((await stalled.next(1)).length, 1);
    const hanging = post(`mock-scenario:${hang}`).catch((err) => err);
    for (let i = 0; i < 200 && own.scenario(hang).requests === 0; i++) await new Promise(setImmediate);
    assert.equal(own.scenario(hang).requests, 1);
    await own.close();
    assert.ok((await hanging) instanceof Error);
    await assert.rejects(stalled.next());
  });

  test('CLI prints one line, serves, and exits cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
      const child = spawn(process.execPath, [MOCK_PATH, '--port', '0', '--api-key', 'k'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.setEncoding('utf8');
      const line = await new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => {
          stdout += d;
          if (stdout.includes('\n')) resolve(stdout);
        });
        child.once('exit', () => reject(new Error(`exited early: ${stdout}`)));
      });
      const match = /^mock-upstream listening (http:\/\/127\.0\.0\.1:(\d+))\n$/.exec(line);
      assert.ok(match, `unexpected output: ${JSON.stringify(line)}`);
      assert.notEqual(match[2], '0');
      const res = await fetch(`${match[1]}/v1/models`, { headers: { authorization: 'Bearer k' } });
      assert.equal(res.status, 200);
      await res.json();
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      assert.equal(code, 0);
      assert.equal(stdout, line, 'nothing else on stdout');
    }
  });
});

// ---------------------------------------------------------------------------
// Other dialects: shared helpers

function post(path, body, headers = {}, { raw } = {}) {
  return fetch(`${mock.url}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw ?? JSON.stringify(body),
  });
}

function isUnitVector(values) {
  return Math.abs(Math.hypot(...values) - 1) < 1e-6;
}

/** Decodes OpenAI's base64 embedding: little-endian float32s. */
function decodeFloat32(base64) {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

// ---------------------------------------------------------------------------

describe('Anthropic Messages dialect', () => {
  const HEADERS = { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' };
  const messages = (body, headers = HEADERS) => post('/v1/messages', body, headers);
  const ask = (text, extra = {}) => ({
    model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: text }], ...extra,
  });
  const tools = [
    { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } },
    { name: 'get_time', description: 'Time', input_schema: { type: 'object', properties: { zone: { type: 'string' } } } },
  ];

  /** Parses named SSE events (an `event:` and a `data:` line each) until the stream ends. */
  async function namedEvents(res) {
    const text = await res.text();
    if (text === '') return [];
    assert.ok(text.endsWith('\n\n'), 'events end with a blank line');
    assert.ok(!text.includes('\r'), 'LF line endings');
    return text.slice(0, -2).split('\n\n').map((block) => {
      const lines = block.split('\n');
      assert.equal(lines.length, 2, `bad event: ${block}`);
      assert.ok(lines[0].startsWith('event: ') && lines[1].startsWith('data: '), `bad event: ${block}`);
      return { event: lines[0].slice('event: '.length), data: lines[1].slice('data: '.length) };
    });
  }

  test('non-streaming text answer has the Message shape', async () => {
    const res = await messages({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: [{ type: 'text', text: 'be brief' }], // 8 chars
      messages: [
        { role: 'user', content: 'first question' }, // 14
        { role: 'assistant', content: [{ type: 'text', text: 'answer' }] }, // 6
        { role: 'user', content: [{ type: 'text', text: 'part one' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }, { type: 'text', text: ' two' }] }, // 12
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'ignored' }] }, // no text
      ],
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.match(res.headers.get('request-id'), /^req_/);
    const body = await res.json();
    assert.match(body.id, /^msg_[0-9a-f]{24}$/);
    assert.deepEqual({ ...body, id: 'x' }, {
      id: 'x',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: 'Mock reply: part one two' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  test('non-streaming tool_use: forced, first, or none; usage override in Anthropic names', async () => {
    const id = await newScenario([{ toolCall: true, usage: { cache_read_input_tokens: 3, output_tokens: 9 } }]);
    const forced = await (await messages(ask(`mock-scenario:${id}`, { tools, tool_choice: { type: 'tool', name: 'get_time' } }))).json();
    assert.equal(forced.stop_reason, 'tool_use');
    assert.equal(forced.content.length, 1);
    const [block] = forced.content;
    assert.match(block.id, /^toolu_[0-9a-f]{24}$/);
    assert.deepEqual({ ...block, id: 'x' }, { type: 'tool_use', id: 'x', name: 'get_time', input: { zone: 'mock' } });
    assert.equal(forced.usage.cache_read_input_tokens, 3);
    assert.equal(forced.usage.output_tokens, 9);
    assert.equal(forced.usage.cache_creation_input_tokens, 0);

    const first = await (await messages(ask(`mock-scenario:${id}`, { tools, tool_choice: { type: 'auto' } }))).json();
    assert.equal(first.content[0].name, 'get_weather');
    assert.deepEqual(first.content[0].input, { city: 'mock', days: 1 });

    const none = await (await messages(ask(`mock-scenario:${id}`, { tools, tool_choice: { type: 'none' } }))).json();
    assert.equal(none.stop_reason, 'end_turn');
    assert.equal(none.content[0].type, 'text');
  });

  test('stream: exactly Anthropic\'s event sequence, names and payloads; no [DONE]; kinds logged', async () => {
    const id = await newScenario([{ pieces: ['Hel', 'lo', '!'] }]);
    const text = `mock-scenario:${id}`;
    const res = await messages(ask(text, { stream: true }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    assert.match(res.headers.get('request-id'), /^req_/);
    const events = await namedEvents(res);
    const names = events.map((e) => e.event);
    assert.deepEqual(names, [
      'message_start', 'content_block_start', 'ping',
      'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data));
    const { message } = data[0];
    assert.match(message.id, /^msg_[0-9a-f]{24}$/);
    assert.deepEqual(data[0], {
      type: 'message_start',
      message: {
        id: message.id, type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-5',
        stop_reason: null, stop_sequence: null,
        usage: { input_tokens: Math.ceil(text.length / 4), output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    });
    assert.deepEqual(data[1], { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    assert.deepEqual(data[2], { type: 'ping' });
    assert.deepEqual(data.slice(3, 6), ['Hel', 'lo', '!'].map((t) => (
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: t } })));
    assert.deepEqual(data[6], { type: 'content_block_stop', index: 0 });
    assert.deepEqual(data[7], {
      type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 },
    });
    assert.deepEqual(data[8], { type: 'message_stop' });

    const { log: [entry] } = await pollScenario(id, (s) => s.log[0]?.finished);
    assert.deepEqual(entry.emitted.map((e) => e.kind), names);
  });

  test('stream tool_use: tool_use block start, input_json_delta fragments, stop_reason tool_use', async () => {
    const id = await newScenario([{ toolCall: { arguments: { city: 'Paris', days: 3 } } }]);
    const res = await messages(ask(`mock-scenario:${id}`, { tools, stream: true }));
    const data = (await namedEvents(res)).map((e) => JSON.parse(e.data));
    const block = data[1].content_block;
    assert.match(block.id, /^toolu_[0-9a-f]{24}$/);
    assert.deepEqual({ ...block, id: 'x' }, { type: 'tool_use', id: 'x', name: 'get_weather', input: {} });
    const deltas = data.filter((d) => d.type === 'content_block_delta');
    assert.ok(deltas.length > 1);
    for (const d of deltas) assert.equal(d.delta.type, 'input_json_delta');
    assert.deepEqual(JSON.parse(deltas.map((d) => d.delta.partial_json).join('')), { city: 'Paris', days: 3 });
    assert.equal(data.at(-2).delta.stop_reason, 'tool_use');
    assert.equal(data.at(-2).usage.output_tokens, deltas.length);
  });

  test('step errors have Anthropic bodies: 529 overloaded, 429 with retry-after, 413, custom message', async () => {
    const id = await newScenario([{ status: 529 }, { status: 429, retryAfter: 4 }, { status: 413 }, { status: 503 }]);
    const r529 = await messages(ask(`mock-scenario:${id}`));
    assert.equal(r529.status, 529);
    assert.match(r529.headers.get('request-id'), /^req_/);
    assert.deepEqual(await r529.json(), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const r429 = await messages(ask(`mock-scenario:${id}`));
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get('retry-after'), '4');
    assert.equal((await r429.json()).error.type, 'rate_limit_error');
    const r413 = await messages(ask(`mock-scenario:${id}`));
    assert.equal((await r413.json()).error.type, 'request_too_large');
    const r503 = await messages(ask(`mock-scenario:${id}`));
    const e503 = await r503.json();
    assert.equal(e503.type, 'error');
    assert.equal(e503.error.type, 'api_error');
  });

  test('streamError: after k deltas an `event: error`, then the response ends', async () => {
    const id = await newScenario([{ streamError: { afterChunks: 2 } }]);
    const res = await messages(ask(`a b c d mock-scenario:${id}`, { stream: true }));
    const events = await namedEvents(res);
    assert.deepEqual(events.map((e) => e.event), [
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'error',
    ]);
    assert.deepEqual(JSON.parse(events.at(-1).data), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    const { log: [entry] } = await pollScenario(id, (s) => s.log[0]?.finished);
    assert.equal(entry.clientClosedEarly, false);

    const custom = await newScenario([{ streamError: { afterChunks: 0, type: 'api_error', message: 'Internal server error' } }]);
    const events2 = await namedEvents(await messages(ask(`mock-scenario:${custom}`, { stream: true })));
    assert.deepEqual(JSON.parse(events2.at(-1).data), { type: 'error', error: { type: 'api_error', message: 'Internal server error' } });
    assert.equal(events2.filter((e) => e.event === 'content_block_delta').length, 0);
  });

  test('auth: wrong key 401, missing anthropic-version 400, missing max_tokens 400', async () => {
    const wrong = await messages(ask('hi'), { 'x-api-key': 'sk-wrong', 'anthropic-version': '2023-06-01' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(await wrong.json(), { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    const bearer = await messages(ask('hi'), { authorization: `Bearer ${API_KEY}`, 'anthropic-version': '2023-06-01' });
    assert.equal(bearer.status, 401);
    await bearer.json();

    const noVersion = await messages(ask('hi'), { 'x-api-key': API_KEY });
    assert.equal(noVersion.status, 400);
    assert.deepEqual(await noVersion.json(), {
      type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });

    const { max_tokens: _, ...noMax } = ask('hi');
    const r = await messages(noMax);
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /max_tokens/);
  });

  test('malformed sse: message_start, then a content_block_delta with broken data, then the end', async () => {
    const id = await newScenario([{ malformed: 'sse' }]);
    const events = await namedEvents(await messages(ask(`mock-scenario:${id}`, { stream: true })));
    assert.deepEqual(events.map((e) => e.event), ['message_start', 'content_block_delta']);
    assert.equal(JSON.parse(events[0].data).type, 'message_start');
    assert.equal(events[1].data, '{not json');
  });

  test('dropAfterChunks counts content_block_delta events', async () => {
    const id = await newScenario([{ dropAfterChunks: 1 }]);
    const res = await messages(ask(`a b c mock-scenario:${id}`, { stream: true }));
    await assert.rejects(res.text());
    const state = await pollScenario(id, (s) => s.log[0]?.emitted.length === 4);
    assert.deepEqual(state.log[0].emitted.map((e) => e.kind),
      ['message_start', 'content_block_start', 'ping', 'content_block_delta']);
    assert.equal(state.log[0].finished, false);
    assert.equal(state.log[0].clientClosedEarly, false);
  });
});

// ---------------------------------------------------------------------------

describe('Gemini dialect', () => {
  const HEADERS = { 'x-goog-api-key': API_KEY };
  const call = (model, method, body, { headers = HEADERS, query = '' } = {}) =>
    post(`/v1beta/models/${model}:${method}${query}`, body, headers);
  const ask = (text, extra = {}) => ({ contents: [{ role: 'user', parts: [{ text }] }], ...extra });
  const tools = [{
    functionDeclarations: [
      { name: 'get_weather', description: 'Weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' }, days: { type: 'INTEGER' } } } },
      { name: 'get_time', description: 'Time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
    ],
  }];

  /** Parses Google's SSE: `data: <json>` events with CRLF line endings only. */
  async function crlfEvents(res) {
    const text = await res.text();
    assert.ok(!/(?<!\r)\n/.test(text), 'only CRLF line endings');
    assert.ok(text.endsWith('\r\n\r\n'), 'events end with a blank line');
    return text.slice(0, -4).split('\r\n\r\n').map((e) => {
      assert.ok(e.startsWith('data: '), `bad event: ${e}`);
      return e.slice('data: '.length);
    });
  }

  test('generateContent: GenerateContentResponse with usageMetadata; model from the path', async () => {
    const res = await call('gemini-2.0-flash', 'generateContent', {
      systemInstruction: { parts: [{ text: 'be brief' }] }, // 8
      contents: [
        { role: 'user', parts: [{ text: 'first' }] }, // 5
        { role: 'model', parts: [{ text: 'answer' }] }, // 6
        { role: 'user', parts: [{ text: 'hello ' }, { inlineData: { mimeType: 'image/png', data: 'AA==' } }, { text: 'world' }] }, // 11
      ],
      generationConfig: { temperature: 0 },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const body = await res.json();
    assert.equal(typeof body.responseId, 'string');
    assert.ok(body.responseId.length > 0);
    assert.deepEqual({ ...body, responseId: 'x' }, {
      candidates: [{
        content: { parts: [{ text: 'Mock reply: hello world' }], role: 'model' }, finishReason: 'STOP', index: 0,
      }],
      usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 4, totalTokenCount: 12 },
      modelVersion: 'gemini-2.0-flash',
      responseId: 'x',
    });
  });

  test('streamGenerateContent?alt=sse: CRLF data events, growing usage, finishReason on the last', async () => {
    const res = await call('gemini-2.0-flash', 'streamGenerateContent', ask('one two'), { query: '?alt=sse' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const events = await crlfEvents(res);
    assert.ok(!events.includes('[DONE]'));
    const chunks = events.map((e) => JSON.parse(e));
    assert.equal(chunks.length, 4);
    assert.deepEqual(chunks.map((c) => c.candidates[0].content), ['Mock ', 'reply: ', 'one ', 'two'].map((text) => ({ parts: [{ text }], role: 'model' })));
    chunks.forEach((c, i) => {
      assert.equal(c.modelVersion, 'gemini-2.0-flash');
      assert.equal(c.responseId, chunks[0].responseId);
      assert.equal(c.candidates[0].index, 0);
      assert.equal(c.usageMetadata.promptTokenCount, 2);
      assert.equal(c.usageMetadata.candidatesTokenCount, i + 1);
      assert.equal(c.usageMetadata.totalTokenCount, 2 + i + 1);
      assert.equal(c.candidates[0].finishReason, i === 3 ? 'STOP' : undefined);
    });
  });

  test('streamGenerateContent without alt=sse streams one JSON array', async () => {
    const res = await call('gemini-2.0-flash', 'streamGenerateContent', ask('x'));
    assert.match(res.headers.get('content-type'), /^application\/json/);
    const chunks = await res.json();
    assert.ok(Array.isArray(chunks));
    assert.equal(chunks.length, 3);
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP');
  });

  test('tool call: functionCall part (one stream chunk), allowedFunctionNames, mode NONE', async () => {
    const id = await newScenario([{ toolCall: true }]);
    const first = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`, { tools }))).json();
    assert.deepEqual(first.candidates[0].content, {
      parts: [{ functionCall: { name: 'get_weather', args: { city: 'mock', days: 1 } } }], role: 'model',
    });
    assert.equal(first.candidates[0].finishReason, 'STOP');

    const allowed = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } };
    const forced = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`, { tools, toolConfig: allowed }))).json();
    assert.deepEqual(forced.candidates[0].content.parts, [{ functionCall: { name: 'get_time', args: { zone: 'mock' } } }]);

    const none = { functionCallingConfig: { mode: 'NONE' } };
    const text = await (await call('g', 'generateContent', ask(`hi mock-scenario:${id}`, { tools, toolConfig: none }))).json();
    assert.deepEqual(text.candidates[0].content.parts, [{ text: `Mock reply: hi mock-scenario:${id}` }]);

    const stream = await call('g', 'streamGenerateContent', ask(`mock-scenario:${id}`, { tools }), { query: '?alt=sse' });
    const chunks = (await crlfEvents(stream)).map((e) => JSON.parse(e));
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0].candidates[0].content.parts, [{ functionCall: { name: 'get_weather', args: { city: 'mock', days: 1 } } }]);
    assert.equal(chunks[0].candidates[0].finishReason, 'STOP');
    assert.equal(typeof chunks[0].usageMetadata.totalTokenCount, 'number');
  });

  test('blocked prompt: promptFeedback and no candidates (non-stream and stream)', async () => {
    const id = await newScenario([{ blocked: true }]);
    const text = `mock-scenario:${id}`;
    const res = await call('gemini-2.0-flash', 'generateContent', ask(text));
    assert.equal(res.status, 200);
    const prompt = Math.ceil(text.length / 4);
    const expected = {
      promptFeedback: { blockReason: 'SAFETY', safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }] },
      usageMetadata: { promptTokenCount: prompt, totalTokenCount: prompt },
      modelVersion: 'gemini-2.0-flash',
    };
    assert.deepEqual(await res.json(), expected);
    const stream = await call('gemini-2.0-flash', 'streamGenerateContent', ask(text), { query: '?alt=sse' });
    assert.deepEqual((await crlfEvents(stream)).map((e) => JSON.parse(e)), [expected]);
  });

  test('finishReason SAFETY: safetyRatings; non-stream candidate has no content', async () => {
    const id = await newScenario([{ finishReason: 'SAFETY' }]);
    const body = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`))).json();
    const [candidate] = body.candidates;
    assert.equal(candidate.finishReason, 'SAFETY');
    assert.ok(!('content' in candidate));
    assert.ok(candidate.safetyRatings.length > 0);
    const stream = await call('g', 'streamGenerateContent', ask(`a b mock-scenario:${id}`), { query: '?alt=sse' });
    const chunks = (await crlfEvents(stream)).map((e) => JSON.parse(e));
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'SAFETY');
    assert.ok(chunks.slice(0, -1).every((c) => c.candidates[0].finishReason === undefined));
  });

  test('step errors: google.rpc bodies; 429 carries RetryInfo from retryAfter (default 1s)', async () => {
    const id = await newScenario([{ status: 429, retryAfter: 7 }, { status: 429 }, { status: 503 }, { status: 500 }]);
    const r1 = await call('g', 'generateContent', ask(`mock-scenario:${id}`));
    assert.equal(r1.status, 429);
    assert.equal(r1.headers.get('retry-after'), '7');
    const e1 = await r1.json();
    assert.deepEqual(e1, {
      error: {
        code: 429, message: e1.error.message, status: 'RESOURCE_EXHAUSTED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }],
      },
    });
    const e2 = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`))).json();
    assert.equal(e2.error.details[0].retryDelay, '1s');
    const e3 = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`))).json();
    assert.equal(e3.error.code, 503);
    assert.equal(e3.error.status, 'UNAVAILABLE');
    assert.equal(typeof e3.error.message, 'string');
    const e4 = await (await call('g', 'generateContent', ask(`mock-scenario:${id}`))).json();
    assert.equal(e4.error.status, 'INTERNAL');
  });

  test('bad or missing key → 400 API_KEY_INVALID; ?key= is accepted too', async () => {
    const expected = {
      error: {
        code: 400,
        message: 'API key not valid. Please pass a valid API key.',
        status: 'INVALID_ARGUMENT',
        details: [{
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        }],
      },
    };
    for (const headers of [{ 'x-goog-api-key': 'wrong' }, {}, { authorization: `Bearer ${API_KEY}` }]) {
      const res = await call('g', 'generateContent', ask('hi'), { headers });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), expected);
    }
    const viaQuery = await call('g', 'generateContent', ask('hi'), { headers: {}, query: `?key=${API_KEY}` });
    assert.equal(viaQuery.status, 200);
    await viaQuery.json();
  });

  test('missing contents → 400 INVALID_ARGUMENT', async () => {
    const res = await call('g', 'generateContent', { generationConfig: {} });
    assert.equal(res.status, 400);
    const { error } = await res.json();
    assert.equal(error.code, 400);
    assert.equal(error.status, 'INVALID_ARGUMENT');
  });

  test('streamError: a data event with a google.rpc error, then the end', async () => {
    const id = await newScenario([{ streamError: { afterChunks: 1 } }]);
    const res = await call('g', 'streamGenerateContent', ask(`a b mock-scenario:${id}`), { query: '?alt=sse' });
    const events = (await crlfEvents(res)).map((e) => JSON.parse(e));
    assert.equal(events.length, 2);
    assert.equal(events[0].candidates[0].content.parts[0].text, 'Mock ');
    assert.equal(events[1].error.code, 503);
    assert.equal(events[1].error.status, 'UNAVAILABLE');
    assert.equal(typeof events[1].error.message, 'string');
  });

  test('batchEmbedContents: one deterministic unit vector per request', async () => {
    const body = {
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'Hello world' }] } },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'something else entirely' }] }, outputDimensionality: 16 },
      ],
    };
    const res = await call('text-embedding-004', 'batchEmbedContents', body);
    assert.equal(res.status, 200);
    const { embeddings } = await res.json();
    assert.equal(embeddings.length, 2);
    assert.equal(embeddings[0].values.length, 8);
    assert.equal(embeddings[1].values.length, 16);
    for (const e of embeddings) assert.ok(isUnitVector(e.values));
    const again = await (await call('text-embedding-004', 'batchEmbedContents', body)).json();
    assert.deepEqual(again.embeddings, embeddings);
  });
});

// ---------------------------------------------------------------------------

describe('Azure OpenAI dialect', () => {
  const path = (d, op = 'chat/completions', version = '2024-10-21') =>
    `/openai/deployments/${d}/${op}${version ? `?api-version=${version}` : ''}`;

  test('api-key auth; model optional; the answer names the deployment; logged path and dialect', async () => {
    const id = await newScenario([{}]);
    const body = { messages: [{ role: 'user', content: `hi mock-scenario:${id}` }] };
    const res = await post(path('my-gpt4o'), body, { 'api-key': API_KEY });
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.object, 'chat.completion');
    assert.equal(answer.model, 'my-gpt4o');
    assert.equal(answer.choices[0].message.content, `Mock reply: hi mock-scenario:${id}`);
    const { log: [entry] } = await scenarioState(id);
    assert.equal(entry.dialect, 'azure');
    assert.equal(entry.path, '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    assert.equal(entry.headers['api-key'], API_KEY);
  });

  test('wrong key or Bearer auth → 401 Azure body; missing api-version → 404', async () => {
    const expected = {
      error: {
        code: '401',
        message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      },
    };
    for (const headers of [{ 'api-key': 'wrong' }, { authorization: `Bearer ${API_KEY}` }]) {
      const res = await post(path('d'), request('hi'), headers);
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), expected);
    }
    const noVersion = await post(path('d', 'chat/completions', null), request('hi'), { 'api-key': API_KEY });
    assert.equal(noVersion.status, 404);
    assert.deepEqual(await noVersion.json(), { error: { code: '404', message: 'Resource not found' } });
  });

  test('streaming with include_usage works as in OpenAI', async () => {
    const res = await post(path('d'), request('abcd', { stream: true, stream_options: { include_usage: true } }), { 'api-key': API_KEY });
    const chunks = parseChunks(await readEvents(res));
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
    assert.equal(chunks[0].model, 'd');
  });

  test('embeddings path', async () => {
    const res = await post(path('emb', 'embeddings'), { input: 'hello' }, { 'api-key': API_KEY });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.model, 'emb');
    assert.ok(isUnitVector(body.data[0].embedding));
  });
});

// ---------------------------------------------------------------------------

describe('Workers AI dialect', () => {
  const base = '/client/v4/accounts/0123abcd/ai/v1';
  const bearer = { authorization: `Bearer ${API_KEY}` };

  test('stream has no usage chunk even with include_usage', async () => {
    const body = request('abcd', { model: '@cf/meta/llama-3.1-8b-instruct', stream: true, stream_options: { include_usage: true } });
    const res = await post(`${base}/chat/completions`, body, bearer);
    assert.equal(res.status, 200);
    const chunks = parseChunks(await readEvents(res));
    for (const c of chunks) {
      assert.ok(!('usage' in c), 'no usage field');
      assert.ok(c.choices.length === 1, 'no choices-less usage chunk');
    }
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(chunks[0].model, '@cf/meta/llama-3.1-8b-instruct');
  });

  test('non-streaming answer still carries usage', async () => {
    const body = await (await post(`${base}/chat/completions`, request('abcd'), bearer)).json();
    assert.deepEqual(body.usage, { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 });
  });

  test('wrong key → 401 in Cloudflare\'s envelope; step errors use it too', async () => {
    const res = await post(`${base}/chat/completions`, request('hi'), { authorization: 'Bearer nope' });
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), {
      success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null,
    });
    const id = await newScenario([{ status: 429 }]);
    const limited = await post(`${base}/chat/completions`, request(`mock-scenario:${id}`), bearer);
    assert.equal(limited.status, 429);
    const body = await limited.json();
    assert.equal(body.success, false);
    assert.equal(body.errors[0].code, 3040);
  });

  test('embeddings endpoint', async () => {
    const res = await post(`${base}/embeddings`, { model: '@cf/baai/bge-base-en-v1.5', input: ['a b', 'c'] }, bearer);
    const body = await res.json();
    assert.equal(body.data.length, 2);
    assert.equal(body.model, '@cf/baai/bge-base-en-v1.5');
  });
});

// ---------------------------------------------------------------------------

describe('OpenAI embeddings and in-stream errors', () => {
  const embeddings = (body, headers = { authorization: `Bearer ${API_KEY}` }) => post('/v1/embeddings', body, headers);

  test('float vectors: list shape, deterministic, unit length, word-based, dimensions', async () => {
    const body = { model: 'text-embedding-3-small', input: ['Hello world', 'hello, WORLD!', 'quite different text'] };
    const res = await embeddings(body);
    assert.equal(res.status, 200);
    const answer = await res.json();
    assert.equal(answer.object, 'list');
    assert.equal(answer.model, 'text-embedding-3-small');
    const chars = 'Hello world'.length + 'hello, WORLD!'.length + 'quite different text'.length;
    assert.deepEqual(answer.usage, { prompt_tokens: Math.ceil(chars / 4), total_tokens: Math.ceil(chars / 4) });
    answer.data.forEach((d, i) => {
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, 8);
      assert.ok(isUnitVector(d.embedding));
    });
    assert.deepEqual(answer.data[0].embedding, answer.data[1].embedding, 'same lowercased words, same vector');
    assert.notDeepEqual(answer.data[0].embedding, answer.data[2].embedding);
    const again = await (await embeddings(body)).json();
    assert.deepEqual(again.data, answer.data);

    const wide = await (await embeddings({ model: 'm', input: 'one string', dimensions: 64 })).json();
    assert.equal(wide.data.length, 1);
    assert.equal(wide.data[0].embedding.length, 64);
    assert.ok(isUnitVector(wide.data[0].embedding));
  });

  test('base64: little-endian float32 of the same vector', async () => {
    const floats = await (await embeddings({ model: 'm', input: 'the same text' })).json();
    const packed = await (await embeddings({ model: 'm', input: 'the same text', encoding_format: 'base64' })).json();
    assert.equal(typeof packed.data[0].embedding, 'string');
    const decoded = decodeFloat32(packed.data[0].embedding);
    assert.equal(decoded.length, 8);
    decoded.forEach((x, i) => assert.ok(Math.abs(x - floats.data[0].embedding[i]) < 1e-6));
    assert.ok(Math.abs(Math.hypot(...decoded) - 1) < 1e-5);
  });

  test('missing or empty input → 400 with param "input"; bad key → 401', async () => {
    for (const input of [undefined, '', []]) {
      const res = await embeddings({ model: 'm', input });
      assert.equal(res.status, 400);
      const { error } = await res.json();
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.param, 'input');
    }
    const res = await embeddings({ model: 'm', input: 'x' }, { authorization: 'Bearer nope' });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_api_key');
  });

  test('embeddings go through scenarios: status, headerDelayMs, drop', async () => {
    const id = await newScenario([{ status: 503 }, { headerDelayMs: 120 }, { dropAfterChunks: 0 }]);
    const body = { model: 'm', input: `mock-scenario:${id}` };
    const r503 = await embeddings(body);
    assert.equal(r503.status, 503);
    assert.equal((await r503.json()).error.type, 'server_error');
    const start = performance.now();
    const slow = await embeddings(body);
    assert.ok(performance.now() - start >= 110, 'headers came too early');
    assert.equal(slow.status, 200);
    await slow.json();
    const dropped = await embeddings(body);
    await assert.rejects(dropped.text());
    const state = await scenarioState(id);
    assert.equal(state.requests, 3);
    assert.ok(state.log.every((e) => e.dialect === 'openai' && e.operation === 'embeddings' && e.path === '/v1/embeddings'));
  });

  test('OpenAI streamError: a data: {"error":…} event, no [DONE]; finishReason override', async () => {
    const id = await newScenario([{ streamError: { afterChunks: 1, message: 'boom' } }, { finishReason: 'length' }]);
    const events = await readEvents(await chat(request(`a b mock-scenario:${id}`, { stream: true })));
    assert.equal(events.length, 3);
    assert.equal(JSON.parse(events[1]).choices[0].delta.content, 'Mock ');
    assert.deepEqual(JSON.parse(events[2]), { error: { message: 'boom', type: 'server_error' } });
    const body = await (await chat(request(`mock-scenario:${id}`))).json();
    assert.equal(body.choices[0].finish_reason, 'length');
  });
});

// ---------------------------------------------------------------------------

describe('logs and stats across dialects', () => {
  test('one scenario serves every dialect; each log entry records path, dialect and auth header', async () => {
    const id = await newScenario([{ pieces: ['ok'] }]);
    const tag = `mock-scenario:${id}`;
    const calls = [
      ['openai', '/v1/chat/completions', request(tag), { authorization: `Bearer ${API_KEY}` }, 'authorization'],
      ['anthropic', '/v1/messages', { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: tag }] },
        { 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' }, 'x-api-key'],
      ['gemini', '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
        { contents: [{ role: 'user', parts: [{ text: tag }] }] }, { 'x-goog-api-key': API_KEY }, 'x-goog-api-key'],
      ['azure', '/openai/deployments/d1/chat/completions?api-version=2024-10-21',
        { messages: [{ role: 'user', content: tag }] }, { 'api-key': API_KEY }, 'api-key'],
      ['workers-ai', '/client/v4/accounts/acc/ai/v1/chat/completions', request(tag),
        { authorization: `Bearer ${API_KEY}` }, 'authorization'],
    ];
    for (const [, path, body, headers] of calls) {
      const res = await post(path, body, headers);
      assert.equal(res.status, 200, path);
      await res.text();
    }
    const state = await pollScenario(id, (s) => s.log.length === calls.length && s.log.every((e) => e.finished));
    state.log.forEach((entry, i) => {
      const [dialect, path, , , authHeader] = calls[i];
      assert.equal(entry.dialect, dialect);
      assert.equal(entry.path, path);
      assert.equal(entry.operation, 'chat');
      assert.ok(entry.headers[authHeader].includes(API_KEY), `${dialect} auth header ${authHeader}`);
    });
  });

  test('GET /__mock/stats?by=dialect counts per dialect and operation', async () => {
    const own = await startMockUpstream();
    try {
      const send = (path, body, headers = {}) => fetch(`${own.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) }).then((r) => r.text());
      await send('/v1/chat/completions', request('x'));
      await send('/v1/embeddings', { model: 'm', input: 'x' });
      await send('/v1/messages', { model: 'c', max_tokens: 1, messages: [] }, { 'anthropic-version': '2023-06-01' });
      await send('/v1beta/models/g:generateContent', { contents: [] });
      await send('/v1beta/models/g:batchEmbedContents', { requests: [{ content: { parts: [{ text: 'x' }] } }] });
      await send('/openai/deployments/d/chat/completions?api-version=1', { messages: [] });
      await send('/client/v4/accounts/a/ai/v1/embeddings', { model: 'm', input: 'x' });
      const stats = await (await fetch(`${own.url}/__mock/stats?by=dialect`)).json();
      assert.deepEqual(stats, {
        requests: 7, chatCompletions: 1, models: 0, scenarios: 0,
        dialects: {
          openai: { requests: 2, chat: 1, models: 0, embeddings: 1 },
          anthropic: { requests: 1, chat: 1 },
          gemini: { requests: 2, chat: 1, embeddings: 1 },
          azure: { requests: 1, chat: 1, embeddings: 0 },
          'workers-ai': { requests: 1, chat: 0, embeddings: 1 },
        },
      });
      own.reset();
      const cleared = await (await fetch(`${own.url}/__mock/stats?by=dialect`)).json();
      assert.equal(cleared.dialects.gemini.requests, 0);
    } finally {
      await own.close();
    }
  });
});

describe('embeddings meaning', () => {
  // The semantic cache's fixture set: paraphrases embed close, unrelated
  // questions far, as a real embeddings model would place them.
  const fixtures = JSON.parse(readFileSync(new URL('../fixtures/paraphrases.json', import.meta.url), 'utf8'));
  const cosine = (a, b) => a.reduce((sum, x, i) => sum + x * b[i], 0);

  async function similarity(a, b) {
    const res = await fetch(`${mock.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: [a, b] }),
    });
    assert.equal(res.status, 200);
    const { data } = await res.json();
    return cosine(data[0].embedding, data[1].embedding);
  }

  test('paraphrases of the fixture set are close', async () => {
    for (const [a, b] of fixtures.paraphrases) {
      const s = await similarity(a, b);
      assert.ok(s >= 0.95, `${a} ~ ${b}: ${s}`);
    }
  });

  test('unrelated questions of the fixture set are far', async () => {
    for (const [a, b] of fixtures.unrelated) {
      const s = await similarity(a, b);
      assert.ok(s < 0.5, `${a} vs ${b}: ${s}`);
    }
  });
});
