// Golden sets: JSONL, a header line then one case a line. Read here and
// checked whole before anything is sent, so a typo in a check's name fails
// the run with its line number instead of silently passing.
//
//   {"set": {"name": "demo", "threshold": 0.9, "tolerance": 0.05, "judge_route": "demo-judge"}}
//   {"id": "capital", "messages": [...], "params": {"temperature": 0}, "checks": {"must_contain": "Paris"}}

import { compileSchema } from './checks.mjs';

/** The checks a case may ask for (README.md, "Evals", says what each does). */
export const CHECK_KINDS = ['must_contain', 'must_not_contain', 'regex', 'regex_flags', 'exact', 'json_schema', 'max_latency_ms', 'max_cost_usd', 'judge'];

/** A problem in a set file, named by where it is. */
export class SetError extends Error {
  constructor(source, line, message) {
    super(line ? `${source}:${line}: ${message}` : `${source}: ${message}`);
    this.name = 'SetError';
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isShare = (v) => typeof v === 'number' && v >= 0 && v <= 1;
const isText = (v) => typeof v === 'string' && v.length > 0;
const isTexts = (v) => isText(v) || (Array.isArray(v) && v.length > 0 && v.every(isText));

/**
 * Parses a set. `source` names it in errors (a file path, or
 * `gateway:<name>`). Returns `{ name, threshold, tolerance, judgeRoute,
 * cases: [{ id, line, messages, params, checks, schema? }] }`.
 */
export function parseSet(text, source) {
  const lines = text.split('\n').map((raw, i) => ({ raw: raw.trim(), line: i + 1 })).filter((l) => l.raw);
  const fail = (line, message) => { throw new SetError(source, line, message); };
  const json = ({ raw, line }) => {
    try { return JSON.parse(raw); } catch (error) { return fail(line, `not JSON: ${error.message}`); }
  };
  if (!lines.length) fail(0, 'the set is empty');

  const [first, ...rest] = lines;
  const head = json(first);
  const header = isObject(head) ? head.set : undefined;
  if (!isObject(header)) fail(first.line, 'the first line must be the header {"set": {"name": ..., "threshold": ...}}');
  if (!isText(header.name) || !/^[a-z0-9_-]+$/.test(header.name)) fail(first.line, '`set.name` must be made of a-z, 0-9, "-" and "_"');
  if (!isShare(header.threshold)) fail(first.line, '`set.threshold` must be a number from 0 to 1 (the share of cases that must pass)');
  if (header.tolerance !== undefined && !isShare(header.tolerance)) fail(first.line, '`set.tolerance` must be a number from 0 to 1');
  if (header.judge_route !== undefined && !isText(header.judge_route)) fail(first.line, '`set.judge_route` must be a route name');
  if (!rest.length) fail(first.line, 'the set has no cases');

  const ids = new Set();
  const cases = rest.map((entry) => {
    const { line } = entry;
    const c = json(entry);
    if (!isObject(c)) fail(line, 'a case must be a JSON object');
    if (!isText(c.id)) fail(line, 'a case needs an `id`');
    if (ids.has(c.id)) fail(line, `the id "${c.id}" is used twice`);
    ids.add(c.id);
    if (!Array.isArray(c.messages) || !c.messages.length || !c.messages.every((m) => isObject(m) && isText(m.role))) {
      fail(line, `${c.id}: \`messages\` must be a non-empty array of {role, content}`);
    }
    const params = c.params ?? {};
    if (!isObject(params)) fail(line, `${c.id}: \`params\` must be an object of request fields`);
    for (const owned of ['model', 'messages']) if (owned in params) fail(line, `${c.id}: \`params.${owned}\` is set by the runner`);
    if (params.stream) fail(line, `${c.id}: streamed cases are not supported (latency is measured to the whole answer)`);
    const checks = c.checks;
    if (!isObject(checks) || !Object.keys(checks).length) fail(line, `${c.id}: \`checks\` must name at least one check`);
    const unknown = Object.keys(checks).filter((k) => !CHECK_KINDS.includes(k));
    if (unknown.length) fail(line, `${c.id}: unknown check ${unknown.map((k) => `\`${k}\``).join(', ')} (known: ${CHECK_KINDS.join(', ')})`);
    checkShapes(c.id, checks, (message) => fail(line, message), header);
    let schema;
    if (checks.json_schema !== undefined) {
      try { schema = compileSchema(checks.json_schema); } catch (error) { fail(line, `${c.id}: \`json_schema\` does not compile: ${error.message}`); }
    }
    return { id: c.id, line, messages: c.messages, params, checks, schema };
  });
  return {
    name: header.name,
    threshold: header.threshold,
    tolerance: header.tolerance ?? 0,
    judgeRoute: header.judge_route ?? null,
    cases,
  };
}

function checkShapes(id, checks, fail, header) {
  const { must_contain, must_not_contain, regex, regex_flags, exact, json_schema, max_latency_ms, max_cost_usd, judge } = checks;
  if (must_contain !== undefined && !isTexts(must_contain)) fail(`${id}: \`must_contain\` must be a string or an array of strings`);
  if (must_not_contain !== undefined && !isTexts(must_not_contain)) fail(`${id}: \`must_not_contain\` must be a string or an array of strings`);
  if (regex_flags !== undefined && regex === undefined) fail(`${id}: \`regex_flags\` needs \`regex\``);
  if (regex !== undefined) {
    if (!isText(regex)) fail(`${id}: \`regex\` must be a JS regular expression's source`);
    try { new RegExp(regex, regex_flags ?? ''); } catch (error) { fail(`${id}: \`regex\`: ${error.message}`); }
  }
  if (exact !== undefined && typeof exact !== 'string') fail(`${id}: \`exact\` must be a string`);
  if (json_schema !== undefined && !isObject(json_schema) && typeof json_schema !== 'boolean') fail(`${id}: \`json_schema\` must be a JSON schema`);
  if (max_latency_ms !== undefined && !(typeof max_latency_ms === 'number' && max_latency_ms > 0)) fail(`${id}: \`max_latency_ms\` must be a positive number`);
  if (max_cost_usd !== undefined && !(typeof max_cost_usd === 'number' && max_cost_usd >= 0)) fail(`${id}: \`max_cost_usd\` must be a number, 0 or more`);
  if (judge !== undefined) {
    if (!isObject(judge) || !isText(judge.rubric)) fail(`${id}: \`judge\` must be {"rubric": "...", "min_score": 1-5}`);
    if (judge.min_score !== undefined && !(Number.isInteger(judge.min_score) && judge.min_score >= 1 && judge.min_score <= 5)) fail(`${id}: \`judge.min_score\` must be 1 to 5`);
    if (!header.judge_route) fail(`${id}: a \`judge\` check needs the header's \`judge_route\``);
  }
}
