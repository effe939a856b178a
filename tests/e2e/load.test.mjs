// Load: 200 concurrent streams against a route whose primary fails half the
// time. Every caller must end with one complete answer or one clear error:
// none hangs, none gets two answers spliced together.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, contentOf, readEvents, scenario } from './helpers.mjs';

test('200 concurrent streams with a half-failing primary all end cleanly, none duplicated', { timeout: 120_000 }, async () => {
  const n = 200;
  // Alternate failure and success, so the primary fails every other call.
  const steps = Array.from({ length: 2 * n * 3 }, (_, i) => (i % 2 === 0 ? { status: 503 } : { pieces: ['fine ', 'thanks'] }));
  const { tag } = await scenario(steps);
  const results = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await chat(ask('openai-retry', `load ${i} ${tag}`, { stream: true }));
    if (res.status !== 200) return { status: res.status, body: await res.json() };
    const events = await readEvents(res);
    return { status: 200, events, i };
  }));
  let answered = 0;
  for (const result of results) {
    if (result.status !== 200) {
      // A clear error is acceptable; a vague one is not.
      assert.match(result.body.error.code, /^upstream_/);
      continue;
    }
    answered++;
    const { events, i } = result;
    assert.equal(events.filter((e) => e.data === '[DONE]').length, 1, `request ${i}: exactly one [DONE]`);
    assert.equal(events.at(-1).data, '[DONE]', `request ${i}: complete`);
    const text = contentOf(events);
    assert.ok(text === 'fine thanks' || text === `You said: load ${i} ${tag}`, `request ${i} got ${JSON.stringify(text)}`);
  }
  assert.ok(answered >= n * 0.95, `${answered} of ${n} answered`);
});
