// Self-test for the mock upstream: run with `node --test tests/mock/upstream.test.mjs`.
// Talks to the mock directly with fetch and checks every behaviour the
// end-to-end tests rely on.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
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
