// Logs: every request, newest first, filtered by what an operator hunts
// with (status class, route, provider, model, key, cache, error code, id).
// New requests appear at the top as they arrive; "Load more" pages back.

import { api, type LogFilters, type LogRow } from '../api';
import { field, fill, filterActions, h, labelled, searchField, select } from '../dom';
import * as format from '../format';
import { navigate, type PageView } from '../navigation';
import { poll } from '../poll';
import { RANGES, bounds, rangeById } from '../ranges';
import { empty, failure, loading } from '../states';
import { queryParam, setQuery } from '../url-state';

const LIVE_MS = 3_000;
const PAGE_SIZE = 50;

/** Text filters: the query parameter, the label, and the API's filter. */
type TextFilter = 'route' | 'provider' | 'model' | 'key' | 'error' | 'q';
const TEXT_FILTERS: [TextFilter, string, string][] = [
  ['route', 'Route', 'demo'],
  ['provider', 'Provider', 'openai'],
  ['model', 'Model', 'gpt-4.1-mini'],
  ['key', 'Key id', 'key_…'],
  ['error', 'Error code', 'upstream_error'],
  ['q', 'Request id', 'req_…'],
];

export const logs: PageView = (root) => {
  const form = filterForm();
  const status = h('span', { class: 'muted', 'aria-live': 'polite' });
  const live = h('input', { type: 'checkbox', name: 'live', checked: true });
  const tbody = h('tbody');
  const table = h('div', { class: 'table-scroll' }, h('table', { class: 'logs' }, tableHead(), tbody));
  const more = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  const body = h('div', {}, loading());
  const problem = h('div');

  fill(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Logs'), h('label', { class: 'inline' }, live, ' Live'), status),
    form,
    problem,
    body,
  );

  let shown = new Set<string>();
  let cursor: string | null = null;
  // Bumped by every new search: answers to an older one are dropped.
  let generation = 0;

  const filters = (): LogFilters => {
    const values: LogFilters = { ...bounds(rangeById(field(form, 'range'))) };
    for (const name of ['status', 'cache', ...TEXT_FILTERS.map(([n]) => n)] as const) {
      const value = field(form, name);
      if (value) values[name] = value;
    }
    return values;
  };

  /**
   * Adds rows not shown yet. Pages go at the bottom; live arrivals are put
   * in time order, since a slow request's record is stored after those of
   * quicker requests that came in later.
   */
  const addRows = (rows: LogRow[], where: 'in order' | 'bottom', highlight = false) => {
    for (const r of rows) {
      if (shown.has(r.request_id)) continue;
      shown.add(r.request_id);
      const row = logRow(r, highlight);
      const later = where === 'in order' ? [...tbody.rows].find((tr) => Number(tr.dataset.time) < r.time_ms) : undefined;
      tbody.insertBefore(row, later ?? null);
    }
  };

  const showPage = (rows: LogRow[], next: string | null) => {
    cursor = next;
    more.hidden = !next;
    if (!shown.size && !rows.length) {
      fill(body, empty('No requests match these filters in this range yet.'));
      return;
    }
    if (!body.contains(table)) fill(body, table, h('div', { class: 'more' }, more));
  };

  /** A new search: the first page, replacing the table. */
  const search = async () => {
    const mine = ++generation;
    fill(body, loading());
    try {
      const page = await api.logs(filters(), { limit: PAGE_SIZE });
      if (mine !== generation) return;
      shown = new Set();
      fill(tbody);
      fill(problem);
      addRows(page.data, 'bottom');
      showPage(page.data, page.next_cursor);
      status.textContent = '';
    } catch (error) {
      if (mine === generation) fill(body, failure(error, 'Could not load the logs'));
    }
  };

  const loadMore = async () => {
    if (!cursor) return;
    const mine = generation;
    more.disabled = true;
    try {
      const page = await api.logs(filters(), { limit: PAGE_SIZE, cursor });
      if (mine !== generation) return;
      addRows(page.data, 'bottom');
      showPage(page.data, page.next_cursor);
    } catch (error) {
      fill(problem, failure(error, 'Could not load more'));
    } finally {
      more.disabled = false;
    }
  };

  /**
   * Live updates: the first page again, its unseen requests added.
   * If every row of it is new, more may have arrived than a page holds:
   * the gap would be invisible, so the table starts over from this page.
   */
  const catchUp = async () => {
    if (!live.checked) return;
    const mine = generation;
    try {
      const page = await api.logs(filters(), { limit: PAGE_SIZE });
      if (mine !== generation) return;
      fill(problem);
      const unseen = page.data.filter((r) => !shown.has(r.request_id));
      if (!unseen.length) return;
      if (shown.size && unseen.length === page.data.length && page.data.length === PAGE_SIZE) {
        shown = new Set();
        fill(tbody);
        addRows(page.data, 'bottom');
        showPage(page.data, page.next_cursor);
        return;
      }
      const wasEmpty = shown.size === 0;
      addRows(unseen, 'in order', !wasEmpty);
      if (wasEmpty) showPage(page.data, page.next_cursor);
      status.textContent = `${unseen.length} new at ${format.clock(Date.now())}`;
    } catch (error) {
      fill(problem, failure(error, 'Live updates paused'));
    }
  };

  more.addEventListener('click', () => void loadMore());
  // Text boxes report a change when they lose focus too: search only if
  // the filters really changed (Enter and the Search button always do).
  const onFiltersChanged = (always = true) => {
    const before = location.search;
    const values = filters();
    setQuery({
      range: field(form, 'range') === '1h' ? null : field(form, 'range'),
      status: values.status,
      cache: values.cache,
      ...Object.fromEntries(TEXT_FILTERS.map(([name]) => [name, values[name]])),
    });
    if (always || location.search !== before) void search();
  };
  form.addEventListener('change', () => onFiltersChanged(false));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onFiltersChanged();
  });
  form.querySelector('button.clear')?.addEventListener('click', () => {
    // Not a reset button: that would restore the filters the page opened with.
    for (const control of form.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) {
      if (control instanceof HTMLInputElement) control.value = '';
      else if (control.name !== 'range') control.selectedIndex = 0;
    }
    onFiltersChanged();
  });

  void search();
  return poll(catchUp, LIVE_MS);
};

