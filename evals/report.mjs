// What a run prints: a line per case, then the score against the threshold
// and the baseline, latency percentiles, tokens and cost.

/** Nearest-rank percentile (`p` from 0 to 1) of numbers; null when none. */
export function percentile(values, p) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const sum = (values) => values.reduce((total, v) => total + (v ?? 0), 0);

/** Totals over the case results. */
export function summarize(results) {
  const latencies = results.map((r) => r.latency_ms);
  const costs = results.map((r) => r.cost_usd).filter((c) => c !== null && c !== undefined);
  return {
    p50_ms: percentile(latencies, 0.5),
    p95_ms: percentile(latencies, 0.95),
    tokens_in: sum(results.map((r) => r.tokens_in)),
    tokens_out: sum(results.map((r) => r.tokens_out)),
    cost_usd: costs.length ? sum(costs) : null,
  };
}

export const ms = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
export const usd = (v) => (v === null || v === undefined ? '—' : `$${Number(v.toPrecision(3))}`);
export const pct = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1).replace(/\.0$/, '')}%`);

/** The per-case table, as lines. */
export function caseTable(results) {
  const rows = results.map((r) => [
    r.id,
    r.passed ? 'PASS' : 'FAIL',
    ms(r.latency_ms),
    `${r.tokens_in ?? '—'}/${r.tokens_out ?? '—'}`,
    usd(r.cost_usd),
    r.failed_checks.map((f) => `${f.check}: ${f.reason}`).join('; '),
  ]);
  const head = ['case', 'result', 'latency', 'tokens in/out', 'cost', 'failed checks'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  // Right-align the numbers; the last column runs free.
  const right = [false, false, true, true, true, false];
  const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w, i) => (i === widths.length - 1 ? '-'.repeat(head[i].length) : '-'.repeat(w)))), ...rows.map(line)];
}
