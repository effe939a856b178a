// Request logs end to end: records travel from a request through the log
// queue into D1 and come back through the admin API — filters, cursor
// pages and aggregates (checked against values computed here from seeded
// records), bodies only where a route keeps them and redacted, retention,
// the audit log, a key's usage and the playground's token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { GATEWAY, admin, ask, chat, chatAs, createKey, expectError, waitFor } from './helpers.mjs';

const DAY = 86_400_000;

/** Waits until the gateway has stored the record of `requestId`. */
async function storedRecord(requestId) {
  return waitFor(async () => {
    const res = await admin(`logs/${requestId}`);
    return res.status === 200 ? (await res.json()).record : undefined;
  }, { what: `the stored record of ${requestId}`, timeoutMs: 20_000, intervalMs: 100 });
}

async function getJson(path) {
  const res = await admin(path);
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return res.json();
}

test('a request reaches D1 through the queue with everything the dashboard shows', async () => {
  const res = await chat(ask('demo', 'log me', { user: 'end-user-9' }), { headers: { 'x-edgeway-metadata': '{"team":"search","run":7}', 'user-agent': 'edgeway-test/1.0' } });
  assert.equal(res.status, 200);
  const id = res.headers.get('x-request-id');
  const record = await storedRecord(id);
  assert.equal(record.request_id, id);
  assert.equal(record.route, 'demo');
  assert.equal(record.provider, 'demo');
  assert.equal(record.model, 'echo');
  assert.equal(record.status, 200);
  assert.equal(record.key_id, 'dev');
  assert.equal(record.user_id, 'end-user-9', 'the request\'s `user` field names the end user');
  assert.equal(record.user_agent, 'edgeway-test/1.0');
  assert.deepEqual(record.metadata, { team: 'search', run: 7 });
  assert.deepEqual(record.attempts.map((a) => [a.target, a.outcome]), [['demo/echo', 'ok']]);
  assert.ok(record.tokens_in > 0 && record.tokens_out > 0 && record.cost_usd > 0);
  assert.equal(record.prompt, undefined, 'the demo route keeps no bodies');

  const page = await getJson(`logs?q=${id}`);
  assert.equal(page.data.length, 1);
  assert.equal(page.data[0].attempts, 1);
  assert.equal(page.data[0].latency_ms, record.latency_ms);
});

test('bad metadata is refused before anything is done', async () => {
  await expectError(await chat(ask('demo', 'x'), { headers: { 'x-edgeway-metadata': '[1,2]' } }), 400, 'invalid_request', assert);
});

test('a fallback\'s record tells each attempt', async () => {
  const res = await chat(ask('demo-fallback', 'fall back'));
  assert.equal(res.status, 200);
  const record = await storedRecord(res.headers.get('x-request-id'));
  assert.deepEqual(record.attempts.map((a) => [a.target, a.outcome, a.status ?? null]), [['demo/fail-503', 'fallback', 503], ['demo/echo', 'ok', 200]]);
  // Each attempt says when it started, after the one before it ended.
  const [first, second] = record.attempts;
  assert.ok(second.start_ms >= first.start_ms + first.latency_ms, JSON.stringify(record.attempts));
  assert.ok(second.start_ms + second.latency_ms <= record.latency_ms);
});

test('retries show their backoff as time between attempts', async () => {
  const res = await chat(ask('demo-retry', 'retry me'));
  const { attempts } = await storedRecord(res.headers.get('x-request-id'));
  assert.deepEqual(attempts.map((a) => a.outcome), ['retry', 'retry', 'ok']);
  for (let i = 1; i < attempts.length; i++) assert.ok(attempts[i].start_ms >= attempts[i - 1].start_ms + attempts[i - 1].latency_ms);
});

