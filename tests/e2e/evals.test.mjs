// Evals end to end: the runner (evals/run.mjs) sends the shipped golden
// sets through the test gateway and gates on them — the demo set passes,
// the regression set fails against its committed baseline — and stores
// each run through the admin API, where the runs list, a run's cases and
// golden sets uploaded to the gateway (then run with `--set gateway:`)
// come back. Bad runs, sets and set files are refused with a clear reason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../harness/processes.mjs';
import { ADMIN_TOKEN, GATEWAY, GATEWAY_KEY, admin, expectError } from './helpers.mjs';

/** Runs the runner against the test gateway, keys passed as a CI job would. */
function runEval(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, ['evals/run.mjs', ...args, '--url', GATEWAY], {
      cwd: repoRoot,
      env: { ...process.env, EDGEWAY_KEY: GATEWAY_KEY, EDGEWAY_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      timeout: 120_000,
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr, output: `${stdout}\n${stderr}` }));
  });
}

/** The id of the run the runner stored, from its `stored` line. */
function storedId(stdout) {
  const match = /^stored\s+run (run_[0-9a-f]{32}): http:\/\/127\.0\.0\.1:\d+\/evals\/run_/m.exec(stdout);
  assert.ok(match, `no stored run in:\n${stdout}`);
  return match[1];
}

async function getJson(path) {
  const res = await admin(path);
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return res.json();
}

