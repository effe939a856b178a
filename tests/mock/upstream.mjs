// Mock upstream provider for Edgeway's end-to-end tests.
//
// Speaks OpenAI's Chat Completions API (POST /v1/chat/completions, streaming
// and non-streaming, GET /v1/models) so the gateway can be exercised without
// reaching a real provider. Plain Node 20 ESM, no dependencies.
//
// How tests use it:
//   1. Start it, in-process with `startMockUpstream()` or as a child process
//      with `node tests/mock/upstream.mjs --port N [--api-key K]` (prints one
//      line `mock-upstream listening http://127.0.0.1:N`). Point the gateway's
//      upstream base URL at `url` (the mock's URL has no `/v1` suffix).
//   2. For a misbehaviour, create a scenario (`POST /__mock/scenarios` with
//      `{"steps":[...]}` or `createScenario(steps)`) and put the returned tag
//      `mock-scenario:<id>` inside a user message sent through the gateway.
//      The Nth request carrying that tag (0-based) is served by
//      `steps[min(N, steps.length - 1)]`; untagged requests get the default
//      behaviour. Scenarios are independent, so tests can run in parallel.
//   3. Inspect what the upstream saw with `GET /__mock/scenarios/<id>` or
//      `scenario(id)`: request headers and bodies, chunk timings, whether the
//      response finished, and whether the client (the gateway) went away
//      before the response was finished (`clientClosedEarly`).
//
// Other control routes: `POST /__mock/reset` (forget scenarios and counters),
// `GET /__mock/stats` (global request counters).

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/**
 * One step of a scenario: how the mock answers one chat request. All fields
 * are optional and can be combined; `{}` is the default (well-behaved) answer.
 *
 * @typedef {object} Step
 * @property {number} [status] Answer with this HTTP error status (a JSON body,
 *   never a stream). Takes precedence over everything but `hang`.
 * @property {object|string} [body] Error body for `status`: an object is sent
 *   as JSON, a string verbatim. Absent: an OpenAI-style error for the status
 *   (429 → type "requests", code "rate_limit_exceeded"; 5xx → "server_error").
 * @property {Object<string,string>} [headers] Extra response headers (any answer).
 * @property {string|number} [retryAfter] Value of the `Retry-After` header.
 * @property {number} [headerDelayMs] Wait this long before sending headers.
 * @property {string[]} [pieces] Content pieces to send instead of the default
 *   answer (one stream chunk each). With `toolCall`, the argument fragments.
 * @property {number} [firstChunkDelayMs] Delay between sending the headers and
 *   the first chunk (non-streaming: the body).
 * @property {number} [chunkDelayMs] Streaming: delay before each chunk after
 *   the first, up to and including the finish chunk.
 * @property {'json'|'sse'} [malformed] `"json"`: 200 application/json with a
 *   truncated body. `"sse"`: a valid role chunk, then `data: {not json`, then
 *   `data: [DONE]`.
 * @property {number} [dropAfterChunks] Streaming: send k content chunks after
 *   the role chunk, then destroy the socket (no finish chunk, no [DONE]).
 *   Non-streaming: send headers and half the body, then destroy the socket.
 * @property {number} [stallAfterChunks] Like `dropAfterChunks`, but send
 *   nothing more and never end, until the client or the server goes away.
 * @property {boolean} [hang] Never send headers.
 * @property {boolean|{name?: string, arguments?: object|string}} [toolCall]
 *   Answer with a tool call (finish_reason "tool_calls") when the request has
 *   `tools` and `tool_choice` is not "none". An object picks the function name
 *   (default: the forced or first tool) and the arguments.
 * @property {object} [usage] Overrides the computed usage numbers;
 *   `total_tokens` is recomputed unless given.
 */

const CHAT_PATH = '/v1/chat/completions';
const MODELS_PATH = '/v1/models';
const SCENARIO_TAG = /mock-scenario:([A-Za-z0-9_-]+)/;
const MODELS = ['gpt-4o-mini', 'gpt-4o'];

// ---------------------------------------------------------------------------
// OpenAI-shaped payloads

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

