#!/usr/bin/env node
// `make bench`: how much latency, throughput, CPU and size Edgeway costs,
// measured side by side in one run against the same mock upstream:
//   (a) the mock called directly,
//   (b) a trivial JS pass-through Worker (bench/passthrough.js),
//   (c) Edgeway (the built worker/build/, as wrangler deploys it),
//   (f) Edgeway's request path as plain JS (bench/skeleton.js), which
//       splits (c) − (b) into what the runtime calls cost and what
//       Edgeway adds to them,
// each Worker in its own bare `workerd serve` — the same runtime, no
// wrangler proxy in front (TOOLCHAIN.md: that proxy adds ~3 ms). Absolute
// numbers on a shared 2-core machine mean little; the difference and ratio
// of (c) to (b), measured seconds apart on the same machine, are the result.
//
// Usage (after `sh scripts/build-worker.sh`, which `make bench` runs):
//   node bench/run.mjs [--rounds 5] [--seconds 5] [--warmup 2] [--ttft 200]
//                      [--out bench/results/latest.json] [--strict] [--keep-tmp]
// Prints the table to stdout (progress goes to stderr) and writes the raw
// numbers to bench/results/latest.json. Exits non-zero on an error, and with
// --strict also when a target is missed. Needs wrk (apt) and npm ci.
//
// Rounds are interleaved — every scenario's c1 run, then every c32 run,
// then TTFT, then the next round — so a slow moment of the machine hits all
// scenarios alike instead of one. Comparisons (and so the targets) are
// paired: the difference or ratio is taken within each round, then the
// median over rounds (bench/lib/metrics.mjs). What to measure is in
// bench/scenarios.mjs; how, in bench/lib/. Where the time goes:
// bench/profile.mjs.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, writeJson } from './lib/report.mjs';
import { compare, evaluateTargets } from './lib/metrics.mjs';
import { loadRun, smokeCheck, summarize, ttftRun } from './lib/measure.mjs';
import { machineBusy, runCommand, stopAll } from './lib/processes.mjs';
import { gzipSizes, wranglerBundleSize } from './lib/sizes.mjs';
import { moduleGraph, workerdVersion, wranglerSettings } from './lib/workerd.mjs';
import { writeLuaScript } from './lib/wrk.mjs';
import { COMPARISONS, TARGETS, scenarios as defineScenarios, startServers } from './scenarios.mjs';

const repoRoot = resolve(import.meta.dirname, '..');

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    ttft: { type: 'string', default: '200' },
    out: { type: 'string', default: join(repoRoot, 'bench/results/latest.json') },
    strict: { type: 'boolean', default: false },
    'keep-tmp': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log('node bench/run.mjs [--rounds N] [--seconds S] [--warmup S] [--ttft N] [--out FILE] [--strict] [--keep-tmp]');
  process.exit(0);
}
const config = {
  rounds: positiveInt(opts.rounds, '--rounds'),
  seconds: positiveInt(opts.seconds, '--seconds'),
  warmupSeconds: positiveInt(opts.warmup, '--warmup'),
  ttftRequests: positiveInt(opts.ttft, '--ttft'),
  ttftWarmup: 5,
};

function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

const progress = (line) => process.stderr.write(`bench: ${line}\n`);

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

async function wrkVersion() {
  try {
    const { stdout, stderr } = await runCommand('wrk -v', 'wrk', ['-v']);
    return /wrk \S+/.exec(`${stdout}${stderr}`)?.[0] ?? 'wrk (unknown version)';
  } catch {
    throw new Error('wrk is not installed (apt-get install wrk)');
  }
}

/**
 * Every round: each scenario at 1 connection, then each at 32, then each
 * one's TTFT. Returns `{ [scenario id]: [round results] }`.
 */
async function measureRounds(scenarios, servers) {
  const rounds = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  for (let round = 1; round <= config.rounds; round++) {
    const results = Object.fromEntries(scenarios.map((s) => [s.id, {}]));
    for (const connections of [1, 32]) {
      for (const s of scenarios) {
        progress(`round ${round}/${config.rounds}: ${s.label}, ${connections} connection(s), ${config.seconds} s`);
        results[s.id][`c${connections}`] = await loadRun(s, { connections, seconds: config.seconds, servers });
      }
    }
    for (const s of scenarios) {
      if (!s.streamBody) continue;
      const requests = Math.min(s.ttftRequests ?? Infinity, config.ttftRequests);
      progress(`round ${round}/${config.rounds}: ${s.label}, TTFT × ${requests}`);
      results[s.id].ttft = await ttftRun(s, { requests, warmup: config.ttftWarmup, servers });
    }
    for (const s of scenarios) rounds[s.id].push(results[s.id]);
  }
  return rounds;
}

