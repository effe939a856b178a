// The figures the bench reports per scenario, defined once: the table's
// columns, the comparisons (difference and ratio against a baseline) and the
// JSON all come from this list, so adding a figure is one line here. Also
// judging the targets of bench/scenarios.mjs against the results.

import { median } from './stats.mjs';

export const METRICS = [
  { key: 'p50c1', label: 'p50 c1', unit: 'ms', get: (s) => s.c1.p50 },
  { key: 'p99c1', label: 'p99 c1', unit: 'ms', get: (s) => s.c1.p99 },
  { key: 'p99c1raw', label: 'p99 c1 raw', unit: 'ms', get: (s) => s.c1.raw?.p99 ?? null },
  { key: 'p50c32', label: 'p50 c32', unit: 'ms', get: (s) => s.c32.p50 },
  { key: 'p99c32', label: 'p99 c32', unit: 'ms', get: (s) => s.c32.p99 },
  { key: 'rps32', label: 'req/s c32', unit: 'req/s', get: (s) => s.c32.rps },
  { key: 'ttft', label: 'TTFT p50', unit: 'ms', get: (s) => s.ttft?.p50 ?? null },
  { key: 'streamEnd', label: 'stream end p50', unit: 'ms', get: (s) => s.ttft?.streamTotalP50 ?? null },
  { key: 'workerCpu', label: 'worker CPU/req', unit: 'µs', get: (s) => s.workerCpuUs },
  { key: 'workerCpuC1', label: 'same at c1', unit: 'µs', get: (s) => s.workerCpuC1Us },
  { key: 'workerCpuStream', label: 'CPU/stream', unit: 'µs', get: (s) => s.workerCpuStreamUs },
  { key: 'upstreamCpu', label: 'mock CPU/req', unit: 'µs', get: (s) => s.upstreamCpuUs },
];

/**
 * Every metric of `subject` against `baseline`: both values (the summaries
 * over all rounds, as the table shows them), and the difference and ratio
 * paired by round. `rounds` holds `{ subject, baseline }` summaries of each
 * round alone; the two ran seconds apart, so a slow spell of the machine
 * lands on both and cancels out of that round's difference, where it would
 * land on one side of a difference of the pooled figures. The median over
 * rounds is the result; each round's value is kept for the JSON.
 */
export function compare(subject, baseline, rounds) {
  return Object.fromEntries(METRICS.map(({ key, unit, get }) => {
    const a = get(subject);
    const b = get(baseline);
    const paired = rounds.map((r) => against(get(r.subject), get(r.baseline)));
    const known = (field) => paired.map((p) => p[field]).filter((v) => v !== null);
    const diffs = known('diff');
    const ratios = known('ratio');
    return [key, {
      unit,
      subject: a,
      baseline: b,
      diff: diffs.length === rounds.length ? median(diffs) : null,
      ratio: ratios.length === rounds.length ? median(ratios) : null,
      perRound: paired,
    }];
  }));
}

function against(a, b) {
  const known = a !== null && b !== null;
  return { diff: known ? a - b : null, ratio: known && b !== 0 ? a / b : null };
}

const OPS = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/**
 * Each target with its value and `pass` (null when the value is unknown).
 * `value(results)` sees `{ sizes, comparisons: { [id]: { [metric]: … } } }`.
 */
export function evaluateTargets(targets, { sizes, comparisons }) {
  const view = { sizes, comparisons: Object.fromEntries(Object.entries(comparisons).map(([id, c]) => [id, c.metrics])) };
  return targets.map(({ value, ...target }) => {
    const v = value(view) ?? null;
    return { ...target, value: v, pass: v === null || Number.isNaN(v) ? null : OPS[target.op](v, target.limit) };
  });
}