function authError(authorization) {
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

const INVALID_JSON_ERROR = openAiError(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't " +
  'using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was ' +
  'sent was not valid JSON.)',
  'invalid_request_error');

/** The 400 the real API gives for a body without model/messages, or null. */
function requestValidationError(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !body.model) {
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
// Building the answer

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

/** Deterministic token estimate: ceil(total chars of all contents / 4). */
function estimatePromptTokens(messages) {
  const chars = messages.reduce((n, m) => n + contentText(m?.content).length, 0);
  return Math.ceil(chars / 4);
}

/** Splits text into word pieces, each followed by a space except the last. */
function wordPieces(text) {
  const words = text.split(/\s+/).filter(Boolean);
  return words.map((w, i) => (i < words.length - 1 ? `${w} ` : w));
}

function wantsToolCall(body, step) {
  return Boolean(step.toolCall) && Array.isArray(body.tools) && body.tools.length > 0 &&
    body.tool_choice !== 'none';
}

/** Arguments matching the tool's JSON schema: "mock" for strings, 1, true… */
function argumentsFromSchema(tool) {
  const properties = tool?.function?.parameters?.properties ?? {};
  const sample = { string: 'mock', number: 1, integer: 1, boolean: true, array: [], object: {} };
  return Object.fromEntries(
    Object.entries(properties).map(([name, schema]) => [name, sample[schema?.type] ?? null]));
}

function pickTool(body, step) {
  const forced = body.tool_choice?.function?.name;
  const wanted = step.toolCall?.name ?? forced;
  return body.tools.find((t) => t?.function?.name === wanted) ?? body.tools[0];
}

/** Splits a string into fragments of at most `size` characters. */
function fragments(text, size = 8) {
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

function toolCallPlan(body, step) {
  const tool = pickTool(body, step);
  const name = step.toolCall?.name ?? tool?.function?.name ?? 'mock_tool';
  const given = step.toolCall?.arguments;
  const args = typeof given === 'string' ? given : JSON.stringify(given ?? argumentsFromSchema(tool));
  const parts = step.pieces ?? fragments(args);
  const id = `call_${randomId(12)}`;
  return {
    firstDelta: {
      role: 'assistant', content: null,
      tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }],
    },
    deltas: parts.map((a) => ({ tool_calls: [{ index: 0, function: { arguments: a } }] })),
    message: {
      role: 'assistant', content: null, refusal: null,
      tool_calls: [{ id, type: 'function', function: { name, arguments: parts.join('') } }],
    },
    finishReason: 'tool_calls',
  };
}

function textPlan(body, step) {
  const pieces = step.pieces ?? wordPieces(`Mock reply: ${lastUserText(body.messages)}`);
  return {
    firstDelta: { role: 'assistant', content: '' },
    deltas: pieces.map((content) => ({ content })),
    message: { role: 'assistant', content: pieces.join(''), refusal: null },
    finishReason: 'stop',
  };
}

/** What to answer: the message, its stream deltas, usage and ids. */
function buildPlan(body, step) {
  const plan = wantsToolCall(body, step) ? toolCallPlan(body, step) : textPlan(body, step);
  const usage = {
    prompt_tokens: estimatePromptTokens(body.messages),
    completion_tokens: plan.deltas.length,
    ...step.usage,
  };
  if (step.usage?.total_tokens === undefined) {
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  }
  return {
    ...plan,
    usage,
    id: `chatcmpl-${randomId(24)}`,
    created: Math.floor(Date.now() / 1000),
    model: body.model,
  };
}

function completionBody(plan) {
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: [{ index: 0, message: plan.message, logprobs: null, finish_reason: plan.finishReason }],
    usage: plan.usage,
    system_fingerprint: 'fp_mock',
  };
}

