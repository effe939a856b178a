// The operator dashboard (www/), as an operator uses it: served by the
// gateway itself, in Chromium, at desktop and phone sizes. Requests sent
// through the gateway show up in Logs while the page is open; a fallback's
// detail shows its attempts; the Overview draws its charts; a key is
// created (its secret shown once), edited and revoked; the Playground
// streams an answer with the `edgeway` package; Evals lists runs, shows a
// run's cases against its baseline and compares two runs side by side. No
// page logs an error or a warning in the console. Screenshots go to
// test-output/www/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { launchChromium } from '../harness/browser.mjs';
import { ADMIN_TOKEN, GATEWAY, admin, ask, cacheWrite, chat, waitFor } from '../e2e/helpers.mjs';
import { repoRoot } from '../harness/processes.mjs';

const shots = join(repoRoot, 'test-output', 'www');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
// Rows and records reach the dashboard a moment after the response.
const ARRIVAL_MS = 20_000;

let browser;
let desktop;
// Problems the console reported, per page; each test asserts its own are none.
const problems = new Map();
// What this run sent through the gateway, found again in the dashboard.
const sent = {};

before(async () => {
  mkdirSync(shots, { recursive: true });
  browser = await launchChromium();
  desktop = await newPage(DESKTOP);
});

after(async () => {
  await browser?.close();
});

/** A page in a fresh context (its own sessionStorage), watched for console problems. */
async function newPage(viewport, options = {}) {
  const context = await browser.newContext({ viewport, ...options });
  const page = await context.newPage();
  const seen = [];
  problems.set(page, seen);
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      seen.push({ type: message.type(), text: message.text(), url: message.location().url });
    }
  });
  page.on('pageerror', (error) => seen.push({ type: 'pageerror', text: String(error) }));
  return page;
}

/** Asserts the page's console stayed clean since the last check. */
function assertCleanConsole(page, where) {
  const seen = problems.get(page);
  assert.deepEqual(seen, [], `console problems on ${where}: ${JSON.stringify(seen, null, 2)}`);
  seen.length = 0;
}

/** Chromium logs a refused call (401) as an error: the one expected line. */
function expectOnly401s(page) {
  const seen = problems.get(page);
  assert.ok(seen.length > 0 && seen.every((p) => /status of 401/.test(p.text) && p.url.includes('/admin/api/')), JSON.stringify(seen));
  seen.length = 0;
}

/**
 * Opens a page. wrangler dev's asset server has been seen to stall one
 * asset request for 30 s (a stylesheet's 304, in a CI run); the dashboard's
 * assets are not served by the gateway's code, so a navigation that stalls
 * is made once more rather than failing the test on the dev server.
 */
