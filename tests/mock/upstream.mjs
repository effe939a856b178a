// Mock upstream provider for Edgeway's end-to-end tests.
//
// Speaks several providers' real wire formats ("dialects") so the gateway can
// be exercised without reaching a real provider. Plain Node 20 ESM, no
// dependencies. The `apiKey` given to the mock is the expected key for every
// dialect; without one, any key is accepted.
//
//   dialect     routes                                              auth
//   openai      POST /v1/chat/completions (stream and non-stream)   Authorization: Bearer <key>
//               GET  /v1/models
//               POST /v1/embeddings
//   anthropic   POST /v1/messages (stream: named SSE events)        x-api-key: <key>, and an
//                                                                   anthropic-version header
//   gemini      POST /v1beta/models/{model}:generateContent          x-goog-api-key: <key>
//               POST /v1beta/models/{model}:streamGenerateContent    (or ?key=<key>)
//                    ?alt=sse: CRLF SSE; without it, a streamed JSON array
//               POST /v1beta/models/{model}:batchEmbedContents
//   azure       POST /openai/deployments/{d}/chat/completions?api-version=…   api-key: <key>
//               POST /openai/deployments/{d}/embeddings?api-version=…
//               (OpenAI format; `model` optional, answers name the deployment)
//   workers-ai  POST /client/v4/accounts/{a}/ai/v1/chat/completions  Authorization: Bearer <key>
//               POST /client/v4/accounts/{a}/ai/v1/embeddings
//               (OpenAI format; streams never carry usage; errors in Cloudflare's envelope)
//
// Every dialect answers from the same provider-agnostic plan (text pieces or a
// tool call, and usage) and honours the same scenario steps; only the auth
// check, error bodies, answer bodies and stream events differ.
//
// How tests use it:
//   1. Start it, in-process with `startMockUpstream()` or as a child process
//      with `node tests/mock/upstream.mjs --port N [--api-key K]` (prints one
//      line `mock-upstream listening http://127.0.0.1:N`). Point the gateway's
//      upstream base URL at `url` (the mock's URL has no `/v1` suffix).
//   2. For a misbehaviour, create a scenario (`POST /__mock/scenarios` with
//      `{"steps":[...]}` or `createScenario(steps)`) and put the returned tag
//      `mock-scenario:<id>` anywhere in the request body sent through the
//      gateway (a user message, usually). The Nth request carrying that tag
//      (0-based, any dialect, chat or embeddings) is served by
//      `steps[min(N, steps.length - 1)]`; untagged requests get the default
//      behaviour. Scenarios are independent, so tests can run in parallel.
//   3. Inspect what the upstream saw with `GET /__mock/scenarios/<id>` or
//      `scenario(id)`: per request its `path` (pathname and query), `dialect`,
//      `operation` ("chat" or "embeddings"), headers and body, the port it
//      came from (`remotePort`: one per connection), the events emitted with
//      their timings and kinds, whether the response finished, and whether
//      the client (the gateway) went away before the response was finished
//      (`clientClosedEarly`).
//
// Other control routes: `POST /__mock/reset` (forget scenarios and counters),
// `GET /__mock/stats` (global request counters; `?by=dialect` adds
// `dialects: {<dialect>: {requests, chat, …}}`).

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/**
 * One step of a scenario: how the mock answers one request. All fields are
 * optional and can be combined; `{}` is the default (well-behaved) answer.
 *
 * @typedef {object} Step
 * @property {number} [status] Answer with this HTTP error status (a JSON body,
 *   never a stream). Takes precedence over everything but `hang`.
 * @property {object|string} [body] Error body for `status`: an object is sent
 *   as JSON, a string verbatim. Absent: the dialect's own error body for the
 *   status (OpenAI: 429 → type "requests", code "rate_limit_exceeded", 5xx →
 *   "server_error"; Anthropic: {"type":"error","error":{type,message}}, 529 →
 *   overloaded_error; Gemini: {"error":{code,message,status}}, 429 with a
 *   RetryInfo detail; Azure: its 401/404/429 bodies; Workers AI: Cloudflare's
 *   {"success":false,"errors":[…]} envelope).
 * @property {Object<string,string>} [headers] Extra response headers (any answer).
 * @property {string|number} [retryAfter] Value of the `Retry-After` header
 *   (Gemini 429: also the RetryInfo `retryDelay`, default "1s").
 * @property {number} [headerDelayMs] Wait this long before sending headers.
 * @property {string[]} [pieces] Content pieces to send instead of the default
 *   answer (one stream chunk each). With `toolCall`, the argument fragments
 *   (Gemini sends a tool call as one chunk).
 * @property {number} [firstChunkDelayMs] Delay between sending the headers and
 *   the first stream event (non-streaming: the body).
 * @property {number} [chunkDelayMs] Streaming: delay before each content event
 *   after the first event, and once before the closing events (OpenAI: the
 *   finish chunk; Anthropic: content_block_stop).
 * @property {'json'|'sse'} [malformed] `"json"`: 200 application/json with a
 *   truncated body. `"sse"`: OpenAI: a valid role chunk, then `data: {not json`,
 *   then `data: [DONE]`; Anthropic: message_start, then a content_block_delta
 *   event whose data is `{not json`, then the end; Gemini: `data: {not json`,
 *   then the end. Embeddings have no stream: "sse" acts like "json".
 * @property {number} [dropAfterChunks] Streaming: send k content events (after
 *   the opening events), then destroy the socket (no closing events).
 *   Non-streaming: send headers and half the body, then destroy the socket.
 * @property {number} [stallAfterChunks] Like `dropAfterChunks`, but send
 *   nothing more and never end, until the client or the server goes away.
 * @property {{afterChunks: number, type?: string, message?: string}} [streamError]
 *   Streaming: after k content events send the dialect's in-stream error and
 *   end the response. Anthropic: `event: error` with {"type":"error","error":
 *   {type (default "overloaded_error"), message (default "Overloaded")}};
 *   OpenAI family: `data: {"error":{message,"type":"server_error"}}`; Gemini:
 *   `data: {"error":{"code":503,message,"status":"UNAVAILABLE"}}`. Drop and
 *   stall win over it.
 * @property {boolean} [hang] Never send headers.
 * @property {boolean|{name?: string, arguments?: object|string}} [toolCall]
 *   Answer with a tool call when the request offers tools and does not forbid
 *   them (OpenAI tool_choice "none", Anthropic tool_choice {type:"none"},
 *   Gemini functionCallingConfig mode "NONE"). An object picks the function
 *   name (default: the forced tool, else the first) and the arguments
 *   (default: sample values from the tool's JSON schema).
 * @property {string} [finishReason] Sent verbatim as the finish reason instead
 *   of the default (OpenAI finish_reason, Anthropic stop_reason, Gemini
 *   finishReason). Gemini "SAFETY" also adds safetyRatings and, non-streaming,
 *   drops the candidate's content.
 * @property {boolean} [blocked] Gemini: the prompt is blocked: 200 with
 *   promptFeedback.blockReason "SAFETY" and no candidates (stream: that one
 *   event, then the end).
 * @property {boolean} [noUsage] OpenAI family, non-streaming: the answer has no
 *   `usage` at all (as some OpenAI-compatible servers send).
 * @property {object} [usage] Overrides the computed usage numbers, in the
 *   dialect's names: OpenAI prompt_tokens/completion_tokens (total_tokens
 *   recomputed unless given); Anthropic input_tokens, output_tokens,
 *   cache_read_input_tokens, cache_creation_input_tokens; Gemini
 *   promptTokenCount/candidatesTokenCount (totalTokenCount recomputed unless
 *   given).
 */

