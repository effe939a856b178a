//! The JS side of the SDK's runtime (`js/runtime.js`): the error class,
//! a call's abort signal, and an abortable sleep.

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

#[wasm_bindgen(module = "/js/runtime.js")]
extern "C" {
    /// The class of every error the SDK rejects with (re-exported to JS).
    #[wasm_bindgen(extends = js_sys::Error, reexport)]
    pub type EdgewayError;

    #[wasm_bindgen(constructor)]
    pub fn new(message: &str, fields: &Object, cause: &JsValue) -> EdgewayError;

    /// One call's abort signal: the caller's signal, the timeout, or `abort()`.
    pub type CallSignal;

    #[wasm_bindgen(constructor)]
    pub fn new(caller: &JsValue, timeout_ms: f64) -> CallSignal;

    /// The signal handed to fetch.
    #[wasm_bindgen(method, getter)]
    pub fn signal(this: &CallSignal) -> AbortSignal;

    /// Why the call was stopped: `aborted`, `timeout`, or None while it runs.
    #[wasm_bindgen(method, getter)]
    pub fn reason(this: &CallSignal) -> Option<String>;

    /// Stops the call as the caller asked.
    #[wasm_bindgen(method)]
    pub fn abort(this: &CallSignal);

    /// Releases the timer and the caller's signal once the call is over.
    #[wasm_bindgen(method)]
    pub fn dispose(this: &CallSignal);

    /// Resolves after `ms`, rejects as soon as `signal` aborts.
    pub fn sleep(ms: f64, signal: &AbortSignal) -> Promise;
}

#[wasm_bindgen(module = "/js/runtime.js")]
extern "C" {
    /// Marks a promise whose rejection is reported another way as handled,
    /// so the browser does not log it as uncaught.
    pub fn handled(promise: &Promise) -> Promise;
}
