// The checks a golden case makes on its answer. Each failed check becomes
// `{check, reason}`, the reason short enough for a table cell; a case
// passes when none failed.

import Ajv from 'ajv';

const ajv = new Ajv({ allErrors: false, strict: false });

/** A JSON schema compiled once, when the set is read. */
export function compileSchema(schema) {
  return ajv.compile(schema);
}

/** Quoted and cut for a table cell. */
function quote(text, max = 40) {
  const flat = String(text).replace(/\s+/g, ' ');
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max - 1)}…` : flat);
}

const list = (v) => (Array.isArray(v) ? v : [v]);

/**
 * The JSON in an answer: the whole answer, else its first fenced block
 * (```json … ```), else the span from the first `{` or `[` to the last
 * matching `}` or `]` — models (and the demo's echo) wrap JSON in prose.
 * Returns `{ value }`, or null when there is none.
 */
export function extractJson(answer) {
  const attempt = (text) => {
    try { return { value: JSON.parse(text) }; } catch { return null; }
  };
  const whole = attempt(answer.trim());
  if (whole) return whole;
  const fence = /```(?:json)?[ \t]*\n?([\s\S]*?)```/i.exec(answer);
  const fenced = fence && attempt(fence[1].trim());
  if (fenced) return fenced;
  const starts = ['{', '['].map((open) => [open, answer.indexOf(open)]).filter(([, at]) => at >= 0).sort((a, b) => a[1] - b[1]);
  for (const [open, at] of starts) {
    const end = answer.lastIndexOf(open === '{' ? '}' : ']');
    const span = end > at && attempt(answer.slice(at, end + 1));
    if (span) return span;
  }
  return null;
}

/**
 * Runs a case's checks on its outcome (`{ answer, latency_ms, cost_usd }`),
 * with the judge's score when the case has a judge check (`judged`:
 * `{ score }` or `{ error }`). Returns the failed checks.
 */
export function runChecks(testCase, outcome, judged) {
  const { checks } = testCase;
  const answer = outcome.answer ?? '';
  const lower = answer.toLowerCase();
  const failed = [];
  const fail = (check, reason) => failed.push({ check, reason });

  if (checks.must_contain !== undefined) {
    const missing = list(checks.must_contain).filter((s) => !lower.includes(s.toLowerCase()));
    if (missing.length) fail('must_contain', `missing ${missing.map((s) => quote(s)).join(', ')}`);
  }
  if (checks.must_not_contain !== undefined) {
    const present = list(checks.must_not_contain).filter((s) => lower.includes(s.toLowerCase()));
    if (present.length) fail('must_not_contain', `contains ${present.map((s) => quote(s)).join(', ')}`);
  }
  if (checks.regex !== undefined && !new RegExp(checks.regex, checks.regex_flags ?? '').test(answer)) {
    fail('regex', `no match for /${checks.regex}/${checks.regex_flags ?? ''}`);
  }
  if (checks.exact !== undefined && answer.trim() !== checks.exact.trim()) {
    fail('exact', `expected ${quote(checks.exact)}, got ${quote(answer)}`);
  }
  if (testCase.schema) {
    const found = extractJson(answer);
    if (!found) fail('json_schema', 'the answer holds no JSON');
    else if (!testCase.schema(found.value)) fail('json_schema', ajv.errorsText(testCase.schema.errors, { dataVar: 'answer' }));
  }
  if (checks.max_latency_ms !== undefined && outcome.latency_ms > checks.max_latency_ms) {
    fail('max_latency_ms', `${Math.round(outcome.latency_ms)} ms > ${checks.max_latency_ms} ms`);
  }
  if (checks.max_cost_usd !== undefined) {
    if (outcome.cost_usd === null || outcome.cost_usd === undefined) fail('max_cost_usd', 'the gateway reported no cost');
    else if (outcome.cost_usd > checks.max_cost_usd) fail('max_cost_usd', `$${outcome.cost_usd} > $${checks.max_cost_usd}`);
  }
  if (checks.judge !== undefined) {
    const min = checks.judge.min_score ?? 4;
    if (!judged || judged.error) fail('judge', judged?.error ?? 'not judged');
    else if (judged.score < min) fail('judge', `score ${judged.score} < ${min}`);
  }
  return failed;
}