async function visit(page, path) {
  try {
    await page.goto(`${GATEWAY}${path}`, { timeout: 10_000 });
  } catch (error) {
    if (error.name !== 'TimeoutError') throw error;
    await page.goto(`${GATEWAY}${path}`);
  }
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page) {
  await visit(page, '/');
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

/** The text of the `<dd>` after the `<dt>` named `term`. */
function fact(page, term) {
  return page.locator(`dt:text-is("${term}") + dd`);
}

test('the dashboard type-checks strictly', async () => {
  const tsc = join(repoRoot, 'node_modules/.bin/tsc');
  const result = await promisify(execFile)(tsc, ['-p', 'www/tsconfig.json', '--noEmit'], { cwd: repoRoot }).catch((error) => error);
  assert.equal(result.code ?? 0, 0, `${result.stdout}${result.stderr}`);
});

test('the gateway serves the dashboard at its paths; it asks for the admin token and refuses a wrong one', async () => {
  // Deep links load the app too (the single-page fallback), not a 404.
  for (const path of ['/', '/logs', '/logs/req_nothing', '/keys', '/playground', '/evals', '/evals/compare', '/evals/run_nothing']) {
    const res = await fetch(`${GATEWAY}${path}`);
    assert.equal(res.status, 200, `GET ${path}`);
    assert.match(await res.text(), /<title>Edgeway<\/title>/, `GET ${path} is the dashboard`);
  }

  await visit(desktop, '/');
  await desktop.getByLabel('Admin token').waitFor();
  await shot(desktop, 'login-desktop');
  await desktop.getByLabel('Admin token').fill('not-the-admin-token');
  await desktop.getByRole('button', { name: 'Sign in' }).click();
  await desktop.getByRole('alert').filter({ hasText: 'The gateway refused this token' }).waitFor();
  expectOnly401s(desktop);

  await desktop.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await desktop.getByRole('button', { name: 'Sign in' }).click();
  await desktop.getByRole('heading', { name: 'Overview' }).waitFor();
  // The token is kept for the tab: a reload stays signed in.
  await desktop.reload();
  await desktop.getByRole('heading', { name: 'Overview' }).waitFor();
  assertCleanConsole(desktop, 'sign-in');

  // A token the gateway stops accepting (rotated meanwhile) ends the session
  // on the next call, with a message saying why.
  await desktop.evaluate(() => { for (const name of Object.keys(sessionStorage)) sessionStorage.setItem(name, 'rotated-away'); });
  await desktop.getByRole('link', { name: 'Keys' }).click();
  await desktop.getByRole('alert').filter({ hasText: 'The gateway refused the admin token' }).waitFor();
  assert.ok(await desktop.getByLabel('Admin token').isVisible());
  expectOnly401s(desktop);
  await desktop.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await desktop.getByRole('button', { name: 'Sign in' }).click();
  // Back where the operator was going.
  await desktop.getByRole('heading', { name: 'Keys' }).waitFor();
  assertCleanConsole(desktop, 'sign-in again');
});

test('requests appear in Logs while it is open, and a fallback shows its attempts', async () => {
  await visit(desktop, '/logs');
  await desktop.getByRole('heading', { name: 'Logs' }).waitFor();

  const tag = `dashboard ${Date.now()}`;
  const plain = await chat(ask('demo', `${tag}: plain`));
  const fallback = await chat(ask('demo-fallback', `${tag}: fallback`));
  const missed = await chat(ask('demo-cached', `${tag}: cached`));
  assert.equal(plain.status, 200);
  assert.equal(fallback.status, 200);
  assert.equal(missed.status, 200);
  sent.plain = plain.headers.get('x-request-id');
  sent.fallback = fallback.headers.get('x-request-id');
  assert.equal((await fallback.json()).choices[0].message.content, `You said: ${tag}: fallback`);
  // The second identical request is answered from the cache once the first is stored.
  assert.deepEqual(await cacheWrite(missed.headers.get('x-request-id')), { stored: true, reason: undefined });
  const hit = await chat(ask('demo-cached', `${tag}: cached`));
  assert.equal(hit.headers.get('x-edgeway-cache'), 'HIT');
  sent.hit = hit.headers.get('x-request-id');
  for (const res of [plain, missed, hit]) await res.body?.cancel();

  // Live updates: the rows arrive without a reload.
  const row = (id) => desktop.locator(`tr[data-request-id="${id}"]`);
  for (const id of [sent.plain, sent.fallback, sent.hit]) await row(id).waitFor({ timeout: ARRIVAL_MS });
  await assertRow(row(sent.plain), ['200', 'demo', 'demo/echo']);
  await assertRow(row(sent.fallback), ['200', 'demo-fallback', 'demo/echo', '2 attempts']);
  await assertRow(row(sent.hit), ['200', 'demo-cached', 'hit']);
  await shot(desktop, 'logs-desktop');

  // Filters narrow the table: cache hits only.
  await desktop.getByLabel('Cache').selectOption('hit');
  await waitFor(async () => (await row(sent.plain).count()) === 0 && (await row(sent.hit).count()) === 1, { what: 'only cache hits listed' });
  assert.ok(!(await desktop.locator('tbody').textContent()).includes('miss'));
  await desktop.getByRole('button', { name: 'Clear' }).click();
  await row(sent.plain).waitFor();

  // The fallback's detail: the failed primary, then the echo that answered.
  await row(sent.fallback).locator('td').first().click();
  await desktop.waitForURL(`${GATEWAY}/logs/${sent.fallback}`);
  const attempts = desktop.locator('li.attempt');
  await attempts.first().waitFor();
  assert.equal(await attempts.count(), 2);
  const first = attempts.nth(0);
  assert.equal(await first.locator('.attempt-target').textContent(), 'demo/fail-503');
  // Failed over to the next target (or skipped, if another test opened its circuit).
  const firstOutcome = await first.getAttribute('data-outcome');
  assert.ok(['fallback', 'failed', 'skipped'].includes(firstOutcome), firstOutcome);
  if (firstOutcome !== 'skipped') assert.match(await first.textContent(), /HTTP 503/);
  assert.equal(await attempts.nth(1).locator('.attempt-target').textContent(), 'demo/echo');
  assert.equal(await attempts.nth(1).getAttribute('data-outcome'), 'ok');
  assert.ok((await first.locator('.attempt-bar').boundingBox()).width > 0, 'the attempt is drawn as a bar');
  assert.equal(await fact(desktop, 'Route').textContent(), 'demo-fallback');
  assert.match(await fact(desktop, 'Cost').textContent(), /^\$/);
  await shot(desktop, 'log-detail-desktop');

  // Back to the list with the browser's Back button.
  await desktop.goBack();
  await desktop.getByRole('heading', { name: 'Logs' }).waitFor();
  await row(sent.fallback).waitFor();

  // A complexity-routed request shows its tier and why.
  const tiered = await chat({ model: 'demo-auto', messages: [{ role: 'user', content: `${tag}: prove it step by step` }] });
  assert.equal(tiered.headers.get('x-edgeway-tier'), 'large');
  const tieredId = tiered.headers.get('x-request-id');
  // Opened once stored, as from the list (a record not stored yet is a 404).
  await waitFor(async () => (await (await admin(`logs?q=${tieredId}`)).json()).data.length === 1, { what: 'the tiered request stored', timeoutMs: ARRIVAL_MS });
  await visit(desktop, `/logs/${tieredId}`);
  const tier = fact(desktop, 'Tier');
  await tier.waitFor({ timeout: ARRIVAL_MS });
  assert.match(await tier.textContent(), /^large — score \d+: .*"step by step" \+25/);

  // A guarded request shows what its guardrails did, never what they matched.
  const guarded = await chat({ model: 'demo-guarded', messages: [{ role: 'user', content: 'mail ada@example.com the key sk-proj-Zq3xT9vLm2Wp8Rk4Jd6Hs1Fg' }] });
  assert.equal(guarded.status, 200);
  const guardedId = guarded.headers.get('x-request-id');
  await waitFor(async () => (await (await admin(`logs?q=${guardedId}`)).json()).data.length === 1, { what: 'the guarded request stored', timeoutMs: ARRIVAL_MS });
  await visit(desktop, `/logs/${guardedId}`);
  const panel = desktop.locator('section.panel', { has: desktop.locator('h2', { hasText: 'Guardrails' }) });
  await panel.waitFor({ timeout: ARRIVAL_MS });
  const text = await panel.textContent();
  assert.match(text, /input · email \(email\): flagged/);
  assert.match(text, /input · secrets \(openai_key\): redacted/);
  assert.ok(!text.includes('Zq3xT9') && !text.includes('ada@'), 'the matched text is never shown');
  await shot(desktop, 'log-detail-guardrails-desktop');
  assertCleanConsole(desktop, 'Logs');
});

test('Logs pages back with Load more; a record shows its bodies, metadata and warnings; an empty search says so', async () => {
  // 60 requests of a route of their own, stored as the gateway stores them
  // (test mode's seeding goes through the queue consumer's insert).
  const route = `seeded-${Date.now()}`;
  const now = Date.now();
  const records = Array.from({ length: 60 }, (_, i) => ({
    event: 'request', request_id: `req_seed${String(i).padStart(3, '0')}${now}`, time_ms: now - 60_000 + i * 100,
    method: 'POST', path: '/v1/chat/completions', key_id: 'dev', route, provider: 'demo', model: 'echo',
    status: i % 10 === 0 ? 503 : 200, error_code: i % 10 === 0 ? 'upstream_error' : undefined, outcome: i % 10 === 0 ? 'error' : 'ok',
    stream: false, attempts: [{ target: 'demo/echo', outcome: i % 10 === 0 ? 'failed' : 'ok', latency_ms: 5 }], latency_ms: 7 + i,
    tokens_in: 10, tokens_out: 5, cost_usd: 0.00002,
  }));
  const newest = records.at(-1);
  Object.assign(newest, {
    prompt: JSON.stringify([{ role: 'user', content: 'what is <b>edgeway</b>?' }]), answer: 'An LLM gateway at the edge.',
    metadata: { team: 'dashboard' }, warnings: ['`logprobs` is not supported by this target and was dropped'],
  });
  const seeded = await admin('test/logs', { method: 'POST', body: { records } });
  assert.equal(seeded.status, 201, await seeded.text());

  await visit(desktop, `/logs?route=${route}`);
  const rows = desktop.locator('tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 50);
  assert.equal(await rows.first().getAttribute('data-request-id'), newest.request_id);
  await desktop.getByRole('button', { name: 'Load more' }).click();
  await waitFor(async () => (await rows.count()) === 60, { what: 'the second page' });
  assert.equal(await desktop.getByRole('button', { name: 'Load more' }).isVisible(), false, 'there is no third page');

  // Only the failures.
  await desktop.getByLabel('Status').selectOption('5xx');
  const statuses = () => desktop.locator('tbody tr td:nth-child(2) .badge').allTextContents();
  await waitFor(async () => (await statuses()).join() === '503,503,503,503,503,503', { what: 'the six 5xx rows only' });

  // The stored bodies, shown as text (the markup in the prompt stays text).
  await visit(desktop, `/logs/${newest.request_id}`);
  await desktop.getByRole('heading', { name: 'Prompt' }).waitFor();
  assert.match(await desktop.locator('section', { hasText: 'Prompt' }).locator('pre').textContent(), /what is <b>edgeway<\/b>\?/);
  assert.equal(await desktop.locator('section', { hasText: 'Answer' }).locator('pre').textContent(), 'An LLM gateway at the edge.');
  assert.match(await desktop.locator('section', { hasText: 'Metadata' }).textContent(), /"team": "dashboard"/);
  assert.match(await desktop.locator('section', { hasText: 'Warnings' }).textContent(), /logprobs/);
  await shot(desktop, 'log-detail-bodies-desktop');

  await visit(desktop, `/logs?route=${route}-nothing`);
  await desktop.getByText('No requests match these filters in this range yet.').waitFor();
  assertCleanConsole(desktop, 'Logs paging');
});

test('the Overview shows the totals and draws its charts', async () => {
  await visit(desktop, '/');
  const requests = desktop.locator('.stat', { hasText: 'Requests' }).locator('.stat-value');
  await requests.waitFor({ timeout: ARRIVAL_MS });
  assert.ok(Number((await requests.textContent()).replace(/,/g, '')) >= 4, await requests.textContent());
  const cost = desktop.locator('.stat', { hasText: 'Cost' }).locator('.stat-value');
  assert.match(await cost.textContent(), /^\$0\.0*[1-9]/, 'the demo routes have a price');
  const hitRate = desktop.locator('.stat', { hasText: 'Cache hit rate' }).locator('.stat-value');
  assert.match(await hitRate.textContent(), /^[1-9]\d*(\.\d)?%$/, 'one of the cached pair was a hit');

  await assertChartsDrawn(desktop);
  await shot(desktop, 'overview-desktop');

  // Grouped by route: a line per route, named in the legend — the busiest
  // eight when more routes had traffic (as in a full test run), so the
  // busiest route, asked of the API, must be there.
  const hour = Date.now() - 3_600_000;
  const grouped = await (await admin(`stats?from=${hour}&group_by=route`)).json();
  const perRoute = new Map();
  for (const p of grouped.points) perRoute.set(p.group, (perRoute.get(p.group) ?? 0) + p.requests);
  // Other tests' traffic may reorder the busiest few meanwhile: any of the
  // three busiest will do.
  const busiest = [...perRoute.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([route]) => route);
  await desktop.getByLabel('Group by').selectOption('route');
  await desktop.locator('.chart .u-legend', { hasText: new RegExp(busiest.map((r) => `\\b${r}\\b`).join('|')) }).first().waitFor();
  if (perRoute.size > 8) await desktop.getByText(/more are not drawn/).waitFor();
  assert.match(desktop.url(), /group=route/);
  await assertChartsDrawn(desktop);
  await shot(desktop, 'overview-grouped-desktop');
  assertCleanConsole(desktop, 'Overview');
});

test('a key is created with its secret shown once, edited, and revoked', async () => {
  await visit(desktop, '/keys');
  await desktop.getByRole('heading', { name: 'Keys' }).waitFor();
  const name = `dashboard key ${Date.now()}`;
  await desktop.getByRole('button', { name: 'New key' }).click();
  const form = desktop.getByRole('form', { name: 'New key' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Routes').fill('demo, demo-cached');
  await form.getByLabel('Requests').fill('30');
  await form.getByLabel('Daily budget (USD)').fill('5');
  await form.getByRole('button', { name: 'Create key' }).click();

  const secret = desktop.locator('.secret');
  await secret.waitFor();
  assert.match(await secret.textContent(), /only time it is shown/);
  const key = await secret.getByLabel('Secret key').inputValue();
  assert.match(key, /^ew_sk_[0-9a-f]{16}_/);
  const id = `key_${key.slice(6, 22)}`;
  const row = desktop.locator(`tr[data-key-id="${id}"]`);
  await row.waitFor();
  await assertRow(row, [name, 'server', 'demo, demo-cached', '30 req / 1 min', '$5/day', 'active']);
  // Its usage against its limits.
  await row.locator('td.usage', { hasText: 'req last min' }).waitFor();
  await shot(desktop, 'keys-created-desktop');

  // Dismissed, the secret is gone from the page for good.
  await desktop.getByRole('button', { name: 'I have copied it' }).click();
  await secret.waitFor({ state: 'detached' });
  assert.ok(!(await desktop.content()).includes(key), 'the key is still in the page');
  await desktop.reload();
  await row.waitFor();
  assert.ok(!(await desktop.content()).includes(key), 'the key came back');

  // Edit: a token limit added; the routes and the rest kept.
  await row.getByRole('button', { name: 'Edit' }).click();
  const edit = desktop.getByRole('form', { name: `Edit ${name}` });
  assert.equal(await edit.getByLabel('Requests').inputValue(), '30');
  await edit.getByLabel('Tokens per minute').fill('5000');
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await row.locator('td', { hasText: '5,000 tokens/min' }).waitFor();
  const saved = await (await admin(`keys/${id}`)).json();
  assert.equal(saved.limits.tokens_per_minute, 5000);
  assert.deepEqual(saved.routes, ['demo', 'demo-cached']);
  assert.equal(saved.limits.requests.limit, 30);

  // Revoke, after a confirmation.
  desktop.once('dialog', (dialog) => dialog.accept());
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.locator('.badge', { hasText: 'revoked' }).waitFor();
  assert.equal((await (await admin(`keys/${id}`)).json()).revoked, true);
  const refused = await fetch(`${GATEWAY}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(ask('demo', 'still there?')),
  });
  assert.equal(refused.status, 401);
  await refused.body?.cancel();
  await shot(desktop, 'keys-desktop');

  // The audit log tells the story.
  await desktop.getByRole('link', { name: 'Audit' }).click();
  await desktop.getByRole('heading', { name: 'Audit' }).waitFor();
  for (const action of ['Key created', 'Key updated', 'Key revoked']) {
    await desktop.locator('tr', { hasText: id }).filter({ hasText: action }).first().waitFor();
  }
  await shot(desktop, 'audit-desktop');
  assertCleanConsole(desktop, 'Keys and Audit');
});

test('the Playground streams an answer with the edgeway package, and stops one', async () => {
  await visit(desktop, '/playground');
  const route = desktop.getByLabel('Route');
  await desktop.locator('select[name="route"]:enabled').waitFor();
  assert.equal(await route.inputValue(), 'demo');

  const prompt = `streamed in the playground ${Date.now()}`;
  await desktop.getByLabel('Prompt').fill(prompt);
  // Every change to the answer: a stream shows up in steps.
  await desktop.evaluate(() => {
    const answer = document.querySelector('.answer');
    window.growth = [];
    new MutationObserver(() => window.growth.push(answer.textContent.length)).observe(answer, { childList: true, characterData: true, subtree: true });
  });
  await desktop.getByRole('button', { name: 'Send' }).click();
  await desktop.locator('.play-status[data-state="done"]').waitFor({ timeout: ARRIVAL_MS });
  assert.equal(await desktop.locator('.answer').textContent(), `You said: ${prompt}`);
  const growth = await desktop.evaluate(() => window.growth);
  assert.ok(new Set(growth).size >= 4, `the answer grew in too few steps: ${growth}`);
  assert.equal(await fact(desktop, 'Provider').textContent(), 'demo');
  assert.equal(await fact(desktop, 'Model').textContent(), 'echo');
  assert.match(await fact(desktop, 'Cache').textContent(), /^[A-Z]+$/, 'the cache status the gateway sent');
  assert.match(await fact(desktop, 'Latency').textContent(), /^\d+ ms$/);
  assert.match(await fact(desktop, 'Time to first token').textContent(), /^\d+ ms$/);
  assert.match(await fact(desktop, 'Tokens').textContent(), /^\d+ in · \d+ out$/);
  // The cost comes from the log record, shortly after.
  await waitFor(async () => /^\$/.test(await fact(desktop, 'Cost').textContent()), { what: 'the playground cost', timeoutMs: ARRIVAL_MS });
  await fact(desktop, 'Request id').locator('a').waitFor();
  await shot(desktop, 'playground-desktop');

  // Asked twice on a cached route, the second answer comes from the cache.
  const send = async (routeName, text) => {
    await route.selectOption(routeName);
    await desktop.getByLabel('Prompt').fill(text);
    await desktop.getByRole('button', { name: 'Send' }).click();
    await desktop.locator('.play-status[data-state="streaming"]').waitFor({ state: 'detached' });
    return fact(desktop, 'Request id').textContent();
  };
  const cachedPrompt = `cached in the playground ${Date.now()}`;
  const firstId = await send('demo-cached', cachedPrompt);
  assert.equal(await desktop.locator('.play-status').getAttribute('data-state'), 'done');
  assert.equal(await fact(desktop, 'Cache').textContent(), 'MISS');
  assert.equal((await cacheWrite(firstId)).stored, true);
  await send('demo-cached', cachedPrompt);
  assert.equal(await desktop.locator('.answer').textContent(), `You said: ${cachedPrompt}`);
  assert.equal(await fact(desktop, 'Cache').textContent(), 'HIT');

  // A long story, stopped halfway: the gateway sees the caller leave, and
  // the answer stops growing.
  await route.selectOption('demo-story');
  await desktop.getByLabel('Prompt').fill('tell me the story');
  await desktop.getByRole('button', { name: 'Send' }).click();
  await waitFor(async () => (await desktop.locator('.answer').textContent()).length > 20, { what: 'the story to start' });
  await desktop.getByRole('button', { name: 'Stop' }).click();
  await desktop.locator('.play-status[data-state="stopped"]').waitFor();
  const stoppedAt = (await desktop.locator('.answer').textContent()).length;
  const storyId = await fact(desktop, 'Request id').textContent();
  const record = await waitFor(async () => {
    const res = await admin(`logs/${storyId}`);
    return res.status === 200 && (await res.json()).record;
  }, { what: `the log record of ${storyId}`, timeoutMs: ARRIVAL_MS });
  assert.equal(record.outcome, 'client_closed');
  assert.equal((await desktop.locator('.answer').textContent()).length, stoppedAt);
  assert.ok(await desktop.getByRole('button', { name: 'Send' }).isEnabled());
  assertCleanConsole(desktop, 'Playground');
});

test('Evals lists runs, shows each case of a run against its baseline, and compares two routes side by side', async () => {
  // Two runs of one set on two routes, stored as the runner stores them.
  const set = `dashboard-${Date.now()}`;
  const longAnswer = `You said: ${'a long answer '.repeat(12)}`.trim();
  const kase = (id, passed, baseline_passed, extra = {}) => ({
    id, passed, baseline_passed, latency_ms: 40 + id.length, tokens_in: 12, tokens_out: 8, cost_usd: 0.000028, answer: `You said: ${id}`,
    failed_checks: passed ? [] : [{ check: 'must_contain', reason: `missing "${id}-word"` }], ...extra,
  });
  const seed = async (route, cases, more) => {
    const passedCount = cases.filter((c) => c.passed).length;
    const body = {
      set, route, score: passedCount / cases.length, threshold: 0.9, passed: false, baseline_score: 0.75,
      p50_ms: 42, p95_ms: 44, tokens_in: 48, tokens_out: 32, cost_usd: 0.000112, cases, ...more,
    };
    const res = await admin('evals/runs', { method: 'POST', body });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()).id;
  };
  const a = await seed('demo', [
    kase('steady', true, true, { answer: longAnswer }),
    kase('regressed', false, true),
    kase('fixed', true, false),
    kase('only-a', true, true),
  ]);
  const b = await seed('demo-story', [
    kase('steady', true, true),
    kase('regressed', true, true),
    kase('fixed', true, false),
    kase('only-a', false, true),
  ], { p50_ms: 180, p95_ms: 240, cost_usd: 0.00049, threshold: 0.7, passed: true });
  sent.evalA = a;
  sent.evalB = b;

  // The list, filtered to this set: newest first, scores against the threshold.
  await visit(desktop, '/');
  await desktop.getByRole('link', { name: 'Evals' }).click();
  await desktop.getByRole('heading', { name: 'Evals' }).waitFor();
  await desktop.getByLabel('Set').fill(set);
  await desktop.getByRole('button', { name: 'Search' }).click();
  const row = (id) => desktop.locator(`tr[data-run-id="${id}"]`);
  await row(a).waitFor();
  await waitFor(async () => (await desktop.locator('table.evals tbody tr').count()) === 2, { what: 'the two seeded runs only' });
  assert.equal(await desktop.locator('table.evals tbody tr').first().getAttribute('data-run-id'), b, 'newest first');
  await assertRow(row(a), [set, 'demo', '75% (3/4)', '≥ 90%', 'failed', '42 ms', '48 → 32']);
  await assertRow(row(b), ['demo-story', '75% (3/4)', '≥ 70%', 'passed', '180 ms', '240 ms']);
  assert.match(desktop.url(), /\/evals\?set=dashboard-/);
  await shot(desktop, 'evals-desktop');

  // A run: each case against the baseline.
  await row(a).locator('td').nth(1).click();
  await desktop.waitForURL(`${GATEWAY}/evals/${a}`);
  await desktop.getByRole('heading', { name: `${set} on demo` }).waitFor();
  assert.equal(await fact(desktop, 'Score').textContent(), '75% (3/4)');
  assert.equal(await fact(desktop, 'Gate').textContent(), 'failed');
  assert.equal(await fact(desktop, 'Against the baseline').textContent(), '1 newly failing, 1 newly passing');
  const caseRow = (id) => desktop.locator(`table.eval-cases tr[data-case-id="${id}"]`);
  assert.equal(await caseRow('regressed').getAttribute('data-change'), 'newly failing');
  assert.equal(await caseRow('fixed').getAttribute('data-change'), 'newly passing');
  assert.equal(await caseRow('steady').getAttribute('data-change'), 'unchanged');
  await assertRow(caseRow('regressed'), ['fail', 'must_contain missing "regressed-word"', 'You said: regressed']);
  // A long answer opens on a click.
  const details = caseRow('steady').locator('details');
  await details.locator('summary').click();
  assert.equal(await details.locator('pre').textContent(), longAnswer);
  await shot(desktop, 'eval-run-desktop');
  await desktop.getByLabel('Show').selectOption('changed');
  await waitFor(async () => (await desktop.locator('table.eval-cases tbody tr').count()) === 2, { what: 'the changed cases only' });
  await desktop.getByLabel('Show').selectOption('failing');
  await waitFor(async () => (await desktop.locator('table.eval-cases tbody tr[data-case-id]').count()) === 1, { what: 'the failing case only' });
  assert.equal(await desktop.locator('table.eval-cases tbody tr').first().getAttribute('data-case-id'), 'regressed');

  // Two runs ticked in the list, compared side by side.
  await desktop.goBack();
  await row(a).waitFor();
  await row(a).getByRole('checkbox').check();
  await row(b).getByRole('checkbox').check();
  await desktop.getByRole('button', { name: 'Compare selected' }).click();
  await desktop.waitForURL(`${GATEWAY}/evals/compare?a=${a}&b=${b}`);
  const metric = (name) => desktop.locator(`table.compare-summary tr[data-metric="${name}"]`);
  await metric('Score').waitFor();
  await assertRow(metric('Route'), ['demo', 'demo-story']);
  await assertRow(metric('Score'), ['75% (3/4)', 'same']);
  await assertRow(metric('Latency p50'), ['42 ms', '180 ms', '+138 ms']);
  await assertRow(metric('Cost'), ['$0.000112', '$0.00049', '+$0.000378']);
  const verdict = (id) => desktop.locator(`table.compare-cases tr[data-case-id="${id}"]`).getAttribute('data-verdict');
  assert.equal(await verdict('regressed'), 'only B passes');
  assert.equal(await verdict('only-a'), 'only A passes');
  assert.equal(await verdict('steady'), 'both pass');
  assert.equal(await desktop.locator('.compare-verdict').textContent(), 'B (demo-story) alone passes 1 case; A (demo) alone passes 1 case.');
  await shot(desktop, 'eval-compare-desktop');

  // Another pair, chosen on the page itself.
  await desktop.getByLabel('Run B').selectOption(a);
  await waitFor(async () => (await verdict('regressed')) === 'both fail', { what: 'the run compared with itself' });
  assert.match(desktop.url(), new RegExp(`a=${a}&b=${a}`));

  await visit(desktop, '/evals/run_nothing');
  await desktop.getByText('No eval run with this id is stored.').waitFor();
  // Chromium logs the refused call (404) as an error: the one expected line.
  const seen = problems.get(desktop);
  assert.ok(seen.length === 1 && /status of 404/.test(seen[0].text), JSON.stringify(seen));
  seen.length = 0;
  assertCleanConsole(desktop, 'Evals');
});

test('every page works in a 375 px wide window: the menu collapses, tables scroll, forms stack', async () => {
  const phone = await newPage(PHONE, { isMobile: true, hasTouch: true });
  await signIn(phone);
  const pages = [
    ['/', 'overview', () => phone.locator('.chart canvas').first().waitFor()],
    ['/logs', 'logs', () => phone.locator(`tr[data-request-id="${sent.plain}"]`).waitFor()],
    [`/logs/${sent.fallback}`, 'log-detail', () => phone.locator('li.attempt').first().waitFor()],
    ['/keys', 'keys', () => phone.locator('table.keys').waitFor()],
    ['/audit', 'audit', () => phone.locator('table.audit').waitFor()],
    ['/playground', 'playground', () => phone.locator('select[name="route"]:enabled').waitFor()],
    ['/evals', 'evals', () => phone.locator(`tr[data-run-id="${sent.evalA}"]`).waitFor()],
    [`/evals/${sent.evalA}`, 'eval-run', () => phone.locator('table.eval-cases tr[data-case-id]').first().waitFor()],
    [`/evals/compare?a=${sent.evalA}&b=${sent.evalB}`, 'eval-compare', () => phone.locator('table.compare-cases tr[data-case-id]').first().waitFor()],
  ];
  for (const [path, name, ready] of pages) {
    await visit(phone, path);
    await ready();
    // Nothing wider than the screen but the tables' own scrolling boxes.
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= PHONE.width, `${path} is ${overflow} px wide`);
    // The menu is behind its button.
    assert.equal(await phone.getByRole('link', { name: 'Keys' }).isVisible(), false, `${path}: the menu is open`);
    await shot(phone, `${name}-mobile`);
    assertCleanConsole(phone, `${path} at 375 px`);
  }

  // The logs table scrolls inside its box.
  await visit(phone, '/logs');
  const box = phone.locator('.table-scroll');
  await box.locator('tbody tr').first().waitFor();
  assert.ok(await box.evaluate((el) => el.scrollWidth > el.clientWidth), 'the table should scroll sideways');

  // The menu opens and navigates.
  await phone.getByRole('button', { name: 'Menu' }).click();
  await phone.getByRole('link', { name: 'Keys' }).click();
  await phone.getByRole('heading', { name: 'Keys' }).waitFor();
  assert.equal(await phone.getByRole('link', { name: 'Logs' }).isVisible(), false, 'the menu closes after a choice');

  // The key form stacks: its fields share one column.
  await phone.getByRole('button', { name: 'New key' }).click();
  const form = phone.getByRole('form', { name: 'New key' });
  const [name, routes] = await Promise.all([form.getByLabel('Name').boundingBox(), form.getByLabel('Routes').boundingBox()]);
  assert.equal(Math.round(name.x), Math.round(routes.x));
  assert.ok(routes.y > name.y);
  await shot(phone, 'keys-form-mobile');

  // Log out: back to the sign-in form.
  await phone.getByRole('button', { name: 'Menu' }).click();
  await phone.getByRole('button', { name: 'Log out' }).click();
  await phone.getByLabel('Admin token').waitFor();
  assertCleanConsole(phone, 'the phone session');
});

async function assertRow(row, texts) {
  const text = await row.textContent();
  for (const expected of texts) assert.ok(text.includes(expected), `row "${text}" lacks "${expected}"`);
}

async function assertChartsDrawn(page) {
  const canvases = page.locator('.chart canvas');
  await canvases.first().waitFor();
  assert.equal(await canvases.count(), 6, 'six charts');
  for (const canvas of await canvases.all()) {
    const size = await canvas.boundingBox();
    assert.ok(size.width > 100 && size.height > 100, JSON.stringify(size));
  }
}
