// Evals: the runs of golden sets (evals/run.mjs posts them), newest first,
// filtered by set and route. Each run's score against its threshold and
// whether it passed its gate; tick two runs to compare them side by side
// (typically two routes on one set, for an A/B decision).

import { api, type EvalRun } from '../api';
import { field, fill, filterActions, h, searchField } from '../dom';
import * as format from '../format';
import { navigate, type PageView } from '../navigation';
import { empty, failure, loading } from '../states';
import { queryParam, setQuery } from '../url-state';

export const evals: PageView = (root) => {
  const compare = h('button', { type: 'button', disabled: true }, 'Compare selected');
  const hint = h('span', { class: 'muted' }, 'Tick two runs to compare them.');
  const form = filterForm();
  const body = h('div', {}, loading());
  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Evals'), hint, compare), form, body);

  // The ticked runs, oldest tick first: a third tick drops the first.
  let picked: string[] = [];
  let generation = 0;
  let stopped = false;

  const showPicked = () => {
    for (const box of body.querySelectorAll<HTMLInputElement>('input[name="pick"]')) box.checked = picked.includes(box.value);
    compare.disabled = picked.length !== 2;
  };

  const search = async () => {
    const mine = ++generation;
    const filters = { set: field(form, 'set') || undefined, route: field(form, 'route') || undefined, limit: 200 };
    setQuery({ set: filters.set, route: filters.route });
    fill(body, loading());
    try {
      const runs = await api.evalRuns(filters);
      if (stopped || mine !== generation) return;
      picked = picked.filter((id) => runs.some((r) => r.id === id));
      if (!runs.length) {
        const filtered = filters.set || filters.route;
        fill(body, empty(filtered ? 'No runs of this set and route yet.' : 'No eval runs yet. `make eval` runs the demo set and stores its run here.'));
      } else {
        const head = ['', 'When', 'Set', 'Route', 'Score', 'Gate', 'Baseline', 'p50', 'p95', 'Tokens', 'Cost', 'Run'].map((c) => h('th', { scope: 'col' }, c));
        fill(body, h('div', { class: 'table-scroll' }, h('table', { class: 'evals' }, h('thead', {}, h('tr', {}, ...head)), h('tbody', {}, ...runs.map(runRow)))));
      }
      showPicked();
    } catch (error) {
      if (!stopped && mine === generation) fill(body, failure(error, 'Could not load the eval runs'));
    }
  };

  body.addEventListener('change', (event) => {
    const box = event.target as HTMLInputElement;
    if (box.name !== 'pick') return;
    picked = picked.filter((id) => id !== box.value);
    if (box.checked) picked = [...picked, box.value].slice(-2);
    showPicked();
  });
  compare.addEventListener('click', () => {
    const [a, b] = picked;
    if (a && b) navigate(`/evals/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void search();
  });
  form.querySelector('button.clear')?.addEventListener('click', () => {
    for (const input of form.querySelectorAll('input')) input.value = '';
    void search();
  });

  void search();
  return () => {
    stopped = true;
  };
};

function filterForm(): HTMLFormElement {
  const text = (name: string, label: string, placeholder: string) => searchField(name, label, placeholder, queryParam(name) ?? '');
  return h(
    'form',
    { class: 'filters', role: 'search' },
    text('set', 'Set', 'demo'),
    text('route', 'Route', 'demo'),
    filterActions(),
  );
}

/** A run's score: its share of passed cases, with the count. */
export function scoreText(run: EvalRun): string {
  return `${format.percent(run.score)} (${run.cases_passed}/${run.cases_count})`;
}

/** Whether the run passed its gate, as a badge. */
export function gateBadge(run: EvalRun): HTMLElement {
  return h('span', { class: `badge ${run.passed ? 'good' : 'bad'}` }, run.passed ? 'passed' : 'failed');
}

/** A case's result, as a badge. */
export function resultBadge(passed: boolean): HTMLElement {
  return h('span', { class: `badge ${passed ? 'good' : 'bad'}` }, passed ? 'pass' : 'fail');
}

export function tokensText(tokensIn: number | null | undefined, tokensOut: number | null | undefined): string {
  return tokensIn === null && tokensOut === null ? '—' : `${format.count(tokensIn)} → ${format.count(tokensOut)}`;
}

function runRow(run: EvalRun): HTMLTableRowElement {
  const href = `/evals/${encodeURIComponent(run.id)}`;
  const num = (text: string) => h('td', { class: 'num' }, text);
  const row = h(
    'tr',
    { class: 'clickable', 'data-run-id': run.id },
    h('td', { class: 'pick' }, h('input', { type: 'checkbox', name: 'pick', value: run.id, 'aria-label': `Compare ${run.set} on ${run.route} (${format.dateTime(run.created_ms)})` })),
    h('td', {}, format.dateTime(run.created_ms)),
    h('td', {}, run.set),
    h('td', {}, run.route),
    h('td', { class: 'num' }, scoreText(run), h('small', { class: 'muted' }, ` ≥ ${format.percent(run.threshold)}`)),
    h('td', {}, gateBadge(run)),
    num(format.percent(run.baseline_score)),
    num(format.ms(run.p50_ms)),
    num(format.ms(run.p95_ms)),
    num(tokensText(run.tokens_in, run.tokens_out)),
    num(format.usd(run.cost_usd)),
    // The id's first hex digits name it well enough here; the link has it all.
    h('td', {}, h('a', { href, class: 'mono', title: run.id }, `${run.id.slice(0, 12)}…`)),
  );
  // The whole row opens the run; the checkbox only picks it.
  row.addEventListener('click', (e) => {
    const target = e.target as Element;
    if (!target.closest('a, td.pick') && !getSelection()?.toString()) navigate(href);
  });
  return row;
}
