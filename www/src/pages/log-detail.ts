// One request: what it asked, who answered after which attempts, what it
// cost, and the prompt and answer when its route stores them.

import { ApiError, api, type Attempt, type RequestLog } from '../api';
import { facts, fill, h } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { empty, failure, loading } from '../states';

/** How long to wait for a request the gateway has not stored yet. */
const STORE_WAIT_MS = 20_000;

export const logDetail: PageView = (root, [requestId]) => {
  const id = decodeURIComponent(requestId);
  const body = h('div', {}, loading());
  fill(root, h('p', { class: 'back' }, h('a', { href: '/logs' }, '← All requests')), h('div', { class: 'page-head' }, h('h1', { class: 'mono break request-id' }, id)), body);

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const show = async () => {
    try {
      const record = await api.log(id);
      if (!stopped) fill(body, ...detail(record));
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.code === 'not_found') waitForIt(Date.now() + STORE_WAIT_MS);
      else fill(body, failure(error, 'Could not load this request'));
    }
  };

  // Records are stored a moment after the response. Asking the list (which
  // answers 200 with no rows) rather than the record (404) keeps the
  // console free of failed requests while waiting.
  const waitForIt = (deadline: number) => {
    fill(body, loading('This request is not stored yet; waiting for it…'));
    const check = async () => {
      if (stopped) return;
      try {
        const page = await api.logs({ q: id }, { limit: 1 });
        if (page.data.some((r) => r.request_id === id)) return void show();
      } catch (error) {
        return void fill(body, failure(error, 'Could not load this request'));
      }
      if (Date.now() > deadline) fill(body, empty('No request with this id is stored. Logs are kept for a limited time, and only for requests that reached the gateway.'));
      else timer = setTimeout(check, 1_000);
    };
    void check();
  };

  void show();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
};

function detail(r: RequestLog): HTMLElement[] {
  const tokens = [
    r.tokens_in !== undefined && `${format.count(r.tokens_in)} in`,
    r.tokens_out !== undefined && `${format.count(r.tokens_out)} out`,
    r.tokens_cached !== undefined && `${format.count(r.tokens_cached)} cached`,
  ].filter(Boolean).join(' · ');
  const summary: [string, Node | string][] = [
    ['Time', format.dateTime(r.time_ms)],
    ['Status', h('span', { class: `badge ${r.status >= 500 ? 'bad' : r.status >= 400 ? 'warn' : 'good'}` }, String(r.status))],
    ['Outcome', r.outcome.replace('_', ' ')],
    ['Error', format.orDash(r.error_code)],
    ['Request', `${r.method} ${r.path}${r.stream ? ' (streamed)' : ''}`],
    ['Route', format.orDash(r.route)],
    ...(r.tier ? [['Tier', `${r.tier} — ${r.tier_reason ?? ''}`] as [string, string]] : []),
    ['Provider / model', r.provider ? `${r.provider}/${r.model ?? '?'}` : '—'],
    ['Cache', r.cache === 'semantic' && r.similarity !== undefined ? `semantic (similarity ${r.similarity.toFixed(4)})` : format.orDash(r.cache)],
    ['Latency', format.ms(r.latency_ms)],
    ['Time to first token', format.ms(r.ttft_ms)],
    ['Tokens', tokens || '—'],
    ['Cost', format.usd(r.cost_usd)],
    ['Cost saved by the cache', format.usd(r.cost_saved_usd)],
    ['Key', r.key_name && r.key_id ? `${r.key_name} (${r.key_id})` : format.orDash(r.key_id)],
    ['User', format.orDash(r.user_id)],
    ['Data center', format.orDash(r.colo)],
    ['User agent', format.orDash(r.user_agent)],
  ];
  const sections: HTMLElement[] = [
    facts(summary),
    h('section', { class: 'panel' }, h('h2', {}, 'Attempts'), timeline(r.attempts, r.cache)),
  ];
  if (r.guardrails) sections.push(guardrails(r));
  if (r.warnings?.length) sections.push(h('section', { class: 'panel' }, h('h2', {}, 'Warnings'), h('ul', { class: 'warnings' }, ...r.warnings.map((w) => h('li', {}, w)))));
  if (r.metadata && Object.keys(r.metadata).length) sections.push(h('section', { class: 'panel' }, h('h2', {}, 'Metadata'), h('pre', { class: 'code' }, JSON.stringify(r.metadata, null, 2))));
  if (r.prompt !== undefined) sections.push(h('section', { class: 'panel' }, h('h2', {}, 'Prompt'), h('pre', { class: 'code body-text' }, prettyJson(r.prompt))));
  if (r.answer !== undefined) sections.push(h('section', { class: 'panel' }, h('h2', {}, 'Answer'), h('pre', { class: 'code body-text' }, r.answer)));
  if (r.prompt === undefined && r.answer === undefined) sections.push(h('p', { class: 'muted' }, 'The prompt and answer are not stored for this request (its route does not store bodies, or zero retention was asked for).'));
  return sections;
}