const SCENARIO_TAG = /mock-scenario:([A-Za-z0-9_-]+)/;
const MODELS = ['gpt-4o-mini', 'gpt-4o'];
const DEFAULT_EMBEDDING_DIMENSIONS = 8;

// ---------------------------------------------------------------------------
// Small shared helpers

function now() {
  return performance.timeOrigin + performance.now();
}

function randomId(length) {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function jsonText(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

/** Deterministic token estimate: ceil(chars / 4). */
function estimateTokens(chars) {
  return Math.ceil(chars / 4);
}

/** Splits text into word pieces, each followed by a space except the last. */
function wordPieces(text) {
  const words = text.split(/\s+/).filter(Boolean);
  return words.map((w, i) => (i < words.length - 1 ? `${w} ` : w));
}

/** Splits a string into fragments of at most `size` characters. */
function fragments(text, size = 8) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

/** Arguments matching a JSON schema's properties: "mock" for strings, 1, true… */
function sampleArguments(properties) {
  const sample = { string: 'mock', number: 1, integer: 1, boolean: true, array: [], object: {} };
  return Object.fromEntries(Object.entries(properties ?? {}).map(([name, schema]) => {
    const type = typeof schema?.type === 'string' ? schema.type.toLowerCase() : undefined;
    return [name, sample[type] ?? null];
  }));
}

/** Tool arguments as an object where the format needs one; unparsable text stays text. */
function argumentsObject(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Merges `override` into `usage`, then sets `totalKey` to the sum of `parts` unless overridden. */
function usageWithTotal(usage, override, totalKey, parts) {
  const merged = { ...usage, ...override };
  if (override?.[totalKey] === undefined) merged[totalKey] = parts.reduce((n, k) => n + merged[k], 0);
  return merged;
}

// ---------------------------------------------------------------------------
// The provider-agnostic plan

/**
 * What a chat request asks for, whatever its dialect.
 *
 * @typedef {object} ChatRequest
 * @property {string} model Name the answer carries.
 * @property {boolean} stream
 * @property {boolean} includeUsage Whether an OpenAI-family stream ends with a usage chunk.
 * @property {string} lastUserText
 * @property {number} promptChars Characters of all prompt texts, for the token estimate.
 * @property {{name?: string, properties?: object}[]} tools
 * @property {boolean} toolsDisabled
 * @property {string} [forcedTool]
 */

function wantsToolCall(request, step) {
  return Boolean(step.toolCall) && request.tools.length > 0 && !request.toolsDisabled;
}

function chooseToolCall(request, step) {
  const wanted = step.toolCall?.name ?? request.forcedTool;
  const tool = request.tools.find((t) => t.name === wanted) ?? request.tools[0];
  const given = step.toolCall?.arguments;
  const args = typeof given === 'string' ? given : JSON.stringify(given ?? sampleArguments(tool.properties));
  return { name: step.toolCall?.name ?? tool.name ?? 'mock_tool', args };
}

/** The answer: text pieces, or a tool call whose argument JSON is split into pieces. */
function buildPlan(request, step) {
  const toolCall = wantsToolCall(request, step) ? chooseToolCall(request, step) : null;
  const defaultPieces = toolCall ? fragments(toolCall.args) : wordPieces(`Mock reply: ${request.lastUserText}`);
  const pieces = step.pieces ?? defaultPieces;
  const text = pieces.join('');
  return {
    model: request.model,
    toolCall: toolCall && { name: toolCall.name, args: text },
    pieces,
    text,
    promptTokens: estimateTokens(request.promptChars),
    completionTokens: pieces.length,
    finishReason: step.finishReason,
    created: Math.floor(Date.now() / 1000),
  };
}

/** Event `kind` (for the log) plus `data` (object or verbatim string) and SSE `name`. */
function event(kind, data, name) {
  return name === undefined ? { kind, data } : { kind, data, name };
}

// ---------------------------------------------------------------------------
// Stream framings: how one event is written

const PLAIN_SSE = {
  contentType: 'text/event-stream; charset=utf-8',
  frame: (e) => `data: ${jsonText(e.data)}\n\n`,
};

const NAMED_SSE = {
  contentType: 'text/event-stream; charset=utf-8',
  frame: (e) => `event: ${e.name}\ndata: ${jsonText(e.data)}\n\n`,
};

/** Google's SSE uses CRLF line endings. */
const CRLF_SSE = {
  contentType: 'text/event-stream',
  frame: (e) => `data: ${jsonText(e.data)}\r\n\r\n`,
};

/** Google's streamGenerateContent without alt=sse: one JSON array, sent element by element. */
const JSON_ARRAY_STREAM = {
  contentType: 'application/json; charset=UTF-8',
  frame: (e, index) => `${index === 0 ? '[' : '\r\n,'}${jsonText(e.data)}`,
  close: (count) => (count === 0 ? '[]' : ']'),
};

// ---------------------------------------------------------------------------
// Embeddings (shared by every dialect)

/** 32-bit FNV-1a of the UTF-8 bytes. */
function fnv1a(text) {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/** Deterministic unit vector: lowercased words hashed into buckets. */
// Embeddings that behave like a real model's on the fixture questions
// (tests/fixtures/paraphrases.json): words are folded onto topics through a
// small lexicon (so "price" and "cost", "terminate" and "cancel" meet),
// words that carry no topic are dropped, and each topic is hashed to a
// dimension. Paraphrases share their topics and land close; unrelated
// questions share none and land far apart.
const STOP_WORDS = new Set(('a an the is are was were be do does did i me my you your we our it its of to in on for with at by from and or ' +
  'but so that this what whats which who how can could would should will please tell about there here some any much many just get ' +
  'give show know want need like if as into up').split(' '));
const LEXICON = Object.fromEntries([
  ['cost', 'price pricing priced expensive charge fee pay'],
  ['cancel', 'terminate stop end quit unsubscribe'],
  ['subscription', 'plan membership account'],
  ['reset', 'change recover forgot forgotten lost'],
  ['password', 'passcode passphrase login credentials'],
  ['refund', 'reimburse money back return'],
  ['delivery', 'ship shipping deliver arrive arrival long take when soon days time'],
  ['order', 'purchase package parcel'],
  ['capital', 'capitol'],
  ['france', 'french paris'],
  ['weather', 'forecast temperature rain sunny'],
  ['today', 'tonight now current'],
  ['hours', 'open opening close closing'],
].flatMap(([topic, words]) => [[topic, topic], ...words.split(' ').map((w) => [w, topic])]));

function topicOf(word) {
  if (LEXICON[word]) return LEXICON[word];
  const stem = word.replace(/(ing|ed|es|s)$/, '');
  return LEXICON[stem] ?? (stem.length >= 3 ? stem : word);
}

function embed(text, dimensions) {
  const vector = new Array(dimensions).fill(0);
  const words = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !STOP_WORDS.has(w));
  const topics = new Set(words.map(topicOf));
  for (const topic of topics) vector[fnv1a(topic) % dimensions] += 1;
  if (topics.size === 0) vector[0] = 1;
  const norm = Math.hypot(...vector);
  return vector.map((x) => x / norm);
}

/** Little-endian float32 bytes, base64-encoded (OpenAI's encoding_format "base64"). */
function float32Base64(values) {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

function isDimensionCount(value) {
  return value === undefined || (Number.isInteger(value) && value > 0 && value <= 65536);
}

// ---------------------------------------------------------------------------
// OpenAI dialect: errors and auth

function openAiError(message, type, code = null, param = null) {
  return { error: { message, type, param, code } };
}

/** The OpenAI-style error body the real API sends for a given status. */
function defaultErrorBody(status) {
  if (status === 429) {
    return openAiError(
      'Rate limit reached for requests. Please try again later.',
      'requests', 'rate_limit_exceeded');
  }
  if (status >= 500) {
    return openAiError(
      'The server had an error while processing your request. Sorry about that!',
      'server_error');
  }
  if (status === 401) {
    return openAiError('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  }
  if (status === 404) {
    return openAiError('The model does not exist or you do not have access to it.',
      'invalid_request_error', 'model_not_found');
  }
  return openAiError(`Mock error (HTTP ${status}).`, 'invalid_request_error');
}

/** OpenAI error body for a status; with a message, that message (and code/param). */
function openAiStatusError(status, { message, code = null, param = null } = {}) {
  if (!message) return defaultErrorBody(status);
  return openAiError(message, status >= 500 ? 'server_error' : 'invalid_request_error', code, param);
}

function openAiAuthError(authorization) {
  if (!authorization) {
    return openAiError(
      "You didn't provide an API key. You need to provide your API key in an " +
      'Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
      'invalid_request_error');
  }
  // Never echo the key that was sent.
  return openAiError(
    'Incorrect API key provided: ********. You can find your API key at ' +
    'https://platform.openai.com/account/api-keys.',
    'invalid_request_error', 'invalid_api_key');
}

const OPENAI_INVALID_JSON_MESSAGE =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't " +
  'using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was ' +
  'sent was not valid JSON.)';

function hasBearer(req, apiKey) {
  return apiKey === null || req.headers.authorization === `Bearer ${apiKey}`;
}

function openAiReject(req, url, apiKey) {
  if (hasBearer(req, apiKey)) return null;
  return { status: 401, body: openAiAuthError(req.headers.authorization) };
}

function openAiRequestIdHeaders() {
  return { 'x-request-id': `req_${randomId(32)}` };
}

/** The 400 the real API gives for a chat body without model/messages, or null. */
function openAiChatValidation(body, requireModel) {
  if (!isObject(body) || (requireModel && !body.model)) {
    return openAiError('you must provide a model parameter', 'invalid_request_error');
  }
  if (!Array.isArray(body.messages)) {
    return openAiError("Missing required parameter: 'messages'.", 'invalid_request_error',
      'missing_required_parameter', 'messages');
  }
  return null;
}

function modelList() {
  return {
    object: 'list',
    data: MODELS.map((id) => ({ id, object: 'model', created: 1715367049, owned_by: 'system' })),
  };
}

// ---------------------------------------------------------------------------
// OpenAI dialect: reading a chat request

/** Text of a message's content: a string, or the concatenated `text` parts. */
function contentText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (part && typeof part.text === 'string' ? part.text : '')).join('');
}

function lastUserText(messages) {
  const user = messages.findLast((m) => m && m.role === 'user');
  return user ? contentText(user.content) : '';
}

function openAiTools(body) {
  if (!Array.isArray(body.tools)) return [];
  return body.tools.map((t) => ({ name: t?.function?.name, properties: t?.function?.parameters?.properties }));
}

/** @returns {ChatRequest} */
function openAiChatRequest(body, model, includeUsage) {
  return {
    model,
    stream: body.stream === true,
    includeUsage,
    lastUserText: lastUserText(body.messages),
    promptChars: body.messages.reduce((n, m) => n + contentText(m?.content).length, 0),
    tools: openAiTools(body),
    toolsDisabled: body.tool_choice === 'none',
    forcedTool: body.tool_choice?.function?.name,
  };
}

// ---------------------------------------------------------------------------
// OpenAI dialect: writing a chat answer

function openAiIds() {
  return { id: `chatcmpl-${randomId(24)}`, callId: `call_${randomId(12)}` };
}

function openAiFinishReason(plan) {
  return plan.finishReason ?? (plan.toolCall ? 'tool_calls' : 'stop');
}

function openAiUsage(plan, step) {
  const usage = { prompt_tokens: plan.promptTokens, completion_tokens: plan.completionTokens };
  return usageWithTotal(usage, step.usage, 'total_tokens', ['prompt_tokens', 'completion_tokens']);
}

function openAiMessage(plan, callId) {
  if (!plan.toolCall) return { role: 'assistant', content: plan.text, refusal: null };
  const { name, args } = plan.toolCall;
  return {
    role: 'assistant', content: null, refusal: null,
    tool_calls: [{ id: callId, type: 'function', function: { name, arguments: args } }],
  };
}

function openAiCompletion(plan, step) {
  const { id, callId } = openAiIds();
  const completion = {
    id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: [{
      index: 0, message: openAiMessage(plan, callId), logprobs: null, finish_reason: openAiFinishReason(plan),
    }],
    usage: openAiUsage(plan, step),
    system_fingerprint: 'fp_mock',
  };
  if (step.noUsage) delete completion.usage;
  return completion;
}

/** A chat.completion.chunk; `usage` is null on every chunk but the last when included. */
function openAiChunk(id, plan, choices, includeUsage, usage = null) {
  const c = {
    id,
    object: 'chat.completion.chunk',
    created: plan.created,
    model: plan.model,
    system_fingerprint: 'fp_mock',
    choices,
  };
  if (includeUsage) c.usage = usage;
  return c;
}

function deltaChoice(delta, finishReason = null) {
  return [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
}

function openAiFirstDelta(plan, callId) {
  if (!plan.toolCall) return { role: 'assistant', content: '' };
  return {
    role: 'assistant', content: null,
    tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: plan.toolCall.name, arguments: '' } }],
  };
}

function openAiDelta(plan, piece) {
  return plan.toolCall ? { tool_calls: [{ index: 0, function: { arguments: piece } }] } : { content: piece };
}

const DONE_EVENT = event('done', '[DONE]');

/** Role chunk; one chunk per piece; finish chunk, usage chunk (when asked) and [DONE]. */
function openAiStreamEvents(plan, step, request) {
  const { id, callId } = openAiIds();
  const chunk = (choices, usage) => openAiChunk(id, plan, choices, request.includeUsage, usage);
  const closing = [event('finish', chunk(deltaChoice({}, openAiFinishReason(plan))))];
  if (request.includeUsage) closing.push(event('usage', chunk([], openAiUsage(plan, step))));
  closing.push(DONE_EVENT);
  return {
    opening: [event('role', chunk(deltaChoice(openAiFirstDelta(plan, callId))))],
    deltas: plan.pieces.map((p) => event('delta', chunk(deltaChoice(openAiDelta(plan, p))))),
    closing,
  };
}

function openAiMalformedStream(plan, step) {
  const { opening } = openAiStreamEvents(plan, step, { includeUsage: false });
  return { before: opening, broken: [event('malformed', '{not json'), DONE_EVENT] };
}

function openAiStreamError(streamError) {
  const message = streamError.message ??
    'The server had an error while processing your request. Sorry about that!';
  return event('error', { error: { message, type: 'server_error' } });
}

const OPENAI_CHAT_FORMAT = {
  completion: openAiCompletion,
  streamEvents: openAiStreamEvents,
  malformedStream: openAiMalformedStream,
  streamError: openAiStreamError,
  malformedJson: '{"id":"chatcmpl-mock","object":"chat.completion","choices":[{"ind',
};

// ---------------------------------------------------------------------------
// OpenAI dialect: embeddings

/** The texts of an OpenAI `input`: a string, strings, or token arrays. */
function embeddingInputs(input) {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input)) return [];
  if (input.length > 0 && input.every((x) => typeof x === 'number')) return [input.join(' ')];
  return input.map((x) => (Array.isArray(x) ? x.join(' ') : String(x)));
}

