//! The daily retention run (a cron trigger): deletes request records and
//! rollups and audit entries older than `[logs] retention_days`.

use edgeway_core::log::store::{retention_cutoff_ms, DELETE_AUDIT_BEFORE, DELETE_REQUESTS_BEFORE, DELETE_ROLLUPS_BEFORE};
use wasm_bindgen::JsValue;
use worker::Env;

use super::d1;
use crate::{config, runtime};

/// Deletes what is past retention.
pub async fn run(env: &Env) {
    let days = config::get().map(|c| c.logs.retention_days).unwrap_or(edgeway_core::config::DEFAULT_RETENTION_DAYS);
    let cutoff = retention_cutoff_ms(runtime::now_ms(), days);
    let outcome = async {
        let db = d1::database(env)?;
        let before = [JsValue::from_f64(cutoff as f64)];
        let statements = vec![
            d1::statement(&db, DELETE_REQUESTS_BEFORE, &before)?,
            d1::statement(&db, DELETE_ROLLUPS_BEFORE, &before)?,
            d1::statement(&db, DELETE_AUDIT_BEFORE, &before)?,
        ];
        d1::batch(&db, statements).await
    }
    .await;
    match outcome {
        Ok(()) => worker::console_log!("{{\"event\":\"log_retention\",\"deleted_before_ms\":{cutoff},\"retention_days\":{days}}}"),
        Err(error) => worker::console_error!("{{\"event\":\"log_retention_failed\",\"error\":{}}}", edgeway_core::json::quote(&error.to_string())),
    }
}