function filterForm(): HTMLFormElement {
  const text = (name: string, label: string, placeholder: string) => searchField(name, label, placeholder, queryParam(name) ?? '');
  return h(
    'form',
    { class: 'filters', role: 'search' },
    labelled('Range', select('range', RANGES.map((r) => [r.id, r.label]), rangeById(queryParam('range')).id)),
    labelled('Status', select('status', [['', 'Any'], ['2xx', '2xx'], ['4xx', '4xx'], ['5xx', '5xx']], queryParam('status') ?? '')),
    labelled('Cache', select('cache', [['', 'Any'], ['hit', 'Hit'], ['miss', 'Miss'], ['bypass', 'Bypass'], ['refresh', 'Refresh'], ['semantic', 'Semantic']], queryParam('cache') ?? '')),
    ...TEXT_FILTERS.map(([name, label, placeholder]) => text(name, label, placeholder)),
    filterActions(),
  );
}

function tableHead(): HTMLElement {
  const cols = ['Time', 'Status', 'Route', 'Provider / model', 'Cache', 'Latency', 'TTFT', 'Tokens', 'Cost', 'Request id'];
  return h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', { scope: 'col' }, c))));
}

function statusClass(status: number): string {
  return status >= 500 ? 'bad' : status >= 400 ? 'warn' : 'good';
}

function logRow(r: LogRow, highlight: boolean): HTMLTableRowElement {
  const href = `/logs/${encodeURIComponent(r.request_id)}`;
  const num = (text: string) => h('td', { class: 'num' }, text);
  const tokens = r.tokens_in === null && r.tokens_out === null ? '—' : `${format.count(r.tokens_in)} → ${format.count(r.tokens_out)}`;
  const row = h(
    'tr',
    { class: `clickable${highlight ? ' new' : ''}`, 'data-request-id': r.request_id, 'data-time': r.time_ms },
    h('td', { title: format.dateTime(r.time_ms) }, format.dateTime(r.time_ms)),
    h('td', {}, h('span', { class: `badge ${statusClass(r.status)}`, title: r.error_code ?? r.outcome }, String(r.status)), r.error_code ? h('small', { class: 'muted' }, ` ${r.error_code}`) : null),
    h('td', {}, format.orDash(r.route)),
    h('td', {}, r.provider ? `${r.provider}/${r.model ?? '?'}` : '—', r.attempts > 1 ? h('small', { class: 'muted' }, ` (${r.attempts} attempts)`) : null),
    h('td', {}, r.cache ? h('span', { class: `badge cache-${r.cache}` }, r.cache) : '—'),
    num(format.ms(r.latency_ms)),
    num(format.ms(r.ttft_ms)),
    num(tokens),
    num(format.usd(r.cost_usd)),
    h('td', {}, h('a', { href, class: 'mono' }, r.request_id)),
  );
  // The whole row opens the request; the id is the keyboard's way in.
  row.addEventListener('click', (e) => {
    if (!(e.target as Element).closest('a') && !getSelection()?.toString()) navigate(href);
  });
  return row;
}
