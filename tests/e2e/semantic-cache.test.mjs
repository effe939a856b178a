// The semantic cache end to end: a paraphrase of a question already
// answered is served from the cache (SEMANTIC, with its similarity), an
// unrelated question is not, nothing but the question may differ (system
// prompt, temperature), namespaces never share, streams are replayed, and
// an embeddings call that is too slow is a miss with the request still
// answered. The route `demo-semantic` embeds with the demo's `embed` model
// and answers with `echo`, which restates the question: a served answer
// that restates another question than the one asked came from the cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  chat, chatAs, contentOf, createKey, gatewayLogText, logRecord, readEvents, scenario, scenarioState, waitFor,
} from './helpers.mjs';

const ROUTE = 'demo-semantic';
const fixtures = JSON.parse(readFileSync(new URL('../fixtures/paraphrases.json', import.meta.url), 'utf8'));

/** A namespace of its own, so that tests never see each other's entries. */
const isolated = () => ({ 'x-edgeway-cache-namespace': `t-${randomUUID()}` });

function ask(text, { system, ...extra } = {}) {
  const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: text }];
  return { model: ROUTE, messages, ...extra };
}

/** Waits until the answer of `requestId` is filed in the semantic index. */
function semanticWrite(requestId) {
  return waitFor(() => {
    const line = gatewayLogText().split('\n').find((l) => l.includes(`"request_id":"${requestId}"`) && l.includes('"event":"semantic_'));
    return line && JSON.parse(line.slice(line.indexOf('{'))).event;
  }, { what: `the semantic write of ${requestId}`, timeoutMs: 15_000 });
}

/** Asks `text` (a miss), and waits until its answer is in the index. */
async function answered(text, headers, extra) {
  const res = await chat(ask(text, extra), { headers });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-cache'), 'MISS');
  const body = await res.json();
  assert.equal(await semanticWrite(res.headers.get('x-request-id')), 'semantic_stored');
  return body.choices[0].message.content;
}

test('a paraphrase is served the answer to the question already asked; an unrelated question misses', async () => {
  const headers = isolated();
  const [question, paraphrase] = fixtures.paraphrases[0];
  const original = await answered(question, headers);
  assert.equal(original, `You said: ${question}`);

  const hit = await chat(ask(paraphrase), { headers });
  assert.equal(hit.status, 200);
  assert.equal(hit.headers.get('x-edgeway-cache'), 'SEMANTIC');
  const similarity = Number(hit.headers.get('x-edgeway-cache-similarity'));
  assert.ok(similarity >= 0.9 && similarity <= 1, `similarity ${similarity} is at or above the route's 0.9`);
  assert.equal(hit.headers.get('x-edgeway-attempts'), '0', 'no model was called');
  assert.equal((await hit.json()).choices[0].message.content, original, 'the cached answer, not an echo of the paraphrase');
  const record = await logRecord(hit.headers.get('x-request-id'));
  assert.equal(record.cache, 'semantic');
  assert.ok(Math.abs(record.similarity - similarity) < 0.0001, 'the log has the similarity');

  const unrelated = fixtures.unrelated.find(([q]) => q === question)[1];
  const miss = await chat(ask(unrelated), { headers });
  assert.equal(miss.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await miss.json()).choices[0].message.content, `You said: ${unrelated}`);
});

test('every paraphrase pair of the fixture set hits, and no unrelated pair does', async () => {
  for (const [question, paraphrase] of fixtures.paraphrases) {
    const headers = isolated();
    await answered(question, headers);
    const res = await chat(ask(paraphrase), { headers });
    assert.equal(res.headers.get('x-edgeway-cache'), 'SEMANTIC', `${paraphrase} ≈ ${question}`);
    await res.arrayBuffer();
  }
  for (const [question, other] of fixtures.unrelated) {
    const headers = isolated();
    await answered(question, headers);
    const res = await chat(ask(other), { headers });
    assert.equal(res.headers.get('x-edgeway-cache'), 'MISS', `${other} is not ${question}`);
    await res.arrayBuffer();
  }
});

test('only the question may differ: another system prompt or temperature never hits', async () => {
  const headers = isolated();
  const [question, paraphrase] = fixtures.paraphrases[1];
  await answered(question, headers, { system: 'Answer briefly.', temperature: 0 });
  for (const changed of [{ system: 'Answer at length.', temperature: 0 }, { system: 'Answer briefly.', temperature: 0.7 }, { temperature: 0 }]) {
    const res = await chat(ask(paraphrase, changed), { headers });
    assert.equal(res.headers.get('x-edgeway-cache'), 'MISS', JSON.stringify(changed));
    assert.equal((await res.json()).choices[0].message.content, `You said: ${paraphrase}`);
  }
  const same = await chat(ask(paraphrase, { system: 'Answer briefly.', temperature: 0 }), { headers });
  assert.equal(same.headers.get('x-edgeway-cache'), 'SEMANTIC');
  await same.arrayBuffer();
});

