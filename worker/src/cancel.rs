//! Cancelling upstream calls when the caller goes away.
//!
//! The upstream fetch listens to a signal that fires when either the
//! caller's request signal fires (needs the `enable_request_signal`
//! compatibility flag) or the gateway drops the work, e.g. because the
//! response stream was cancelled by the runtime. Dropping the guard aborts.

use wasm_bindgen::JsValue;

/// Aborts its upstream fetch when dropped.
pub struct AbortOnDrop {
    controller: Option<web_sys::AbortController>,
    signal: Option<worker::AbortSignal>,
    caller: Option<web_sys::AbortSignal>,
}

impl AbortOnDrop {
    /// A guard whose signal also follows the incoming request's signal.
    pub fn linked_to(request: &worker::Request) -> Self {
        let Ok(controller) = web_sys::AbortController::new() else {
            return Self { controller: None, signal: None, caller: None };
        };
        let own = controller.signal();
        let request_signal = request.inner().signal();
        let both = js_sys::Array::of2(&JsValue::from(request_signal.clone()), &JsValue::from(own));
        let signal = worker::AbortSignal::from(web_sys::AbortSignal::any(&both));
        Self { controller: Some(controller), signal: Some(signal), caller: Some(request_signal) }
    }

    /// Whether the caller has disconnected (the request signal fired).
    pub fn caller_gone(&self) -> bool {
        self.caller.as_ref().is_some_and(web_sys::AbortSignal::aborted)
    }

    /// The signal to pass to the upstream fetch.
    pub fn signal(&self) -> Option<&worker::AbortSignal> {
        self.signal.as_ref()
    }

    /// The work finished normally: nothing to cancel.
    pub fn disarm(mut self) {
        self.controller = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(controller) = self.controller.take() {
            controller.abort();
        }
    }
}