function openAiEmbeddingsValidation(body, requireModel) {
  if (!isObject(body) || (requireModel && !body.model)) {
    return openAiError('you must provide a model parameter', 'invalid_request_error');
  }
  const inputs = embeddingInputs(body.input);
  if (inputs.length === 0 || inputs.includes('')) {
    return openAiError("'input' is a required property and must not be empty", 'invalid_request_error', null, 'input');
  }
  if (!isDimensionCount(body.dimensions)) {
    return openAiError("'dimensions' must be a positive integer", 'invalid_request_error', null, 'dimensions');
  }
  return null;
}

function openAiEmbeddings(body, model, step) {
  const inputs = embeddingInputs(body.input);
  const dimensions = body.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  const encode = (v) => (body.encoding_format === 'base64' ? float32Base64(v) : v);
  const tokens = estimateTokens(inputs.reduce((n, s) => n + s.length, 0));
  return {
    object: 'list',
    data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: encode(embed(text, dimensions)) })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens, ...step.usage },
  };
}

/**
 * A dialect speaking OpenAI's chat and embeddings formats; the family members
 * (OpenAI, Azure, Workers AI) differ in auth, error bodies and naming.
 */
function openAiFamily({ name, reject, errorBody = openAiStatusError, modelOf, requireModel, includeUsage }) {
  const valid = (problem) => (problem ? { status: 400, body: problem } : null);
  return {
    name,
    reject,
    errorBody,
    invalidJsonMessage: OPENAI_INVALID_JSON_MESSAGE,
    requestIdHeaders: openAiRequestIdHeaders,
    framing: () => PLAIN_SSE,
    chat: {
      validate: (body) => valid(openAiChatValidation(body, requireModel)),
      read: (body, route) => openAiChatRequest(body, modelOf(body, route), includeUsage(body)),
      ...OPENAI_CHAT_FORMAT,
    },
    embeddings: {
      validate: (body) => valid(openAiEmbeddingsValidation(body, requireModel)),
      answer: (body, route, step) => openAiEmbeddings(body, modelOf(body, route), step),
    },
  };
}

