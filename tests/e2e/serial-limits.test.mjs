// Limits over time and when the limiter fails. These move the gateway's
// test clock or switch its limiter off, which every other test would see,
// so tests/run.mjs runs this file last and alone. Nothing here sleeps: the
// clock is moved (DESIGN.md, "Time in tests").

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { admin, advanceClock, ask, chatAs, createKey, expectError, logRecord, setFaults } from './helpers.mjs';

after(() => setFaults({}));

const HOUR = 3_600_000;

test('tokens per minute count real usage, and the bucket refills with time', async () => {
  // demo-story answers a few hundred words: far more than the 64 tokens reserved.
  const { key } = await createKey({ limits: { tokens_per_minute: 300 } });
  const first = await chatAs(key, ask('demo-story', 'tell me', { max_tokens: 64 }));
  assert.equal(first.status, 200);
  const used = (await first.json()).usage.total_tokens;
  assert.ok(used > 300, `the story used ${used} tokens`);
  // The bucket is in debt now: even a small request waits.
  const second = await chatAs(key, ask('demo', 'hi', { max_tokens: 1 }));
  const error = await expectError(second, 429, 'rate_limit_exceeded', assert);
  assert.equal(error.type, 'tokens');
  assert.ok(Number(second.headers.get('retry-after')) > 1);
  await advanceClock(Number(second.headers.get('retry-after')) * 1000);
  assert.equal((await chatAs(key, ask('demo', 'hi', { max_tokens: 1 }))).status, 200);
});

test('a daily budget spent mid-day refuses with insufficient_quota until midnight UTC', async () => {
  // The demo's notional price: $1 per million input tokens, $2 per million output.
  const { key } = await createKey({ limits: { budget_daily_usd: 0.0005 } });
  let spent = 0;
  let res;
  for (let i = 0; i < 20; i++) {
    res = await chatAs(key, ask('demo-story', `spend ${i}`));
    if (res.status !== 200) break;
    spent += Number(res.headers.get('x-edgeway-cost-usd'));
    await logRecord(res.headers.get('x-request-id')); // settled once its record is written
  }
  assert.ok(spent >= 0.0005, `spent ${spent}`);
  const error = await expectError(res, 429, 'insufficient_quota', assert);
  assert.equal(error.type, 'insufficient_quota');
  assert.equal(res.headers.get('x-should-retry'), 'false');
  assert.match(error.message, /daily budget/);
  const resetsAt = res.headers.get('x-edgeway-budget-reset');
  assert.match(resetsAt, /^\d{4}-\d{2}-\d{2}T00:00:00Z$/);
  assert.ok(error.message.includes(resetsAt));

  // The next midnight is at most a day away.
  await advanceClock(25 * HOUR);
  assert.equal((await chatAs(key, ask('demo', 'a new day'))).status, 200);
});

test('a token expires when the clock passes its exp', async () => {
  const { record } = await createKey({ kind: 'publishable', origins: ['https://app.example'] });
  const minted = await (await admin(`keys/${record.id}/tokens`, { method: 'POST', body: { sub: 'u1', ttl_s: 60 } })).json();
  const headers = { origin: 'https://app.example' };
  assert.equal((await chatAs(minted.token, ask('demo', 'hi'), headers)).status, 200);
  await advanceClock(61_000);
  await expectError(await chatAs(minted.token, ask('demo', 'hi'), headers), 401, 'token_expired', assert);
});

test('an unreachable limiter fails open for rate limits and closed for budgets, and the log says so', async () => {
  const limited = await createKey({ limits: { requests: { limit: 1, window_ms: HOUR, burst: 1 } } });
  const budgeted = await createKey({ limits: { budget_monthly_usd: 100 } });
  const strict = await createKey({ limits: { requests: { limit: 1, window_ms: HOUR, burst: 1 } }, on_limiter_error: { rate_limits: 'closed' } });
  await setFaults({ limiter: true });
  try {
    const open = await chatAs(limited.key, ask('demo', 'through'));
    assert.equal(open.status, 200);
    assert.equal((await logRecord(open.headers.get('x-request-id'))).limiter, 'fail_open');
    // Past its limit of one, still let through: the limiter cannot say no.
    assert.equal((await chatAs(limited.key, ask('demo', 'through again'))).status, 200);
    await expectError(await chatAs(budgeted.key, ask('demo', 'money')), 503, 'limiter_unavailable', assert);
    await expectError(await chatAs(strict.key, ask('demo', 'strict')), 503, 'limiter_unavailable', assert);
  } finally {
    await setFaults({});
  }
  assert.equal((await chatAs(budgeted.key, ask('demo', 'money'))).status, 200);
});
