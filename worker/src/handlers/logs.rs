//! `/admin/api/logs`, `/admin/api/stats`, `/admin/api/audit` and a key's
//! usage: the request logs read back for the dashboard. Core builds the SQL
//! (`edgeway_core::log::query`); rows go out as D1 returns them.

use edgeway_core::keys::record::KeyRecord;
use edgeway_core::limits::{period_start_ms, BudgetPeriod};
use edgeway_core::log::histogram::BUCKETS;
use edgeway_core::log::query::{self, Cursor, LogQuery};
use edgeway_core::log::stats::{self as log_stats, StatsRow};
use edgeway_core::GatewayError;
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;
use worker::Env;

use crate::http::respond::Reply;
use crate::logs::d1;
use crate::http::incoming::Incoming;

/// The query string's pairs.
fn pairs(request: &Incoming) -> Result<Vec<(String, String)>, GatewayError> {
    Ok(edgeway_core::query_string::pairs(&request.raw().url()))
}

fn parse(request: &Incoming, now_ms: u64) -> Result<LogQuery, GatewayError> {
    let pairs = pairs(request)?;
    LogQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), now_ms)
}

fn field(row: &JsValue, name: &str) -> JsValue {
    Reflect::get(row, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A JSON string literal, or `null`.
fn json_string(value: Option<&str>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| serde_json::Value::from(v).to_string())
}

/// `GET /admin/api/logs`: a page of summaries, newest first.
pub async fn list(request: &Incoming, env: &Env, now_ms: u64) -> Result<Reply, GatewayError> {
    let query = parse(request, now_ms)?;
    let db = d1::database(env)?;
    let rows = d1::rows(&d1::prepare(&db, &query::page(&query))?).await?;
    let mut next = None;
    if rows.length() > query.limit {
        rows.pop();
        let last = rows.get(rows.length().saturating_sub(1));
        let time_ms = field(&last, "time_ms").as_f64().unwrap_or(0.0) as u64;
        let request_id = field(&last, "request_id").as_string().unwrap_or_default();
        next = Some(Cursor { time_ms, request_id }.encode());
    }
    Ok(Reply::json(200, format!(r#"{{"data":{},"next_cursor":{}}}"#, d1::to_json(&rows), json_string(next.as_deref()))))
}

/// `GET /admin/api/logs/{request_id}`: the whole record.
pub async fn record(env: &Env, request_id: &str) -> Result<Reply, GatewayError> {
    let db = d1::database(env)?;
    let rows = d1::rows(&d1::statement(&db, query::RECORD, &[request_id.into()])?).await?;
    let record = field(&rows.get(0), "record").as_string().ok_or_else(|| GatewayError::NotFound {
        method: "GET".to_owned(),
        path: format!("/admin/api/logs/{request_id} (no such request stored yet)"),
    })?;
    // Stored by the gateway itself as JSON, so it goes out as it is.
    Ok(Reply::json(200, format!(r#"{{"record":{record}}}"#)))
}

/// `GET /admin/api/stats`: aggregates per bucket (and group), and totals.
pub async fn stats(request: &Incoming, env: &Env, now_ms: u64) -> Result<Reply, GatewayError> {
    let query = parse(request, now_ms)?;
    let db = d1::database(env)?;
    let rows = d1::raw_rows(&d1::prepare(&db, &query::stats(&query))?).await?;
    let rows: Vec<StatsRow> = rows.iter().map(|row| stats_row(&Array::from(&row))).collect();
    let (from, to) = query::effective_range(&query);
    let report = log_stats::report(&rows, from, to, query.bucket_ms(), query.group_by.map(query::GroupBy::name));
    let body = serde_json::to_string(&report).map_err(|e| GatewayError::Internal { message: e.to_string() })?;
    Ok(Reply::json(200, body))
}

/// A stats row from its values, in `query::stats`' column order.
fn stats_row(values: &Array) -> StatsRow {
    let number = |i: usize| values.get(u32::try_from(i).unwrap_or(u32::MAX)).as_f64().unwrap_or(0.0);
    let count = |i: usize| number(i).max(0.0) as u64;
    let histogram = |start: usize| std::array::from_fn(|i| count(start + i));
    StatsRow {
        t: count(0),
        group: values.get(1).as_string(),
        requests: count(2),
        errors: count(3),
        tokens_in: count(4),
        tokens_out: count(5),
        cost_usd: number(6),
        cache_hits: count(7),
        cache_lookups: count(8),
        latency: histogram(9),
        ttft: histogram(9 + BUCKETS),
    }
}

/// `GET /admin/api/audit`: admin actions, newest first.
pub async fn audit(request: &Incoming, env: &Env) -> Result<Reply, GatewayError> {
    let mut limit = query::DEFAULT_PAGE;
    let mut before = f64::MAX;
    for (name, value) in pairs(request)? {
        let invalid = || GatewayError::InvalidRequest { param: name.clone(), message: format!("`{name}` must be a positive whole number") };
        match name.as_str() {
            "limit" => limit = value.parse::<u32>().ok().filter(|n| (1..=query::MAX_PAGE).contains(n)).ok_or_else(invalid)?,
            "cursor" => before = value.parse::<u64>().map_err(|_| invalid())? as f64,
            _ => return Err(GatewayError::InvalidRequest { param: name.clone(), message: format!("unknown query parameter `{name}`") }),
        }
    }
    let db = d1::database(env)?;
    let rows = d1::rows(&d1::statement(&db, query::AUDIT_PAGE, &[before.into(), f64::from(limit + 1).into()])?).await?;
    let mut next = None;
    if rows.length() > limit {
        rows.pop();
        next = field(&rows.get(rows.length().saturating_sub(1)), "id").as_f64().map(|id| (id as u64).to_string());
    }
    Ok(Reply::json(200, format!(r#"{{"data":{},"next_cursor":{}}}"#, d1::to_json(&rows), json_string(next.as_deref()))))
}

/// `GET /admin/api/keys/{id}/usage`: what a key used, next to its limits,
/// from the logs (a second or two behind the limiter's exact counts).
pub async fn key_usage(env: &Env, record: &KeyRecord, now_ms: u64) -> Result<Reply, GatewayError> {
    let db = d1::database(env)?;
    let values = [
        record.id.as_str().into(),
        (now_ms.saturating_sub(60_000) as f64).into(),
        (period_start_ms(BudgetPeriod::Day, now_ms) as f64).into(),
        (period_start_ms(BudgetPeriod::Month, now_ms) as f64).into(),
    ];
    let rows: Array = d1::rows(&d1::statement(&db, query::KEY_USAGE, &values)?).await?;
    let limits = serde_json::to_string(&record.limits).unwrap_or_else(|_| "{}".to_owned());
    Ok(Reply::json(200, format!(r#"{{"key_id":{},"limits":{limits},"usage":{}}}"#, json_string(Some(&record.id)), d1::to_json(&rows.get(0)))))
}
