// Keys: the gateway keys, what each may do and how much of it it has used;
// create one (its string is shown once), edit its limits, revoke it.

import { api, type CreatedKey, type KeyRecord, type KeyUsage, type Limits } from '../api';
import { fill, h } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { empty, failure, loading } from '../states';
import { keyForm } from './key-form';

export const keys: PageView = (root) => {
  const newButton = h('button', { type: 'button' }, 'New key');
  const editor = h('div');
  const secret = h('div');
  const problem = h('div');
  const list = h('div', {}, loading());
  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Keys'), newButton), secret, editor, problem, list);

  let stopped = false;

  const reload = async () => {
    try {
      const records = await api.keys();
      if (stopped) return;
      fill(list, records.length ? keyTable(sorted(records), { edit, revoke }) : empty('No keys yet. Create one to let an app call the gateway.'));
    } catch (error) {
      if (!stopped) fill(list, failure(error, 'Could not load the keys'));
    }
  };

  const closeEditor = () => {
    fill(editor);
    newButton.hidden = false;
  };

  const create = () => {
    fill(secret);
    newButton.hidden = true;
    fill(
      editor,
      keyForm({
        title: 'New key',
        submitLabel: 'Create key',
        onCancel: closeEditor,
        onSubmit: async (input) => {
          const created = await api.createKey(input);
          closeEditor();
          fill(secret, secretPanel(created, () => fill(secret)));
          await reload();
        },
      }),
    );
    editor.querySelector('input')?.focus();
  };

  function edit(record: KeyRecord) {
    newButton.hidden = true;
    fill(
      editor,
      keyForm({
        title: `Edit ${record.name}`,
        submitLabel: 'Save changes',
        record,
        onCancel: closeEditor,
        onSubmit: async (input) => {
          await api.updateKey(record.id, input);
          closeEditor();
          await reload();
        },
      }),
    );
    editor.scrollIntoView({ block: 'nearest' });
  }

  async function revoke(record: KeyRecord) {
    if (!confirm(`Revoke "${record.name}" (${record.id})?\n\nEvery app using it is refused from now on. This cannot be undone.`)) return;
    try {
      await api.revokeKey(record.id);
      fill(problem);
      await reload();
    } catch (error) {
      fill(problem, failure(error, `Could not revoke ${record.name}`));
    }
  }

  newButton.addEventListener('click', create);
  void reload();
  return () => {
    stopped = true;
  };
};

/** Active keys first, newest first. */
function sorted(records: KeyRecord[]): KeyRecord[] {
  return [...records].sort((a, b) => Number(a.revoked) - Number(b.revoked) || b.created_ms - a.created_ms);
}

/** The new key's string and signing secret, shown this once. */
function secretPanel(created: CreatedKey, dismiss: () => void): HTMLElement {
  const secretRow = (label: string, value: string) => {
    const input = h('input', { type: 'text', readonly: true, value, class: 'mono secret-value', 'aria-label': label, spellcheck: 'false' });
    const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(value).then(
        () => { copy.textContent = 'Copied'; },
        () => {
          // No clipboard access (an insecure origin, or refused): select
          // it so the operator can copy it by hand.
          input.select();
          copy.textContent = 'Press Ctrl+C';
        },
      );
    });
    return h('div', { class: 'secret-row' }, h('span', { class: 'field-label' }, label), h('div', { class: 'copy-line' }, input, copy));
  };
  return h(
    'section',
    { class: 'panel secret', role: 'alert' },
    h('h2', {}, `Key "${created.record.name}" created`),
    h('p', { class: 'warning' }, 'Copy the key now: this is the only time it is shown. The gateway keeps only its hash.'),
    secretRow(created.record.kind === 'publishable' ? 'Publishable key' : 'Secret key', created.key),
    created.signing_secret ? secretRow('Token signing secret (for your backend to mint short-lived tokens)', created.signing_secret) : null,
    h('button', { type: 'button', onclick: dismiss }, 'I have copied it'),
  );
}

