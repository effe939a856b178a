//! Cancelling upstream calls when the caller goes away or time runs out.
//!
//! A streamed call gets its own `AbortController`; dropping the guard aborts
//! it. That covers both ways a stream is abandoned: a timeout drops the
//! pending fetch, and a caller who disconnects mid-stream makes the runtime
//! cancel the response body, which drops the relay and with it this guard
//! (and the body reader, which closes the upstream connection). A stream can
//! run for minutes after an attempt that timed out, so that attempt's
//! connection is closed at once.
//!
//! A call whose answer is read whole gets no controller: creating one and
//! handing its signal to `fetch` cost about 8% of the worker's CPU per
//! request under load (bench side by side). The runtime cancels a dropped
//! call itself when the request it belongs to ends, so a timed-out call
//! stays open only while that request still runs: its later attempts, and
//! the few writes after its response. The upstream-failures test of a hung
//! upstream checks that the upstream sees the hang-up.
//!
//! The caller's own request signal (the `enable_request_signal` flag) is only
//! read, to tell "the caller left" from "the upstream failed" in the log.
//! Linking it into the fetch signal with `AbortSignal.any` worked too, but
//! cost about 3% of the CPU per request under load and bought nothing the
//! drop path does not already give.

/// Aborts its upstream fetch when dropped.
pub struct AbortOnDrop {
    controller: Option<web_sys::AbortController>,
    /// The caller's request signal, for a stream (the only place that asks
    /// whether the caller left).
    caller: Option<web_sys::AbortSignal>,
}

impl AbortOnDrop {
    /// A guard for one upstream call on behalf of `request`; `streamed`
    /// when the answer is relayed as a stream (only those get a controller:
    /// see the module docs).
    pub fn for_request(request: &crate::http::incoming::Incoming, streamed: bool) -> Self {
        if !streamed {
            return Self { controller: None, caller: None };
        }
        Self { controller: web_sys::AbortController::new().ok(), caller: Some(request.raw().signal()) }
    }

    /// Whether the caller of a stream has disconnected (its request signal
    /// fired).
    pub fn caller_gone(&self) -> bool {
        self.caller.as_ref().is_some_and(web_sys::AbortSignal::aborted)
    }

    /// The controller whose signal the upstream fetch takes.
    pub fn controller(&self) -> Option<&web_sys::AbortController> {
        self.controller.as_ref()
    }

    /// The work finished normally: nothing to cancel.
    pub fn disarm(&mut self) {
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