/** A chat.completion.chunk; `usage` is null on every chunk but the last when included. */
function chunk(plan, choices, includeUsage, usage = null) {
  const c = {
    id: plan.id,
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

// ---------------------------------------------------------------------------
// One request/response exchange: timers, chunk log, and client-disconnect tracking

function now() {
  return performance.timeOrigin + performance.now();
}

function randomId(length) {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

/** Ties a response to its log entry and keeps every timer so a disconnect can clear it. */
class Exchange {
  constructor(res, entry, serverState) {
    this.res = res;
    this.entry = entry;
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

  /** Writes one SSE event and records when it left. */
  sendEvent(data, kind) {
    if (this.closed) return false;
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    this.res.write(`data: ${text}\n\n`);
    this.entry.emitted.push({ index: this.chunkIndex++, at: now(), kind });
    return true;
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
// Writing responses

function sendJson(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function stepHeaders(step) {
  const headers = { 'x-request-id': `req_${randomId(32)}`, ...step.headers };
  if (step.retryAfter !== undefined) headers['retry-after'] = String(step.retryAfter);
  return headers;
}

function sendStepError(ex, step) {
  const body = step.body ?? defaultErrorBody(step.status);
  sendJson(ex.res, step.status, body, stepHeaders(step));
  ex.entry.emitted.push({ index: ex.chunkIndex++, at: now(), kind: 'body' });
}

function sendMalformedJson(ex, step) {
  sendJson(ex.res, 200, '{"id":"chatcmpl-mock","object":"chat.completion","choices":[{"ind',
    stepHeaders(step));
  ex.entry.emitted.push({ index: ex.chunkIndex++, at: now(), kind: 'body' });
}

async function sendCompletion(ex, step, plan) {
  const text = JSON.stringify(completionBody(plan));
  ex.res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...stepHeaders(step),
  });
  ex.res.flushHeaders();
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  const cut = step.dropAfterChunks ?? step.stallAfterChunks;
  if (cut === undefined) {
    ex.res.end(text);
    ex.entry.emitted.push({ index: ex.chunkIndex++, at: now(), kind: 'body' });
    return;
  }
  ex.res.write(text.slice(0, Math.floor(text.length / 2)));
  ex.entry.emitted.push({ index: ex.chunkIndex++, at: now(), kind: 'partial-body' });
  if (step.dropAfterChunks !== undefined) ex.drop();
  // stallAfterChunks: nothing more; the close handler cleans up.
}

function startEventStream(ex, step) {
  ex.res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...stepHeaders(step),
  });
  ex.res.flushHeaders();
}

async function sendMalformedStream(ex, step, plan) {
  startEventStream(ex, step);
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  ex.sendEvent(chunk(plan, deltaChoice(plan.firstDelta), false), 'role');
  if (!(await ex.wait(step.chunkDelayMs))) return;
  ex.sendEvent('{not json', 'malformed');
  ex.sendEvent('[DONE]', 'done');
  ex.res.end();
}

/**
 * Streams role chunk, deltas, finish chunk, optional usage chunk and [DONE],
 * honouring the delays and the drop/stall cut-offs of the step.
 */
async function sendStream(ex, step, plan, includeUsage) {
  startEventStream(ex, step);
  if (!(await ex.wait(step.firstChunkDelayMs))) return;
  ex.sendEvent(chunk(plan, deltaChoice(plan.firstDelta), includeUsage), 'role');

  const cut = step.dropAfterChunks ?? step.stallAfterChunks;
  const sent = cut === undefined ? plan.deltas.length : Math.min(cut, plan.deltas.length);
  for (const delta of plan.deltas.slice(0, sent)) {
    if (!(await ex.wait(step.chunkDelayMs))) return;
    ex.sendEvent(chunk(plan, deltaChoice(delta), includeUsage), 'delta');
  }
  if (step.dropAfterChunks !== undefined) return ex.drop();
  if (step.stallAfterChunks !== undefined) return; // never ends; close handler cleans up

  if (!(await ex.wait(step.chunkDelayMs))) return;
  ex.sendEvent(chunk(plan, deltaChoice({}, plan.finishReason), includeUsage), 'finish');
  if (includeUsage) ex.sendEvent(chunk(plan, [], true, plan.usage), 'usage');
  ex.sendEvent('[DONE]', 'done');
  ex.res.end();
}

/** Serves one chat request according to its (already chosen) step. */
async function serveStep(ex, step, body) {
  if (step.hang) return; // never send headers; the close handler cleans up
  if (!(await ex.wait(step.headerDelayMs))) return;
  if (step.status !== undefined) return sendStepError(ex, step);
  if (step.malformed === 'json') return sendMalformedJson(ex, step);
  const plan = buildPlan(body, step);
  if (step.malformed === 'sse') return sendMalformedStream(ex, step, plan);
  if (body.stream === true) {
    return sendStream(ex, step, plan, body.stream_options?.include_usage === true);
  }
  return sendCompletion(ex, step, plan);
}

// ---------------------------------------------------------------------------
// Server state and routing

function createState() {
  return { scenarios: new Map(), stats: emptyStats(), closing: false };
}

function emptyStats() {
  return { requests: 0, chatCompletions: 0, models: 0 };
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

function isAuthorized(req, apiKey) {
  return apiKey === null || req.headers.authorization === `Bearer ${apiKey}`;
}

/**
 * Finds the scenario a chat request belongs to, counts the request and opens
 * its log entry. Returns `{ step, entry }`, `{ step: {} }` when untagged, or
 * `{ unknownId }` when the tag names no scenario.
 */
function claimStep(state, req, raw, parsed) {
  const tag = SCENARIO_TAG.exec(raw);
  if (!tag) return { step: {}, entry: newLogEntry(req, parsed) };
  const scenario = state.scenarios.get(tag[1]);
  if (!scenario) return { unknownId: tag[1] };
  const step = scenario.steps[Math.min(scenario.requests, scenario.steps.length - 1)];
  scenario.requests += 1;
  const entry = newLogEntry(req, parsed);
  scenario.log.push(entry);
  return { step, entry };
}

function newLogEntry(req, parsed) {
  return {
    receivedAt: req.receivedAt,
    headers: { ...req.headers },
    body: parsed.ok ? parsed.value : null,
    clientClosedEarly: false,
    emitted: [],
    finished: false,
  };
}

async function handleChat(state, apiKey, req, res) {
  state.stats.chatCompletions += 1;
  const raw = await readBody(req);
  const parsed = parseJson(raw);
  const claim = claimStep(state, req, raw, parsed);
  if (claim.unknownId) {
    return sendJson(res, 400, openAiError(
      `mock-upstream: unknown scenario '${claim.unknownId}' (was /__mock/reset called?)`,
      'invalid_request_error', 'mock_unknown_scenario'));
  }
  const ex = new Exchange(res, claim.entry, state);
  if (!isAuthorized(req, apiKey)) return sendJson(res, 401, authError(req.headers.authorization));
  if (!parsed.ok) return sendJson(res, 400, INVALID_JSON_ERROR);
  const invalid = requestValidationError(parsed.value);
  if (invalid) return sendJson(res, 400, invalid);
  return serveStep(ex, claim.step, parsed.value);
}

function handleModels(state, apiKey, req, res) {
  state.stats.models += 1;
  if (!isAuthorized(req, apiKey)) return sendJson(res, 401, authError(req.headers.authorization));
  return sendJson(res, 200, modelList());
}

async function handleControl(state, req, res, path) {
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
    return sendJson(res, 200, { ...state.stats, scenarios: state.scenarios.size });
  }
  return sendJson(res, 404, { error: `no mock control route ${req.method} ${path}` });
}

function resetState(state) {
  state.scenarios.clear();
  state.stats = emptyStats();
}

async function route(state, apiKey, req, res) {
  req.receivedAt = now();
  const path = new URL(req.url, 'http://mock').pathname;
  if (path.startsWith('/__mock/')) return handleControl(state, req, res, path);
  state.stats.requests += 1;
  if (req.method === 'POST' && path === CHAT_PATH) return handleChat(state, apiKey, req, res);
  if (req.method === 'GET' && path === MODELS_PATH) return handleModels(state, apiKey, req, res);
  return sendJson(res, 404, openAiError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error'));
}

// ---------------------------------------------------------------------------
// Public API

/**
 * Starts the mock upstream.
 *
 * @param {object} [options]
 * @param {number} [options.port=0] Port to listen on; 0 picks a free one.
 * @param {string} [options.host='127.0.0.1'] Interface to listen on.
 * @param {string|null} [options.apiKey=null] When set, `/v1/*` requires
 *   `Authorization: Bearer <apiKey>` and answers OpenAI's 401 otherwise.
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
