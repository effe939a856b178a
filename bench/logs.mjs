#!/usr/bin/env node
// How fast the dashboard's queries are with a realistic log: seeds 100,000
// request records over one day into the local D1 (through the test-mode
// seeding endpoint, which uses the queue consumer's own insert), then times
// a filtered logs page, a deep cursor page, and a day's aggregates (all
// requests, and grouped by route), each repeated. Target: under 200 ms
// each, locally, under `wrangler dev` (real workerd and D1).
//
// Usage: node bench/logs.mjs [--records 100000] [--repeat 10]   (make bench runs it)

import { parseArgs } from 'node:util';
import { startStack, TEST_ADMIN_TOKEN } from '../tests/harness/gateway.mjs';

const { values: opts } = parseArgs({ options: { records: { type: 'string', default: '100000' }, repeat: { type: 'string', default: '10' } } });
const total = Number(opts.records);
const repeat = Number(opts.repeat);
const TARGET_MS = 200;
const DAY = 86_400_000;
const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];

const stack = await startStack({});
try {
  const admin = (path, init = {}) => fetch(`${stack.url}/admin/api/${path}`, { ...init, headers: { 'x-edgeway-admin-token': TEST_ADMIN_TOKEN, 'content-type': 'application/json' } });
  const now = (await (await admin('stats')).json()).to;
  const from = now - DAY;
  // Traffic as a gateway sees it: each route has its provider and model,
  // with an occasional fallback to another; 20 keys.
  const routes = [['demo', 'demo', 'echo'], ['demo-story', 'demo', 'story'], ['gpt-4o-mini', 'openai', 'gpt-4o-mini'],
    ['claude', 'anthropic', 'claude-sonnet-4-5'], ['gemini-flash', 'gemini', 'gemini-2.5-flash']];
  const statuses = [200, 200, 200, 200, 200, 200, 200, 429, 502, 503];
  let seed = 1;
  const next = (n) => (seed = (seed * 48271) % 2147483647) % n;
  const record = (i) => {
    const status = statuses[next(statuses.length)];
    const [route, provider, model] = routes[next(routes.length)];
    const fallback = next(20) === 0;
    return {
      event: 'request', request_id: `req_bench${i.toString(16).padStart(8, '0')}`, time_ms: from + Math.floor((i / total) * DAY),
      method: 'POST', path: '/v1/chat/completions', key_id: `key_${next(20)}`, route,
      provider: fallback ? 'openai' : provider, model: fallback ? 'gpt-4.1-nano' : model, status, outcome: status < 400 ? 'ok' : 'error',
      error_code: status < 400 ? undefined : 'upstream_error', stream: next(2) === 1, cache: ['hit', 'miss', undefined][next(3)],
      attempts: [{ target: 'demo/echo', outcome: 'ok', latency_ms: 40 }], latency_ms: 20 + next(3000), ttft_ms: next(2) ? 5 + next(500) : undefined,
      tokens_in: next(2000), tokens_out: next(1000), cost_usd: next(1000) / 10_000,
    };
  };
  const started = performance.now();
  const batch = 2_000;
  for (let i = 0; i < total; i += batch) {
    const records = Array.from({ length: Math.min(batch, total - i) }, (_, j) => record(i + j));
    const res = await admin('test/logs', { method: 'POST', body: JSON.stringify({ records }) });
    if (res.status !== 201) throw new Error(`seeding: HTTP ${res.status} ${await res.text()}`);
  }
  console.error(`seeded ${total} records in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const window = `from=${from}&to=${now + 1}`;
  let cursor = null;
  const queries = {
    'logs page, 5xx on one route': () => `logs?${window}&status=5xx&route=claude&limit=50`,
    'logs page, one key': () => `logs?${window}&key=key_7&limit=50`,
    'logs page 20 (cursor)': () => `logs?${window}&limit=50${cursor ? `&cursor=${cursor}` : ''}`,
    "a day's aggregates": () => `stats?${window}`,
    "a day's aggregates by route": () => `stats?${window}&group_by=route`,
    "a day's aggregates by key": () => `stats?${window}&group_by=key`,
    "a day's aggregates, 5xx only (raw)": () => `stats?${window}&status=5xx`,
  };
  // The cursor of page 20, for the deep page.
  for (let i = 0; i < 19; i++) cursor = (await (await admin(`logs?${window}&limit=50${cursor ? `&cursor=${cursor}` : ''}`)).json()).next_cursor;
  const results = [];
  for (const [name, path] of Object.entries(queries)) {
    await admin(path());
    const times = [];
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      const res = await admin(path());
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
      times.push(performance.now() - t);
    }
    results.push({ name, p50: p(times, 0.5), max: Math.max(...times) });
  }
  console.log(`\nRequest logs in D1: ${total} records over a day (wrangler dev, local D1)`);
  for (const r of results) {
    console.log(`  ${r.name.padEnd(32)} p50 ${r.p50.toFixed(1).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms   ${r.p50 < TARGET_MS ? 'PASS' : 'MISS'} (< ${TARGET_MS} ms)`);
  }
} finally {
  await stack.stop();
}
