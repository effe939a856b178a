// The form that creates a key or edits one. Limits are typed in the units
// people think in (a window in seconds, budgets in dollars) and sent in the
// API's; a blank limit means "no limit". Editing sends every field the form
// shows, so clearing a box removes that limit.

import type { KeyInput, KeyKind, KeyRecord, Limits } from '../api';
import { field, h, labelled, select } from '../dom';
import { failure } from '../states';

interface Options {
  title: string;
  submitLabel: string;
  /** The key being edited; absent when creating one. */
  record?: KeyRecord;
  onSubmit: (input: KeyInput) => Promise<void>;
  onCancel: () => void;
}

export function keyForm({ title, submitLabel, record, onSubmit, onCancel }: Options): HTMLFormElement {
  const limits = record?.limits ?? {};
  const number = (name: string, value: number | undefined, attrs: Record<string, string | number> = {}) =>
    h('input', { name, type: 'number', min: 1, step: 1, inputmode: 'numeric', value: value ?? '', ...attrs });
  const money = (name: string, value: number | undefined) => number(name, value, { min: 0.000001, step: 'any', inputmode: 'decimal' });
  const list = (name: string, values: string[] | undefined, placeholder: string) =>
    h('input', { name, type: 'text', value: (values ?? []).join(', '), placeholder, autocomplete: 'off', spellcheck: 'false' });

  const problem = h('div');
  const submit = h('button', { type: 'submit' }, submitLabel);
  const form = h(
    'form',
    { class: 'panel key-form', 'aria-label': title },
    h('h2', {}, title),
    h(
      'div',
      { class: 'form-grid' },
      labelled('Name', h('input', { name: 'name', type: 'text', required: true, maxlength: 200, value: record?.name ?? '', autocomplete: 'off' })),
      record
        ? labelled('Kind', h('input', { type: 'text', value: record.kind, disabled: true }), 'A key’s kind never changes.')
        : labelled('Kind', select('kind', [['server', 'Server (secret, for backends)'], ['publishable', 'Publishable (browsers, needs origins)']], 'server')),
      labelled('Routes', list('routes', record?.routes, 'demo, gpt-4o-mini'), 'Comma-separated; blank: every route.'),
      labelled('Origins', list('origins', record?.origins, 'https://app.example.com'), 'Where a publishable key may be used from.'),
    ),
    h(
      'fieldset',
      { class: 'form-grid' },
      h('legend', {}, 'Limits (blank: unlimited)'),
      labelled('Requests', number('requests', limits.requests?.limit)),
      labelled('per window (s)', number('window_s', limits.requests ? limits.requests.window_ms / 1000 : undefined, { placeholder: '60' })),
      labelled('Burst', number('burst', limits.requests?.burst), 'Blank: same as the limit.'),
      labelled('Tokens per minute', number('tokens_per_minute', limits.tokens_per_minute)),
      labelled('Daily budget (USD)', money('budget_daily_usd', limits.budget_daily_usd)),
      labelled('Monthly budget (USD)', money('budget_monthly_usd', limits.budget_monthly_usd)),
    ),
    problem,
    h('div', { class: 'form-actions' }, submit, h('button', { type: 'button', class: 'secondary', onclick: onCancel }, 'Cancel')),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    const input: KeyInput = {
      name: field(form, 'name'),
      routes: splitList(field(form, 'routes')),
      origins: splitList(field(form, 'origins')),
      limits: limitsFrom(form),
    };
    if (!record) input.kind = field(form, 'kind') as KeyKind;
    submit.disabled = true;
    try {
      await onSubmit(input);
    } catch (error) {
      problem.replaceChildren(failure(error, record ? 'Could not save the key' : 'Could not create the key'));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function limitsFrom(form: HTMLFormElement): Limits {
  const num = (name: string) => (field(form, name) === '' ? undefined : Number(field(form, name)));
  const limits: Limits = {};
  const requests = num('requests');
  if (requests !== undefined) {
    limits.requests = { limit: requests, window_ms: Math.round((num('window_s') ?? 60) * 1000), burst: num('burst') ?? requests };
  }
  const tokens = num('tokens_per_minute');
  if (tokens !== undefined) limits.tokens_per_minute = tokens;
  const daily = num('budget_daily_usd');
  if (daily !== undefined) limits.budget_daily_usd = daily;
  const monthly = num('budget_monthly_usd');
  if (monthly !== undefined) limits.budget_monthly_usd = monthly;
  return limits;
}
