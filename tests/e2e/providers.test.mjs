// Every vendor behind one OpenAI-shaped API: the official `openai` client
// talks to Anthropic, Gemini, Azure OpenAI and Workers AI targets (the mock
// speaks each one's real wire format) and sees one consistent answer and
// stream shape; a route falls back across vendors without the caller
// noticing; cost and tokens reach the headers and the log.
//
// Tests that provoke failures pin a target of their own (`provider/t-<id>`)
// so the circuits they open are nobody else's.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  GATEWAY, GATEWAY_KEY, PROVIDER_KEY, ask, chat, expectError, gatewayLogText, logRecord, readEvents, scenario, scenarioState,
} from './helpers.mjs';

function openai(headers = {}) {
  return new OpenAI({ baseURL: `${GATEWAY}/v1`, apiKey: GATEWAY_KEY, maxRetries: 0, defaultHeaders: headers });
}

const WEATHER_TOOL = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

/** Collects an openai-client stream into text, tool calls, finish reason and usage. */
async function collect(stream) {
  const result = { text: '', calls: [], finish: null, usage: null, chunks: 0 };
  for await (const chunk of stream) {
    result.chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) result.usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    result.text += choice.delta?.content ?? '';
    for (const call of choice.delta?.tool_calls ?? []) {
      result.calls[call.index] ??= { id: '', name: '', arguments: '' };
      const into = result.calls[call.index];
      into.id += call.id ?? '';
      into.name += call.function?.name ?? '';
      into.arguments += call.function?.arguments ?? '';
    }
    if (choice.finish_reason) result.finish = choice.finish_reason;
  }
  return result;
}

for (const { provider, model, path } of [
  { provider: 'anthropic', model: 'claude-sonnet-4-5', path: /^\/v1\/messages$/ },
  { provider: 'gemini', model: 'gemini-2.5-flash', path: /^\/v1beta\/models\/gemini-2\.5-flash:generateContent$/ },
  { provider: 'azure', model: 'gpt-4o', path: /^\/openai\/deployments\/gpt-4o\/chat\/completions\?api-version=2024-10-21$/ },
  { provider: 'workers-ai', model: '@cf/meta/llama-3.1-8b-instruct', path: /^\/client\/v4\/accounts\/test-account\/ai\/v1\/chat\/completions$/ },
]) {
  test(`${provider}: the openai client gets an ordinary chat completion`, async () => {
    const { id, tag } = await scenario([{}]);
    const { data, response } = await openai({ 'x-edgeway-target': `${provider}/${model}` })
      .chat.completions.create({ model: 'demo', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `Hello there ${tag}` }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, `Mock reply: Hello there ${tag}`);
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    assert.equal(response.headers.get('x-edgeway-provider'), provider);
    assert.equal(response.headers.get('x-edgeway-tokens-in'), String(data.usage.prompt_tokens));

    const [seen] = (await scenarioState(id)).log;
    assert.match(seen.path, path);
    const auth = { anthropic: 'x-api-key', gemini: 'x-goog-api-key', azure: 'api-key', 'workers-ai': 'authorization' }[provider];
    assert.ok(seen.headers[auth]?.includes(PROVIDER_KEY), `${auth} carries the provider key`);
    if (provider !== 'workers-ai') assert.equal(seen.headers.authorization, undefined, 'no bearer header for this vendor');
    if (provider === 'anthropic') assert.equal(seen.body.system, 'Be brief.');
    if (provider === 'gemini') assert.deepEqual(seen.body.systemInstruction, { parts: [{ text: 'Be brief.' }] });
  });

  test(`${provider}: the openai client streams token by token`, async () => {
    const { tag } = await scenario([{ pieces: ['One ', 'two ', 'three'] }]);
    const stream = await openai({ 'x-edgeway-target': `${provider}/${model}` }).chat.completions.create({
      model: 'demo', messages: [{ role: 'user', content: `count ${tag}` }], stream: true, stream_options: { include_usage: true },
    });
    const result = await collect(stream);
    assert.equal(result.text, 'One two three');
    assert.equal(result.finish, 'stop');
    assert.ok(result.chunks >= 5, `a role chunk, one per piece, a finish: got ${result.chunks}`);
    if (provider === 'workers-ai') {
      assert.equal(result.usage, null, 'Workers AI streams carry no usage');
    } else {
      assert.ok(result.usage.completion_tokens > 0);
    }
  });
}

