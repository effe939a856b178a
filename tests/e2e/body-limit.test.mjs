// The body limit on a body sent without Content-Length (chunked), judged
// while reading it.
//
// This test gets a gateway of its own: after workerd answers 413 to a
// request whose body is still arriving, wrangler dev's local proxy can leave
// its connection to workerd stuck, and the next request through that proxy
// then hangs. That is a property of the local dev proxy, not of the gateway,
// so it is kept away from the shared test gateway.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startStack, TEST_GATEWAY_KEY as GATEWAY_KEY } from '../harness/gateway.mjs';

let stack;
let GATEWAY;
before(async () => {
  stack = await startStack();
  GATEWAY = stack.url;
});
after(() => stack?.stop());

test('a chunked body over the limit is refused while reading it', async () => {
  // node:http rather than fetch: the gateway answers 413 while the client is
  // still sending, and a client must be able to read that answer.
  const url = new URL(`${GATEWAY}/v1/chat/completions`);
  const res = await new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false,
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (response) => {
      let text = '';
      response.on('data', (d) => { text += d; });
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, text }));
    });
    req.on('error', (error) => { if (!req.res) reject(error); }); // a reset after the answer is fine
    req.write('{"model":"demo","messages":[{"role":"user","content":"');
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < 24 && !req.destroyed) {
        sent++;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      if (!req.destroyed) req.end('"}]}');
    };
    pump();
  });
  assert.equal(res.status, 413);
  const body = JSON.parse(res.text);
  assert.equal(body.error.code, 'payload_too_large');
  assert.equal(body.error.request_id, res.headers['x-request-id']);
});

