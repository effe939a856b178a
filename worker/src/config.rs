//! The gateway config, validated at build time and parsed once per isolate.
//!
//! `build.rs` embeds the already-validated `Config` as JSON, so parsing it
//! here is plain deserialization.

use std::sync::OnceLock;

use edgeway_core::config::Config;
use edgeway_core::GatewayError;

/// The validated config as JSON, written by `build.rs`.
const CONFIG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/config.json"));

static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();

/// The gateway's config. The build already validated it, so an error here
/// would be a bug; it is still reported as a response, never a panic.
pub fn get() -> Result<&'static Config, GatewayError> {
    CONFIG
        .get_or_init(|| edgeway_core::json::from_str(CONFIG_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| GatewayError::GatewayMisconfigured { message: format!("the embedded config is invalid: {e}") })
}
