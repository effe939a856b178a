// Complexity routing end to end: the demo-auto route sends each request of
// the mixed workload (bench/workloads/mixed.jsonl) to the tier it names,
// says which and why in its headers and log record, and lets a key with
// overrides pin a tier.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/processes.mjs';
import { ask, chat, chatAs, createKey, expectError, logRecord, scenario, scenarioState } from './helpers.mjs';

const workload = readFileSync(join(repoRoot, 'bench/workloads/mixed.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
const MODEL_OF_TIER = { small: 'echo', medium: 'slow-1', large: 'slow-2' };

test('each workload request goes to the tier it names, and says why', async () => {
  const ids = [];
  for (const item of workload) {
    const res = await chat({ ...item.request, model: 'demo-auto' });
    assert.equal(res.status, 200, `${item.kind}: ${await res.clone().text()}`);
    await res.arrayBuffer();
    assert.equal(res.headers.get('x-edgeway-tier'), item.tier, `${item.kind}: ${res.headers.get('x-edgeway-tier-reason')}`);
    assert.equal(res.headers.get('x-edgeway-model'), MODEL_OF_TIER[item.tier]);
    assert.match(res.headers.get('x-edgeway-tier-reason'), new RegExp(`^score -?\\d+.* -> ${item.tier} \\(`));
    ids.push([res.headers.get('x-request-id'), item.tier, res.headers.get('x-edgeway-tier-reason')]);
  }
  const [id, tier, reason] = ids[ids.length - 1];
  const record = await logRecord(id);
  assert.equal(record.tier, tier);
  assert.equal(record.tier_reason, reason);
});

test('a key with overrides may pin a tier; an unknown tier or a key without overrides is refused', async () => {
  const res = await chat(ask('demo-auto', 'hello'), { headers: { 'x-edgeway-tier': 'large' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-tier'), 'large');
  assert.equal(res.headers.get('x-edgeway-model'), 'slow-2');
  assert.equal(res.headers.get('x-edgeway-tier-reason'), 'pinned by the caller');

  const unknown = await expectError(await chat(ask('demo-auto', 'hello'), { headers: { 'x-edgeway-tier': 'huge' } }), 400, 'invalid_request', assert);
  assert.equal(unknown.param, 'x-edgeway-tier');
  assert.match(unknown.message, /small, medium, large/);

  const { key } = await createKey({ allow_overrides: false });
  const refused = await expectError(await chatAs(key, ask('demo-auto', 'hello'), { 'x-edgeway-tier': 'large' }), 403, 'route_not_allowed', assert);
  assert.equal(refused.param, 'x-edgeway-tier');
});

// `demo-auto-classified` asks GPT-4o mini (the mock) for the tier first.
const classified = (text) => ({ model: 'demo-auto-classified', messages: [{ role: 'user', content: text }] });

test('a route with a classifier asks it for the tier: one short call with the question and the tiers', async () => {
  const { id, tag } = await scenario([{ pieces: ['large'] }]);
  const res = await chat(classified(`hi there ${tag}`));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(res.headers.get('x-edgeway-tier'), 'large', 'the classifier, not the score (which says small)');
  assert.equal(res.headers.get('x-edgeway-tier-reason'), 'classified by gpt-4o-mini');
  assert.equal(res.headers.get('x-edgeway-model'), 'slow-2');
  const seen = await scenarioState(id);
  assert.equal(seen.requests, 1);
  const sent = seen.log[0].body;
  assert.match(sent.messages[0].content, /small, medium, large/);
  assert.equal(sent.messages.at(-1).content, `hi there ${tag}`);
  assert.equal((await logRecord(res.headers.get('x-request-id'))).tier_reason, 'classified by gpt-4o-mini');
});

test('a slow, failing or unclear classifier leaves the choice to the score', async () => {
  for (const [step, why] of [[{ headerDelayMs: 5_000 }, 'timed out'], [{ status: 500 }, 'failed'], [{ pieces: ['no idea'] }, 'named no tier']]) {
    const { tag } = await scenario([step]);
    const res = await chat(classified(`hi there ${tag}`));
    assert.equal(res.status, 200, why);
    await res.arrayBuffer();
    assert.equal(res.headers.get('x-edgeway-tier'), 'small', why);
    assert.match(res.headers.get('x-edgeway-tier-reason'), new RegExp(`^score -?\\d+.* -> small .*\\(the classifier ${why}\\)$`));
  }
});
