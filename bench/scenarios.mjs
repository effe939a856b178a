// What `make bench` measures: the servers it starts, the scenarios (one kind
// of request sent to one server), the comparisons and the targets. The
// measuring itself lives in lib/; this file is the one to edit.
//
// Adding a scenario (e.g. cache hit vs miss, breaker open vs closed): start
// any extra server in `startServers` (its CPU is then recorded in every run),
// add an entry to `scenarios` — optionally with `setup` (runs once before
// the smoke check), `extraLua` (appended to its wrk script, e.g. a
// `request()` function that makes every body unique for a cache miss),
// `check` (validates one non-streamed answer; default: HTTP 200 with the
// mock's reply), `allowNon2xx` (wrk otherwise fails on any error answer),
// `ttftRequests` (fewer TTFT samples than --ttft, for a slow scenario)
// and `streamBody: null` (no TTFT) — and, if it should be judged, a
// comparison and targets. Every measurement runs for every scenario, so the
// run grows by ~(2 × --seconds + TTFT) × --rounds per scenario.

import { join } from 'node:path';
import { answers } from './lib/http.mjs';
import { freePort, logTail, startServer, waitFor } from './lib/processes.mjs';
import { moduleGraph, startWorker, wranglerSettings } from './lib/workerd.mjs';

/** Sent by callers of the mock and of the pass-through; the mock demands it. */
export const PROVIDER_KEY = 'sk-bench-provider-key';
/** Edgeway's gateway key (the EDGEWAY_DEV_KEY secret) for the bench. */
export const GATEWAY_KEY = 'ew-bench-gateway-key';
/** The admin token of the test-mode instance (scenario (e)). */
const ADMIN_TOKEN = 'ew-bench-admin-token';

// A small, typical chat request. The mock answers "Mock reply: <last user
// text>" word by word, so the streamed answer has 14 content chunks.
const MESSAGES = [
  { role: 'system', content: 'You are a concise assistant.' },
  { role: 'user', content: 'In one sentence, why should an API gateway add almost no latency?' },
];
const chatBody = (extra = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: MESSAGES, ...extra });

/**
 * Starts the mock upstream and one workerd per Worker. Returns the servers
 * by name; every one of them has its CPU recorded during every wrk run.
 * `workerdArgs[name]` adds arguments to that Worker's workerd (profile.mjs).
 */
