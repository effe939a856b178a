// One eval run: its score against the threshold and the baseline, and each
// case — passed or not, which checks failed and why, latency, cost, the
// answer — with how it changed against the baseline (newly failing, newly
// passing, unchanged).

import { ApiError, api, type EvalCase, type EvalRunDetail } from '../api';
import { facts, fill, h, labelled, select } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { empty, failure, loading } from '../states';
import { queryParam, setQuery } from '../url-state';
import { gateBadge, resultBadge, scoreText, tokensText } from './evals';

/** A case against the baseline. */
export type Change = 'newly failing' | 'newly passing' | 'unchanged' | 'not in baseline';

export function change(c: EvalCase): Change {
  if (c.baseline_passed === null || c.baseline_passed === undefined) return 'not in baseline';
  if (c.baseline_passed === c.passed) return 'unchanged';
  return c.passed ? 'newly passing' : 'newly failing';
}

const CHANGE_TONE: Record<Change, string> = { 'newly failing': 'bad', 'newly passing': 'good', unchanged: '', 'not in baseline': '' };

type Show = 'all' | 'failing' | 'changed';

export const evalRun: PageView = (root, [runId]) => {
  const id = decodeURIComponent(runId);
  const body = h('div', {}, loading());
  fill(root, h('p', { class: 'back' }, h('a', { href: '/evals' }, '← All runs')), body);
  let stopped = false;

  void (async () => {
    try {
      const run = await api.evalRun(id);
      if (!stopped) fill(body, ...detail(run));
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.code === 'not_found') fill(body, empty('No eval run with this id is stored.'));
      else fill(body, failure(error, 'Could not load this run'));
    }
  })();
  return () => {
    stopped = true;
  };
};

function detail(run: EvalRunDetail): HTMLElement[] {
  const changes = run.cases.map(change);
  const count = (c: Change) => changes.filter((x) => x === c).length;
  const summary: [string, Node | string][] = [
    ['When', format.dateTime(run.created_ms)],
    ['Score', scoreText(run)],
    ['Threshold', format.percent(run.threshold)],
    ['Gate', gateBadge(run)],
    ['Baseline', run.baseline_score === null ? 'none' : format.percent(run.baseline_score)],
    ['Against the baseline', run.baseline_score === null ? '—' : `${count('newly failing')} newly failing, ${count('newly passing')} newly passing`],
    ['Latency p50 / p95', `${format.ms(run.p50_ms)} / ${format.ms(run.p95_ms)}`],
    ['Tokens', tokensText(run.tokens_in, run.tokens_out)],
    ['Cost', format.usd(run.cost_usd)],
  ];
  const show = select('show', [['all', 'All cases'], ['failing', 'Failing'], ['changed', 'Changed against the baseline']], queryParam('show') ?? 'all');
  const tbody = h('tbody');
  const render = () => {
    const which = show.value as Show;
    setQuery({ show: which === 'all' ? null : which });
    const rows = run.cases.filter((c) => which === 'all' || (which === 'failing' ? !c.passed : change(c).startsWith('newly')));
    fill(tbody, ...rows.map(caseRow));
    if (!rows.length) fill(tbody, h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No case matches.')));
  };
  show.addEventListener('change', render);
  render();
  const head = ['Case', 'Result', 'vs baseline', 'Failed checks', 'Latency', 'Tokens', 'Cost', 'Answer'].map((c) => h('th', { scope: 'col' }, c));
  return [
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, `${run.set} on ${run.route}`),
      h('span', { class: 'mono muted break' }, run.id),
      h('a', { href: `/evals/compare?a=${encodeURIComponent(run.id)}` }, 'Compare with another run'),
    ),
    facts(summary),
    h('div', { class: 'toolbar' }, labelled('Show', show)),
    h('div', { class: 'table-scroll' }, h('table', { class: 'eval-cases' }, h('thead', {}, h('tr', {}, ...head)), tbody)),
  ];
}

function caseRow(c: EvalCase): HTMLTableRowElement {
  const diff = change(c);
  const num = (text: string) => h('td', { class: 'num' }, text);
  return h(
    'tr',
    { 'data-case-id': c.id, 'data-change': diff },
    h('td', { class: 'mono' }, c.id),
    h('td', {}, resultBadge(c.passed)),
    h('td', {}, h('span', { class: `badge ${CHANGE_TONE[diff]}`.trim() }, diff)),
    h('td', { class: 'checks' }, c.failed_checks.length ? h('ul', { class: 'failed-checks' }, ...c.failed_checks.map((f) => h('li', {}, h('code', {}, f.check), ' ', f.reason))) : '—'),
    num(format.ms(c.latency_ms)),
    num(tokensText(c.tokens_in, c.tokens_out)),
    num(format.usd(c.cost_usd)),
    h('td', { class: 'answer-cell' }, answer(c)),
  );
}

/** The answer, its start shown and the rest a click away. */
export function answer(c: EvalCase): HTMLElement {
  if (!c.answer) return h('span', { class: 'muted' }, '—');
  const start = c.answer.length > 60 ? `${c.answer.slice(0, 59)}…` : c.answer;
  if (start === c.answer) return h('span', { class: 'answer-text' }, c.answer);
  return h('details', {}, h('summary', {}, start), h('pre', { class: 'code body-text' }, c.answer));
}