const openai = openAiFamily({
  name: 'openai',
  reject: openAiReject,
  modelOf: (body) => body.model,
  requireModel: true,
  includeUsage: (body) => body.stream_options?.include_usage === true,
});

// ---------------------------------------------------------------------------
// Azure OpenAI dialect

const AZURE_NOT_FOUND = { error: { code: '404', message: 'Resource not found' } };

const AZURE_AUTH_ERROR = {
  error: {
    code: '401',
    message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to ' +
      'provide a valid key for an active subscription and use a correct regional API endpoint ' +
      'for your resource.',
  },
};

function azureReject(req, url, apiKey) {
  if (!url.searchParams.get('api-version')) return { status: 404, body: AZURE_NOT_FOUND };
  if (apiKey !== null && req.headers['api-key'] !== apiKey) return { status: 401, body: AZURE_AUTH_ERROR };
  return null;
}

function azureErrorBody(status, detail = {}) {
  if (status === 401) return AZURE_AUTH_ERROR;
  if (status === 404) return AZURE_NOT_FOUND;
  if (status !== 429) return openAiStatusError(status, detail);
  const seconds = detail.retryAfter ?? 1;
  return {
    error: {
      code: '429',
      message: 'Requests to the ChatCompletions_Create Operation under Azure OpenAI API have ' +
        'exceeded token rate limit of your current OpenAI S0 pricing tier. ' +
        `Please retry after ${seconds} seconds.`,
    },
  };
}

const azure = openAiFamily({
  name: 'azure',
  reject: azureReject,
  errorBody: azureErrorBody,
  modelOf: (body, route) => route.params.deployment,
  requireModel: false,
  includeUsage: (body) => body.stream_options?.include_usage === true,
});

// ---------------------------------------------------------------------------
// Cloudflare Workers AI dialect (OpenAI-compatible endpoints)

/** Cloudflare API error codes and messages by HTTP status. */
const WORKERS_AI_ERRORS = {
  400: [3003, 'Request is missing headers or body'],
  401: [10000, 'Authentication error'],
  403: [3023, 'Service unavailable for account'],
  404: [3042, 'The model name is invalid'],
  408: [3007, 'Request timeout'],
  413: [3006, 'Request is too large'],
  429: [3040, 'Capacity temporarily exceeded, please try again.'],
};

function cloudflareEnvelope(code, message) {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}

function workersAiErrorBody(status, detail = {}) {
  const [code, message] = WORKERS_AI_ERRORS[status] ?? [3043, 'Internal server error'];
  return cloudflareEnvelope(code, detail.message ?? message);
}

function workersAiReject(req, url, apiKey) {
  return hasBearer(req, apiKey) ? null : { status: 401, body: cloudflareEnvelope(10000, 'Authentication error') };
}

const workersAi = openAiFamily({
  name: 'workers-ai',
  reject: workersAiReject,
  errorBody: workersAiErrorBody,
  modelOf: (body) => body.model,
  requireModel: true,
  includeUsage: () => false, // Workers AI streams never carry usage, even when asked
});

// ---------------------------------------------------------------------------
// Anthropic Messages dialect: errors, auth and reading a request

/** Anthropic error type and default message by status. */
const ANTHROPIC_ERRORS = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'Not found'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'Number of requests has exceeded your rate limit. Please try again later.'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

function anthropicError(type, message) {
  return { type: 'error', error: { type, message } };
}

function anthropicErrorBody(status, detail = {}) {
  const fallback = status >= 500 ? ANTHROPIC_ERRORS[500] : ['invalid_request_error', `Mock error (HTTP ${status}).`];
  const [type, message] = ANTHROPIC_ERRORS[status] ?? fallback;
  return anthropicError(type, detail.message ?? message);
}

function anthropicReject(req, url, apiKey) {
  if (apiKey !== null && req.headers['x-api-key'] !== apiKey) {
    return { status: 401, body: anthropicError('authentication_error', 'invalid x-api-key') };
  }
  if (!req.headers['anthropic-version']) {
    return { status: 400, body: anthropicError('invalid_request_error', 'anthropic-version: header is required') };
  }
  return null;
}

/** Required Messages API fields and how to tell they are there. */
const ANTHROPIC_REQUIRED = [
  ['model', (body) => Boolean(body.model)],
  ['messages', (body) => Array.isArray(body.messages)],
  ['max_tokens', (body) => body.max_tokens !== undefined],
];

function anthropicValidation(body) {
  const problem = isObject(body) ? ANTHROPIC_REQUIRED.find(([, present]) => !present(body))?.[0] : 'body';
  if (!problem) return null;
  return { status: 400, body: anthropicError('invalid_request_error', `${problem}: Field required`) };
}

/** Text of a string content or system, or of its `text` blocks. */
function anthropicText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((b) => b?.type === 'text' && typeof b.text === 'string').map((b) => b.text).join('');
}

