//! The log queue's consumer: each batch of records becomes one D1 batch
//! (one round trip, one transaction) that adds each record to its rollup
//! and stores it, so the database sees a few writes a second however busy
//! the gateway is. A failed batch is retried by the queue; records already
//! stored are neither counted nor stored again.

use edgeway_core::log::store::{add_to_rollup, insert_request};
use wasm_bindgen::JsValue;
use worker::{Env, MessageBatch};

use super::d1;

/// Stores a batch of JSON log lines.
pub async fn consume(batch: MessageBatch<String>, env: &Env) -> worker::Result<()> {
    let lines: Vec<JsValue> = batch.raw_iter().map(|message| message.body()).filter(JsValue::is_string).collect();
    if let Err(error) = store(env, &lines).await {
        worker::console_error!("{{\"event\":\"log_store_failed\",\"records\":{},\"error\":{}}}", lines.len(), edgeway_core::json::quote(&error.to_string()));
        batch.retry_all();
        return Ok(());
    }
    batch.ack_all();
    Ok(())
}

/// Inserts JSON log lines (also used to seed logs in test mode).
pub async fn store(env: &Env, lines: &[JsValue]) -> Result<(), edgeway_core::GatewayError> {
    if lines.is_empty() {
        return Ok(());
    }
    let db = d1::database(env)?;
    let (rollup, insert) = (add_to_rollup(), insert_request());
    let mut statements = Vec::with_capacity(lines.len() * 2);
    for line in lines {
        // The rollup first: it counts the record only while it is not stored.
        statements.push(d1::statement(&db, &rollup, std::slice::from_ref(line))?);
        statements.push(d1::statement(&db, &insert, std::slice::from_ref(line))?);
    }
    d1::batch(&db, statements).await
}
