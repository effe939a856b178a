//! The per-request context every handler receives.

use edgeway_core::log::{Outcome, RequestLog};
use edgeway_core::GatewayError;

/// What the gateway knows about the request in hand.
pub struct RequestContext {
    /// The gateway's id for the request.
    pub request_id: String,
    /// Arrival time, ms since epoch.
    pub started_ms: u64,
    /// The log record being filled in. A streaming handler takes it, and the
    /// stream writes it when it ends; otherwise the router writes it.
    pub log: Option<RequestLog>,
    /// A streamed answer's log record, sent when the stream ends.
    pub stream_log: Option<futures_channel::oneshot::Receiver<RequestLog>>,
    /// Headers every answer to this request carries, errors included
    /// (quota, `Retry-After` on a refusal).
    pub response_headers: Vec<(&'static str, String)>,
    /// The limiter's admission, settled once usage is known.
    pub admission: Option<crate::limiter::Admission>,
    /// An answer to store in the cache once the response is complete.
    pub cache_write: Option<crate::cache::PendingWrite>,
    /// The cache key whose coalescer this request leads: its waiters are
    /// told the outcome once the answer is stored (or is not).
    pub coalesce_lead: Option<String>,
    /// The question the answer is filed under in the semantic cache, once
    /// the exact cache has stored it.
    pub semantic_write: Option<crate::semantic::Question>,
    /// Work that must finish after the response (publishing a stream to
    /// requests that follow it).
    pub background: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>,
}

impl RequestContext {
    /// Records what the log needs to know about a failed request.
    pub fn note_error(&mut self, error: &GatewayError) {
        if let Some(log) = &mut self.log {
            log.status = error.status();
            log.error_code = Some(error.code().to_owned());
            log.outcome = Outcome::Error;
        }
    }
}