for (const provider of ['anthropic', 'gemini']) {
  const model = provider === 'anthropic' ? 'claude-sonnet-4-5' : 'gemini-2.5-flash';

  test(`${provider}: tool calls come back as OpenAI tool_calls, whole and streamed, and results go back`, async () => {
    const { id, tag } = await scenario([{ toolCall: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
    const client = openai({ 'x-edgeway-target': `${provider}/${model}` });
    const messages = [{ role: 'user', content: `Weather in Paris? ${tag}` }];
    const whole = await client.chat.completions.create({ model: 'demo', messages, tools: [WEATHER_TOOL] });
    const call = whole.choices[0].message.tool_calls[0];
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.ok(call.id.length > 0);

    const streamed = await collect(await client.chat.completions.create({ model: 'demo', messages, tools: [WEATHER_TOOL], stream: true }));
    assert.equal(streamed.finish, 'tool_calls');
    assert.equal(streamed.calls.length, 1);
    assert.equal(streamed.calls[0].name, 'get_weather');
    assert.deepEqual(JSON.parse(streamed.calls[0].arguments), { city: 'Paris' });

    // The conversation continues with the tool's result, in OpenAI's shape.
    const followUp = [...messages, whole.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp_c":18}' }];
    await client.chat.completions.create({ model: 'demo', messages: followUp, tools: [WEATHER_TOOL] });
    const sent = (await scenarioState(id)).log[2].body;
    if (provider === 'anthropic') {
      assert.deepEqual(sent.messages[1].content, [{ type: 'tool_use', id: call.id, name: 'get_weather', input: { city: 'Paris' } }]);
      assert.deepEqual(sent.messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '{"temp_c":18}' }] });
      assert.equal(sent.tools[0].input_schema.properties.city.type, 'string');
    } else {
      assert.deepEqual(sent.contents[1], { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] });
      assert.deepEqual(sent.contents[2], { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp_c: 18 } } }] });
      assert.equal(sent.tools[0].functionDeclarations[0].name, 'get_weather');
    }
  });
}

test('a route falls back from Anthropic to Gemini to OpenAI, and the openai client sees one consistent answer', async () => {
  for (const stream of [false, true]) {
    // Anthropic overloaded twice (one retry), Gemini unavailable twice, then OpenAI answers.
    const { id, tag } = await scenario([{ status: 529 }, { status: 529 }, { status: 503 }, { status: 503 }, {}]);
    const request = { model: 'vendor-fallback', messages: [{ role: 'user', content: `hello ${tag}` }] };
    const { data, response } = stream
      ? await openai().chat.completions.create({ ...request, stream: true }).withResponse()
      : await openai().chat.completions.create(request).withResponse();
    assert.equal(response.headers.get('x-edgeway-provider'), 'openai');
    assert.equal(response.headers.get('x-edgeway-model'), 'gpt-4.1-nano');
    assert.equal(response.headers.get('x-edgeway-attempts'), '5');
    const text = stream ? (await collect(data)).text : data.choices[0].message.content;
    assert.equal(text, `Mock reply: hello ${tag}`);
    const seen = (await scenarioState(id)).log.map((e) => e.dialect);
    assert.deepEqual(seen, ['anthropic', 'anthropic', 'gemini', 'gemini', 'openai']);
    const record = await logRecord(response.headers.get('x-request-id'));
    assert.deepEqual(record.attempts.map((a) => `${a.target} ${a.outcome} ${a.status}`), [
      'anthropic/claude-haiku-4-5 retry 529', 'anthropic/claude-haiku-4-5 fallback 529',
      'gemini/gemini-2.5-flash-lite retry 503', 'gemini/gemini-2.5-flash-lite fallback 503',
      'openai/gpt-4.1-nano ok 200',
    ]);
  }
});