test('bodies are kept only where the route says so, redacted, and never under zero retention', async () => {
  const secret = `sk-${randomBytes(12).toString('hex')}`;
  const text = `my key is ${secret} and my mail is ada@example.com`;
  const kept = await chat(ask('demo-logged', text));
  const keptRecord = await storedRecord(kept.headers.get('x-request-id'));
  assert.match(keptRecord.prompt, /\[redacted:key\]/);
  assert.match(keptRecord.prompt, /\[redacted:email\]/);
  assert.match(keptRecord.answer, /^You said: my key is \[redacted:key\] and my mail is \[redacted:email\]$/);
  assert.ok(!JSON.stringify(keptRecord).includes(secret) && !JSON.stringify(keptRecord).includes('ada@example.com'));

  const streamed = await chat(ask('demo-logged', `streamed ${secret}`, { stream: true }));
  await streamed.text();
  const streamedRecord = await storedRecord(streamed.headers.get('x-request-id'));
  assert.equal(streamedRecord.answer, 'You said: streamed [redacted:key]');

  const opted = await chat(ask('demo-logged', text), { headers: { 'x-edgeway-zero-retention': 'true' } });
  const optedRecord = await storedRecord(opted.headers.get('x-request-id'));
  assert.equal(optedRecord.prompt, undefined);
  assert.equal(optedRecord.answer, undefined);

  const { key } = await createKey({ zero_retention: true });
  const byKey = await chatAs(key, ask('demo-logged', text));
  const byKeyRecord = await storedRecord(byKey.headers.get('x-request-id'));
  assert.equal(byKeyRecord.prompt, undefined);
});

// Seeded records: known values in a window of their own (ten days back,
// inside retention, away from the live traffic of other tests).
function seededRecords(count, start) {
  const routes = ['alpha', 'beta', 'gamma'];
  const caches = ['hit', 'miss', 'bypass', 'refresh', 'semantic', undefined];
  const errors = { 429: 'rate_limit_exceeded', 502: 'upstream_error', 503: 'upstream_unavailable', 400: 'invalid_request' };
  const statuses = [200, 200, 200, 200, 429, 502, 503, 400];
  let seed = 7;
  const next = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  return Array.from({ length: count }, (_, i) => {
    const status = statuses[next(statuses.length)];
    const stream = next(2) === 1;
    const cache = caches[next(caches.length)];
    const record = {
      event: 'request',
      request_id: `req_seed${String(i).padStart(5, '0')}${randomBytes(4).toString('hex')}`,
      time_ms: start + i * 37_000 + next(30_000),
      method: 'POST',
      path: '/v1/chat/completions',
      key_id: `key_seed${next(2)}`,
      route: routes[next(3)],
      provider: next(2) ? 'openai' : 'anthropic',
      model: next(2) ? 'm-large' : 'm-small',
      status,
      outcome: status < 400 ? 'ok' : 'error',
      stream,
      attempts: Array.from({ length: 1 + next(3) }, () => ({ target: 'p/m', outcome: 'ok', latency_ms: 5 })),
      latency_ms: 20 + next(2000),
      tokens_in: next(500),
      tokens_out: next(800),
      cost_usd: next(1000) / 100_000,
    };
    if (status >= 400) record.error_code = errors[status];
    if (stream) record.ttft_ms = 5 + next(400);
    if (cache) record.cache = cache;
    return record;
  });
}

// Percentiles as the API defines them (README, core/src/log/histogram.rs):
// durations counted in buckets with these upper bounds, the bucket holding
// the nearest-rank value found, and the value placed within it linearly.
const UPPER_BOUNDS = [1, 2, 3, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1000,
  1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000];
function percentile(values, p) {
  if (!values.length) return null;
  const counts = new Array(UPPER_BOUNDS.length + 1).fill(0);
  for (const v of values) {
    const i = UPPER_BOUNDS.findIndex((upper) => v < upper);
    counts[i === -1 ? UPPER_BOUNDS.length : i] += 1;
  }
  const rank = Math.max(1, Math.ceil((p * values.length) / 100));
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && below + counts[i] >= rank) {
      const lower = i === 0 ? 0 : UPPER_BOUNDS[i - 1];
      const upper = UPPER_BOUNDS[i] ?? 120_000;
      return lower + Math.round(((upper - lower) * (rank - below)) / counts[i]);
    }
    below += counts[i];
  }
  return null;
}

