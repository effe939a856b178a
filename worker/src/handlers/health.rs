//! `GET /healthz`: the worker is up and its config is loaded.

use edgeway_core::GatewayError;

use crate::config;
use crate::http::respond::Reply;

/// Answers 200 with the number of routes, or the config error.
pub fn handle() -> Result<Reply, GatewayError> {
    let config = config::get()?;
    let body = serde_json::json!({"status": "ok", "routes": config.routes.len()});
    Ok(Reply::json(200, body.to_string()))
}
