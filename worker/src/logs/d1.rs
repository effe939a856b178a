//! Running SQL from `edgeway_core::log` against the `LOGS` database, with
//! rows handed back as JSON text: the admin API passes them on as they are,
//! so no row type is deserialized in the worker.

use edgeway_core::log::query::{Sql, SqlParam};
use edgeway_core::GatewayError;
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1PreparedStatement, Env};

/// The `LOGS` database.
pub fn database(env: &Env) -> Result<D1Database, GatewayError> {
    env.d1("LOGS").map_err(|e| unavailable(&e.to_string()))
}

fn unavailable(detail: &str) -> GatewayError {
    GatewayError::Internal { message: format!("the log database failed: {detail}") }
}

/// `sql` prepared with its parameters bound.
pub fn prepare(db: &D1Database, sql: &Sql) -> Result<D1PreparedStatement, GatewayError> {
    let values: Vec<JsValue> = sql
        .params
        .iter()
        .map(|p| match p {
            // Timestamps fit in an f64 exactly (below 2^53).
            SqlParam::Int(n) => JsValue::from_f64(*n as f64),
            SqlParam::Text(s) => JsValue::from_str(s),
        })
        .collect();
    statement(db, &sql.text, &values)
}

/// A statement with plain values bound.
pub fn statement(db: &D1Database, text: &str, values: &[JsValue]) -> Result<D1PreparedStatement, GatewayError> {
    db.prepare(text).bind(values).map_err(|e| unavailable(&e.to_string()))
}

/// Runs a statement and returns its rows.
pub async fn rows(statement: &D1PreparedStatement) -> Result<Array, GatewayError> {
    let promise = statement.inner().all().map_err(|e| unavailable(&describe(&e)))?;
    let result = JsFuture::from(promise).await.map_err(|e| unavailable(&describe(&e)))?;
    let rows = Reflect::get(&result, &"results".into()).map_err(|e| unavailable(&describe(&e)))?;
    Ok(array_or_empty(rows))
}

/// Runs a statement and returns its rows as arrays of values, in column
/// order.
pub async fn raw_rows(statement: &D1PreparedStatement) -> Result<Array, GatewayError> {
    let promise = statement.inner().raw().map_err(|e| unavailable(&describe(&e)))?;
    let rows = JsFuture::from(promise).await.map_err(|e| unavailable(&describe(&e)))?;
    Ok(array_or_empty(rows))
}

/// Rows as a JSON array.
pub fn to_json(value: &JsValue) -> String {
    js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_else(|| "null".to_owned())
}

/// Runs statements in one batch (one round trip, one transaction).
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<(), GatewayError> {
    db.batch(statements).await.map(|_| ()).map_err(|e| unavailable(&e.to_string()))
}

fn describe(error: &JsValue) -> String {
    Reflect::get(error, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| format!("{error:?}"))
}

/// `value` as an array; D1 gives one for every statement that returns rows.
fn array_or_empty(value: JsValue) -> Array {
    if Array::is_array(&value) {
        Array::from(&value)
    } else {
        Array::new()
    }
}