export async function startServers({ repoRoot, tmp, workerdArgs = {} }) {
  const mockPort = await freePort();
  const mockLog = join(tmp, 'mock-upstream.log');
  const mock = startServer('mock', process.execPath,
    [join(repoRoot, 'tests/mock/upstream.mjs'), '--port', String(mockPort), '--api-key', PROVIDER_KEY],
    { cwd: repoRoot, logFile: mockLog });
  mock.url = `http://127.0.0.1:${mockPort}`;
  await waitFor(async () => {
    if (mock.exited) throw Object.assign(new Error(`the mock exited:\n${logTail(mockLog)}`), { fatal: true });
    return answers(`${mock.url}/__mock/stats`);
  }, { what: 'the mock upstream' });

  const { main, compatibilityDate, compatibilityFlags } = wranglerSettings(repoRoot);
  const compat = { compatibilityDate, compatibilityFlags };

  const passthrough = await startWorker({
    name: 'passthrough',
    dir: join(tmp, 'passthrough'),
    modules: moduleGraph(join(repoRoot, 'bench/passthrough.js')),
    bindings: { UPSTREAM_ORIGIN: mock.url },
    extraArgs: workerdArgs.passthrough,
    ...compat,
  });

  // Edgeway's request path as plain JS (bench/skeleton.js): what the
  // runtime calls it makes cost, with no wasm.
  const skeleton = await startWorker({
    name: 'skeleton',
    dir: join(tmp, 'skeleton'),
    modules: moduleGraph(join(repoRoot, 'bench/skeleton.js')),
    bindings: { OPENAI_BASE_URL: `${mock.url}/v1`, OPENAI_API_KEY: PROVIDER_KEY, EDGEWAY_DEV_KEY: GATEWAY_KEY },
    extraArgs: workerdArgs.skeleton,
    ...compat,
  });

  // Edgeway as wrangler deploys it (`main` from wrangler.toml: worker-build's
  // index.js plus the index_bg.wasm it imports). Only text bindings: the
  // scenarios here use the dev key and routes without a cache, which touch
  // neither KV nor Durable Objects, and bare workerd has no built-in KV
  // store (its `kvNamespace` binding needs a service implementing the KV
  // API, which is what Miniflare provides). What keys and the cache cost is
  // measured under wrangler dev instead (bench/limiter.mjs, bench/cache.mjs).
  // A port nothing listens on: the local-first route's primary (Ollama) is
  // dead, so its circuit opens during the warm-up and scenario (d) measures
  // what a request costs when the breaker skips the dead target.
  const deadPort = await freePort();
  const edgewayBindings = {
    OPENAI_BASE_URL: `${mock.url}/v1`,
    OPENAI_API_KEY: PROVIDER_KEY,
    EDGEWAY_DEV_KEY: GATEWAY_KEY,
    OLLAMA_BASE_URL: `http://127.0.0.1:${deadPort}/v1`,
  };
  const edgeway = await startWorker({
    name: 'edgeway',
    dir: join(tmp, 'edgeway'),
    modules: moduleGraph(join(repoRoot, main)),
    bindings: edgewayBindings,
    readyPath: '/healthz',
    extraArgs: workerdArgs.edgeway,
    ...compat,
  });

  // The same Worker with its circuit breakers held closed (a test-mode
  // switch, set by scenario (e)'s setup): every request to the dead
  // primary pays for its connection failure, retries and backoff.
  const unguarded = await startWorker({
    name: 'edgeway-unguarded',
    dir: join(tmp, 'edgeway-unguarded'),
    modules: moduleGraph(join(repoRoot, main)),
    bindings: { ...edgewayBindings, EDGEWAY_TEST_MODE: '1', EDGEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
    readyPath: '/healthz',
    ...compat,
  });

  return { mock, passthrough, skeleton, edgeway, unguarded };
}

/**
 * The scenarios, in the order they run and are printed. `worker` names the
 * server whose CPU is the Worker runtime's; `upstream` the mock's.
 */
export function scenarios({ mock, passthrough, skeleton, edgeway, unguarded }) {
  const common = {
    path: '/v1/chat/completions',
    body: chatBody(),
    streamBody: chatBody({ stream: true }),
    upstream: 'mock',
  };
  const json = { 'Content-Type': 'application/json' };
  return [
    {
      ...common,
      id: 'mock',
      label: '(a) mock direct',
      url: `${mock.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${PROVIDER_KEY}` },
      worker: null,
    },
    {
      ...common,
      id: 'passthrough',
      label: '(b) JS pass-through',
      url: `${passthrough.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${PROVIDER_KEY}` },
      worker: 'passthrough',
    },
    {
      ...common,
      id: 'edgeway',
      label: '(c) Edgeway',
      url: `${edgeway.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${GATEWAY_KEY}` },
      worker: 'edgeway',
    },
    {
      ...common,
      id: 'dead-primary',
      label: '(d) Edgeway, dead primary',
      body: chatBody({ model: 'local-first' }),
      streamBody: chatBody({ model: 'local-first', stream: true }),
      url: `${edgeway.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${GATEWAY_KEY}` },
      worker: 'edgeway',
    },
    {
      ...common,
      id: 'dead-primary-closed',
      label: '(e) dead primary, breaker closed',
      body: chatBody({ model: 'local-first' }),
      streamBody: chatBody({ model: 'local-first', stream: true }),
      url: `${unguarded.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${GATEWAY_KEY}` },
      worker: 'unguarded',
      // Each of its answers waits out the dead primary (~0.4 s): a few
      // show that, where the full count would add a minute per round.
      ttftRequests: 10,
      setup: async () => {
        const res = await fetch(`${unguarded.url}/admin/api/test/faults`, {
          method: 'POST', headers: { 'x-edgeway-admin-token': ADMIN_TOKEN }, body: JSON.stringify({ hold_breakers: true }),
        });
        if (res.status !== 200) throw new Error(`could not hold the breakers closed: HTTP ${res.status}`);
      },
    },
    {
      ...common,
      id: 'skeleton',
      label: '(f) JS skeleton of (c)',
      url: `${skeleton.url}${common.path}`,
      headers: { ...json, Authorization: `Bearer ${GATEWAY_KEY}` },
      worker: 'skeleton',
    },
  ];
}

