//! Edgeway's browser SDK. The client itself arrives with the SDK issue; for
//! now the crate builds for wasm32 and exposes the gateway core's version.
use wasm_bindgen::prelude::wasm_bindgen;

/// The SDK's version, the same as the gateway core it is built from.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
