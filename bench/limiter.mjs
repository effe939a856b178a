#!/usr/bin/env node
// What a gateway key's limiter costs: the same request with the dev key
// (no limiter) and with a rate-limited key (one Durable Object round trip
// before the upstream call, one settlement after), sent alternately so both
// see the same machine state. Runs under `wrangler dev` (the real workerd
// with local KV and Durable Objects), which bare workerd cannot give.
//
// Usage: node bench/limiter.mjs [--requests 300]   (make bench runs it)

import { parseArgs } from 'node:util';
import { startStack, TEST_ADMIN_TOKEN, TEST_GATEWAY_KEY } from '../tests/harness/gateway.mjs';

const { values: opts } = parseArgs({ options: { requests: { type: 'string', default: '300' } } });
const count = Number(opts.requests);
const body = JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'hi' }] });

const stack = await startStack({});
try {
  const created = await fetch(`${stack.url}/admin/api/keys`, {
    method: 'POST',
    headers: { 'x-edgeway-admin-token': TEST_ADMIN_TOKEN },
    body: JSON.stringify({ name: 'bench', limits: { requests: { limit: 1_000_000, window_ms: 60_000, burst: 1_000_000 }, tokens_per_minute: 100_000_000 } }),
  });
  const { key } = await created.json();
  const timed = async (credential) => {
    const started = performance.now();
    const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${credential}` }, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return performance.now() - started;
  };
  // Warm both paths (isolate, key cache, the key's object).
  for (let i = 0; i < 20; i++) await Promise.all([timed(TEST_GATEWAY_KEY), timed(key)]);
  const plain = [];
  const limited = [];
  for (let i = 0; i < count; i++) {
    plain.push(await timed(TEST_GATEWAY_KEY));
    limited.push(await timed(key));
  }
  const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
  const row = (name, xs) => `${name.padEnd(22)} p50 ${p(xs, 0.5).toFixed(2)} ms   p95 ${p(xs, 0.95).toFixed(2)} ms`;
  console.log(`limiter cost, ${count} sequential requests each, alternating (wrangler dev, demo route):`);
  console.log(row('dev key (no limiter)', plain));
  console.log(row('limited key', limited));
  console.log(`limited − dev: p50 +${(p(limited, 0.5) - p(plain, 0.5)).toFixed(2)} ms (one Durable Object round trip, same machine)`);
} finally {
  await stack.stop();
}
