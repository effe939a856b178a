// Plain HTTP/1.1 requests from this process, with node:http rather than
// fetch: fetch (undici) keeps pooled connections alive behind our back and
// adds its own overhead, while here we choose the agent — a fresh connection
// for readiness probes, one kept-alive connection for sequential timing runs
// (as wrk uses) — so the client side costs the same for every scenario.
//
// `streamChat` times a streamed chat completion: time to first token is
// measured from just before the request is written to the moment the first
// SSE event carrying non-empty `choices[0].delta.content` has arrived (the
// role-only first chunk does not count).

import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Sends one request and buffers the answer: `{ status, headers, text }`. */
export function request(url, { method = 'GET', headers = {}, body, agent = false, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: withLength(headers, body), agent, timeout: timeoutMs }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** True once something answers HTTP at `url` (any status). */
export async function answers(url) {
  try {
    await request(url, { timeoutMs: 1_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Sends one streamed chat request and reads it to the end.
 * Resolves `{ ttftMs, totalMs, contentChunks, done, text }`; rejects on a
 * non-200 status or a stream without content.
 */
export function streamChat(url, { headers = {}, body, agent }) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let ttftMs = null;
    let contentChunks = 0;
    let done = false;
    let text = '';
    let buffered = '';
    const req = http.request(url, { method: 'POST', headers: withLength(headers, body), agent }, (res) => {
      res.setEncoding('utf8');
      if (res.statusCode !== 200) {
        let errorText = '';
        res.on('data', (d) => { errorText += d; });
        res.on('end', () => reject(new Error(`streamed request: HTTP ${res.statusCode}: ${errorText.slice(0, 300)}`)));
        return;
      }
      res.on('data', (data) => {
        buffered += data;
        let end;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          for (const line of event.split('\n')) {
            if (!line.startsWith('data:')) continue;
            const payload = line.slice(5).trim();
            if (payload === '[DONE]') {
              done = true;
              continue;
            }
            const content = JSON.parse(payload).choices?.[0]?.delta?.content;
            if (typeof content === 'string' && content.length > 0) {
              if (ttftMs === null) ttftMs = performance.now() - started;
              contentChunks += 1;
              text += content;
            }
          }
        }
      });
      res.on('end', () => {
        if (ttftMs === null) reject(new Error('streamed request: no content chunk in the answer'));
        else resolve({ ttftMs, totalMs: performance.now() - started, contentChunks, done, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function withLength(headers, body) {
  return body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
}
