// A real browser (Chromium, through playwright-core) on another origin
// calls the gateway with a publishable key: the preflight passes, the
// answer arrives, and the page can read the gateway's headers — which
// only works because they are listed in Access-Control-Expose-Headers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { launchChromium } from '../harness/browser.mjs';
import { GATEWAY, createKey } from './helpers.mjs';

let server;
let origin;
let browser;

before(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title><p>app</p>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('a page on an allowed origin calls the gateway and reads its headers; another origin cannot', async () => {
  const { key } = await createKey({
    kind: 'publishable', origins: [origin], user_limits: { requests: { limit: 1, window_ms: 3_600_000, burst: 1 } },
  });
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const call = (gateway, publishableKey) => page.evaluate(async ({ gateway, publishableKey }) => {
    try {
      const res = await fetch(`${gateway}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publishableKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'from the browser' }] }),
      });
      const pick = (...names) => Object.fromEntries(names.map((n) => [n, res.headers.get(n)]));
      return {
        status: res.status,
        body: await res.json(),
        headers: pick('x-request-id', 'x-edgeway-provider', 'x-edgeway-route', 'x-ratelimit-remaining-requests', 'ratelimit', 'retry-after'),
      };
    } catch (error) {
      return { error: String(error) };
    }
  }, { gateway, publishableKey });

  const first = await call(GATEWAY, key);
  assert.equal(first.status, 200, JSON.stringify(first));
  assert.equal(first.body.choices[0].message.content, 'You said: from the browser');
  assert.match(first.headers['x-request-id'], /^req_/);
  assert.equal(first.headers['x-edgeway-provider'], 'demo');
  assert.equal(first.headers['x-edgeway-route'], 'demo');
  assert.equal(first.headers['x-ratelimit-remaining-requests'], '0');

  // The end user's limit of one: the browser reads the refusal and when to retry.
  const second = await call(GATEWAY, key);
  assert.equal(second.status, 429);
  assert.equal(second.body.error.code, 'rate_limit_exceeded');
  assert.ok(Number(second.headers['retry-after']) > 0);

  // Another origin's page is stopped by the browser itself.
  const stranger = await browser.newPage();
  await stranger.goto(`${origin.replace('127.0.0.1', 'localhost')}/`);
  const blocked = await stranger.evaluate(async ({ gateway, publishableKey }) => {
    try {
      await fetch(`${gateway}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${publishableKey}` }, body: '{}' });
      return 'answered';
    } catch (error) {
      return `blocked: ${error}`;
    }
  }, { gateway: GATEWAY, publishableKey: key });
  assert.match(blocked, /^blocked/);
});