/** Side-by-side comparisons: subject against baseline, same runtime. */
export const COMPARISONS = [
  { id: 'edgeway-vs-passthrough', subject: 'edgeway', baseline: 'passthrough', label: '(c) − (b)', ratioLabel: '(c) / (b)' },
  // The dead primary's circuit is open after the warm-up: skipping it should
  // cost about nothing next to a healthy request.
  { id: 'dead-primary-vs-edgeway', subject: 'dead-primary', baseline: 'edgeway', label: '(d) − (c)', ratioLabel: '(d) / (c)' },
  // What the open breaker saves: the same dead primary with it held closed.
  { id: 'closed-vs-open', subject: 'dead-primary-closed', baseline: 'dead-primary', label: '(e) − (d)', ratioLabel: '(e) / (d)' },
  // Where (c) − (b) goes: the runtime calls Edgeway's request path makes
  // (what any Worker doing this work pays), then what Edgeway adds to them.
  { id: 'skeleton-vs-passthrough', subject: 'skeleton', baseline: 'passthrough', label: '(f) − (b)', ratioLabel: '(f) / (b)' },
  { id: 'edgeway-vs-skeleton', subject: 'edgeway', baseline: 'skeleton', label: '(c) − (f)', ratioLabel: '(c) / (f)' },
];

/**
 * The targets. `value(results)` picks the figure; it passes when
 * `value op limit`. Sizes: KB = 1000 bytes.
 */
export const TARGETS = [
  {
    id: 'latency-p50-c1',
    text: 'Edgeway adds < 0.5 ms at p50, concurrency 1',
    value: (r) => r.comparisons['edgeway-vs-passthrough'].p50c1.diff,
    op: '<', limit: 0.5, unit: 'ms', signed: true,
  },
  {
    id: 'ttft',
    text: 'Edgeway adds < 0.5 ms to time to first token',
    value: (r) => r.comparisons['edgeway-vs-passthrough'].ttft.diff,
    op: '<', limit: 0.5, unit: 'ms', signed: true,
  },
  {
    id: 'throughput-c32',
    text: 'Edgeway reaches ≥ 0.4× the throughput at concurrency 32',
    value: (r) => r.comparisons['edgeway-vs-passthrough'].rps32.ratio,
    op: '>=', limit: 0.4, unit: '×',
  },
  {
    id: 'cpu-per-request',
    text: 'Edgeway uses < 2× the CPU per request',
    value: (r) => r.comparisons['edgeway-vs-passthrough'].workerCpu.ratio,
    op: '<', limit: 2, unit: '×',
  },
  {
    id: 'breaker-open-p50-c1',
    text: 'A dead primary with its circuit open adds < 0.2 ms at p50, c1',
    value: (r) => r.comparisons['dead-primary-vs-edgeway'].p50c1.diff,
    op: '<', limit: 0.2, unit: 'ms', signed: true,
  },
  {
    id: 'wasm-gzip',
    text: 'gzipped wasm < 400 KB',
    value: (r) => r.sizes.wasm.gzipBytes / 1000,
    op: '<', limit: 400, unit: 'KB',
  },
];
