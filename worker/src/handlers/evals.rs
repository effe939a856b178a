//! `/admin/api/evals/*`: eval runs posted by `evals/run.mjs` and golden sets
//! kept for it, in D1 (`migrations/0003_evals.sql`).
//!
//! Every call is one SQL statement whose rows are JSON text made by D1's
//! JSON functions (inserts answer through `RETURNING`), so the worker
//! deserializes no row. Bodies are parsed by JS and checked lightly: what is
//! stored must be there, with the right types. Runs are kept as JSON text.
//! Small on purpose: serde types for these bodies and a statement per
//! handler cost the wasm about 11 KB gzipped; this shape, under 4 KB.

use edgeway_core::GatewayError;
use js_sys::{Array, Reflect, JSON};
use wasm_bindgen::JsValue;
use worker::{Env, Method};

use crate::http::body;
use crate::http::respond::Reply;
use crate::logs::{audit, d1};
use crate::http::incoming::Incoming;

/// A run's per-case results (answers cut to 2 KB each) or a set's JSONL can
/// be far larger than other admin bodies; D1 keeps up to 2 MB a row.
const MAX_EVAL_BODY: u64 = 1024 * 1024;
/// Runs listed when `limit` is not given, and at most.
const DEFAULT_RUNS: u32 = 50;
const MAX_RUNS: u32 = 500;
/// Longest set name accepted (and route, in `INSERT_RUN`).
const MAX_NAME: usize = 128;

/// A run's summary as a JSON object, from a row of `eval_runs` (closed by
/// the statement, which may add the cases).
const RUN: &str = "json_object('id', id, 'set', set_name, 'route', route, 'created_ms', created_ms, 'score', score, 'threshold', threshold, \
     'passed', json(iif(passed, 'true', 'false')), 'baseline_score', baseline_score, 'p50_ms', p50_ms, 'p95_ms', p95_ms, \
     'tokens_in', tokens_in, 'tokens_out', tokens_out, 'cost_usd', cost_usd, 'cases_count', cases_count, 'cases_passed', cases_passed";
const SET: &str = "json_object('name', name, 'cases_count', cases_count, 'updated_ms', updated_ms";

/// What a call does.
enum Call<'a> {
    ListRuns,
    CreateRun,
    Run(&'a str),
    ListSets,
    SaveSet,
    Set(&'a str),
}

/// One statement, and what to put in the audit log once it ran.
struct Statement {
    sql: String,
    values: Vec<JsValue>,
    audit: Option<(String, String)>,
}

impl Statement {
    fn new(sql: String, values: Vec<JsValue>) -> Self {
        Self { sql, values, audit: None }
    }
}

/// Handles `/admin/api/evals/<rest>`: `runs` (GET with `set`, `route`,
/// `limit`; POST), `runs/{id}`, `sets` (GET; POST `{name, jsonl}`),
/// `sets/{name}`.
pub async fn handle(request: &Incoming, env: &Env, method: &Method, path: &str, rest: &[&str], now: u64) -> Result<Reply, GatewayError> {
    let not_allowed = |allowed: &'static str| GatewayError::MethodNotAllowed { method: method.to_string(), path: path.to_owned(), allowed };
    let call = match (rest, method) {
        (["runs"], Method::Get) => Call::ListRuns,
        (["runs"], Method::Post) => Call::CreateRun,
        (["runs", id], Method::Get) => Call::Run(id),
        (["sets"], Method::Get) => Call::ListSets,
        (["sets"], Method::Post) => Call::SaveSet,
        (["sets", name], Method::Get) => Call::Set(name),
        (["runs"] | ["sets"], _) => return Err(not_allowed("GET, POST")),
        (["runs" | "sets", _], _) => return Err(not_allowed("GET")),
        _ => return Err(GatewayError::NotFound { method: method.to_string(), path: path.to_owned() }),
    };
    let body = match call {
        Call::CreateRun | Call::SaveSet => json_body(request).await?,
        _ => JsValue::UNDEFINED,
    };
    let statement = plan(&call, request, &body, now)?;
    let rows = d1::raw_rows(&d1::statement(&d1::database(env)?, &statement.sql, &statement.values)?).await?;
    let mut rows = rows.iter().filter_map(|row| Array::from(&row).get(0).as_string());
    if let Some((target, detail)) = &statement.audit {
        audit::record(env, now, "eval_set.saved", target, detail).await;
    }
    let missing = |what: &str, key: &str| GatewayError::NotFound { method: "GET".to_owned(), path: format!("/admin/api/evals/{what}s/{key} (no such {what} is stored)") };
    Ok(match call {
        Call::ListRuns => Reply::json(200, list("runs", rows)),
        Call::ListSets => Reply::json(200, list("sets", rows)),
        Call::Run(id) => Reply::json(200, rows.next().ok_or_else(|| missing("run", id))?),
        Call::Set(name) => Reply::json(200, rows.next().ok_or_else(|| missing("set", name))?),
        // An insert returns its row; a run that does not fit `INSERT_RUN`'s
        // checks is not inserted (a set's upsert always returns its row).
        Call::CreateRun | Call::SaveSet => Reply::json(201, rows.next().ok_or_else(|| invalid("", RUN_SHAPE))?),
    })
}

/// `{"<name>": [<rows>]}`.
fn list(name: &str, rows: impl Iterator<Item = String>) -> String {
    let mut out = format!(r#"{{"{name}":["#);
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&row);
    }
    out + "]}"
}