function expectedStats(records) {
  const latency = records.map((r) => r.latency_ms);
  const ttft = records.filter((r) => r.ttft_ms !== undefined).map((r) => r.ttft_ms);
  return {
    requests: records.length,
    errors: records.filter((r) => r.status >= 400).length,
    latency_p50: percentile(latency, 50), latency_p95: percentile(latency, 95), latency_p99: percentile(latency, 99),
    ttft_p50: percentile(ttft, 50), ttft_p95: percentile(ttft, 95), ttft_p99: percentile(ttft, 99),
    tokens_in: records.reduce((s, r) => s + r.tokens_in, 0),
    tokens_out: records.reduce((s, r) => s + r.tokens_out, 0),
    cost_usd: records.reduce((s, r) => s + r.cost_usd, 0),
    cache_hits: records.filter((r) => ['hit', 'semantic'].includes(r.cache)).length,
    cache_lookups: records.filter((r) => ['hit', 'semantic', 'miss', 'refresh'].includes(r.cache)).length,
  };
}

function assertStats(actual, expected, label) {
  for (const [field, value] of Object.entries(expected)) {
    if (field === 'cost_usd') assert.ok(Math.abs(actual[field] - value) < 1e-9, `${label} ${field}: ${actual[field]} vs ${value}`);
    else assert.equal(actual[field], value, `${label} ${field}`);
  }
}

test('filters, cursor pages and aggregates agree with the seeded records', async () => {
  const now = (await getJson('stats')).to;
  const from = now - 10 * DAY;
  const records = seededRecords(400, from);
  const to = Math.max(...records.map((r) => r.time_ms)) + 1;
  const seeded = await admin('test/logs', { method: 'POST', body: { records } });
  assert.equal(seeded.status, 201, await seeded.text());
  const window = `from=${from}&to=${to}`;
  const newestFirst = [...records].sort((a, b) => b.time_ms - a.time_ms || (a.request_id < b.request_id ? 1 : -1));

  // Every record once, newest first, across cursor pages.
  const seen = [];
  let cursor = null;
  do {
    const page = await getJson(`logs?${window}&limit=60${cursor ? `&cursor=${cursor}` : ''}`);
    assert.ok(page.data.length <= 60);
    seen.push(...page.data.map((r) => r.request_id));
    cursor = page.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, newestFirst.map((r) => r.request_id));

  const filters = [
    ['status=5xx', (r) => r.status >= 500],
    ['status=429', (r) => r.status === 429],
    ['route=beta', (r) => r.route === 'beta'],
    ['provider=anthropic&model=m-large', (r) => r.provider === 'anthropic' && r.model === 'm-large'],
    ['key=key_seed1', (r) => r.key_id === 'key_seed1'],
    ['cache=hit', (r) => r.cache === 'hit'],
    ['error=upstream_error', (r) => r.error_code === 'upstream_error'],
    [`q=${records[5].request_id.slice(0, 12)}`, (r) => r.request_id.startsWith(records[5].request_id.slice(0, 12))],
  ];
  for (const [filter, keep] of filters) {
    const page = await getJson(`logs?${window}&${filter}&limit=200`);
    assert.deepEqual(page.data.map((r) => r.request_id), newestFirst.filter(keep).map((r) => r.request_id), filter);
  }

  // Aggregates: totals, then hourly buckets per route.
  const stats = await getJson(`stats?${window}&bucket_ms=3600000&group_by=route`);
  assertStats(stats.totals, expectedStats(records), 'totals');
  assert.equal(stats.group_by, 'route');
  for (const point of stats.points) {
    // Buckets are whole hours since the epoch.
    const inBucket = records.filter((r) => r.route === point.group && Math.floor(r.time_ms / 3_600_000) * 3_600_000 === point.t);
    assertStats(point, expectedStats(inBucket), `bucket ${point.t} ${point.group}`);
  }
  assert.equal(stats.points.reduce((s, p) => s + p.requests, 0), records.length);
  // A status filter is not a rollup dimension: these come from the records.
  const filtered = await getJson(`stats?${window}&status=2xx&provider=openai&bucket_ms=3600000`);
  assertStats(filtered.totals, expectedStats(records.filter((r) => r.status < 300 && r.provider === 'openai')), 'filtered totals');
  const raw = await getJson(`stats?${window}&status=1xx&bucket_ms=3600000`);
  assert.equal(raw.totals.requests, 0);

  // A record delivered twice (queues redeliver) counts once.
  assert.equal((await admin('test/logs', { method: 'POST', body: { records: records.slice(0, 50) } })).status, 201);
  const again = await getJson(`stats?${window}&bucket_ms=3600000&group_by=route`);
  assert.deepEqual(again.totals, stats.totals);
});

