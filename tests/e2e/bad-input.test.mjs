// Bad input gets a clear OpenAI-style error with a stable code and the
// request id — never a panic, an HTML page or a bare string.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ask, chat, expectError, GATEWAY, GATEWAY_KEY, logRecord, admin } from './helpers.mjs';

test('malformed JSON is invalid_json (400) and says not to retry', async () => {
  const res = await chat('{"model": "demo", "messages": [');
  assert.equal(res.headers.get('x-should-retry'), 'false');
  await expectError(res, 400, 'invalid_json', assert);
});

test('a missing field is invalid_request naming the field', async () => {
  const error = await expectError(await chat({ model: 'demo' }), 400, 'invalid_request', assert);
  assert.match(error.message, /messages/);
});

test('a wrongly typed field is invalid_request with its path as param', async () => {
  const cases = [
    [{ model: 'demo', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    [{ model: 'demo', messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
    [{ model: 'demo', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature'],
    [{ model: 'demo', messages: [{ role: 'user', content: 'x' }], temperature: 5 }, 'temperature'],
    [{ model: 'demo', messages: [] }, 'messages'],
    [{ model: 7, messages: [{ role: 'user', content: 'x' }] }, 'model'],
  ];
  for (const [body, param] of cases) {
    const error = await expectError(await chat(body), 400, 'invalid_request', assert);
    assert.equal(error.param, param, JSON.stringify(body));
  }
});

test('an unknown model alias is model_not_found (404)', async () => {
  const error = await expectError(await chat(ask('gpt-17-ultra', 'hi')), 404, 'model_not_found', assert);
  assert.equal(error.param, 'model');
  assert.match(error.message, /gpt-17-ultra/);
});

test('a body over the limit is payload_too_large (413), judged by Content-Length before reading', async () => {
  const big = 'x'.repeat(1024 * 1024 + 1);
  const res = await chat(ask('demo', big));
  await expectError(res, 413, 'payload_too_large', assert);
});

test('the wrong method is method_not_allowed (405) with Allow', async () => {
  const res = await fetch(`${GATEWAY}/v1/chat/completions`, { headers: { authorization: `Bearer ${GATEWAY_KEY}` } });
  assert.equal(res.headers.get('allow'), 'POST');
  await expectError(res, 405, 'method_not_allowed', assert);
  await expectError(await fetch(`${GATEWAY}/v1/models`, { method: 'DELETE' }), 405, 'method_not_allowed', assert);
});

test('an unknown API path is not_found (404) JSON; other paths are the dashboard\'s', async () => {
  for (const path of ['/v1/completions', '/v1/nope']) {
    await expectError(await fetch(`${GATEWAY}${path}`), 404, 'not_found', assert);
  }
  const page = await fetch(`${GATEWAY}/some/dashboard/page`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  // Admin paths say nothing, not even "no such path", without the admin token.
  await expectError(await fetch(`${GATEWAY}/admin/api/whatever`), 401, 'invalid_api_key', assert);
  await expectError(await admin('whatever'), 404, 'not_found', assert);
});

test('a missing or wrong gateway key is invalid_api_key (401)', async () => {
  const none = await fetch(`${GATEWAY}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(ask('demo', 'x')) });
  await expectError(none, 401, 'invalid_api_key', assert);
  const wrong = await chat(ask('demo', 'x'), { headers: { authorization: 'Bearer ew-wrong' } });
  await expectError(wrong, 401, 'invalid_api_key', assert);
  const viaHeader = await fetch(`${GATEWAY}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'x-api-key': GATEWAY_KEY, 'content-type': 'application/json' },
    body: JSON.stringify(ask('demo', 'x')),
  });
  assert.equal(viaHeader.status, 200, 'x-api-key is accepted too');
});

test('errors are logged with their code', async () => {
  const res = await chat(ask('no-such-route', 'x'));
  const record = await logRecord(res.headers.get('x-request-id'));
  assert.equal(record.status, 404);
  assert.equal(record.error_code, 'model_not_found');
  assert.equal(record.outcome, 'error');
});
