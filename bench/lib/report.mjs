// Turning the results into something a person reads (a table, sizes, and
// each target with PASS/MISS) and something a program reads
// (bench/results/latest.json, the same numbers unrounded). Both come from
// the same results object, so they cannot disagree.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { METRICS } from './metrics.mjs';

function fmtNumber(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (unit === 'req/s') return Math.round(value).toLocaleString('en-US');
  if (unit === 'µs') return value.toFixed(Math.abs(value) < 100 ? 1 : 0);
  const abs = Math.abs(value);
  return value.toFixed(abs < 1 ? 3 : abs < 100 ? 2 : 1);
}

const signed = (value, unit) => (value === null ? '—' : `${value > 0 ? '+' : value < 0 ? '−' : '±'}${fmtNumber(Math.abs(value), unit)}`);
const ratio = (value) => (value === null ? '—' : `×${value.toFixed(2)}`);
const kib = (bytes) => (bytes / 1024).toFixed(1);

/** Rows of cells as aligned text columns: left-aligned where `alignLeft` says, else right. */
export function table(rows, { alignLeft = [0] } = {}) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((cell, i) => (alignLeft.includes(i) ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  return rows.map((r) => line(r).trimEnd()).join('\n');
}

/** The whole human-readable report, as one string. */
export function formatReport(results) {
  const { meta, scenarios, comparisons, sizes, targets } = results;
  const out = [];
  out.push(`Edgeway bench — ${meta.date}`);
  out.push(`commit ${meta.commit}; ${meta.workerd}; ${meta.wrk}; node ${meta.node}; ${meta.cpus}× ${meta.cpuModel}`);
  out.push(`${meta.rounds} round(s), interleaved; wrk -t1, ${meta.seconds} s per run after a ${meta.warmupSeconds} s warm-up; ` +
    `TTFT: ${meta.ttftRequests} sequential streamed requests per round (fewer where a scenario says so)`);
  if (meta.busyBeforeStart > 0.1) {
    out.push(`WARNING: the machine was ${(meta.busyBeforeStart * 100).toFixed(0)}% busy just before the bench — other work was running; expect noise.`);
  }
  out.push('');

  const rows = [
    ['scenario', ...METRICS.map((m) => m.label)],
    ['', ...METRICS.map((m) => (m.unit === 'µs' ? 'µs' : m.unit === 'req/s' ? '' : m.unit))],
  ];
  for (const s of Object.values(scenarios)) {
    rows.push([s.label, ...METRICS.map((m) => fmtNumber(m.get(s), m.unit))]);
  }
  for (const c of Object.values(comparisons)) {
    rows.push([c.label, ...METRICS.map((m) => signed(c.metrics[m.key].diff, m.unit))]);
    rows.push([c.ratioLabel, ...METRICS.map((m) => ratio(c.metrics[m.key].ratio))]);
  }
  out.push(table(rows));
  out.push('');
  out.push('c1/c32: wrk connections. Latencies: wrk --latency, median over rounds. wrk corrects its distribution for');
  out.push('coordinated omission (one long stall adds many synthetic samples), so its p99 shows stalls, not what a');
  out.push('typical request saw; "p99 c1 raw" is every request timed as sent, uncorrected. TTFT: from sending to the first');
  out.push('SSE chunk with content; "stream end": to the end of that answer (the mock sends its 17 events without a');
  out.push('pause). CPU/req: utime+stime of the process during the c32 runs ÷ requests completed;');
  out.push('"worker" is the workerd process running that Worker, "mock" the mock upstream (for (a) the only cost);');
  out.push('"same at c1": the worker\'s CPU per request over the one-connection runs. At c32 the runtime\'s one JS');
  out.push('thread is busy the whole time, so CPU per request there is close to 1 / throughput. "CPU/stream": the');
  out.push('worker\'s CPU per streamed answer over the TTFT requests, where every event passes through the Worker.');
  out.push('Differences and ratios are paired: taken within each round, where both ran seconds apart, then the median');
  out.push('over rounds — so they can differ from the difference of the two rows above them.');
  out.push('');

  const wasm = sizes.wasm;
  out.push(`Size: wasm ${kib(wasm.rawBytes)} KiB raw (${wasm.rawBytes.toLocaleString('en-US')} B), ` +
    `${kib(wasm.gzipBytes)} KiB ${wasm.gzipTool} (${wasm.gzipBytes.toLocaleString('en-US')} B)`);
  out.push(sizes.bundle.error
    ? `      wrangler bundle: ${sizes.bundle.error}`
    : `      wrangler deploy --dry-run: Total Upload ${sizes.bundle.totalKiB} KiB / gzip ${sizes.bundle.gzipKiB} KiB`);
  out.push('');

  out.push('Targets (Edgeway against the JS pass-through Worker in the same runtime; size absolute):');
  const show = (v, t) => (v === null ? '—' : t.unit === '×' ? `×${v.toFixed(2)}` : t.signed ? `${signed(v, t.unit)} ${t.unit}` : `${fmtNumber(v, t.unit)} ${t.unit}`);
  const trows = targets.map((t) => [
    t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'MISS',
    t.text,
    show(t.value, t),
    `(target ${t.op} ${t.unit === '×' ? `×${t.limit}` : `${t.limit} ${t.unit}`})`,
  ]);
  out.push(table(trows, { alignLeft: [0, 1, 3] }).replace(/^/gm, '  '));
  return out.join('\n');
}

export function writeJson(path, results) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}
