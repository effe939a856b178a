//! JSON parsing through one reader type.
//!
//! serde_json compiles every type's deserializer once per input reader:
//! parsing some documents from `&str` and others from `&[u8]` would build
//! most of them twice into the wasm. Every parse in the gateway goes
//! through [`from_str`] (bytes in) so each type is compiled once.

use serde::de::DeserializeOwned;

/// Parses `text` as JSON into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}
