// A caller that goes away mid-stream makes the gateway cancel its upstream
// call, so a model stops generating (and billing) for nobody.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, logRecord, scenario, scenarioState, waitFor } from './helpers.mjs';

test('a client disconnect mid-stream aborts the upstream call', async () => {
  const pieces = Array.from({ length: 40 }, (_, i) => `w${i} `);
  const { id, tag } = await scenario([{ pieces, chunkDelayMs: 100 }]);
  const controller = new AbortController();
  const res = await chat(ask('gpt-4o-mini', `long ${tag}`, { stream: true }), { signal: controller.signal });
  const reader = res.body.getReader();
  await reader.read();
  await reader.read();
  controller.abort();

  const seen = await waitFor(async () => {
    const state = await scenarioState(id);
    return state.log[0]?.clientClosedEarly ? state : null;
  }, { what: 'the upstream connection to close', timeoutMs: 10_000 });
  assert.equal(seen.log[0].finished, false, 'the upstream did not get to finish its answer');
  assert.ok(seen.log[0].emitted.length < pieces.length, 'the upstream stopped sending early');

  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.outcome, 'client_closed');
});
