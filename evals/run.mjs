#!/usr/bin/env node
// Runs a golden set against a route through the gateway and gates on the
// result: the exit code is non-zero when the score is under the set's
// threshold, or more than its tolerance under the committed baseline.
//
//   node evals/run.mjs --set evals/sets/demo.jsonl --route demo
//   node evals/run.mjs --set gateway:<name> --route <route> --url https://gateway.example
//
// Options:
//   --set <file.jsonl | gateway:<name>>  the golden set (gateway: one uploaded with POST /admin/api/evals/sets)
//   --route <route>        the route (model alias) every case is sent to
//   --url <gateway>        default $EDGEWAY_URL, else http://127.0.0.1:8787; a local URL with no
//                          gateway gets one started for the run (wrangler dev + the mock upstream)
//   --update-baseline      write this run as the baseline (<set>.<route>.baseline.json next to the set)
//   --baseline <file>      a baseline elsewhere (a gateway set has none unless given)
//   --concurrency <n>      cases in flight at once (default 4)
//   --no-store             do not post the run to the gateway's admin API
//
// Keys: $EDGEWAY_KEY and $EDGEWAY_ADMIN_TOKEN, else .dev.vars (make dev);
// with a gateway of its own, the test harness's keys.
// Exit codes: 0 the gate passed, 1 it failed, 2 the run could not be made.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { baselinePath, compare, readBaseline, writeBaseline } from './baseline.mjs';
import { runChecks } from './checks.mjs';
import { DEFAULT_URL, admin, chat, connect } from './gateway.mjs';
import { judgeRequest, parseScore } from './judge.mjs';
import { caseTable, ms, pct, summarize, usd } from './report.mjs';
import { parseSet } from './set.mjs';

/** Answers kept per case in the stored run. */
const MAX_ANSWER_CHARS = 2048;
/** Scores are shares of whole cases; this only absorbs float rounding. */
const EPSILON = 1e-9;

const log = (line) => console.error(line);
/** A summary line's label, padded so the values line up. */
const label = (text) => text.padEnd(13);

class UsageError extends Error {}

async function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        set: { type: 'string' },
        route: { type: 'string' },
        url: { type: 'string' },
        'update-baseline': { type: 'boolean', default: false },
        baseline: { type: 'string' },
        concurrency: { type: 'string', default: '4' },
        'no-store': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error.message);
  }
  if (args.help) {
    console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
    return 0;
  }
  if (!args.set || !args.route) throw new UsageError('--set and --route are required');
  const concurrency = Number(args.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a whole number, 1 or more');

  const fromGateway = args.set.startsWith('gateway:');
  // A set file is checked before any gateway is looked for.
  let set = fromGateway ? null : parseSet(readFileSync(args.set, 'utf8'), args.set);
  const gateway = await connect(args.url ?? process.env.EDGEWAY_URL ?? DEFAULT_URL, log);
  try {
    if (!gateway.key) throw new UsageError('no gateway key: set EDGEWAY_KEY (or run `make dev`, which writes .dev.vars)');
    if (fromGateway) {
      const name = args.set.slice('gateway:'.length);
      const stored = await admin(gateway, 'GET', `evals/sets/${encodeURIComponent(name)}`);
      set = parseSet(stored.jsonl, args.set);
    }
    const baselineFile = args.baseline ?? (fromGateway ? null : baselinePath(args.set, args.route));
    return await run({ gateway, set, route: args.route, concurrency, baselineFile, update: args['update-baseline'], store: !args['no-store'] });
  } finally {
    await gateway.stop();
  }
}

/** Runs `fn` over `items`, `n` at a time, keeping their order. */
async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

/** One case: its answer, the judge's score if asked, and the checks. */
async function runCase(gateway, set, route, testCase) {
  const outcome = await chat(gateway, { ...testCase.params, model: route, messages: testCase.messages });
  const result = {
    id: testCase.id,
    passed: false,
    failed_checks: [],
    latency_ms: Math.round(outcome.latency_ms),
    tokens_in: outcome.tokens_in,
    tokens_out: outcome.tokens_out,
    cost_usd: outcome.cost_usd,
    answer: outcome.answer.length > MAX_ANSWER_CHARS ? `${outcome.answer.slice(0, MAX_ANSWER_CHARS - 1)}…` : outcome.answer,
    request_id: outcome.request_id,
  };
  if (!outcome.ok) {
    result.failed_checks = [{ check: 'request', reason: outcome.error }];
    return result;
  }
  let judged;
  if (testCase.checks.judge) {
    const verdict = await chat(gateway, judgeRequest(set.judgeRoute, testCase.checks.judge.rubric, outcome.answer));
    const score = parseScore(verdict.answer);
    judged = !verdict.ok ? { error: `the judge failed: ${verdict.error}` } : score === null ? { error: `the judge gave no score: ${JSON.stringify(verdict.answer.slice(0, 60))}` } : { score };
    result.judge_score = judged.score ?? null;
    result.judge_cost_usd = verdict.cost_usd;
  }
  result.failed_checks = runChecks(testCase, outcome, judged);
  result.passed = result.failed_checks.length === 0;
  return result;
}

