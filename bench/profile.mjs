#!/usr/bin/env node
// Where a Worker's CPU goes under load: a V8 CPU profile of its workerd,
// taken through workerd's inspector while wrk drives one bench scenario.
// `make bench` says how much Edgeway costs; this says why. workers-rs keeps
// the wasm name section, so Rust functions appear by name next to the JS
// glue (`__wbg_*`) and the runtime's own APIs (fetch, Headers, …).
//
// Usage (build the Worker with its function names first:
//   EDGEWAY_KEEP_NAMES=1 make worker):
//   node bench/profile.mjs [--scenario edgeway|passthrough|skeleton] [--stream]
//                          [--connections 32] [--seconds 5] [--top 25]
// Prints the functions with the most self time and the most inclusive time
// and writes bench/results/<scenario>[-stream]-c<N>.cpuprofile (open it in
// Chrome DevTools, Performance panel). The inspector adds some overhead, so
// read shares, not absolute throughput. Node 20 needs --experimental-websocket
// for its WebSocket client; this script re-runs itself with it if needed.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

if (typeof WebSocket === 'undefined') {
  const { status } = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(status ?? 1);
}

const { request } = await import('./lib/http.mjs');
const { freePort, stopAll } = await import('./lib/processes.mjs');
const { runWrk, writeLuaScript } = await import('./lib/wrk.mjs');
const { writeJson } = await import('./lib/report.mjs');
const { scenarios: defineScenarios, startServers } = await import('./scenarios.mjs');

const repoRoot = resolve(import.meta.dirname, '..');
const { values: opts } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'edgeway' },
    stream: { type: 'boolean', default: false },
    connections: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '5' },
    top: { type: 'string', default: '25' },
  },
});

/** A minimal Chrome DevTools Protocol client over one WebSocket. */
async function devtools(url) {
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => {
    ws.addEventListener('open', ok, { once: true });
    ws.addEventListener('error', () => fail(new Error(`cannot connect to ${url}`)), { once: true });
  });
  let nextId = 0;
  const pending = new Map();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  return {
    send: (method, params = {}) => new Promise((ok, fail) => {
      const id = ++nextId;
      pending.set(id, (m) => (m.error ? fail(new Error(`${method}: ${m.error.message}`)) : ok(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    }),
    close: () => ws.close(),
  };
}

/** Self and inclusive share of samples per function (url:line:col keeps names apart). */
function summarizeProfile(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = ({ callFrame: f }) => `${f.functionName || '(anonymous)'}${f.url ? ` [${f.url.split('/').pop()}]` : ''}`;
  const self = new Map();
  const inclusive = new Map();
  for (const id of profile.samples) {
    const key = name(nodes.get(id));
    self.set(key, (self.get(key) ?? 0) + 1);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = name(nodes.get(at));
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
      seen.add(k);
    }
  }
  const top = (counts) => [...counts].sort((a, b) => b[1] - a[1]).slice(0, Number(opts.top))
    .map(([k, v]) => `${((100 * v) / profile.samples.length).toFixed(1).padStart(6)}%  ${k}`).join('\n');
  return { self: top(self), inclusive: top(inclusive), samples: profile.samples.length };
}

const tmp = mkdtempSync(join(tmpdir(), 'edgeway-profile-'));
try {
  const inspectorPort = await freePort();
  const servers = await startServers({
    repoRoot, tmp, workerdArgs: { [opts.scenario]: [`--inspector-addr=127.0.0.1:${inspectorPort}`] },
  });
  const scenario = defineScenarios(servers).find((s) => s.id === opts.scenario);
  if (!scenario?.worker) throw new Error(`--scenario must name a Worker scenario (edgeway, passthrough, skeleton), not ${opts.scenario}`);
  const script = writeLuaScript(join(tmp, 'load.lua'), {
    body: opts.stream ? scenario.streamBody : scenario.body, headers: scenario.headers, extraLua: scenario.extraLua,
  });
  const load = (seconds) => runWrk({ url: scenario.url, script, connections: Number(opts.connections), seconds });

  await load(2); // warm-up, so the profile shows steady state, not compilation
  const [target] = JSON.parse((await request(`http://127.0.0.1:${inspectorPort}/json/list`)).text);
  const cdp = await devtools(target.webSocketDebuggerUrl);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 }); // µs
  await cdp.send('Profiler.start');
  const report = await load(Number(opts.seconds));
  const { profile } = await cdp.send('Profiler.stop');
  cdp.close();

  const file = join(repoRoot, 'bench/results', `${opts.scenario}${opts.stream ? '-stream' : ''}-c${opts.connections}.cpuprofile`);
  writeJson(file, profile);
  const summary = summarizeProfile(profile);
  console.log(`${scenario.label}, ${opts.stream ? 'streamed' : 'non-streamed'}, ${opts.connections} connection(s): ` +
    `${Math.round(report.rps)} req/s under the profiler, ${summary.samples} samples`);
  console.log(`\nSelf time:\n${summary.self}\n\nInclusive time:\n${summary.inclusive}\n\nProfile: ${file}`);
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
