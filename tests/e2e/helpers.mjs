// Shared helpers for end-to-end tests: calling the gateway, scripting the
// mock upstream, reading SSE with arrival times, and finding log records.
// tests/run.mjs starts the servers and passes their URLs in the environment.

import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TEST_ADMIN_TOKEN, TEST_GATEWAY_KEY, TEST_PROVIDER_KEY, TEST_SIGNING_SECRET } from '../harness/gateway.mjs';
import { waitFor } from '../harness/processes.mjs';

export const GATEWAY = process.env.EDGEWAY_URL;
export const MOCK = process.env.MOCK_URL;
export const GATEWAY_KEY = TEST_GATEWAY_KEY;
export const PROVIDER_KEY = TEST_PROVIDER_KEY;
export const ADMIN_TOKEN = TEST_ADMIN_TOKEN;
export const SIGNING_SECRET = TEST_SIGNING_SECRET;
if (!GATEWAY || !MOCK) throw new Error('run end-to-end tests through tests/run.mjs (make test)');

/** POSTs a chat request to the gateway with the test key. */
export function chat(body, { headers = {}, signal } = {}) {
  return fetch(`${GATEWAY}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** Calls the admin API with the admin token (or `token`, or none with `token: null`). */
export function admin(path, { method = 'GET', body, token = ADMIN_TOKEN } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers['x-edgeway-admin-token'] = token;
  return fetch(`${GATEWAY}/admin/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Creates a gateway key; returns `{ key, signing_secret, record }`. */
export async function createKey(input) {
  const res = await admin('keys', { method: 'POST', body: { name: 'test key', ...input } });
  if (res.status !== 201) throw new Error(`creating a key: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** POSTs a chat request with a given credential and extra headers. */
export function chatAs(credential, body, headers = {}) {
  return fetch(`${GATEWAY}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export function b64url(data) {
  return Buffer.from(data).toString('base64url');
}

/** An HS256 JWT made with node:crypto alone, as any app backend would. */
export function jwt(header, claims, secret) {
  const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', ...header }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** Moves the gateway's test clock forward. */
export async function advanceClock(ms) {
  const res = await admin('test/clock', { method: 'POST', body: { advance_ms: ms } });
  if (res.status !== 200) throw new Error(`moving the clock: HTTP ${res.status}`);
  return (await res.json()).now_ms;
}

/** Makes gateway bindings fail (or work again) in test mode. */
export async function setFaults(faults) {
  const res = await admin('test/faults', { method: 'POST', body: faults });
  if (res.status !== 200) throw new Error(`setting faults: HTTP ${res.status}`);
}

/** Creates a mock scenario; returns its id and the tag to put in a message. */
export async function scenario(steps) {
  const res = await fetch(`${MOCK}/__mock/scenarios`, { method: 'POST', body: JSON.stringify({ steps }) });
  const { id } = await res.json();
  return { id, tag: `mock-scenario:${id}` };
}

/** What the mock saw for a scenario. */
export async function scenarioState(id) {
  return (await fetch(`${MOCK}/__mock/scenarios/${id}`)).json();
}

/** A one-message chat body for `model` that carries the scenario `tag`. */
export function ask(model, text, extra = {}) {
  return { model, messages: [{ role: 'user', content: text }], ...extra };
}

/**
 * Reads an SSE response event by event, noting when each arrived.
 * Returns [{ data, at }] where `at` is performance.timeOrigin-based ms.
 */
export async function readEvents(response) {
  const events = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of response.body) {
    const at = performance.timeOrigin + performance.now();
    buffer += decoder.decode(bytes, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data) events.push({ data, at });
    }
  }
  return events;
}

/** The text content of parsed chunk events. */
export function contentOf(events) {
  return events
    .filter((e) => e.data !== '[DONE]')
    .map((e) => JSON.parse(e.data))
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
}

/** Every JSON log record the gateway printed so far. */
export function logRecords() {
  const text = readFileSync(process.env.EDGEWAY_GATEWAY_LOG, 'utf8');
  return text
    .split('\n')
    .map((line) => line.slice(line.indexOf('{')))
    .filter((line) => line.startsWith('{"event":"request"'))
    .map((line) => { try { return JSON.parse(line); } catch { return null; } })
    .filter(Boolean);
}

/** Waits for the log record of `requestId` (written after the response). */
export function logRecord(requestId) {
  return waitFor(() => logRecords().find((r) => r.request_id === requestId), { what: `log record ${requestId}`, timeoutMs: 15_000 });
}

/**
 * Waits for the cache outcome of a request: `stored` or `not_stored` (with
 * its reason), written after the response.
 */
export function cacheWrite(requestId) {
  return waitFor(() => {
    const line = gatewayLogText().split('\n').find((l) => l.includes(`"request_id":"${requestId}"`) && l.includes('"event":"cache_'));
    if (!line) return undefined;
    const record = JSON.parse(line.slice(line.indexOf('{')));
    return { stored: record.event === 'cache_stored', reason: record.reason };
  }, { what: `the cache write of ${requestId}`, timeoutMs: 15_000 });
}

/** The whole gateway log, to check that no secret ever reached it. */
export function gatewayLogText() {
  return readFileSync(process.env.EDGEWAY_GATEWAY_LOG, 'utf8');
}

export { waitFor };

/**
 * Asserts an OpenAI-style JSON error with a stable code and our request id;
 * returns the error object.
 */
export async function expectError(res, status, code, assert) {
  assert.equal(res.status, status, `status for ${code}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { assert.fail(`not JSON: ${text.slice(0, 200)}`); }
  assert.equal(body.error.code, code, text);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  // 429s carry the limit's own type (requests, tokens, insufficient_quota).
  if (status !== 429) assert.equal(body.error.type, status >= 500 ? 'server_error' : 'invalid_request_error');
  assert.match(body.error.request_id, /^req_/);
  assert.equal(body.error.request_id, res.headers.get('x-request-id'));
  assert.ok(!text.includes(PROVIDER_KEY) && ![...res.headers.values()].some((v) => v.includes(PROVIDER_KEY)), 'the provider key leaked');
  return body.error;
}
