// The gateway the runner talks to: the one already answering at the URL
// (`make dev`, a deployment), or — for a local URL with nothing there — one
// it starts itself with the test harness (wrangler dev + mock upstream) and
// stops at the end. Cases go through the real request path: POST
// /v1/chat/completions with the gateway key, the cache skipped (guardrails,
// limits and retries stay on).

import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..');

export const DEFAULT_URL = 'http://127.0.0.1:8787';

/** The gateway answers `GET /healthz` within two seconds. */
async function healthy(url) {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** `.dev.vars` (written by scripts/dev-vars.sh) as an object. */
function devVars() {
  const file = join(repoRoot, '.dev.vars');
  if (!existsSync(file)) return {};
  return Object.fromEntries(readFileSync(file, 'utf8').split('\n').map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l.trim())).filter(Boolean).map((m) => [m[1], m[2]]));
}

const isLocal = (url) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

/**
 * Finds or starts the gateway. Returns `{ url, key, adminToken, own,
 * stop() }`. A remote URL that does not answer is an error: starting a
 * local gateway instead would gate on the wrong thing.
 */
export async function connect(url, log) {
  const base = url.replace(/\/+$/, '');
  if (await healthy(base)) {
    const vars = devVars();
    return {
      url: base,
      key: process.env.EDGEWAY_KEY || vars.EDGEWAY_DEV_KEY,
      adminToken: process.env.EDGEWAY_ADMIN_TOKEN || vars.EDGEWAY_ADMIN_TOKEN,
      own: false,
      stop: async () => {},
    };
  }
  if (!isLocal(base)) throw new Error(`no gateway answers at ${base}/healthz`);
  log(`no gateway at ${base}; starting one (wrangler dev + mock upstream) for this run`);
  // Built only if a source changed since the last build (seconds when not).
  execFileSync('sh', ['scripts/build-worker.sh'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!existsSync(join(repoRoot, 'www/dist/index.html'))) execFileSync('sh', ['scripts/build-www.sh'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  const { startStack, TEST_ADMIN_TOKEN, TEST_GATEWAY_KEY } = await import('../tests/harness/gateway.mjs');
  const stack = await startStack();
  return { url: stack.url, key: TEST_GATEWAY_KEY, adminToken: TEST_ADMIN_TOKEN, own: true, stop: () => stack.stop() };
}

const number = (v) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v));

/**
 * Sends one chat request. Returns `{ ok, status, answer, error,
 * latency_ms, tokens_in, tokens_out, cost_usd, request_id }`: latency
 * measured here, to the whole answer; tokens and cost from the gateway's
 * `x-edgeway-tokens-in`/`-out` and `x-edgeway-cost-usd` headers, else the
 * answer's `usage`.
 */
export async function chat(gateway, body) {
  const started = performance.now();
  let res;
  let text;
  try {
    res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json', 'x-edgeway-cache': 'skip' },
      body: JSON.stringify(body),
    });
    text = await res.text();
  } catch (error) {
    return { ok: false, status: 0, answer: '', error: `the gateway could not be reached: ${error.message}`, latency_ms: performance.now() - started, tokens_in: null, tokens_out: null, cost_usd: null, request_id: null };
  }
  const latency_ms = performance.now() - started;
  let json = null;
  try { json = JSON.parse(text); } catch { /* reported below */ }
  const header = (name) => number(res.headers.get(name));
  const outcome = {
    ok: res.ok && json !== null,
    status: res.status,
    answer: '',
    error: null,
    latency_ms,
    tokens_in: header('x-edgeway-tokens-in') ?? number(json?.usage?.prompt_tokens),
    tokens_out: header('x-edgeway-tokens-out') ?? number(json?.usage?.completion_tokens),
    cost_usd: header('x-edgeway-cost-usd'),
    request_id: res.headers.get('x-request-id'),
  };
  if (!outcome.ok) {
    const e = json?.error;
    outcome.error = e ? `HTTP ${res.status} ${e.code ?? ''}: ${e.message}`.replace(' :', ':') : `HTTP ${res.status}: ${text.slice(0, 120)}`;
    return outcome;
  }
  const message = json.choices?.[0]?.message ?? {};
  // A tool call is the answer when there is no text (json_schema can check its arguments).
  outcome.answer = message.content ?? (message.tool_calls ? JSON.stringify(message.tool_calls.map((c) => c.function)) : '');
  return outcome;
}

/** Calls the admin API; throws with the gateway's error message. */
export async function admin(gateway, method, path, body) {
  if (!gateway.adminToken) throw new Error('no admin token: set EDGEWAY_ADMIN_TOKEN (or run `make dev`, which writes .dev.vars)');
  const res = await fetch(`${gateway.url}/admin/api/${path}`, {
    method,
    headers: { 'x-edgeway-admin-token': gateway.adminToken, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* below */ }
  if (!res.ok) throw new Error(json?.error ? `HTTP ${res.status} ${json.error.code}: ${json.error.message}` : `HTTP ${res.status}: ${text.slice(0, 200)}`);
  return json;
}