test('a field one vendor cannot honour moves the request to the next vendor; a pinned target refuses it by name', async () => {
  const { id, tag } = await scenario([{}]);
  const res = await chat(ask('vendor-fallback', `two please ${tag}`, { n: 2 }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-provider'), 'gemini');
  assert.equal(res.headers.get('x-edgeway-attempts'), '1', 'nothing was sent to Anthropic');
  const [seen] = (await scenarioState(id)).log;
  assert.equal(seen.body.generationConfig.candidateCount, 2);

  const pinned = await chat(ask('demo', 'two please', { n: 2 }), { headers: { 'x-edgeway-target': 'anthropic/claude-sonnet-4-5' } });
  const error = await expectError(pinned, 400, 'invalid_request', assert);
  assert.equal(error.param, 'n');
  assert.match(error.message, /anthropic\/claude-sonnet-4-5/);
  assert.equal(pinned.headers.get('x-should-retry'), 'false');
});

test('a harmless field a vendor lacks is dropped with a warning header', async () => {
  const { id, tag } = await scenario([{}]);
  const res = await chat(ask('demo', `seeded ${tag}`, { seed: 42, temperature: 1.5 }), { headers: { 'x-edgeway-target': 'anthropic/claude-sonnet-4-5' } });
  assert.equal(res.status, 200);
  const warning = res.headers.get('x-edgeway-warning');
  assert.match(warning, /seed is not supported by anthropic\/claude-sonnet-4-5/);
  assert.match(warning, /temperature 1\.5 was lowered to 1/);
  const [seen] = (await scenarioState(id)).log;
  assert.equal(seen.body.seed, undefined);
  assert.equal(seen.body.temperature, 1);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.warnings.length, 2);
});

test('anthropic: overloaded (529) is retried, and an error event mid-stream ends the stream with stream_interrupted', async () => {
  const { id, tag } = await scenario([{ status: 529 }, {}]);
  const res = await chat(ask('demo', `busy ${tag}`), { headers: { 'x-edgeway-target': `anthropic/t-${id}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-attempts'), '2');

  const broken = await scenario([{ streamError: { afterChunks: 2 } }]);
  const streamed = await chat(ask('demo', `one two three four ${broken.tag}`, { stream: true }), { headers: { 'x-edgeway-target': `anthropic/t-${broken.id}` } });
  assert.equal(streamed.status, 200);
  const events = await readEvents(streamed);
  const last = JSON.parse(events.at(-1).data);
  assert.equal(last.error.code, 'stream_interrupted');
  assert.match(last.error.message, /overloaded_error: Overloaded/);
  assert.ok(!events.some((e) => e.data === '[DONE]'));
});

test('gemini: a 429 is retried after the delay its RetryInfo asks for', async () => {
  // No Retry-After header: the wait is only in the body, as Google sends it.
  const body = {
    error: {
      code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED',
      details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' }],
    },
  };
  const { id, tag } = await scenario([{ status: 429, body }, {}]);
  const res = await chat(ask('demo', `later ${tag}`), { headers: { 'x-edgeway-target': `gemini/t-${id}` } });
  assert.equal(res.status, 200);
  const log = (await scenarioState(id)).log;
  assert.equal(log.length, 2);
  const waited = log[1].receivedAt - log[0].receivedAt;
  assert.ok(waited >= 900, `retried after ${waited} ms, not the 1 s asked for`);
});

test('gemini: a blocked prompt is a content_filter finish, whole and streamed', async () => {
  const { id, tag } = await scenario([{ blocked: true }]);
  const client = openai({ 'x-edgeway-target': `gemini/t-${id}` });
  const whole = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: `bad ${tag}` }] });
  assert.equal(whole.choices[0].finish_reason, 'content_filter');
  assert.equal(whole.choices[0].message.content, null);
  const streamed = await collect(await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: `bad ${tag}` }], stream: true }));
  assert.equal(streamed.finish, 'content_filter');
  assert.equal(streamed.text, '');
});

test('gemini: a rejected key is gateway_misconfigured naming the secret, and the key is never echoed', async () => {
  const body = {
    error: {
      code: 400, message: `API key not valid: ${PROVIDER_KEY}`, status: 'INVALID_ARGUMENT',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
    },
  };
  const { id, tag } = await scenario([{ status: 400, body }]);
  const res = await chat(ask('demo', `key ${tag}`), { headers: { 'x-edgeway-target': `gemini/t-${id}` } });
  const error = await expectError(res, 502, 'gateway_misconfigured', assert);
  assert.match(error.message, /GEMINI_API_KEY/);
  assert.equal((await scenarioState(id)).requests, 1, 'a bad key is not retried');
  assert.ok(!gatewayLogText().includes(PROVIDER_KEY));
});

test('cost: computed from usage and the price table, in the headers and the log', async () => {
  const { tag } = await scenario([{ usage: { input_tokens: 1000, output_tokens: 2000, cache_read_input_tokens: 4000 } }]);
  const res = await chat(ask('claude', `price ${tag}`));
  assert.equal(res.status, 200);
  const body = await res.json();
  // Claude Sonnet 4.5: $3 input, $0.30 cached input, $15 output per million tokens.
  const expected = (1000 * 3 + 4000 * 0.3 + 2000 * 15) / 1e6;
  assert.equal(body.usage.prompt_tokens, 5000);
  assert.equal(body.usage.prompt_tokens_details.cached_tokens, 4000);
  assert.ok(Math.abs(Number(res.headers.get('x-edgeway-cost-usd')) - expected) < 1e-9, res.headers.get('x-edgeway-cost-usd'));
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.tokens_cached, 4000);
  assert.ok(Math.abs(record.cost_usd - expected) < 1e-9);

  // A stream's cost is in its log record.
  const streamed = await chat(ask('gemini-flash', `price ${tag}`, { stream: true }));
  await readEvents(streamed);
  const streamRecord = await logRecord(streamed.headers.get('x-request-id'));
  assert.ok(streamRecord.tokens_in > 0 && streamRecord.tokens_out > 0);
  const geminiCost = (streamRecord.tokens_in * 0.3 + streamRecord.tokens_out * 2.5) / 1e6;
  assert.ok(Math.abs(streamRecord.cost_usd - geminiCost) < 1e-9, `${streamRecord.cost_usd} vs ${geminiCost}`);
});

test('workers-ai: a stream without usage is counted by the gateway and marked as estimated', async () => {
  const { tag } = await scenario([{ pieces: ['abcd', 'efgh', 'ijkl'] }]);
  const res = await chat(ask('workers-ai-llama', `count ${tag}`, { stream: true }));
  await readEvents(res);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.tokens_estimated, true);
  assert.equal(record.tokens_out, 3, '12 characters at 4 a token');
  assert.ok(record.tokens_in > 0);
});

test('an answer without usage is counted by the gateway: logged as estimated, with no token headers', async () => {
  const { tag } = await scenario([{ noUsage: true, pieces: ['abcd', 'efgh'] }]);
  const res = await chat(ask('gpt-4o-mini', `count me ${tag}`));
  assert.equal(res.status, 200);
  assert.equal((await res.json()).usage, undefined, 'the answer is passed on as it came');
  assert.equal(res.headers.get('x-edgeway-tokens-out'), null);
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.tokens_estimated, true);
  assert.equal(record.tokens_out, 2, '8 characters at 4 a token');
  assert.ok(record.tokens_in > 0 && record.cost_usd > 0);
});

test('embeddings: the demo model through the openai client, paraphrases close together', async () => {
  const client = openai();
  const { data, response } = await client.embeddings
    .create({ model: 'demo-embed', input: ['How do I reset my password?', 'I forgot my password, how can I change it?', 'What is the capital of France?'] })
    .withResponse();
  assert.equal(data.data.length, 3);
  assert.equal(response.headers.get('x-edgeway-provider'), 'demo');
  const [a, b, c] = data.data.map((d) => d.embedding);
  const dot = (x, y) => x.reduce((sum, v, i) => sum + v * y[i], 0);
  assert.ok(Math.abs(dot(a, a) - 1) < 1e-4, 'unit length');
  assert.ok(dot(a, b) > 0.8, `paraphrases: ${dot(a, b)}`);
  assert.ok(dot(a, c) < 0.5, `unrelated: ${dot(a, c)}`);
  assert.ok(data.usage.prompt_tokens > 0);
});

test('embeddings: OpenAI, falling back to Gemini when OpenAI is down, in OpenAI\'s shape', async () => {
  const { id, tag } = await scenario([{ status: 503 }, { status: 503 }, { status: 503 }, {}]);
  const res = await fetch(`${GATEWAY}/v1/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'text-embedding-3-small', input: [`first ${tag}`, 'second'], dimensions: 16 }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-provider'), 'gemini');
  const body = await res.json();
  assert.equal(body.object, 'list');
  assert.deepEqual(body.data.map((d) => [d.object, d.index, d.embedding.length]), [['embedding', 0, 16], ['embedding', 1, 16]]);
  const log = (await scenarioState(id)).log;
  assert.deepEqual(log.map((e) => e.dialect), ['openai', 'openai', 'openai', 'gemini']);
  assert.match(log[3].path, /batchEmbedContents$/);
  assert.equal(log[3].body.requests[0].outputDimensionality, 16);
});

test('embeddings: Workers AI and Azure through their OpenAI-compatible endpoints', async () => {
  for (const [target, path] of [
    ['workers-ai/@cf/baai/bge-small-en-v1.5', /^\/client\/v4\/accounts\/test-account\/ai\/v1\/embeddings$/],
    ['azure/embeddings-small', /^\/openai\/deployments\/embeddings-small\/embeddings\?api-version=2024-10-21$/],
  ]) {
    const { id, tag } = await scenario([{}]);
    const { data } = await openai({ 'x-edgeway-target': target }).embeddings.create({ model: 'demo-embed', input: `hello ${tag}` }).withResponse();
    assert.equal(data.data.length, 1);
    assert.ok(data.data[0].embedding.length > 0);
    const [seen] = (await scenarioState(id)).log;
    assert.match(seen.path, path);
  }
});

test('embeddings: bad input is a clear 400, and a chat model is not an embeddings model', async () => {
  const post = (body) => fetch(`${GATEWAY}/v1/embeddings`, {
    method: 'POST', headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const empty = await expectError(await post({ model: 'demo-embed', input: [] }), 400, 'invalid_request', assert);
  assert.equal(empty.param, 'input');
  const chatModel = await expectError(await post({ model: 'demo', input: 'hi' }), 400, 'invalid_request', assert);
  assert.match(chatModel.message, /not an embeddings model/);
  await expectError(await post({ model: 'nope', input: 'hi' }), 404, 'model_not_found', assert);
});
