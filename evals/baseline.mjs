// Baselines: the last accepted result of a set on a route, committed next
// to the set as `<set basename>.<route>.baseline.json`, so a change that
// makes cases fail shows up in review and fails the gate. Written only when
// asked (`--update-baseline`).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Where a set file's baseline for `route` lives. */
export function baselinePath(setFile, route) {
  const name = basename(setFile).replace(/\.jsonl$/, '');
  return join(dirname(setFile), `${name}.${route.replace(/[^A-Za-z0-9._-]/g, '_')}.baseline.json`);
}

/** The baseline at `path`, or null when there is none. */
export function readBaseline(path) {
  if (!path || !existsSync(path)) return null;
  const baseline = JSON.parse(readFileSync(path, 'utf8'));
  if (typeof baseline.score !== 'number' || typeof baseline.cases !== 'object') throw new Error(`${path}: not a baseline ({set, route, score, cases})`);
  return baseline;
}

/**
 * This run against the baseline: the cases that passed there and fail now
 * (regressions), and those that failed there and pass now.
 */
export function compare(baseline, results) {
  if (!baseline) return { regressions: [], fixed: [] };
  const was = (id) => baseline.cases[id]?.passed;
  return {
    regressions: results.filter((r) => !r.passed && was(r.id) === true).map((r) => r.id),
    fixed: results.filter((r) => r.passed && was(r.id) === false).map((r) => r.id),
  };
}

/** Writes this run as the baseline. */
export function writeBaseline(path, { set, route, score, results }) {
  const cases = Object.fromEntries(results.map((r) => [r.id, { passed: r.passed, latency_ms: Math.round(r.latency_ms), cost_usd: r.cost_usd }]));
  const baseline = { set, route, score, cases, updated: new Date().toISOString() };
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}
