//! Validates `config/edgeway.toml` at build time and embeds it as JSON.
//!
//! A bad config stops the build here, with every problem listed by path, so
//! it can never reach a live request. What is embedded is the *validated*
//! config as JSON: the worker only deserializes it, so neither a TOML parser
//! nor the validation code ships in the wasm.

use std::path::PathBuf;
use std::process::ExitCode;

use edgeway_core::config::{Config, RawConfig};


fn main() -> ExitCode {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = std::env::var_os("EDGEWAY_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("../config/edgeway.toml"));
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-env-changed=EDGEWAY_CONFIG");

    let fail = |message: String| {
        eprintln!("error: invalid Edgeway config {}:\n{message}", path.display());
        ExitCode::FAILURE
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return fail(e.to_string()),
    };
    let raw: RawConfig = match toml::from_str(&text) {
        Ok(raw) => raw,
        Err(e) => return fail(e.to_string()),
    };
    let config = match Config::from_raw(&raw) {
        Ok(config) => config,
        Err(errors) => return fail(errors.to_string()),
    };
    let json = match serde_json::to_string(&config) {
        Ok(json) => json,
        Err(e) => return fail(e.to_string()),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("config.json");
    if let Err(e) = std::fs::write(&out, json) {
        return fail(e.to_string());
    }
    ExitCode::SUCCESS
}