async function main() {
  const settings = wranglerSettings(repoRoot);
  const mainModule = join(repoRoot, settings.main);
  if (!existsSync(mainModule)) throw new Error(`${settings.main} is missing: build the worker first (sh scripts/build-worker.sh)`);

  const meta = {
    date: new Date().toISOString(),
    commit: `${git('rev-parse', '--short', 'HEAD') || 'unknown'}${git('status', '--porcelain') ? ' (dirty tree)' : ''}`,
    node: process.versions.node,
    workerd: await workerdVersion(),
    wrk: await wrkVersion(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model?.trim() ?? 'unknown CPU',
    // Other work on the machine skews everything; a busy start is flagged.
    busyBeforeStart: await machineBusy(),
    compatibilityDate: settings.compatibilityDate,
    compatibilityFlags: settings.compatibilityFlags,
    ...config,
  };

  const tmp = mkdtempSync(join(tmpdir(), 'edgeway-bench-'));
  const removeTmp = () => rmSync(tmp, { recursive: true, force: true });
  if (!opts['keep-tmp']) process.once('exit', removeTmp); // also after Ctrl-C
  try {
    // Sizes first: `wrangler deploy --dry-run` runs the build command, so
    // the servers below start from whatever it leaves in worker/build/.
    progress('sizes (wasm, wrangler deploy --dry-run)');
    const bundle = await wranglerBundleSize(repoRoot, join(tmp, 'dry-run'));
    const wasmModules = moduleGraph(mainModule).filter((m) => m.type === 'wasm');
    if (wasmModules.length !== 1) throw new Error(`expected one wasm module under ${settings.main}, found ${wasmModules.length}`);
    const sizes = { wasm: { file: wasmModules[0].path, ...gzipSizes(wasmModules[0].path) }, bundle };

    progress('starting the mock upstream and workerd (pass-through, skeleton, Edgeway)');
    const servers = await startServers({ repoRoot, tmp });
    const scenarios = defineScenarios(servers);
    const smoke = {};
    for (const s of scenarios) {
      const request = { body: s.body, headers: s.headers, extraLua: s.extraLua };
      s.wrkScripts = {
        plain: writeLuaScript(join(tmp, `${s.id}.lua`), request),
        timed: writeLuaScript(join(tmp, `${s.id}-timed.lua`), { ...request, rawLatency: true }),
      };
      await s.setup?.();
      smoke[s.id] = await smokeCheck(s);
    }

    progress(`warm-up: ${config.warmupSeconds} s at 32 connections each`);
    for (const s of scenarios) await loadRun(s, { connections: 32, seconds: config.warmupSeconds, servers });
    const rounds = await measureRounds(scenarios, servers);

    const summaries = Object.fromEntries(scenarios.map((s) => [s.id, summarize(s, rounds[s.id])]));
    const eachRound = Object.fromEntries(scenarios.map((s) => [s.id, rounds[s.id].map((r) => summarize(s, [r]))]));
    const comparisons = Object.fromEntries(COMPARISONS.map((c) => [c.id, {
      ...c,
      metrics: compare(summaries[c.subject], summaries[c.baseline],
        eachRound[c.subject].map((subject, i) => ({ subject, baseline: eachRound[c.baseline][i] }))),
    }]));
    const targets = evaluateTargets(TARGETS, { sizes, comparisons });

    const results = {
      meta,
      sizes,
      scenarios: Object.fromEntries(scenarios.map((s) => [s.id, { ...summaries[s.id], url: s.url, smoke: smoke[s.id], rounds: rounds[s.id] }])),
      comparisons,
      targets,
    };
    writeJson(opts.out, results);
    console.log(formatReport(results));
    console.log(`\nRaw numbers: ${opts.out}`);
    if (opts.strict && targets.some((t) => t.pass === false)) process.exitCode = 1;
  } finally {
    await stopAll();
    if (opts['keep-tmp']) progress(`kept ${tmp} (configs, Lua scripts, server logs)`);
    else removeTmp();
  }
}

main().catch(async (error) => {
  process.stderr.write(`bench: failed: ${error.stack ?? error}\n`);
  await stopAll();
  process.exit(1);
});