/** @returns {ChatRequest} */
function anthropicChatRequest(body) {
  const texts = body.messages.map((m) => anthropicText(m?.content));
  const lastUser = body.messages.findLastIndex((m, i) => m?.role === 'user' && texts[i] !== '');
  const tools = Array.isArray(body.tools) ? body.tools : [];
  return {
    model: body.model,
    stream: body.stream === true,
    includeUsage: true,
    lastUserText: lastUser === -1 ? '' : texts[lastUser],
    promptChars: texts.reduce((n, t) => n + t.length, anthropicText(body.system).length),
    tools: tools.map((t) => ({ name: t?.name, properties: t?.input_schema?.properties })),
    toolsDisabled: body.tool_choice?.type === 'none',
    forcedTool: body.tool_choice?.type === 'tool' ? body.tool_choice.name : undefined,
  };
}

// ---------------------------------------------------------------------------
// Anthropic Messages dialect: writing an answer

function anthropicIds() {
  return { id: `msg_${randomId(24)}`, toolId: `toolu_${randomId(24)}` };
}

function anthropicStopReason(plan) {
  return plan.finishReason ?? (plan.toolCall ? 'tool_use' : 'end_turn');
}

function anthropicUsage(plan, step) {
  return {
    input_tokens: plan.promptTokens,
    output_tokens: plan.completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    ...step.usage,
  };
}

function anthropicMessage(plan, step) {
  const { id, toolId } = anthropicIds();
  const content = plan.toolCall
    ? [{ type: 'tool_use', id: toolId, name: plan.toolCall.name, input: argumentsObject(plan.toolCall.args) }]
    : [{ type: 'text', text: plan.text }];
  return {
    id, type: 'message', role: 'assistant', model: plan.model, content,
    stop_reason: anthropicStopReason(plan), stop_sequence: null, usage: anthropicUsage(plan, step),
  };
}

/** An Anthropic stream event: the SSE event name and the log kind are its `type`. */
function anthropicEvent(data) {
  return event(data.type, data, data.type);
}

function anthropicMessageStart(plan, step, id) {
  return anthropicEvent({
    type: 'message_start',
    message: {
      id, type: 'message', role: 'assistant', content: [], model: plan.model,
      stop_reason: null, stop_sequence: null, usage: { ...anthropicUsage(plan, step), output_tokens: 1 },
    },
  });
}

function anthropicDelta(plan, piece) {
  return plan.toolCall ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece };
}

/** message_start, content_block_start, ping; deltas; content_block_stop, message_delta, message_stop. */
function anthropicStreamEvents(plan, step) {
  const { id, toolId } = anthropicIds();
  const block = plan.toolCall
    ? { type: 'tool_use', id: toolId, name: plan.toolCall.name, input: {} }
    : { type: 'text', text: '' };
  const delta = { stop_reason: anthropicStopReason(plan), stop_sequence: null };
  return {
    opening: [
      anthropicMessageStart(plan, step, id),
      anthropicEvent({ type: 'content_block_start', index: 0, content_block: block }),
      anthropicEvent({ type: 'ping' }),
    ],
    deltas: plan.pieces.map((p) => anthropicEvent({ type: 'content_block_delta', index: 0, delta: anthropicDelta(plan, p) })),
    closing: [
      anthropicEvent({ type: 'content_block_stop', index: 0 }),
      anthropicEvent({ type: 'message_delta', delta, usage: { output_tokens: anthropicUsage(plan, step).output_tokens } }),
      anthropicEvent({ type: 'message_stop' }),
    ],
  };
}

function anthropicMalformedStream(plan, step) {
  const start = anthropicMessageStart(plan, step, anthropicIds().id);
  return { before: [start], broken: [event('malformed', '{not json', 'content_block_delta')] };
}

function anthropicStreamError(streamError) {
  const body = anthropicError(streamError.type ?? 'overloaded_error', streamError.message ?? 'Overloaded');
  return event('error', body, 'error');
}

const anthropic = {
  name: 'anthropic',
  reject: anthropicReject,
  errorBody: anthropicErrorBody,
  invalidJsonMessage: 'There was an error parsing the body of your request.',
  requestIdHeaders: () => ({ 'request-id': `req_${randomId(24)}` }),
  framing: () => NAMED_SSE,
  chat: {
    validate: anthropicValidation,
    read: anthropicChatRequest,
    completion: anthropicMessage,
    streamEvents: anthropicStreamEvents,
    malformedStream: anthropicMalformedStream,
    streamError: anthropicStreamError,
  },
};

// ---------------------------------------------------------------------------
// Gemini dialect: errors, auth and reading a request

