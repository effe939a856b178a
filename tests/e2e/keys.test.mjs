// Gateway keys end to end: the admin API, server and publishable keys,
// short-lived tokens, per-end-user limits, CORS, revocation — and that no
// key, token or secret ever shows up in a response or a log.
//
// Limits that need the clock moved or the limiter switched off are in
// serial-limits.test.mjs; the 300-request burst is in load-limits.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, randomBytes } from 'node:crypto';
import {
  ADMIN_TOKEN, GATEWAY, SIGNING_SECRET, admin, ask, b64url, chatAs, createKey, expectError, gatewayLogText, jwt, logRecord,
} from './helpers.mjs';

const ORIGIN = 'https://app.example';
const secretsSeen = [];

/** The signing secret the gateway derives for a key id (HKDF-SHA256). */
function derivedSecret(kid) {
  return Buffer.from(hkdfSync('sha256', SIGNING_SECRET, 'edgeway token signing v1', kid, 32));
}

const nowS = () => Math.floor(Date.now() / 1000);

test('the admin API refuses calls without the admin token', async () => {
  for (const token of [null, 'wrong-admin-token']) {
    const res = await admin('keys', { token });
    await expectError(res, 401, 'invalid_api_key', assert);
  }
  const viaBearer = await fetch(`${GATEWAY}/admin/api/keys`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(viaBearer.status, 200);
});

test('a key is shown once: the admin API stores and returns only its record', async () => {
  const created = await createKey({ name: 'backend', routes: ['demo'], metadata: { team: 'search' } });
  secretsSeen.push(created.key, created.signing_secret);
  assert.match(created.key, /^ew_sk_[0-9a-f]{16}_[A-Za-z0-9_-]{32}$/);
  assert.equal(created.record.kind, 'server');
  assert.deepEqual(created.record.metadata, { team: 'search' });

  const id = created.record.id;
  const fetched = await (await admin(`keys/${id}`)).json();
  assert.deepEqual(fetched, created.record);
  const listed = await (await admin('keys')).json();
  assert.ok(listed.data.some((k) => k.id === id));
  const everything = JSON.stringify(fetched) + JSON.stringify(listed);
  assert.ok(!everything.includes(created.key) && !everything.includes(created.signing_secret), 'a secret came back');

  const renamed = await admin(`keys/${id}`, { method: 'PATCH', body: { name: 'renamed' } });
  assert.equal((await renamed.json()).name, 'renamed');
  const bad = await admin(`keys/${id}`, { method: 'PATCH', body: { routes: ['no-such-route'] } });
  const error = await expectError(bad, 400, 'invalid_request', assert);
  assert.equal(error.param, 'routes[0]');
  await expectError(await admin('keys/key_0000000000000000'), 404, 'not_found', assert);
});

test('a server key opens only its routes, and /v1/models lists only those', async () => {
  const { key } = await createKey({ routes: ['demo'] });
  secretsSeen.push(key);
  const ok = await chatAs(key, ask('demo', 'hello'));
  assert.equal(ok.status, 200);
  const refused = await chatAs(key, ask('demo-story', 'hello'));
  const error = await expectError(refused, 403, 'route_not_allowed', assert);
  assert.equal(error.param, 'model');
  const models = await (await fetch(`${GATEWAY}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json();
  assert.deepEqual(models.data.map((m) => m.id), ['demo']);
  const record = await logRecord(ok.headers.get('x-request-id'));
  assert.match(record.key_id, /^key_[0-9a-f]{16}$/);
});

test('an unknown key is invalid_api_key, and a revoked key is refused at once', async () => {
  await expectError(await chatAs(`ew_sk_${'0'.repeat(16)}_${'A'.repeat(32)}`, ask('demo', 'x')), 401, 'invalid_api_key', assert);
  const { key, record } = await createKey({ limits: { requests: { limit: 1000, window_ms: 60000, burst: 1000 } } });
  secretsSeen.push(key);
  assert.equal((await chatAs(key, ask('demo', 'before'))).status, 200);
  const revoked = await admin(`keys/${record.id}`, { method: 'DELETE' });
  assert.equal((await revoked.json()).revoked, true);
  // Straight away, although the isolate and KV may still hold the live record.
  await expectError(await chatAs(key, ask('demo', 'after')), 401, 'invalid_api_key', assert);
});

test('accepted answers of a limited key carry its remaining quota', async () => {
  const { key } = await createKey({ limits: { requests: { limit: 10, window_ms: 60000, burst: 10 }, tokens_per_minute: 100000 } });
  secretsSeen.push(key);
  const first = await chatAs(key, ask('demo', 'one'));
  const second = await chatAs(key, ask('demo', 'two'));
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-ratelimit-limit-requests'), '10');
  assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '9');
  assert.equal(second.headers.get('x-ratelimit-remaining-requests'), '8');
  assert.equal(first.headers.get('ratelimit-policy'), '"requests";q=10;w=60');
  assert.match(second.headers.get('ratelimit'), /^"requests";r=8;t=\d+$/);
  assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '100000');
  assert.ok(Number(first.headers.get('x-ratelimit-remaining-tokens')) < 100000);
});

test('a publishable key works only from its origins, and each end user has their own limit', async () => {
  const { key } = await createKey({
    kind: 'publishable', origins: [ORIGIN], user_limits: { requests: { limit: 2, window_ms: 3600000, burst: 2 } },
  });
  await expectError(await chatAs(key, ask('demo', 'x')), 403, 'origin_not_allowed', assert);
  await expectError(await chatAs(key, ask('demo', 'x'), { origin: 'https://evil.example' }), 403, 'origin_not_allowed', assert);
  await expectError(await chatAs(key, ask('demo', 'x'), { origin: ORIGIN, 'x-edgeway-target': 'demo/echo' }), 403, 'route_not_allowed', assert);

  // Two users behind two addresses: each gets two requests.
  const as = (ip) => ({ origin: ORIGIN, 'cf-connecting-ip': ip });
  assert.equal((await chatAs(key, ask('demo', 'a1'), as('203.0.113.1'))).status, 200);
  assert.equal((await chatAs(key, ask('demo', 'a2'), as('203.0.113.1'))).status, 200);
  const third = await chatAs(key, ask('demo', 'a3'), as('203.0.113.1'));
  const error = await expectError(third, 429, 'rate_limit_exceeded', assert);
  assert.equal(error.type, 'requests');
  assert.ok(Number(third.headers.get('retry-after')) >= 1);
  assert.equal(third.headers.get('x-ratelimit-remaining-requests'), '0');
  const other = await chatAs(key, ask('demo', 'b1'), as('203.0.113.2'));
  assert.equal(other.status, 200);
  assert.equal(other.headers.get('access-control-allow-origin'), ORIGIN);
  assert.match(other.headers.get('access-control-expose-headers'), /x-ratelimit-remaining-requests/);
});

test('preflights are answered for origins some publishable key allows, naming Authorization', async () => {
  await createKey({ kind: 'publishable', origins: ['https://*.preflight.example'] });
  const allowed = await fetch(`${GATEWAY}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.preflight.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://shop.preflight.example');
  assert.match(allowed.headers.get('access-control-allow-headers'), /(^|, )authorization(,|$)/);
  assert.match(allowed.headers.get('access-control-allow-methods'), /POST/);
  const unknown = await fetch(`${GATEWAY}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://nobody.example' } });
  assert.equal(unknown.headers.get('access-control-allow-origin'), null);
});

test('tokens: minted by the admin API or any JWT library, checked without a lookup, refused with the right code', async () => {
  const { key, record, signing_secret } = await createKey({ kind: 'publishable', origins: [ORIGIN] });
  secretsSeen.push(key, signing_secret);
  const headers = { origin: ORIGIN };
  const minted = await (await admin(`keys/${record.id}/tokens`, { method: 'POST', body: { sub: 'user-7', ttl_s: 600 } })).json();
  secretsSeen.push(minted.token);
  assert.equal((await chatAs(minted.token, ask('demo', 'hi'), headers)).status, 200);

  // The app's backend signs with the secret shown at creation.
  const secret = Buffer.from(signing_secret, 'base64url');
  assert.deepEqual(secret, derivedSecret(record.id));
  const own = jwt({ kid: record.id }, { sub: 'user-8', exp: nowS() + 300, routes: ['demo'] }, secret);
  assert.equal((await chatAs(own, ask('demo', 'hi'), headers)).status, 200);
  await expectError(await chatAs(own, ask('demo-story', 'hi'), headers), 403, 'route_not_allowed', assert);

  const expired = jwt({ kid: record.id }, { sub: 'user-8', exp: nowS() - 5 }, secret);
  await expectError(await chatAs(expired, ask('demo', 'hi'), headers), 401, 'token_expired', assert);
  const [h, , s] = own.split('.');
  const tampered = `${h}.${b64url(JSON.stringify({ sub: 'admin', exp: nowS() + 300 }))}.${s}`;
  await expectError(await chatAs(tampered, ask('demo', 'hi'), headers), 401, 'token_invalid', assert);
  const noneAlg = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT', kid: record.id }))}.${b64url(JSON.stringify({ sub: 'x', exp: nowS() + 60 }))}.`;
  await expectError(await chatAs(noneAlg, ask('demo', 'hi'), headers), 401, 'token_invalid', assert);

  // A well-signed token for a key that does not exist, or no longer does.
  const ghost = `key_${randomBytes(8).toString('hex')}`;
  const unknownKid = jwt({ kid: ghost }, { sub: 'u', exp: nowS() + 60 }, derivedSecret(ghost));
  await expectError(await chatAs(unknownKid, ask('demo', 'hi'), headers), 401, 'invalid_api_key', assert);
  await admin(`keys/${record.id}`, { method: 'DELETE' });
  await expectError(await chatAs(minted.token, ask('demo', 'hi'), headers), 401, 'invalid_api_key', assert);
});

test('no key string, signing secret, token or admin token reaches a response body or the log', async () => {
  const { key, signing_secret } = await createKey({});
  secretsSeen.push(key, signing_secret);
  const res = await chatAs(key, ask('demo', 'check'));
  const text = await res.text() + JSON.stringify([...res.headers]);
  const log = gatewayLogText();
  for (const secret of [...secretsSeen, ADMIN_TOKEN, SIGNING_SECRET].filter(Boolean)) {
    assert.ok(!text.includes(secret), 'a secret reached a response');
    assert.ok(!log.includes(secret), 'a secret reached the log');
  }
});
