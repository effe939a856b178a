// Playground: talk to a route through the gateway, the way an app would —
// with the `edgeway` package, streaming token by token, with a short-lived
// token for the dashboard's own publishable key. Afterwards it shows who
// answered and what it took and cost.

import { Edgeway, EdgewayError, type ChatStream, type ResponseMetadata, type Usage } from 'edgeway';
import { api } from '../api';
import { facts, fill, h, labelled } from '../dom';
import * as format from '../format';
import type { PageView } from '../navigation';
import { failure } from '../states';

/** How long to look for the request's log record (its cost) after the answer. */
const COST_WAIT_MS = 15_000;
const COST_POLL_MS = 500;

// One client for the whole visit: it keeps its token until the gateway
// says it expired, then asks getToken for a new one.
let client: Edgeway | null = null;
function gateway(): Edgeway {
  client ??= new Edgeway({
    baseUrl: location.origin,
    getToken: async () => (await api.playgroundToken()).token,
  });
  return client;
}

type State = 'idle' | 'streaming' | 'done' | 'stopped' | 'failed';

export const playground: PageView = (root) => {
  const routeSelect = h('select', { name: 'route', disabled: true }, h('option', {}, 'Loading routes…'));
  const prompt = h('textarea', { name: 'prompt', rows: 4, required: true, placeholder: 'Ask something… (Ctrl+Enter sends)' });
  const send = h('button', { type: 'submit', disabled: true }, 'Send');
  const stop = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Stop');
  const status = h('p', { class: 'play-status', 'data-state': 'idle', 'aria-live': 'polite' });
  const answer = h('div', { class: 'answer', 'aria-live': 'off' });
  const result = h('div', { class: 'result' });
  const problem = h('div');
  const form = h('form', { class: 'panel play-form' }, labelled('Route', routeSelect), labelled('Prompt', prompt), h('div', { class: 'form-actions' }, send, stop));

  fill(root, h('div', { class: 'page-head' }, h('h1', {}, 'Playground')), form, problem, status, answer, result);

  let stream: ChatStream | null = null;
  let left = false;
  let costTimer: ReturnType<typeof setTimeout> | undefined;

  const setState = (state: State, text: string) => {
    status.dataset.state = state;
    status.textContent = text;
    send.disabled = state === 'streaming' || routeSelect.disabled;
    stop.disabled = state !== 'streaming';
  };

  const loadRoutes = async () => {
    try {
      const models = await gateway().models();
      if (left) return;
      const ids = models.data.map((m) => m.id).sort();
      fill(routeSelect, ...ids.map((id) => h('option', { value: id, selected: id === 'demo' }, id)));
      routeSelect.disabled = ids.length === 0;
      setState('idle', ids.length ? '' : 'The playground key may use no route.');
    } catch (error) {
      if (!left) fill(problem, failure(error, 'Could not list the routes'));
    }
  };

  const run = async () => {
    const text = prompt.value.trim();
    if (!text || stream) return;
    clearTimeout(costTimer);
    fill(problem);
    fill(result);
    answer.textContent = '';
    setState('streaming', 'Streaming…');
    const started = performance.now();
    let firstToken: number | null = null;
    const current = gateway().stream({ model: routeSelect.value, messages: [{ role: 'user', content: text }] });
    stream = current;
    let meta: ResponseMetadata | null = null;
    try {
      current.metadata().then((m) => { meta = m; }, () => {});
      for await (const delta of current.textStream) {
        firstToken ??= performance.now() - started;
        answer.append(delta);
      }
      const latency = performance.now() - started;
      const usage = await current.finalUsage();
      meta = await current.metadata();
      setState('done', 'Done');
      showResult(meta, usage, latency, firstToken);
    } catch (error) {
      if (left) return;
      const latency = performance.now() - started;
      if (error instanceof EdgewayError && error.code === 'aborted') {
        setState('stopped', 'Stopped');
        showResult(meta, null, latency, firstToken);
      } else {
        setState('failed', 'Failed');
        fill(problem, sdkFailure(error));
      }
    } finally {
      if (stream === current) stream = null;
    }
  };

  const showResult = (meta: ResponseMetadata | null, usage: Usage | null, latency: number, ttft: number | null) => {
    const cost = h('span', { class: 'cost' });
    const requestId = h('span', { class: 'mono' }, meta?.requestId ?? '—');
    const tokens = usage ? `${format.count(usage.prompt_tokens)} in · ${format.count(usage.completion_tokens)} out` : '—';
    fill(
      result,
      facts([
        ['Provider', format.orDash(meta?.provider)],
        ['Model', format.orDash(meta?.model)],
        ['Route', format.orDash(meta?.route)],
        ['Cache', format.orDash(meta?.cache)],
        ['Latency', format.ms(latency)],
        ['Time to first token', format.ms(ttft)],
        ['Tokens', tokens],
        ['Cost', cost],
        ['Request id', requestId],
      ]),
    );
    if (meta?.requestId) void showCost(meta.requestId, cost, requestId, Date.now() + COST_WAIT_MS);
    else fill(cost, '—');
  };

  /**
   * The cost is known once the gateway stores the request's log record, a
   * second or two after the answer: look for it in the background, and say
   * so meanwhile. The list endpoint answers 200 with no rows until then
   * (the record endpoint would answer 404, an error in the console).
   */
  const showCost = async (requestId: string, cost: HTMLElement, idCell: HTMLElement, deadline: number) => {
    if (left) return;
    fill(cost, h('span', { class: 'pending' }, 'cost pending…'));
    try {
      const page = await api.logs({ q: requestId }, { limit: 1 });
      const row = page.data.find((r) => r.request_id === requestId);
      if (row) {
        fill(cost, format.usd(row.cost_usd));
        fill(idCell, h('a', { href: `/logs/${encodeURIComponent(requestId)}` }, requestId));
        return;
      }
    } catch (error) {
      fill(cost, h('span', { class: 'muted', title: String(error) }, 'unavailable'));
      return;
    }
    if (Date.now() > deadline) fill(cost, h('span', { class: 'muted' }, 'not logged yet — see Logs later'));
    else costTimer = setTimeout(() => void showCost(requestId, cost, idCell, deadline), COST_POLL_MS);
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  stop.addEventListener('click', () => stream?.abort());

  setState('idle', '');
  fill(result);
  answer.append(h('p', { class: 'muted' }, 'Choose a route and send a prompt.'));
  void loadRoutes();

  return () => {
    left = true;
    clearTimeout(costTimer);
    stream?.abort();
  };
};

/** An SDK error: its message, and the gateway's code and request id. */
function sdkFailure(error: unknown): HTMLElement {
  if (!(error instanceof EdgewayError)) return failure(error, 'The request failed');
  const box = failure(error, 'The request failed');
  const details = [`code ${error.code}`, error.status && `HTTP ${error.status}`, error.requestId].filter(Boolean);
  box.append(' ', h('code', { class: 'error-code' }, details.join(' · ')));
  return box;
}