/** google.rpc status names and default messages by HTTP status. */
const GEMINI_STATUSES = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  409: ['ABORTED', 'The operation was aborted.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  499: ['CANCELLED', 'The operation was cancelled.'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  501: ['UNIMPLEMENTED', 'Method not implemented.'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

function geminiErrorBody(status, detail = {}) {
  const [rpcStatus, message] = GEMINI_STATUSES[status] ?? GEMINI_STATUSES[status >= 500 ? 500 : 400];
  const error = { code: status, message: detail.message ?? message, status: rpcStatus };
  if (status === 429) {
    error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${detail.retryAfter ?? 1}s` }];
  }
  return { error };
}

const GEMINI_KEY_INVALID = {
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

function geminiReject(req, url, apiKey) {
  if (apiKey === null) return null;
  const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
  return key === apiKey ? null : { status: 400, body: GEMINI_KEY_INVALID };
}

function geminiChatValidation(body) {
  if (isObject(body) && Array.isArray(body.contents)) return null;
  const message = '* GenerateContentRequest.contents: contents is not specified\n';
  return { status: 400, body: geminiErrorBody(400, { message }) };
}

function geminiText(parts) {
  if (!Array.isArray(parts)) return '';
  return parts.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('');
}

/** An omitted role means the user (single-turn requests usually leave it out). */
function isGeminiUser(content) {
  return content?.role === 'user' || content?.role === undefined;
}

function geminiTools(body) {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const declarations = tools.flatMap((t) => (Array.isArray(t?.functionDeclarations) ? t.functionDeclarations : []));
  return declarations.map((d) => ({ name: d?.name, properties: (d?.parameters ?? d?.parametersJsonSchema)?.properties }));
}

/** @returns {ChatRequest} */
function geminiChatRequest(body, route) {
  const texts = body.contents.map((c) => geminiText(c?.parts));
  const lastUser = body.contents.findLastIndex(isGeminiUser);
  const calling = body.toolConfig?.functionCallingConfig;
  return {
    model: route.params.model,
    stream: route.params.method === 'streamGenerateContent',
    includeUsage: true,
    lastUserText: lastUser === -1 ? '' : texts[lastUser],
    promptChars: texts.reduce((n, t) => n + t.length, geminiText(body.systemInstruction?.parts).length),
    tools: geminiTools(body),
    toolsDisabled: calling?.mode === 'NONE',
    forcedTool: calling?.allowedFunctionNames?.[0],
  };
}

// ---------------------------------------------------------------------------
// Gemini dialect: writing an answer

const SAFETY_RATINGS = [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH' }];

function geminiUsage(plan, step) {
  const usage = { promptTokenCount: plan.promptTokens, candidatesTokenCount: plan.completionTokens };
  return usageWithTotal(usage, step.usage, 'totalTokenCount', ['promptTokenCount', 'candidatesTokenCount']);
}

/** Usage of a chunk before the last: the candidates so far. */
function geminiPartialUsage(usage, candidates) {
  return { ...usage, candidatesTokenCount: candidates, totalTokenCount: usage.promptTokenCount + candidates };
}

function geminiParts(plan, text) {
  if (!plan.toolCall) return [{ text }];
  return [{ functionCall: { name: plan.toolCall.name, args: argumentsObject(plan.toolCall.args) } }];
}

/** A candidate; without parts it has no content; "SAFETY" adds safety ratings. */
function geminiCandidate(parts, finishReason) {
  const candidate = parts ? { content: { parts, role: 'model' } } : {};
  if (finishReason) candidate.finishReason = finishReason;
  candidate.index = 0;
  if (finishReason === 'SAFETY') candidate.safetyRatings = SAFETY_RATINGS;
  return candidate;
}

function geminiResponse(plan, candidate, usageMetadata, responseId) {
  return { candidates: [candidate], usageMetadata, modelVersion: plan.model, responseId };
}

function geminiResponseId() {
  return randomBytes(16).toString('base64url');
}

function geminiBlocked(plan, step) {
  const prompt = step.usage?.promptTokenCount ?? plan.promptTokens;
  return {
    promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY_RATINGS },
    usageMetadata: { promptTokenCount: prompt, totalTokenCount: prompt },
    modelVersion: plan.model,
  };
}

function geminiGenerateContent(plan, step) {
  if (step.blocked) return geminiBlocked(plan, step);
  const finishReason = plan.finishReason ?? 'STOP';
  const parts = finishReason === 'SAFETY' ? null : geminiParts(plan, plan.text);
  return geminiResponse(plan, geminiCandidate(parts, finishReason), geminiUsage(plan, step), geminiResponseId());
}

/** One GenerateContentResponse per piece (a tool call is one); the last one finishes. */
function geminiStreamEvents(plan, step) {
  if (step.blocked) return { opening: [], deltas: [event('blocked', geminiBlocked(plan, step))], closing: [] };
  const responseId = geminiResponseId();
  const usage = geminiUsage(plan, step);
  const texts = plan.toolCall ? [plan.text] : plan.pieces.length > 0 ? plan.pieces : [''];
  const deltas = texts.map((text, i) => {
    const last = i === texts.length - 1;
    const candidate = geminiCandidate(geminiParts(plan, text), last ? plan.finishReason ?? 'STOP' : undefined);
    return event('chunk', geminiResponse(plan, candidate, last ? usage : geminiPartialUsage(usage, i + 1), responseId));
  });
  return { opening: [], deltas, closing: [] };
}

function geminiStreamError(streamError) {
  const message = streamError.message ?? GEMINI_STATUSES[503][1];
  return event('error', { error: { code: 503, message, status: 'UNAVAILABLE' } });
}

function geminiEmbeddingsValidation(body) {
  if (isObject(body) && Array.isArray(body.requests) && body.requests.length > 0) return null;
  const message = '* BatchEmbedContentsRequest.requests: requests is not specified\n';
  return { status: 400, body: geminiErrorBody(400, { message }) };
}

function geminiEmbeddings(body) {
  const embeddings = body.requests.map((r) => {
    const dimensions = isDimensionCount(r?.outputDimensionality) ? r?.outputDimensionality : undefined;
    return { values: embed(geminiText(r?.content?.parts), dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS) };
  });
  return { embeddings };
}

const gemini = {
  name: 'gemini',
  reject: geminiReject,
  errorBody: geminiErrorBody,
  invalidJsonMessage: 'Invalid JSON payload received. Unexpected token.',
  requestIdHeaders: () => ({}),
  framing: (url) => (url.searchParams.get('alt') === 'sse' ? CRLF_SSE : JSON_ARRAY_STREAM),
  chat: {
    validate: geminiChatValidation,
    read: geminiChatRequest,
    completion: geminiGenerateContent,
    streamEvents: geminiStreamEvents,
    malformedStream: () => ({ before: [], broken: [event('malformed', '{not json')] }),
    streamError: geminiStreamError,
  },
  embeddings: {
    validate: geminiEmbeddingsValidation,
    answer: (body) => geminiEmbeddings(body),
  },
};

// ---------------------------------------------------------------------------
// One request/response exchange: timers, event log, and client-disconnect tracking

/** Ties a response to its log entry and keeps every timer so a disconnect can clear it. */
class Exchange {
  constructor(res, entry, serverState, framing = PLAIN_SSE) {
    this.res = res;
    this.entry = entry;
    this.framing = framing;
    this.closed = false;
    this.selfDestroyed = false;
    this.pending = new Map(); // timer handle → resolve of the wait it belongs to
    this.chunkIndex = 0;
    res.on('finish', () => { entry.finished = true; });
    res.on('close', () => this.onClose(serverState));
  }

  onClose(serverState) {
    this.closed = true;
    if (!this.res.writableFinished && !this.selfDestroyed && !serverState.closing) {
      this.entry.clientClosedEarly = true;
    }
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve(false);
    }
    this.pending.clear();
  }

  /** Waits `ms`; resolves true, or false as soon as the connection is gone. */
  wait(ms) {
    if (this.closed) return Promise.resolve(false);
    if (!ms || ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(!this.closed);
      }, ms);
      this.pending.set(timer, resolve);
    });
  }

  /** Waits `chunkDelayMs` unless nothing has been sent yet. */
  waitBeforeChunk(step) {
    return this.wait(this.chunkIndex > 0 ? step.chunkDelayMs : 0);
  }

  /** Records something that left, under `kind`. */
  record(kind) {
    this.entry.emitted.push({ index: this.chunkIndex++, at: now(), kind });
  }

  /** Writes one stream event in the exchange's framing and records when it left. */
  sendEvent(e) {
    if (this.closed) return false;
    this.res.write(this.framing.frame(e, this.chunkIndex));
    this.record(e.kind);
    return true;
  }

  /** Ends a stream, closing the framing (a JSON array needs its `]`). */
  end() {
    this.res.end(this.framing.close?.(this.chunkIndex) ?? '');
  }

  /**
   * Destroys the socket on purpose (not a client disconnect), once what was
   * written has been flushed: a drop "after k chunks" must deliver k chunks.
   */
  drop() {
    this.selfDestroyed = true;
    const socket = this.res.socket;
    if (!socket) return;
    socket.write('', () => socket.destroy());
  }
}

// ---------------------------------------------------------------------------
// Writing responses (shared by every dialect)

function sendJson(res, status, body, headers = {}) {
  const text = jsonText(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends a `{status, body}` refusal (auth, validation…) in the dialect's shape. */
function sendRejection(res, dialect, rejection) {
  sendJson(res, rejection.status, rejection.body, dialect.requestIdHeaders());
}

function stepHeaders(step, dialect) {
  const headers = { ...dialect.requestIdHeaders(), ...step.headers };
  if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
  return headers;
}

function sendStepError(ex, step, dialect) {
  const body = step.body ?? dialect.errorBody(step.status, { retryAfter: step.retryAfter });
  sendJson(ex.res, step.status, body, stepHeaders(step, dialect));
  ex.record('body');
}

function sendMalformedJson(ex, step, answer) {
  const whole = jsonText(answer.body(step));
  const text = answer.malformedJson ?? whole.slice(0, Math.floor(whole.length / 2));
  sendJson(ex.res, 200, text, stepHeaders(step, answer.dialect));
  ex.record('body');
}

/** A non-streaming JSON answer, honouring firstChunkDelayMs and the drop/stall cut-offs. */
async function sendBody(ex, step, answer) {
  const text = JSON.stringify(answer.body(step));
  ex.res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...stepHeaders(step, answer.dialect),
  });
  ex.res.flushHeaders();
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  const cut = step.dropAfterChunks ?? step.stallAfterChunks;
  if (cut === undefined) {
    ex.res.end(text);
    ex.record('body');
    return;
  }
  ex.res.write(text.slice(0, Math.floor(text.length / 2)));
  ex.record('partial-body');
  if (step.dropAfterChunks !== undefined) ex.drop();
  // stallAfterChunks: nothing more; the close handler cleans up.
}

function startEventStream(ex, step, dialect) {
  ex.res.writeHead(200, {
    'content-type': ex.framing.contentType,
    'cache-control': 'no-cache',
    ...stepHeaders(step, dialect),
  });
  ex.res.flushHeaders();
}

async function sendMalformedStream(ex, step, answer) {
  const { before, broken } = answer.malformedStream(step);
  startEventStream(ex, step, answer.dialect);
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  before.forEach((e) => ex.sendEvent(e));
  if (!(await ex.waitBeforeChunk(step))) return;
  broken.forEach((e) => ex.sendEvent(e));
  ex.end();
}

/** How many content events a stream sends before a drop, stall or stream error. */
function deltasToSend(step, available) {
  const cuts = [step.dropAfterChunks, step.stallAfterChunks, step.streamError?.afterChunks];
  return Math.min(available, ...cuts.filter((k) => k !== undefined));
}

/**
 * Streams opening events, content events and closing events, honouring the
 * delays and the drop/stall/streamError cut-offs of the step.
 */
async function sendStream(ex, step, answer) {
  const { opening, deltas, closing } = answer.streamEvents(step);
  startEventStream(ex, step, answer.dialect);
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  opening.forEach((e) => ex.sendEvent(e));
  for (const delta of deltas.slice(0, deltasToSend(step, deltas.length))) {
    if (!(await ex.waitBeforeChunk(step))) return;
    ex.sendEvent(delta);
  }
  if (step.dropAfterChunks !== undefined) return ex.drop();
  if (step.stallAfterChunks !== undefined) return; // never ends; close handler cleans up
  if (step.streamError) {
    ex.sendEvent(answer.streamError(step.streamError));
    return ex.end();
  }
  if (closing.length > 0 && !(await ex.waitBeforeChunk(step))) return;
  closing.forEach((e) => ex.sendEvent(e));
  ex.end();
}

/** Serves one request according to its (already chosen) step. */
async function serveStep(ex, step, answer) {
  if (step.hang) return; // never send headers; the close handler cleans up
  if (!(await ex.wait(step.headerDelayMs))) return;
  if (step.status !== undefined) return sendStepError(ex, step, answer.dialect);
  if (step.malformed === 'sse' && answer.malformedStream) return sendMalformedStream(ex, step, answer);
  if (step.malformed === 'json' || step.malformed === 'sse') return sendMalformedJson(ex, step, answer);
  if (answer.stream) return sendStream(ex, step, answer);
  return sendBody(ex, step, answer);
}

/** What serveStep needs to answer a chat request in a dialect. */
function chatAnswer(dialect, request) {
  const format = dialect.chat;
  const plan = (step) => buildPlan(request, step);
  return {
    dialect,
    stream: request.stream,
    body: (step) => format.completion(plan(step), step),
    streamEvents: (step) => format.streamEvents(plan(step), step, request),
    malformedStream: (step) => format.malformedStream(plan(step), step),
    streamError: format.streamError,
    malformedJson: format.malformedJson,
  };
}

function embeddingsAnswer(dialect, body, route) {
  return { dialect, stream: false, body: (step) => dialect.embeddings.answer(body, route, step) };
}

// ---------------------------------------------------------------------------
// Routes

const DIALECTS = [openai, anthropic, gemini, azure, workersAi];

/** [method, path pattern, dialect, operation, legacy stats counter]. */
const ROUTES = [
  ['POST', /^\/v1\/chat\/completions$/, openai, 'chat', 'chatCompletions'],
  ['GET', /^\/v1\/models$/, openai, 'models', 'models'],
  ['POST', /^\/v1\/embeddings$/, openai, 'embeddings'],
  ['POST', /^\/v1\/messages$/, anthropic, 'chat'],
  ['POST', /^\/v1beta\/models\/(?<model>[^/:]+):(?<method>generateContent|streamGenerateContent)$/, gemini, 'chat'],
  ['POST', /^\/v1beta\/models\/(?<model>[^/:]+):batchEmbedContents$/, gemini, 'embeddings'],
  ['POST', /^\/openai\/deployments\/(?<deployment>[^/]+)\/chat\/completions$/, azure, 'chat'],
  ['POST', /^\/openai\/deployments\/(?<deployment>[^/]+)\/embeddings$/, azure, 'embeddings'],
  ['POST', /^\/client\/v4\/accounts\/(?<account>[^/]+)\/ai\/v1\/chat\/completions$/, workersAi, 'chat'],
  ['POST', /^\/client\/v4\/accounts\/(?<account>[^/]+)\/ai\/v1\/embeddings$/, workersAi, 'embeddings'],
];

function matchRoute(method, url) {
  for (const [m, pattern, dialect, operation, legacyCounter] of ROUTES) {
    const match = method === m && pattern.exec(url.pathname);
    if (match) return { dialect, operation, legacyCounter, params: { ...match.groups }, url };
  }
  return null;
}

/** The dialect whose 404 an unknown path gets, by prefix. */
function dialectForUnknownPath(path) {
  if (path.startsWith('/v1beta/')) return gemini;
  if (path.startsWith('/openai/')) return azure;
  if (path.startsWith('/client/v4/')) return workersAi;
  return openai;
}

// ---------------------------------------------------------------------------
// Server state, scenarios and stats

function createState() {
  return { scenarios: new Map(), stats: emptyStats(), dialectStats: emptyDialectStats(), closing: false };
}

function emptyStats() {
  return { requests: 0, chatCompletions: 0, models: 0 };
}

/** Per dialect: `requests` and one counter per operation it serves. */
function emptyDialectStats() {
  const stats = Object.fromEntries(DIALECTS.map((d) => [d.name, { requests: 0 }]));
  for (const [, , dialect, operation] of ROUTES) stats[dialect.name][operation] = 0;
  return stats;
}

function countRequest(state, route) {
  const counters = state.dialectStats[route.dialect.name];
  counters.requests += 1;
  counters[route.operation] += 1;
  if (route.legacyCounter) state.stats[route.legacyCounter] += 1;
}

function statsSnapshot(state, byDialect) {
  const stats = { ...state.stats, scenarios: state.scenarios.size };
  if (byDialect) stats.dialects = structuredClone(state.dialectStats);
  return stats;
}

function createScenarioIn(state, steps) {
  const id = randomId(10);
  state.scenarios.set(id, { steps: steps.length > 0 ? steps : [{}], requests: 0, log: [] });
  return id;
}

function scenarioSnapshot(state, id) {
  const scenario = state.scenarios.get(id);
  if (!scenario) return null;
  return structuredClone({ requests: scenario.requests, log: scenario.log });
}

function resetState(state) {
  state.scenarios.clear();
  state.stats = emptyStats();
  state.dialectStats = emptyDialectStats();
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, value: null };
  }
}

/**
 * Finds the scenario a request belongs to, counts the request and opens its
 * log entry. Returns `{ step, entry }`, `{ step: {} }` when untagged, or
 * `{ unknownId }` when the tag names no scenario.
 */
function claimStep(state, req, raw, parsed, route) {
  const tag = SCENARIO_TAG.exec(raw);
  if (!tag) return { step: {}, entry: newLogEntry(req, parsed, route) };
  const scenario = state.scenarios.get(tag[1]);
  if (!scenario) return { unknownId: tag[1] };
  const step = scenario.steps[Math.min(scenario.requests, scenario.steps.length - 1)];
  scenario.requests += 1;
  const entry = newLogEntry(req, parsed, route);
  scenario.log.push(entry);
  return { step, entry };
}

function newLogEntry(req, parsed, route) {
  return {
    receivedAt: req.receivedAt,
    // Which connection it came on: the caller's port.
    remotePort: req.socket.remotePort,
    path: route.url.pathname + route.url.search,
    dialect: route.dialect.name,
    operation: route.operation,
    headers: { ...req.headers },
    body: parsed.ok ? parsed.value : null,
    clientClosedEarly: false,
    emitted: [],
    finished: false,
  };
}

// ---------------------------------------------------------------------------
// Handlers

function unknownScenarioRejection(dialect, id) {
  const message = `mock-upstream: unknown scenario '${id}' (was /__mock/reset called?)`;
  return { status: 400, body: dialect.errorBody(400, { message, code: 'mock_unknown_scenario' }) };
}

/** The first reason to refuse the request: auth/headers, then bad JSON, then a bad body. */
function requestRejection(route, req, parsed, apiKey) {
  const { dialect, operation, url } = route;
  const refused = dialect.reject(req, url, apiKey);
  if (refused) return refused;
  if (!parsed.ok) return { status: 400, body: dialect.errorBody(400, { message: dialect.invalidJsonMessage }) };
  return dialect[operation].validate(parsed.value, route);
}

function answerFor(route, body) {
  const { dialect, operation } = route;
  if (operation === 'embeddings') return embeddingsAnswer(dialect, body, route);
  return chatAnswer(dialect, dialect.chat.read(body, route));
}

/** A chat or embeddings request in any dialect. */
async function handleApi(state, apiKey, req, res, route) {
  countRequest(state, route);
  const raw = await readBody(req);
  const parsed = parseJson(raw);
  const claim = claimStep(state, req, raw, parsed, route);
  if (claim.unknownId) return sendRejection(res, route.dialect, unknownScenarioRejection(route.dialect, claim.unknownId));
  const ex = new Exchange(res, claim.entry, state, route.dialect.framing(route.url));
  const rejection = requestRejection(route, req, parsed, apiKey);
  if (rejection) return sendRejection(res, route.dialect, rejection);
  return serveStep(ex, claim.step, answerFor(route, parsed.value));
}

function handleModels(state, apiKey, req, res, route) {
  countRequest(state, route);
  const rejection = route.dialect.reject(req, route.url, apiKey);
  if (rejection) return sendRejection(res, route.dialect, rejection);
  return sendJson(res, 200, modelList());
}

function sendUnknownRoute(res, method, path) {
  const dialect = dialectForUnknownPath(path);
  sendJson(res, 404, dialect.errorBody(404, { message: `Invalid URL (${method} ${path})` }));
}

async function handleControl(state, req, res, url) {
  const path = url.pathname;
  if (req.method === 'POST' && path === '/__mock/scenarios') {
    const parsed = parseJson(await readBody(req));
    const steps = parsed.value?.steps;
    if (!Array.isArray(steps)) {
      return sendJson(res, 400, { error: 'expected JSON {"steps": [step, ...]}' });
    }
    return sendJson(res, 200, { id: createScenarioIn(state, steps) });
  }
  const scenarioMatch = /^\/__mock\/scenarios\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && scenarioMatch) {
    const snapshot = scenarioSnapshot(state, scenarioMatch[1]);
    return snapshot ? sendJson(res, 200, snapshot) : sendJson(res, 404, { error: 'unknown scenario' });
  }
  if (req.method === 'POST' && path === '/__mock/reset') {
    resetState(state);
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === 'GET' && path === '/__mock/stats') {
    return sendJson(res, 200, statsSnapshot(state, url.searchParams.get('by') === 'dialect'));
  }
  return sendJson(res, 404, { error: `no mock control route ${req.method} ${path}` });
}

async function route(state, apiKey, req, res) {
  req.receivedAt = now();
  const url = new URL(req.url, 'http://mock');
  if (url.pathname.startsWith('/__mock/')) return handleControl(state, req, res, url);
  state.stats.requests += 1;
  const matched = matchRoute(req.method, url);
  if (!matched) return sendUnknownRoute(res, req.method, url.pathname);
  if (matched.operation === 'models') return handleModels(state, apiKey, req, res, matched);
  return handleApi(state, apiKey, req, res, matched);
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Starts the mock upstream.
 *
 * @param {object} [options]
 * @param {number} [options.port=0] Port to listen on; 0 picks a free one.
 * @param {string} [options.host='127.0.0.1'] Interface to listen on.
 * @param {string|null} [options.apiKey=null] When set, every provider route
 *   requires this key in its dialect's auth header (see the top of the file)
 *   and answers that provider's auth error otherwise.
 * @returns {Promise<{
 *   url: string,
 *   port: number,
 *   close: () => Promise<void>,
 *   createScenario: (steps: Step[]) => string,
 *   scenario: (id: string) => ({requests: number, log: object[]} | null),
 *   reset: () => void,
 * }>} `url` is `http://host:port` without `/v1`. `createScenario` returns the
 *   scenario id (tag requests with `mock-scenario:<id>`); `scenario` returns the
 *   same snapshot as `GET /__mock/scenarios/<id>`; `close` destroys open
 *   connections so shutdown never hangs.
 */
export async function startMockUpstream({ port = 0, host = '127.0.0.1', apiKey = null } = {}) {
  const state = createState();
  const server = http.createServer({ noDelay: true }, (req, res) => {
    route(state, apiKey, req, res).catch((err) => {
      if (!res.headersSent && !res.destroyed) {
        sendJson(res, 500, openAiError(`mock-upstream: ${err.message}`, 'server_error'));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing = null;

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    close() {
      closing ??= new Promise((resolve) => {
        state.closing = true;
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    createScenario: (steps) => createScenarioIn(state, steps),
    scenario: (id) => scenarioSnapshot(state, id),
    reset: () => resetState(state),
  };
}

// ---------------------------------------------------------------------------
// Command line: node tests/mock/upstream.mjs --port N [--api-key K]

function parseArgs(argv) {
  const options = { port: 0, apiKey: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') options.port = Number(argv[++i]);
    else if (argv[i] === '--api-key') options.apiKey = argv[++i];
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error('--port must be an integer between 0 and 65535');
  }
  return options;
}

async function main() {
  const mock = await startMockUpstream({ ...parseArgs(process.argv.slice(2)), host: '127.0.0.1' });
  // Handlers go in before the banner: a parent may signal as soon as it reads it.
  const stop = () => mock.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`mock-upstream listening ${mock.url}\n`);
}

function isMainModule() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main().catch((err) => {
    process.stderr.write(`mock-upstream: ${err.message}\n`);
    process.exit(1);
  });
}
