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

test('a chunked body over the limit is refused while reading it, before the upload ends', async () => {
  // node:http rather than fetch: the gateway answers 413 while the client is
  // still sending, and a client must be able to read that answer. The upload
  // goes a little past the limit (config/edgeway.toml: 1 MiB) and then
  // waits, never ending: the answer must come while the body is still open,
  // which shows the gateway did not wait to read it all. Stopping there,
  // rather than pushing more bytes at a server that has stopped reading, is
  // also what keeps wrangler dev's proxy from resetting the connection
  // before the answer gets through.
  const url = new URL(`${GATEWAY}/v1/chat/completions`);
  const chunk = 'x'.repeat(64 * 1024);
  const chunksPastTheLimit = 1024 * 1024 / chunk.length + 1;
  const res = await new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false,
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (response) => {
      let text = '';
      response.on('data', (d) => { text += d; });
      response.on('end', () => {
        req.destroy(); // the upload was never ended
        resolve({ status: response.statusCode, headers: response.headers, text });
      });
    });
    req.on('error', (error) => { if (!req.res) reject(error); }); // a reset after the answer is fine
    req.write('{"model":"demo","messages":[{"role":"user","content":"');
    let sent = 0;
    const pump = () => {
      while (sent < chunksPastTheLimit && !req.destroyed) {
        sent++;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
    };
    pump();
  });
  assert.equal(res.status, 413);
  const body = JSON.parse(res.text);
  assert.equal(body.error.code, 'payload_too_large');
  assert.equal(body.error.request_id, res.headers['x-request-id']);
});
