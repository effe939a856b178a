#!/usr/bin/env node
// Where one request's latency goes, phase by phase, for the pass-through
// (b), the skeleton (f) and Edgeway (c) of bench/run.mjs. This process and
// a small upstream it runs itself read the same wall clock, so the
// upstream can say when a request reached it and when it answered:
//   in        from sending the request to the upstream receiving it
//   upstream  the upstream's own time to answer
//   out       from the upstream answering to the caller getting the headers
//   content   from sending to the first content (streamed answers)
//   end       from sending to the end of the answer
// Requests go one at a time over a kept-alive connection, interleaved over
// the Workers round by round; the figures are medians over all requests.
//
// Usage: node bench/phases.mjs [--rounds 8] [--requests 40]

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, stopAll } from './lib/processes.mjs';
import { table } from './lib/report.mjs';
import { median } from './lib/stats.mjs';
import { moduleGraph, startWorker, wranglerSettings } from './lib/workerd.mjs';

const repoRoot = resolve(import.meta.dirname, '..');
const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '8' }, requests: { type: 'string', default: '40' } } });
const rounds = Number(opts.rounds);
const requests = Number(opts.requests);
const wall = () => performance.timeOrigin + performance.now();

const GATEWAY_KEY = 'ew-bench-phases';
const MESSAGES = [
  { role: 'system', content: 'You are a concise assistant.' },
  { role: 'user', content: 'In one sentence, why should an API gateway add almost no latency?' },
];

/** When the request in flight reached the upstream, and when it answered. */
const seen = { arrived: 0, answered: 0 };

/** An OpenAI-style upstream that answers at once, as the mock does. */
function upstream(req, res) {
  // Anything else is a readiness check passed through by (b).
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404).end();
    return;
  }
  seen.arrived = wall();
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const chat = JSON.parse(body);
    const reply = `Mock reply: ${chat.messages.at(-1).content}`;
    const usage = { prompt_tokens: 20, completion_tokens: reply.split(' ').length, total_tokens: 20 + reply.split(' ').length };
    const base = { id: 'chatcmpl-phases', created: 1, model: chat.model };
    seen.answered = wall();
    if (!chat.stream) {
      const answer = JSON.stringify({ ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }], usage });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    const event = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(event([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]));
    for (const word of reply.split(' ')) res.write(event([{ index: 0, delta: { content: `${word} ` }, finish_reason: null }]));
    res.write(event([{ index: 0, delta: {}, finish_reason: 'stop' }]));
    if (chat.stream_options?.include_usage) res.write(event([], { usage }));
    res.end('data: [DONE]\n\n');
  });
}

/** One request, timed phase by phase. */
function timed(target, stream) {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, stream });
  return new Promise((done, fail) => {
    const sent = wall();
    const req = http.request(target.url, {
      method: 'POST',
      agent: target.agent,
      headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const headers = wall();
      const phases = { in: seen.arrived - sent, upstream: seen.answered - seen.arrived, out: headers - seen.answered, content: null };
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
        if (stream && phases.content === null && /"content":"[^"]/.test(text)) phases.content = wall() - sent;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) fail(new Error(`${target.name}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        else done({ ...phases, end: wall() - sent });
      });
    });
    req.on('error', fail);
    req.end(body);
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'edgeway-phases-'));
const server = http.createServer(upstream);
try {
  const port = await freePort();
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const origin = `http://127.0.0.1:${port}`;
  const { main, compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  const start = (name, entry, bindings, readyPath) => startWorker({
    name, dir: join(tmp, name), modules: moduleGraph(join(repoRoot, entry)), bindings, readyPath, compatibilityDate, compatibilityFlags,
  });
  const providerKey = 'sk-phases';
  const gateway = { OPENAI_BASE_URL: `${origin}/v1`, OPENAI_API_KEY: providerKey, EDGEWAY_DEV_KEY: GATEWAY_KEY };
  const targets = [
    { name: 'pass-through', server: await start('passthrough', 'bench/passthrough.js', { UPSTREAM_ORIGIN: origin }), key: providerKey },
    { name: 'skeleton', server: await start('skeleton', 'bench/skeleton.js', gateway), key: GATEWAY_KEY },
    { name: 'Edgeway', server: await start('edgeway', main, gateway, '/healthz'), key: GATEWAY_KEY },
  ].map((t) => ({ ...t, url: `${t.server.url}/v1/chat/completions`, agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) }));

  const samples = Object.fromEntries([false, true].map((stream) => [stream, Object.fromEntries(targets.map((t) => [t.name, []]))]));
  for (const t of targets) for (let i = 0; i < 100; i++) await timed(t, i % 2 === 0); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const stream of [false, true]) {
      for (const t of targets) for (let i = 0; i < requests; i++) samples[stream][t.name].push(await timed(t, stream));
    }
  }

  const names = targets.map((t) => t.name);
  const columns = [...names, 'skeleton − pass-through', 'Edgeway − skeleton'];
  const rows = [['phase, ms (median)', ...columns]];
  const signed = (v) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
  for (const stream of [false, true]) {
    rows.push([stream ? 'streamed answer' : 'whole answer', ...columns.map(() => '')]);
    for (const phase of stream ? ['in', 'upstream', 'out', 'content', 'end'] : ['in', 'upstream', 'out', 'end']) {
      const m = Object.fromEntries(names.map((n) => [n, median(samples[stream][n].map((s) => s[phase]))]));
      rows.push([`  ${phase}`, ...names.map((n) => m[n].toFixed(3)), signed(m.skeleton - m['pass-through']), signed(m.Edgeway - m.skeleton)]);
    }
  }
  console.log(`Latency by phase: ${rounds} rounds × ${requests} sequential requests per Worker and kind, one connection each\n`);
  console.log(table(rows));
  for (const t of targets) t.agent.destroy();
} finally {
  server.close();
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
