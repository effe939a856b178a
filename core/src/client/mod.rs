//! What a client of the gateway decides, for the browser SDK (`edgeway-sdk`).
//!
//! The SDK does the fetching, sleeping and stream reading; the decisions it
//! makes along the way live here, next to the gateway's own, so the edge and
//! the browser share one backoff, one `Retry-After` reader and one SSE
//! parser ([`crate::sse`]).

pub mod retry;
