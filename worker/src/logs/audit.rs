//! The audit log: what operators did through the admin API (keys created,
//! changed and revoked, tokens minted, caches purged), written straight to
//! D1 — admin calls are rare, and the dashboard shows them at once. A
//! failed write is reported on the console; it never undoes the action.

use edgeway_core::log::store::INSERT_AUDIT;
use wasm_bindgen::JsValue;
use worker::Env;

use super::d1;

/// Records `action` on `target` with a short, secret-free `detail`.
pub async fn record(env: &Env, now_ms: u64, action: &str, target: &str, detail: &str) {
    let written = async {
        let db = d1::database(env)?;
        let values = [JsValue::from_f64(now_ms as f64), action.into(), target.into(), detail.into()];
        d1::statement(&db, INSERT_AUDIT, &values)?.run().await.map(|_| ()).map_err(|e| edgeway_core::GatewayError::Internal { message: e.to_string() })
    }
    .await;
    if let Err(error) = written {
        worker::console_error!("{{\"event\":\"audit_write_failed\",\"action\":{},\"error\":{}}}", edgeway_core::json::quote(action), edgeway_core::json::quote(&error.to_string()));
    }
}