/** A set file in a temporary directory; removed by the returned function. */
function setFile(lines) {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-evals-'));
  const file = join(dir, 'set.jsonl');
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const echoCase = (id, text, checks) => ({ id, messages: [{ role: 'user', content: text }], params: { temperature: 0 }, checks });

let demoRun;
let regressRun;

test('the demo set passes its gate, every check kind and the judge included, and is stored', async () => {
  const result = await runEval(['--set', 'evals/sets/demo.jsonl', '--route', 'demo']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /^score\s+8\/8 = 100% \(threshold 90%\)$/m);
  assert.match(result.stdout, /^baseline\s+100% from evals\/sets\/demo\.demo\.baseline\.json/m);
  assert.match(result.stdout, /^regressions\s+none/m);
  assert.match(result.stdout, /^latency\s+p50 \d+ ms, p95 \d+ ms$/m);
  assert.match(result.stdout, /^tokens\s+\d+ in, \d+ out; cost \$0\.0\d+ \(\+ judge \$0\.0\d+\)$/m);
  assert.match(result.stdout, /^gate\s+PASSED$/m);
  for (const id of ['capital', 'greeting-exact', 'no-leak', 'order-number', 'city-json', 'cheap-and-fast', 'follow-up', 'summary-judged']) {
    assert.match(result.stdout, new RegExp(`^${id}\\s+PASS\\s+\\d+ ms\\s+\\d+/\\d+\\s+\\$0\\.0\\d+`, 'm'), `${id} in:\n${result.stdout}`);
  }
  demoRun = storedId(result.stdout);
});

test('the regression set fails against its baseline, naming the cases that regressed', async () => {
  const result = await runEval(['--set', 'evals/sets/demo-regress.jsonl', '--route', 'demo']);
  assert.equal(result.code, 1, result.output);
  assert.match(result.stdout, /^score\s+2\/4 = 50% \(threshold 50%\)$/m);
  assert.match(result.stdout, /^regressions\s+answers-in-french, names-the-capital \(passed in the baseline, fail now\)$/m);
  assert.match(result.stdout, /^answers-in-french\s+FAIL .*must_contain: missing "bonjour"$/m);
  assert.match(result.stdout, /^gate\s+FAILED: score 50% < baseline 100% − tolerance 5%$/m);
  regressRun = storedId(result.stdout);
});

test('stored runs are listed newest first with their scores, filtered by set, and a run has its cases', async () => {
  assert.ok(demoRun && regressRun, 'the runner tests stored their runs');
  const { runs } = await getJson('evals/runs');
  const demo = runs.find((r) => r.id === demoRun);
  const regress = runs.find((r) => r.id === regressRun);
  assert.ok(demo && regress, JSON.stringify(runs));
  assert.deepEqual(
    { set: demo.set, route: demo.route, score: demo.score, threshold: demo.threshold, passed: demo.passed, baseline_score: demo.baseline_score, cases_count: demo.cases_count, cases_passed: demo.cases_passed },
    { set: 'demo', route: 'demo', score: 1, threshold: 0.9, passed: true, baseline_score: 1, cases_count: 8, cases_passed: 8 },
  );
  assert.deepEqual(
    { set: regress.set, score: regress.score, threshold: regress.threshold, passed: regress.passed, baseline_score: regress.baseline_score, cases_passed: regress.cases_passed },
    { set: 'demo-regress', score: 0.5, threshold: 0.5, passed: false, baseline_score: 1, cases_passed: 2 },
  );
  for (const run of [demo, regress]) {
    assert.ok(run.p50_ms >= 0 && run.p95_ms >= run.p50_ms, JSON.stringify(run));
    assert.ok(run.tokens_in > 0 && run.tokens_out > 0 && run.cost_usd > 0, JSON.stringify(run));
    assert.ok(Math.abs(run.created_ms - Date.now()) < 300_000);
    assert.equal(run.cases, undefined, 'the list has summaries only');
  }
  assert.ok(runs.indexOf(regress) < runs.indexOf(demo), 'newest first');

  const filtered = await getJson('evals/runs?set=demo-regress&route=demo&limit=5');
  assert.ok(filtered.runs.length >= 1 && filtered.runs.every((r) => r.set === 'demo-regress' && r.route === 'demo'));
  assert.ok(filtered.runs.some((r) => r.id === regressRun));
  assert.deepEqual((await getJson('evals/runs?route=no-such-route')).runs, []);

  const run = await getJson(`evals/runs/${regressRun}`);
  assert.equal(run.id, regressRun);
  assert.equal(run.cases.length, 4);
  const french = run.cases.find((c) => c.id === 'answers-in-french');
  assert.equal(french.passed, false);
  assert.equal(french.baseline_passed, true);
  assert.deepEqual(french.failed_checks, [{ check: 'must_contain', reason: 'missing "bonjour"' }]);
  assert.equal(french.answer, 'You said: Say hello in French.');
  assert.ok(french.latency_ms >= 0 && french.tokens_in > 0 && french.cost_usd > 0);
  assert.match(french.request_id, /^req_/);
  const judged = (await getJson(`evals/runs/${demoRun}`)).cases.find((c) => c.id === 'summary-judged');
  assert.equal(judged.judge_score, 5);

  await expectError(await admin('evals/runs/run_nothing'), 404, 'not_found', assert);
  await expectError(await admin('evals/runs?limit=0'), 400, 'invalid_request', assert);
  await expectError(await admin('evals/runs?colour=red'), 400, 'invalid_request', assert);
  await expectError(await admin('evals/runs', { method: 'DELETE' }), 405, 'method_not_allowed', assert);
  await expectError(await admin('evals/runs', { token: 'not-the-admin-token' }), 401, 'invalid_api_key', assert);
});

test('a run that does not fit is refused, and nothing is stored', async () => {
  const good = { set: 'refused', route: 'demo', score: 1, threshold: 0.9, passed: true, cases: [{ id: 'a', passed: true }] };
  const bad = [
    { ...good, score: 1.5 },
    { ...good, set: '' },
    { ...good, passed: 'yes' },
    { ...good, p50_ms: 'fast' },
    { ...good, cases: [{ id: 'a' }] },
    { ...good, cases: 'none' },
  ];
  for (const body of bad) {
    const error = await expectError(await admin('evals/runs', { method: 'POST', body }), 400, 'invalid_request', assert);
    assert.match(error.message, /a run is \{"set", "route"/);
  }
  const notJson = await fetch(`${GATEWAY}/admin/api/evals/runs`, { method: 'POST', headers: { 'x-edgeway-admin-token': ADMIN_TOKEN }, body: '{"set":' });
  await expectError(notJson, 400, 'invalid_json', assert);
  assert.deepEqual((await getJson('evals/runs?set=refused')).runs, []);

  const created = await admin('evals/runs', { method: 'POST', body: good });
  assert.equal(created.status, 201);
  const { id } = await created.json();
  assert.match(id, /^run_[0-9a-f]{32}$/);
  assert.equal((await getJson(`evals/runs/${id}`)).cases_passed, 1);
});

test('a set uploaded to the gateway is listed, read back and run with --set gateway:<name>', async () => {
  const name = `uploaded-${Date.now()}`;
  const lines = [
    { set: { name, threshold: 1, tolerance: 0 } },
    echoCase('echo', 'Edge answers fast.', { must_contain: 'edge answers', max_latency_ms: 20000 }),
    echoCase('json', 'Here: {"ok": true}', { json_schema: { type: 'object', required: ['ok'], properties: { ok: { const: true } } } }),
  ];
  const jsonl = `${lines.map((l) => JSON.stringify(l)).join('\r\n')}\r\n\r\n`;
  const saved = await admin('evals/sets', { method: 'POST', body: { name, jsonl } });
  assert.equal(saved.status, 201, await saved.clone().text());
  assert.deepEqual(Object.keys(await saved.json()).sort(), ['cases_count', 'name', 'updated_ms']);
  const { sets } = await getJson('evals/sets');
  const listed = sets.find((s) => s.name === name);
  assert.equal(listed.cases_count, 2);
  const stored = await getJson(`evals/sets/${name}`);
  assert.equal(stored.jsonl, jsonl);
  assert.equal(stored.name, name);
  assert.equal(typeof stored.updated_ms, 'number');

  const result = await runEval(['--set', `gateway:${name}`, '--route', 'demo']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.stdout, /^score\s+2\/2 = 100% \(threshold 100%\)$/m);
  assert.match(result.stdout, /^baseline\s+none \(pass --baseline <file> to compare\)/m);
  const run = await getJson(`evals/runs/${storedId(result.stdout)}`);
  assert.equal(run.set, name);
  assert.equal(run.baseline_score, null);

  // Saving again replaces the set; the audit log says so.
  const again = await admin('evals/sets', { method: 'POST', body: { name, jsonl: jsonl.split('\r\n').slice(0, 2).join('\n') } });
  assert.equal(again.status, 201);
  assert.equal((await getJson(`evals/sets/${name}`)).cases_count, 1);
  const audit = await getJson('audit?limit=50');
  assert.ok(audit.data.some((e) => e.action === 'eval_set.saved' && e.target === name), JSON.stringify(audit.data.slice(0, 5)));

  await expectError(await admin('evals/sets/no-such-set'), 404, 'not_found', assert);
  const refuse = async (body, param, pattern) => {
    const error = await expectError(await admin('evals/sets', { method: 'POST', body }), 400, 'invalid_request', assert);
    assert.equal(error.param, param);
    assert.match(error.message, pattern);
  };
  await refuse({ name: 'Bad Name', jsonl }, 'name', /a-z, 0-9/);
  await refuse({ name: 'other-name', jsonl }, 'jsonl', /header line/);
  await refuse({ name, jsonl: `${JSON.stringify(lines[0])}\n${JSON.stringify(lines[1])}\n{"id": "broken",` }, 'jsonl', /^line 3: /);
  await refuse({ name, jsonl: JSON.stringify(lines[0]) }, 'jsonl', /at least one case/);
  await refuse({ name }, 'jsonl', /header line/);
});

test('the gate fails under the threshold; a failed store is a warning that leaves the verdict alone', async () => {
  const set = setFile([
    { set: { name: 'threshold-check', threshold: 0.75 } },
    echoCase('passes', 'hello there', { must_contain: 'hello' }),
    echoCase('fails', 'hello there', { must_not_contain: 'hello' }),
  ]);
  try {
    const failing = await runEval(['--set', set.file, '--route', 'demo', '--no-store']);
    assert.equal(failing.code, 1, failing.output);
    assert.match(failing.stdout, /^fails\s+FAIL .*must_not_contain: contains "hello"$/m);
    assert.match(failing.stdout, /^gate\s+FAILED: score 50% < threshold 75%$/m);
    assert.doesNotMatch(failing.stdout, /^stored/m);

    const unstored = await runEval(['--set', set.file, '--route', 'demo'], { EDGEWAY_ADMIN_TOKEN: 'not-the-admin-token' });
    assert.equal(unstored.code, 1, unstored.output);
    assert.match(unstored.stderr, /warning: the run was not stored in the gateway \(HTTP 401 invalid_api_key/);
    assert.match(unstored.stdout, /^gate\s+FAILED/m);

    // A route that does not exist fails every case with the gateway's error.
    const missing = await runEval(['--set', set.file, '--route', 'no-such-route', '--no-store']);
    assert.equal(missing.code, 1, missing.output);
    assert.match(missing.stdout, /^passes\s+FAIL .*request: HTTP 404 model_not_found: /m);
  } finally {
    set.remove();
  }
});

test('a set file with a mistake is refused before anything is sent, naming its line', async () => {
  const cases = [
    [[{ set: { name: 'typo', threshold: 0.9 } }, echoCase('a', 'x', { must_contian: 'x' })], /set\.jsonl:2: a: unknown check `must_contian`/],
    [[{ set: { name: 'typo', threshold: 2 } }, echoCase('a', 'x', { exact: 'x' })], /set\.jsonl:1: `set\.threshold` must be a number from 0 to 1/],
    [[{ set: { name: 'typo', threshold: 0.9 } }, echoCase('a', 'x', { judge: { rubric: 'x' } })], /set\.jsonl:2: a: a `judge` check needs the header's `judge_route`/],
    [[{ set: { name: 'typo', threshold: 0.9 } }, echoCase('a', 'x', { json_schema: { type: 'nonsense' } })], /set\.jsonl:2: a: `json_schema` does not compile/],
    [[{ set: { name: 'typo', threshold: 0.9 } }, echoCase('a', 'x', { regex: '(' })], /set\.jsonl:2: a: `regex`: Invalid regular expression/],
  ];
  for (const [lines, pattern] of cases) {
    const set = setFile(lines);
    try {
      const result = await runEval(['--set', set.file, '--route', 'demo']);
      assert.equal(result.code, 2, result.output);
      assert.match(result.stderr, pattern);
      assert.equal(result.stdout, '');
    } finally {
      set.remove();
    }
  }
  const usage = await runEval(['--route', 'demo']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--set and --route are required\nusage: node evals\/run\.mjs/);
});
