// Request coalescing: identical cacheable requests that arrive while the
// first is still being answered wait for it instead of calling the upstream
// again — streamed and non-streamed callers alike.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, contentOf, logRecord, readEvents, scenario, scenarioState, waitFor } from './helpers.mjs';

test('50 identical concurrent requests make one upstream call', async () => {
  // A slow upstream, so every request arrives while the first is in flight.
  const { id, tag } = await scenario([{ headerDelayMs: 1500 }]);
  const body = (stream) => ask('gpt-4o-mini-cached', `popular question ${tag}`, { temperature: 0, stream });
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(body(i % 2 === 1))));
  const texts = await Promise.all(responses.map(async (res, i) => {
    assert.equal(res.status, 200);
    return i % 2 === 1 ? contentOf(await readEvents(res)) : (await res.json()).choices[0].message.content;
  }));
  assert.ok(texts.every((t) => t === `Mock reply: popular question ${tag}`), 'everyone got the one answer');
  assert.equal((await scenarioState(id)).requests, 1, 'the upstream was called once');
  const statuses = responses.map((r) => r.headers.get('x-edgeway-cache'));
  assert.equal(statuses.filter((s) => s === 'MISS').length, 1);
  assert.equal(statuses.filter((s) => s === 'HIT').length, 49);
  const records = await Promise.all(responses.map((r) => logRecord(r.headers.get('x-request-id'))));
  assert.ok(records.filter((r) => r.cache === 'coalesced').length >= 40, 'most waited for the leader');
});

test('when the leader fails, one waiting request takes over and the rest get its answer', async () => {
  const refusal = { error: { message: 'refused once', type: 'invalid_request_error', code: 'invalid_request' } };
  const { id, tag } = await scenario([{ status: 400, body: refusal, headerDelayMs: 1000 }, { headerDelayMs: 300 }]);
  const body = ask('gpt-4o-mini-cached', `leader fails ${tag}`, { temperature: 0 });
  const responses = await Promise.all(Array.from({ length: 6 }, () => chat(body)));
  const statuses = responses.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400]);
  const answers = await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.json()));
  assert.ok(answers.every((a) => a.choices[0].message.content === `Mock reply: leader fails ${tag}`));
  assert.equal((await scenarioState(id)).requests, 2, 'the failed call and the one that took over');
});

test('requests that join a stream in flight follow it live, from its start', async () => {
  const pieces = Array.from({ length: 10 }, (_, i) => `w${i} `);
  const { id, tag } = await scenario([{ pieces, chunkDelayMs: 200 }]);
  const body = (stream) => ask('gpt-4o-mini-cached', `live ${tag}`, { temperature: 0, stream });
  // The leader's caller reads as it comes, like any streaming client.
  const leader = chat(body(true)).then(readEvents);
  // Join once the leader's stream is under way.
  await waitFor(async () => (await scenarioState(id)).log[0]?.emitted.length >= 3, { what: 'the leader streaming' });
  const whole = chat(body(false));
  const streams = await Promise.all(Array.from({ length: 4 }, () => chat(body(true)).then(readEvents)));
  const leaderEvents = await leader;
  const lastEmitted = Math.max(...(await scenarioState(id)).log[0].emitted.map((e) => e.at));
  assert.equal(contentOf(leaderEvents), pieces.join(''));
  for (const events of streams) {
    assert.equal(contentOf(events), pieces.join(''), 'the whole stream, from its start');
    assert.equal(events.at(-1).data, '[DONE]');
    const firstContent = events.find((e) => e.data !== '[DONE]' && JSON.parse(e.data).choices?.[0]?.delta?.content);
    assert.ok(firstContent.at < lastEmitted, 'a follower got content before the upstream had finished');
  }
  assert.equal((await (await whole).json()).choices[0].message.content, pieces.join(''));
  assert.equal((await scenarioState(id)).requests, 1);
});
