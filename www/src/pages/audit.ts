// Audit: what operators did through the admin API (keys created, edited
// and revoked, tokens minted, caches purged, eval sets saved), newest first.

import { api, type AuditEntry } from '../api';
import { fill, h } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { empty, failure, loading } from '../states';

const ACTIONS: Record<string, string> = {
  'key.created': 'Key created',
  'key.updated': 'Key updated',
  'key.revoked': 'Key revoked',
  'token.minted': 'Token minted',
  'cache.purged': 'Cache purged',
  'eval_set.saved': 'Eval set saved',
};

export const audit: PageView = (root) => {
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary' }, 'Load more');
  const body = h('div', {}, loading());
  const problem = h('div');
  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Audit')), problem, body);

  let cursor: string | null = null;
  let stopped = false;

  const load = async () => {
    more.disabled = true;
    try {
      const page = await api.audit(cursor);
      if (stopped) return;
      fill(problem);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!tbody.children.length && !page.data.length) return void fill(body, empty('Nothing has been changed through the admin API yet.'));
      tbody.append(...page.data.map(auditRow));
      if (!body.contains(tbody)) {
        const head = ['Time', 'Action', 'Target', 'Detail'].map((c) => h('th', { scope: 'col' }, c));
        fill(body, h('div', { class: 'table-scroll' }, h('table', { class: 'audit' }, h('thead', {}, h('tr', {}, ...head)), tbody)), h('div', { class: 'more' }, more));
      }
    } catch (error) {
      if (stopped) return;
      if (tbody.children.length) fill(problem, failure(error, 'Could not load more'));
      else fill(body, failure(error, 'Could not load the audit log'));
    } finally {
      more.disabled = false;
    }
  };

  more.addEventListener('click', () => void load());
  void load();
  return () => {
    stopped = true;
  };
};

function auditRow(entry: AuditEntry): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', {}, format.dateTime(entry.time_ms)),
    h('td', {}, ACTIONS[entry.action] ?? entry.action),
    h('td', { class: 'mono' }, format.orDash(entry.target)),
    h('td', {}, h('code', { class: 'detail' }, detailText(entry.detail))),
  );
}

/** The detail column is free-form: text as is, JSON compactly. */
function detailText(detail: unknown): string {
  if (detail === null || detail === undefined || detail === '') return '—';
  return typeof detail === 'string' ? detail : JSON.stringify(detail);
}