test('bad query parameters are refused, naming the parameter', async () => {
  for (const [query, param] of [['limit=0', 'limit'], ['status=7xx', 'status'], ['group_by=colour', 'group_by'], ['cursor=zzz', 'cursor'], ['sort=asc', 'sort']]) {
    const error = await expectError(await admin(`logs?${query}`), 400, 'invalid_request', assert);
    assert.equal(error.param, param, query);
  }
  await expectError(await admin('logs/req_does_not_exist'), 404, 'not_found', assert);
  await expectError(await admin('logs', { token: null }), 401, 'invalid_api_key', assert);
});

test('the daily cron deletes records past retention and keeps the rest', async () => {
  const now = (await getJson('stats')).to;
  const [old, recent] = seededRecords(2, now - 40 * DAY);
  recent.time_ms = now - 2 * DAY;
  assert.equal((await admin('test/logs', { method: 'POST', body: { records: [old, recent] } })).status, 201);
  assert.equal((await admin(`logs/${old.request_id}`)).status, 200);
  const cron = await fetch(`${GATEWAY}/__scheduled?cron=${encodeURIComponent('17 3 * * *')}`);
  assert.equal(cron.status, 200);
  await waitFor(async () => (await admin(`logs/${old.request_id}`)).status === 404, { what: 'the old record deleted' });
  assert.equal((await admin(`logs/${recent.request_id}`)).status, 200);
});

test('admin actions are in the audit log', async () => {
  const { record } = await createKey({ name: 'audited' });
  await admin(`keys/${record.id}`, { method: 'PATCH', body: { name: 'audited, renamed' } });
  await admin(`keys/${record.id}`, { method: 'DELETE' });
  const { data } = await getJson('audit?limit=200');
  const actions = data.filter((e) => e.target === record.id).map((e) => e.action);
  assert.deepEqual(actions, ['key.revoked', 'key.updated', 'key.created']);
  assert.ok(data.every((e, i) => i === 0 || e.id < data[i - 1].id), 'newest first');
});

test('a key\'s usage is read from its logs, next to its limits', async () => {
  const limits = { requests: { limit: 100, window_ms: 60_000, burst: 100 }, budget_daily_usd: 5 };
  const { key, record } = await createKey({ limits });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await chatAs(key, ask('demo', `use ${i}`))).headers.get('x-request-id'));
  await Promise.all(ids.map(storedRecord));
  const usage = await getJson(`keys/${record.id}/usage`);
  assert.deepEqual(usage.limits, limits);
  assert.equal(usage.usage.requests_today, 3);
  assert.equal(usage.usage.requests_last_minute, 3);
  assert.ok(usage.usage.cost_today_usd > 0 && usage.usage.cost_month_usd >= usage.usage.cost_today_usd);
});

test('the playground gets short-lived tokens for a key of its own, from the dashboard\'s origin', async () => {
  const origin = 'https://dashboard.example';
  const res = await fetch(`${GATEWAY}/admin/api/playground/token`, { method: 'POST', headers: { 'x-edgeway-admin-token': (await import('./helpers.mjs')).ADMIN_TOKEN, origin } });
  assert.equal(res.status, 201);
  const { token, expires_ms: expires } = await res.json();
  assert.ok(expires > Date.now());
  assert.equal((await chatAs(token, ask('demo', 'from the playground'), { origin })).status, 200);
  await expectError(await chatAs(token, ask('demo', 'elsewhere'), { origin: 'https://other.example' }), 403, 'origin_not_allowed', assert);
  const { data } = await getJson('keys');
  assert.ok(data.some((k) => k.id === 'key_playground' && k.kind === 'publishable' && k.origins.includes(origin)));
});