async function run({ gateway, set, route, concurrency, baselineFile, update, store }) {
  const out = (line = '') => console.log(line);
  out(`eval: set ${set.name} (${set.cases.length} cases) on route ${route} at ${gateway.url}${gateway.own ? ' (started for this run)' : ''}`);
  const baseline = readBaseline(baselineFile);
  const results = await pool(set.cases, concurrency, (c) => runCase(gateway, set, route, c));
  for (const r of results) r.baseline_passed = baseline?.cases[r.id]?.passed ?? null;

  const passedCount = results.filter((r) => r.passed).length;
  const score = passedCount / results.length;
  const totals = summarize(results);
  const judgeCosts = results.map((r) => r.judge_cost_usd).filter((c) => typeof c === 'number');
  const { regressions, fixed } = compare(baseline, results);

  const reasons = [];
  if (score + EPSILON < set.threshold) reasons.push(`score ${pct(score)} < threshold ${pct(set.threshold)}`);
  // Updating the baseline accepts this run, so only the threshold gates it.
  if (baseline && !update && score + EPSILON < baseline.score - set.tolerance) {
    reasons.push(`score ${pct(score)} < baseline ${pct(baseline.score)} − tolerance ${pct(set.tolerance)}`);
  }
  const gatePassed = reasons.length === 0;

  out();
  for (const line of caseTable(results)) out(line);
  out();
  out(`${label('score')}${passedCount}/${results.length} = ${pct(score)} (threshold ${pct(set.threshold)})`);
  if (baseline) {
    out(`${label('baseline')}${pct(baseline.score)} from ${baselineFile} (${baseline.updated ?? 'undated'}); tolerance ${pct(set.tolerance)}`);
    out(`${label('regressions')}${regressions.length ? regressions.join(', ') : 'none'} (passed in the baseline, fail now)`);
    if (fixed.length) out(`${label('fixed')}${fixed.join(', ')} (failed in the baseline, pass now)`);
  } else {
    out(`${label('baseline')}none${baselineFile ? ` (no ${baselineFile} yet; run with --update-baseline to write it)` : ' (pass --baseline <file> to compare)'}: gated on the threshold alone`);
  }
  out(`${label('latency')}p50 ${ms(totals.p50_ms)}, p95 ${ms(totals.p95_ms)}`);
  out(`${label('tokens')}${totals.tokens_in} in, ${totals.tokens_out} out; cost ${usd(totals.cost_usd)}${judgeCosts.length ? ` (+ judge ${usd(judgeCosts.reduce((a, b) => a + b, 0))})` : ''}`);

  if (update) {
    if (baselineFile) {
      writeBaseline(baselineFile, { set: set.name, route, score, results });
      out(`${label('baseline')}updated: ${baselineFile}`);
    } else {
      log('warning: a gateway set has no baseline file; pass --baseline <file> to write one');
    }
  }

  if (store) {
    try {
      const run = {
        set: set.name, route, score, threshold: set.threshold, passed: gatePassed, baseline_score: baseline?.score ?? null,
        ...totals,
        cases: results.map(({ judge_cost_usd: _, ...r }) => r),
      };
      const { id } = await admin(gateway, 'POST', 'evals/runs', run);
      out(`${label('stored')}run ${id}${gateway.own ? ' (in the gateway started for this run, which stops now)' : `: ${gateway.url}/evals/${id}`}`);
    } catch (error) {
      // The gate's verdict stands whether or not the run could be stored.
      log(`warning: the run was not stored in the gateway (${error.message})`);
    }
  }
  out(`${label('gate')}${gatePassed ? 'PASSED' : `FAILED: ${reasons.join('; ')}`}`);
  return gatePassed ? 0 : 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (error) => {
    log(`eval: ${error instanceof UsageError ? `${error.message}\nusage: node evals/run.mjs --set <file.jsonl | gateway:<name>> --route <route> [--update-baseline] [--url <gateway>] (--help for more)` : error.message}`);
    process.exitCode = 2;
  },
);