/// The statement for a call (bodies already parsed), or why it is refused.
fn plan(call: &Call, request: &Incoming, body: &JsValue, now: u64) -> Result<Statement, GatewayError> {
    Ok(match call {
        Call::ListRuns => list_runs(request)?,
        Call::CreateRun => insert_run(body, now),
        Call::Run(id) => Statement::new(format!("SELECT {RUN}, 'cases', json(cases)) FROM eval_runs WHERE id = ?1"), vec![(*id).into()]),
        Call::ListSets => Statement::new(format!("SELECT {SET}) FROM eval_sets ORDER BY name"), Vec::new()),
        Call::SaveSet => save_set(body, now)?,
        Call::Set(name) => Statement::new(format!("SELECT {SET}, 'jsonl', jsonl) FROM eval_sets WHERE name = ?1"), vec![(*name).into()]),
    })
}

/// Reads a JSON body of up to 1 MB, parsed by JS.
async fn json_body(request: &Incoming) -> Result<JsValue, GatewayError> {
    let bytes = body::read_limited(request, MAX_EVAL_BODY).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "the body is not UTF-8".to_owned());
    text.and_then(parse).map_err(|detail| GatewayError::InvalidJson { detail })
}

/// `text` parsed as JSON, or the parser's message.
fn parse(text: &str) -> Result<JsValue, String> {
    JSON::parse(text).map_err(|e| Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_default())
}

/// A field of a parsed object (`undefined` when absent or not an object).
fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn invalid(param: &str, message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest { param: param.to_owned(), message: message.into() }
}

/// `GET /admin/api/evals/runs?set=&route=&limit=`: summaries, newest first.
fn list_runs(request: &Incoming) -> Result<Statement, GatewayError> {
    let (mut set, mut route, mut limit) = (JsValue::NULL, JsValue::NULL, DEFAULT_RUNS);
    for (name, value) in edgeway_core::query_string::pairs(&request.raw().url()) {
        match name.as_str() {
            "set" if !value.is_empty() => set = value.into(),
            "route" if !value.is_empty() => route = value.into(),
            "set" | "route" => {}
            "limit" => limit = value.parse().ok().filter(|n| (1..=MAX_RUNS).contains(n)).ok_or_else(|| invalid("limit", format!("`limit` is 1 to {MAX_RUNS}")))?,
            _ => return Err(invalid(&name, format!("unknown query parameter `{name}`"))),
        }
    }
    let sql = format!("SELECT {RUN}) FROM eval_runs WHERE (?1 IS NULL OR set_name = ?1) AND (?2 IS NULL OR route = ?2) ORDER BY created_ms DESC, id DESC LIMIT ?3");
    Ok(Statement::new(sql, vec![set, route, limit.into()]))
}

/// `POST /admin/api/evals/runs` → 201 `{"id"}`: the body as the runner
/// posts it, stored by one statement that also checks it — if it does not
/// fit, nothing is inserted and the caller gets a 400 saying what fits.
fn insert_run(run: &JsValue, now: u64) -> Statement {
    // A request id's 128 random bits, named as a run's.
    let request_id = edgeway_core::ids::request_id(crate::runtime::random_bytes());
    let id = format!("run_{}", request_id.get(4..).unwrap_or_default());
    let text = JSON::stringify(run).map(JsValue::from).unwrap_or(JsValue::NULL);
    Statement::new(INSERT_RUN.to_owned(), vec![id.into(), JsValue::from_f64(now as f64), text])
}