function keyTable(records: KeyRecord[], actions: { edit: (r: KeyRecord) => void; revoke: (r: KeyRecord) => void }): HTMLElement {
  const head = ['Name', 'Kind', 'Routes', 'Limits', 'Usage', 'Created', 'Status', ''].map((c) => h('th', { scope: 'col' }, c));
  const rows = records.map((r) => {
    const usage = h('td', { class: 'usage' }, r.revoked ? '—' : h('span', { class: 'muted' }, 'Loading…'));
    if (!r.revoked) {
      api.keyUsage(r.id).then(
        (u) => fill(usage, usageSummary(u)),
        (error) => fill(usage, h('span', { class: 'muted', title: String(error) }, 'unavailable')),
      );
    }
    return h(
      'tr',
      { class: r.revoked ? 'revoked' : '', 'data-key-id': r.id },
      h('td', {}, h('div', {}, r.name), h('div', { class: 'mono muted' }, r.id)),
      h('td', {}, r.kind),
      h('td', {}, r.routes.length ? r.routes.join(', ') : h('span', { class: 'muted' }, 'all')),
      h('td', {}, ...limitsSummary(r.limits), perUser(r)),
      usage,
      h('td', { title: format.dateTime(r.created_ms) }, format.dateTime(r.created_ms).slice(0, 10)),
      h('td', {}, r.revoked ? h('span', { class: 'badge bad' }, 'revoked') : h('span', { class: 'badge good' }, 'active')),
      h(
        'td',
        { class: 'actions' },
        r.revoked ? null : h('button', { type: 'button', class: 'secondary', onclick: () => actions.edit(r) }, 'Edit'),
        r.revoked ? null : h('button', { type: 'button', class: 'danger', onclick: () => actions.revoke(r) }, 'Revoke'),
      ),
    );
  });
  return h('div', { class: 'table-scroll' }, h('table', { class: 'keys' }, h('thead', {}, h('tr', {}, ...head)), h('tbody', {}, ...rows)));
}

/** The key's limits, one per line ("unlimited" when none). */
function limitsSummary(limits: Limits): HTMLElement[] {
  const parts = [
    limits.requests && `${format.count(limits.requests.limit)} req / ${format.duration(limits.requests.window_ms)} (burst ${format.count(limits.requests.burst)})`,
    limits.tokens_per_minute !== undefined && `${format.count(limits.tokens_per_minute)} tokens/min`,
    limits.budget_daily_usd !== undefined && `${format.usd(limits.budget_daily_usd)}/day`,
    limits.budget_monthly_usd !== undefined && `${format.usd(limits.budget_monthly_usd)}/month`,
  ].filter((p): p is string => Boolean(p));
  return (parts.length ? parts : ['unlimited']).map((p) => h('div', {}, p));
}

function perUser(r: KeyRecord): HTMLElement | null {
  const lines = limitsSummary(r.user_limits);
  return lines[0].textContent === 'unlimited' ? null : h('div', { class: 'muted' }, 'per end user:', ...lines);
}

/** Usage against the key's limits: a meter where there is a limit to fill. */
function usageSummary({ limits, usage }: KeyUsage): HTMLElement {
  const line = (text: string, value?: number, max?: number) =>
    h('div', { class: 'usage-line' }, max ? h('meter', { min: 0, max, value: Math.min(value ?? 0, max), high: max * 0.8, optimum: 0 }) : h('span', { class: 'meter-space' }), text);
  const perMinute = limits.requests?.window_ms === 60_000 ? limits.requests.limit : undefined;
  return h(
    'div',
    {},
    line(`${format.count(usage.requests_last_minute)}${perMinute ? ` / ${format.count(perMinute)}` : ''} req last min · ${format.count(usage.requests_today)} today`, usage.requests_last_minute, perMinute),
    line(`${format.count(usage.tokens_last_minute)}${limits.tokens_per_minute ? ` / ${format.count(limits.tokens_per_minute)}` : ''} tokens last min · ${format.count(usage.tokens_today)} today`, usage.tokens_last_minute, limits.tokens_per_minute),
    line(`${format.usd(usage.cost_today_usd)}${limits.budget_daily_usd ? ` / ${format.usd(limits.budget_daily_usd)}` : ''} today`, usage.cost_today_usd, limits.budget_daily_usd),
    line(`${format.usd(usage.cost_month_usd)}${limits.budget_monthly_usd ? ` / ${format.usd(limits.budget_monthly_usd)}` : ''} this month`, usage.cost_month_usd, limits.budget_monthly_usd),
  );
}
