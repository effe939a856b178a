// Two eval runs side by side — typically one set on two routes — for an
// A/B decision: scores, gates, latency and cost next to each other with
// the difference, then every case with each run's result, latency and cost
// and which run it favours.

import { api, type EvalCase, type EvalRun, type EvalRunDetail } from '../api';
import { fill, h, labelled, select } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { empty, failure, loading } from '../states';
import { queryParam, setQuery } from '../url-state';
import { gateBadge, resultBadge, scoreText } from './evals';

export const evalCompare: PageView = (root) => {
  const pickers = h('form', { class: 'toolbar compare-pickers', 'aria-label': 'Runs to compare' });
  const body = h('div');
  fill(root, h('p', { class: 'back' }, h('a', { href: '/evals' }, '← All runs')), h('div', { class: 'page-head' }, h('h1', {}, 'Compare runs')), pickers, body);
  let stopped = false;
  let generation = 0;

  const show = async (a: string, b: string) => {
    const mine = ++generation;
    setQuery({ a, b });
    if (!a || !b) return void fill(body, empty('Choose two runs: typically one set on two routes.'));
    fill(body, loading());
    try {
      const [runA, runB] = await Promise.all([api.evalRun(a), api.evalRun(b)]);
      if (!stopped && mine === generation) fill(body, ...comparison(runA, runB));
    } catch (error) {
      if (!stopped && mine === generation) fill(body, failure(error, 'Could not load the runs'));
    }
  };

  void (async () => {
    fill(pickers, loading('Loading runs…'));
    try {
      const runs = await api.evalRuns({ limit: 200 });
      if (stopped) return;
      const options: [string, string][] = [['', 'Choose a run'], ...runs.map((r): [string, string] => [r.id, runLabel(r)])];
      const a = select('a', options, queryParam('a') ?? '');
      const b = select('b', options, queryParam('b') ?? '');
      // A run picked in a link but older than the list still shows.
      for (const [picker, id] of [[a, queryParam('a')], [b, queryParam('b')]] as const) {
        if (id && !runs.some((r) => r.id === id)) picker.append(h('option', { value: id, selected: true }, id));
      }
      fill(pickers, labelled('Run A', a), labelled('Run B', b));
      pickers.addEventListener('change', () => void show(a.value, b.value));
      void show(a.value, b.value);
    } catch (error) {
      if (!stopped) fill(pickers, failure(error, 'Could not load the eval runs'));
    }
  })();
  return () => {
    stopped = true;
  };
};

function runLabel(r: EvalRun): string {
  return `${r.set} · ${r.route} · ${format.percent(r.score)} · ${format.dateTime(r.created_ms)}`;
}

/** B − A, signed, in the metric's own format; "same" when equal. */
function delta(a: number | null, b: number | null, fmt: (n: number) => string): string {
  if (a === null || b === null) return '—';
  const d = b - a;
  if (Math.abs(d) < 1e-12) return 'same';
  return `${d > 0 ? '+' : '−'}${fmt(Math.abs(d))}`;
}

function comparison(a: EvalRunDetail, b: EvalRunDetail): HTMLElement[] {
  const pp = (n: number) => `${(n * 100).toFixed(1).replace(/\.0$/, '')} pts`;
  const rows: [string, Node | string, Node | string, string][] = [
    ['Set', a.set, b.set, a.set === b.set ? 'same' : 'different sets'],
    ['Route', a.route, b.route, ''],
    ['When', format.dateTime(a.created_ms), format.dateTime(b.created_ms), ''],
    ['Score', scoreText(a), scoreText(b), delta(a.score, b.score, pp)],
    ['Gate', gateBadge(a), gateBadge(b), ''],
    ['Latency p50', format.ms(a.p50_ms), format.ms(b.p50_ms), delta(a.p50_ms, b.p50_ms, format.ms)],
    ['Latency p95', format.ms(a.p95_ms), format.ms(b.p95_ms), delta(a.p95_ms, b.p95_ms, format.ms)],
    ['Tokens in', format.count(a.tokens_in), format.count(b.tokens_in), delta(a.tokens_in, b.tokens_in, format.count)],
    ['Tokens out', format.count(a.tokens_out), format.count(b.tokens_out), delta(a.tokens_out, b.tokens_out, format.count)],
    ['Cost', format.usd(a.cost_usd), format.usd(b.cost_usd), delta(a.cost_usd, b.cost_usd, format.usd)],
  ];
  const summary = h(
    'table',
    { class: 'compare-summary' },
    h('thead', {}, h('tr', {}, ...['', 'A', 'B', 'B − A'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...rows.map(([label, x, y, d]) => h('tr', { 'data-metric': label }, h('th', { scope: 'row' }, label), h('td', {}, x), h('td', {}, y), h('td', { class: 'num' }, d)))),
  );

  const byId = (run: EvalRunDetail) => new Map(run.cases.map((c) => [c.id, c]));
  const casesA = byId(a);
  const casesB = byId(b);
  const ids = [...new Set([...casesA.keys(), ...casesB.keys()])];
  const verdicts = ids.map((id) => verdict(casesA.get(id), casesB.get(id)));
  const onlyA = verdicts.filter((v) => v === 'only A passes').length;
  const onlyB = verdicts.filter((v) => v === 'only B passes').length;
  const head = h(
    'thead',
    {},
    h('tr', {}, h('th', { scope: 'col', rowspan: 2 }, 'Case'), h('th', { scope: 'colgroup', colspan: 3 }, `A: ${a.route}`), h('th', { scope: 'colgroup', colspan: 3 }, `B: ${b.route}`), h('th', { scope: 'col', rowspan: 2 }, 'Verdict')),
    h('tr', {}, ...['Result', 'Latency', 'Cost', 'Result', 'Latency', 'Cost'].map((c) => h('th', { scope: 'col' }, c))),
  );
  const cells = (c: EvalCase | undefined) =>
    c
      ? [h('td', { title: c.failed_checks.map((f) => `${f.check}: ${f.reason}`).join('\n') || null }, resultBadge(c.passed)), h('td', { class: 'num' }, format.ms(c.latency_ms)), h('td', { class: 'num' }, format.usd(c.cost_usd))]
      : [h('td', { class: 'muted', colspan: 3 }, 'not in this run')];
  const tone: Record<string, string> = { 'only A passes': 'warn', 'only B passes': 'warn', 'both fail': 'bad', 'both pass': 'good' };
  const body = h(
    'tbody',
    {},
    ...ids.map((id, i) => h('tr', { 'data-case-id': id, 'data-verdict': verdicts[i] }, h('td', { class: 'mono' }, id), ...cells(casesA.get(id)), ...cells(casesB.get(id)), h('td', {}, h('span', { class: `badge ${tone[verdicts[i]] ?? ''}`.trim() }, verdicts[i])))),
  );
  return [
    h('div', { class: 'table-scroll' }, summary),
    h('p', { class: 'compare-verdict' }, `B (${b.route}) alone passes ${cases(onlyB)}; A (${a.route}) alone passes ${cases(onlyA)}.`, a.set !== b.set ? ' These runs are of different sets: only cases with the same id line up.' : ''),
    h('div', { class: 'table-scroll' }, h('table', { class: 'compare-cases' }, head, body)),
  ];
}

const cases = (n: number) => `${n} case${n === 1 ? '' : 's'}`;

function verdict(a: EvalCase | undefined, b: EvalCase | undefined): string {
  if (!a) return 'only in B';
  if (!b) return 'only in A';
  if (a.passed && b.passed) return 'both pass';
  if (!a.passed && !b.passed) return 'both fail';
  return a.passed ? 'only A passes' : 'only B passes';
}