/** What the route's guardrails ran, what they found and did (never the text they matched). */
function guardrails(r: RequestLog): HTMLElement {
  const g = r.guardrails!;
  const findings = g.findings.length
    ? h('ul', { class: 'warnings' }, ...g.findings.map((f) => h('li', {}, `${f.stage} · ${f.rule} (${f.kind}): ${f.action === 'block' ? 'blocked' : f.action === 'redact' ? 'redacted' : 'flagged'}${f.count > 1 ? ` ×${f.count}` : ''}`)))
    : h('p', { class: 'muted' }, 'Nothing found.');
  const notes = [
    r.guardrail_held_ms !== undefined && `The stream's text was held back up to ${format.ms(r.guardrail_held_ms)}.`,
    r.schema_error && `JSON schema: ${r.schema_error}`,
  ].filter(Boolean).map((note) => h('p', { class: 'muted' }, note as string));
  return h('section', { class: 'panel' }, h('h2', {}, 'Guardrails'), h('p', {}, `Ran: ${g.ran.join(', ') || '—'}`), findings, ...notes);
}

/** The prompt is the request's messages as JSON: indented, it reads. */
function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * The attempts as bars on one time axis from the request's arrival: each
 * starts where it started, so the waits between attempts (backoff) show.
 * (Records from before attempts had `start_ms` are laid end to end.)
 */
function timeline(attempts: Attempt[], cache: string | undefined): HTMLElement {
  if (!attempts.length) return empty(cache === 'hit' ? 'No upstream call: answered from the cache.' : 'No upstream attempt was made.');
  let cursor = 0;
  const spans = attempts.map((a) => {
    const begin = a.start_ms ?? cursor;
    cursor = begin + a.latency_ms;
    return begin;
  });
  const total = Math.max(1, ...attempts.map((a, i) => spans[i] + a.latency_ms));
  const items = attempts.map((a, i) => {
    const left = (spans[i] / total) * 100;
    const width = Math.max((a.latency_ms / total) * 100, 0.5);
    // Set through CSSOM, not a style attribute: a strict CSP allows this.
    const bar = h('div', { class: 'attempt-bar' });
    bar.style.marginLeft = `${left}%`;
    bar.style.width = `${width}%`;
    const facts = [a.outcome, a.status !== undefined && `HTTP ${a.status}`, format.ms(a.latency_ms), a.start_ms !== undefined && `at +${format.ms(a.start_ms)}`].filter(Boolean).join(' · ');
    return h(
      'li',
      { class: `attempt outcome-${a.outcome}`, 'data-outcome': a.outcome },
      h('div', { class: 'attempt-label' }, h('span', { class: 'attempt-n' }, `#${i + 1}`), ' ', h('span', { class: 'attempt-target mono' }, a.target), ' ', h('span', { class: 'attempt-facts' }, facts)),
      h('div', { class: 'attempt-track' }, bar),
      a.error ? h('div', { class: 'attempt-error' }, a.error) : null,
    );
  });
  const axis = h('div', { class: 'timeline-axis muted' }, h('span', {}, '0 ms (arrival)'), h('span', {}, format.ms(total)));
  return h('div', {}, h('ol', { class: 'timeline' }, ...items), axis);
}
