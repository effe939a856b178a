//! The gateway config, validated at build time and parsed once per isolate.

use std::sync::OnceLock;

use edgeway_core::config::Config;
use edgeway_core::GatewayError;

/// The config file as JSON, written by `build.rs` after validating it.
const CONFIG_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/config.json"));

static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();

/// The gateway's config. The build already validated it, so an error here
/// would be a bug; it is still reported as a response, never a panic.
pub fn get() -> Result<&'static Config, GatewayError> {
    CONFIG
        .get_or_init(|| Config::from_json(CONFIG_JSON).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| GatewayError::GatewayMisconfigured { message: format!("the embedded config is invalid: {e}") })
}