/// What `INSERT_RUN` accepts, for the 400 when a run does not fit.
const RUN_SHAPE: &str = "a run is {\"set\", \"route\" (1 to 128 characters), \"score\", \"threshold\" (0 to 1), \"passed\" (boolean), \
     \"cases\": [{\"id\" (string), \"passed\" (boolean), ...}], and optional numbers \"baseline_score\", \"p50_ms\", \"p95_ms\", \
     \"tokens_in\", \"tokens_out\", \"cost_usd\"}";

/// Inserts a run (`?1` id, `?2` now, `?3` the posted JSON) if it fits
/// `RUN_SHAPE`, and returns its id.
const INSERT_RUN: &str = "INSERT INTO eval_runs (id, created_ms, set_name, route, score, threshold, passed, baseline_score, p50_ms, p95_ms, \
     tokens_in, tokens_out, cost_usd, cases_count, cases_passed, cases) \
     SELECT ?1, ?2, json_extract(b, '$.set'), json_extract(b, '$.route'), json_extract(b, '$.score'), json_extract(b, '$.threshold'), \
     json_extract(b, '$.passed'), json_extract(b, '$.baseline_score'), json_extract(b, '$.p50_ms'), json_extract(b, '$.p95_ms'), \
     json_extract(b, '$.tokens_in'), json_extract(b, '$.tokens_out'), json_extract(b, '$.cost_usd'), json_array_length(b, '$.cases'), \
     (SELECT count(*) FROM json_each(b, '$.cases') WHERE json_type(value, '$.passed') = 'true'), json_extract(b, '$.cases') \
     FROM (SELECT ?3 AS b) \
     WHERE json_type(b, '$.set') = 'text' AND length(json_extract(b, '$.set')) BETWEEN 1 AND 128 \
     AND json_type(b, '$.route') = 'text' AND length(json_extract(b, '$.route')) BETWEEN 1 AND 128 \
     AND json_type(b, '$.score') IN ('integer', 'real') AND json_extract(b, '$.score') BETWEEN 0 AND 1 \
     AND json_type(b, '$.threshold') IN ('integer', 'real') AND json_extract(b, '$.threshold') BETWEEN 0 AND 1 \
     AND json_type(b, '$.passed') IN ('true', 'false') \
     AND NOT EXISTS (SELECT 1 FROM json_each(b) WHERE key IN ('baseline_score', 'p50_ms', 'p95_ms', 'tokens_in', 'tokens_out', 'cost_usd') \
       AND type NOT IN ('integer', 'real', 'null')) \
     AND json_type(b, '$.cases') = 'array' \
     AND NOT EXISTS (SELECT 1 FROM json_each(b, '$.cases') WHERE json_type(value, '$.id') IS NOT 'text' \
       OR coalesce(json_type(value, '$.passed'), 'absent') NOT IN ('true', 'false')) \
     RETURNING json_object('id', id)";

/// `POST /admin/api/evals/sets` `{name, jsonl}` → 201: stores (or
/// replaces) a golden set. Its first line is the header, `{"set": {"name":
/// <name>, ...}}`; every line must be JSON. The runner checks the cases.
fn save_set(input: &JsValue, now: u64) -> Result<Statement, GatewayError> {
    let set_name = get(input, "name").as_string().unwrap_or_default();
    if !(1..=MAX_NAME).contains(&set_name.len()) || !set_name.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_')) {
        return Err(invalid("name", "`name` must be 1 to 128 of a-z, 0-9, '-' and '_'"));
    }
    let jsonl = get(input, "jsonl").as_string().unwrap_or_default();
    // Lines that are JSON (blank ones skipped; JSON takes a CRLF's `\r` as
    // whitespace), the first of them the header.
    let mut lines = 0u32;
    for (i, line) in jsonl.split('\n').enumerate() {
        if line.bytes().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let value = parse(line).map_err(|e| invalid("jsonl", format!("line {}: {e}", i + 1)))?;
        if lines == 0 && get(&get(&value, "set"), "name").as_string() != Some(set_name.clone()) {
            return Err(invalid("jsonl", "`jsonl` must start with the header line {\"set\": {\"name\": <name>, ...}}"));
        }
        lines += 1;
    }
    if lines < 2 {
        return Err(invalid("jsonl", "`jsonl` must hold the header line and at least one case"));
    }
    let cases = lines - 1;
    let sql = format!(
        "INSERT INTO eval_sets (name, jsonl, cases_count, updated_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
         jsonl = excluded.jsonl, cases_count = excluded.cases_count, updated_ms = excluded.updated_ms RETURNING {SET})"
    );
    let values = vec![set_name.as_str().into(), jsonl.into(), cases.into(), JsValue::from_f64(now as f64)];
    Ok(Statement { sql, values, audit: Some((set_name, format!("{cases} cases"))) })
}
