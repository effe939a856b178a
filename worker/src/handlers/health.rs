//! `GET /healthz`: the worker is up and its config is loaded.

use edgeway_core::GatewayError;
use worker::Response;

use crate::{config, http::respond};

/// Answers 200 with the number of routes, or the config error.
pub fn handle() -> Result<Response, GatewayError> {
    let config = config::get()?;
    let body = serde_json::json!({"status": "ok", "routes": config.routes.len()});
    Ok(respond::json(200, body.to_string()))
}
