// The figures the bench reports per scenario, defined once: the table's
// columns, the comparisons (difference and ratio against a baseline) and the
// JSON all come from this list, so adding a figure is one line here. Also
// judging the targets of bench/scenarios.mjs against the results.

export const METRICS = [
  { key: 'p50c1', label: 'p50 c1', unit: 'ms', get: (s) => s.c1.p50 },
  { key: 'p99c1', label: 'p99 c1', unit: 'ms', get: (s) => s.c1.p99 },
  { key: 'p99c1raw', label: 'p99 c1 raw', unit: 'ms', get: (s) => s.c1.raw?.p99 ?? null },
  { key: 'p50c32', label: 'p50 c32', unit: 'ms', get: (s) => s.c32.p50 },
  { key: 'p99c32', label: 'p99 c32', unit: 'ms', get: (s) => s.c32.p99 },
  { key: 'rps32', label: 'req/s c32', unit: 'req/s', get: (s) => s.c32.rps },
  { key: 'ttft', label: 'TTFT p50', unit: 'ms', get: (s) => s.ttft?.p50 ?? null },
  { key: 'workerCpu', label: 'worker CPU/req', unit: 'µs', get: (s) => s.workerCpuUs },
  { key: 'upstreamCpu', label: 'mock CPU/req', unit: 'µs', get: (s) => s.upstreamCpuUs },
];

/** Every metric of `subject` against `baseline`: both values, difference, ratio. */
export function compare(subject, baseline) {
  return Object.fromEntries(METRICS.map(({ key, unit, get }) => {
    const a = get(subject);
    const b = get(baseline);
    const known = a !== null && b !== null;
    return [key, { unit, subject: a, baseline: b, diff: known ? a - b : null, ratio: known && b !== 0 ? a / b : null }];
  }));
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