test('a short follow-up never gets another conversation\'s answer', async () => {
  const headers = isolated();
  const conversation = (topic) => ({
    model: ROUTE,
    messages: [{ role: 'user', content: topic }, { role: 'assistant', content: 'Are you sure?' }, { role: 'user', content: 'yes' }],
  });
  const first = await chat(conversation('Shall I delete the old backups?'), { headers });
  assert.equal(await semanticWrite(first.headers.get('x-request-id')), 'semantic_stored');
  await first.arrayBuffer();
  const other = await chat(conversation('Shall I order the pizza?'), { headers });
  assert.equal(other.headers.get('x-edgeway-cache'), 'MISS');
  await other.arrayBuffer();
});

test('namespaces are isolated: another key, or another namespace, never sees the entry', async () => {
  const namespace = `t-${randomUUID()}`;
  const [question, paraphrase] = fixtures.paraphrases[2];
  await answered(question, { 'x-edgeway-cache-namespace': namespace });

  const { key } = await createKey({ name: `semantic-${namespace}` });
  const otherKey = await chatAs(key, ask(paraphrase), { 'x-edgeway-cache-namespace': namespace });
  assert.equal(otherKey.status, 200);
  assert.equal(otherKey.headers.get('x-edgeway-cache'), 'MISS', 'another key');
  await otherKey.arrayBuffer();
  const otherNamespace = await chat(ask(paraphrase), { headers: isolated() });
  assert.equal(otherNamespace.headers.get('x-edgeway-cache'), 'MISS', 'another namespace');
  await otherNamespace.arrayBuffer();
  const same = await chat(ask(paraphrase), { headers: { 'x-edgeway-cache-namespace': namespace } });
  assert.equal(same.headers.get('x-edgeway-cache'), 'SEMANTIC', 'the same key and namespace');
  await same.arrayBuffer();
});

test('a streamed answer is stored and replayed as a stream to a paraphrase', async () => {
  const headers = isolated();
  const [question, paraphrase] = fixtures.paraphrases[3];
  const first = await chat(ask(question, { stream: true }), { headers });
  assert.equal(first.headers.get('x-edgeway-cache'), 'MISS');
  const streamed = contentOf(await readEvents(first));
  assert.equal(streamed, `You said: ${question}`);
  assert.equal(await semanticWrite(first.headers.get('x-request-id')), 'semantic_stored');

  const replay = await chat(ask(paraphrase, { stream: true }), { headers });
  assert.equal(replay.headers.get('x-edgeway-cache'), 'SEMANTIC');
  assert.match(replay.headers.get('content-type'), /text\/event-stream/);
  const events = await readEvents(replay);
  assert.equal(events.at(-1).data, '[DONE]');
  assert.equal(contentOf(events), streamed);
});

test('a slow embeddings call is a miss within the route\'s budget, and the request is still answered', async () => {
  // `semantic-slow-embed` embeds through the mock (OpenAI's embeddings API)
  // with a 300 ms budget; the scenario holds the embeddings answer for 5 s.
  const { id, tag } = await scenario([{ headerDelayMs: 5_000 }]);
  const res = await chat({ model: 'semantic-slow-embed', temperature: 0, messages: [{ role: 'user', content: `How much is the plan? ${tag}` }] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await res.json()).choices[0].message.content, `You said: How much is the plan? ${tag}`);
  const seen = await scenarioState(id);
  assert.equal(seen.requests, 1, 'the embeddings call was made');
  assert.equal(seen.log[0].operation, 'embeddings');
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.cache, 'miss');
  assert.equal(record.status, 200);
});

test('a failing embeddings call is a miss too, and the request is answered', async () => {
  const { id, tag } = await scenario([{ status: 500 }]);
  const res = await chat({ model: 'semantic-slow-embed', temperature: 0, messages: [{ role: 'user', content: `What are the opening hours? ${tag}` }] });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-edgeway-cache'), 'MISS');
  assert.equal((await res.json()).choices[0].message.content, `You said: What are the opening hours? ${tag}`);
  assert.equal((await scenarioState(id)).requests, 1, 'the embeddings call was made, once: no retries within the budget');
});
