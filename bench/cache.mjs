#!/usr/bin/env node
// What the response cache saves: against a mock whose model takes 300 ms,
// a cache hit vs a miss (skip header), and the hit vs calling the mock
// directly with no delay — the hit should cost about the gateway's own
// overhead. Runs under `wrangler dev` (real workerd with local KV), which
// bare workerd cannot give; requests alternate so both see the same machine.
//
// Usage: node bench/cache.mjs [--requests 50]   (make bench runs it)

import { parseArgs } from 'node:util';
import { startStack, TEST_GATEWAY_KEY, TEST_PROVIDER_KEY } from '../tests/harness/gateway.mjs';

const { values: opts } = parseArgs({ options: { requests: { type: 'string', default: '50' } } });
const count = Number(opts.requests);
const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
const row = (name, xs) => `${name.padEnd(34)} p50 ${p(xs, 0.5).toFixed(2).padStart(8)} ms   p95 ${p(xs, 0.95).toFixed(2).padStart(8)} ms`;

const stack = await startStack({});
try {
  const slow = await (await fetch(`${stack.mockUrl}/__mock/scenarios`, { method: 'POST', body: JSON.stringify({ steps: [{ headerDelayMs: 300 }] }) })).json();
  const question = { model: 'gpt-4o-mini-cached', temperature: 0, messages: [{ role: 'user', content: `What is a gateway? mock-scenario:${slow.id}` }] };
  const gateway = (headers = {}) => fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, ...headers }, body: JSON.stringify(question),
  });
  const direct = () => fetch(`${stack.mockUrl}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${TEST_PROVIDER_KEY}` }, body: JSON.stringify({ ...question, model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is a gateway?' }] }),
  });
  const timed = async (call, expect) => {
    const started = performance.now();
    const res = await call();
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    if (expect && res.headers.get('x-edgeway-cache') !== expect) throw new Error(`expected ${expect}, got ${res.headers.get('x-edgeway-cache')}`);
    return performance.now() - started;
  };
  // Store the answer, then wait until it is served from the cache.
  await timed(() => gateway());
  for (let i = 0; i < 100 && (await gateway()).headers.get('x-edgeway-cache') !== 'HIT'; i++);
  for (let i = 0; i < 10; i++) await Promise.all([timed(() => gateway(), 'HIT'), timed(direct)]);
  const hits = [];
  const misses = [];
  const mock = [];
  for (let i = 0; i < count; i++) {
    hits.push(await timed(() => gateway(), 'HIT'));
    misses.push(await timed(() => gateway({ 'x-edgeway-cache': 'skip' }), 'BYPASS'));
    mock.push(await timed(direct));
  }
  // What a cacheable miss pays over a bypassed one (KV lookup, coalescer
  // hop, KV write after the answer), against a mock with no model delay.
  const fresh = (i, headers = {}) => fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_GATEWAY_KEY}`, ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini-cached', temperature: 0, messages: [{ role: 'user', content: `question ${i} ${Math.random()}` }] }),
  });
  const cacheableMiss = [];
  const bypassed = [];
  for (let i = 0; i < count; i++) {
    cacheableMiss.push(await timed(() => fresh(i), 'MISS'));
    bypassed.push(await timed(() => fresh(i, { 'x-edgeway-cache': 'skip' }), 'BYPASS'));
  }
  console.log(`response cache, ${count} sequential requests each, alternating (wrangler dev; the model takes 300 ms):`);
  console.log(row('miss (upstream, 300 ms model)', misses));
  console.log(row('hit (from KV)', hits));
  console.log(row('mock direct, no model delay', mock));
  console.log(row('cacheable miss (no model delay)', cacheableMiss));
  console.log(row('bypassed miss (no model delay)', bypassed));
  console.log(`cacheable − bypassed miss p50 +${(p(cacheableMiss, 0.5) - p(bypassed, 0.5)).toFixed(2)} ms (KV lookup and the coalescer hop)`);
  console.log(`hit/miss p50 ×${(p(hits, 0.5) / p(misses, 0.5)).toFixed(3)}; hit − mock direct p50 +${(p(hits, 0.5) - p(mock, 0.5)).toFixed(2)} ms (the gateway's own cost of a hit)`);
} finally {
  await stack.stop();
}
