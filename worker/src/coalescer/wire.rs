//! Messages between the worker and a coalescer object.

use serde::{Deserialize, Serialize};

/// `join` (may I lead, or wait?), `publish` (the leader's streamed events)
/// or `done` (the leader's stored answer, or its failure).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Join {
    /// `join`, `publish` or `done`.
    pub op: String,
    /// The worker's clock.
    #[serde(default)]
    pub now_ms: u64,
    /// How long a leader may take before waiters stop trusting it: the
    /// route's total timeout.
    #[serde(default)]
    pub lease_ms: u64,
    /// `done`: the stored entry (JSON), or `None` if there is none.
    #[serde(default)]
    pub entry: Option<String>,
    /// `publish`: chunk events (OpenAI's format, usage chunk included).
    #[serde(default)]
    pub events: Vec<String>,
    /// `publish`: the stream has ended (completely or not).
    #[serde(default)]
    pub end: bool,
    /// `publish`: who answers, for the followers' headers.
    #[serde(default)]
    pub provider: String,
    /// `publish`: the upstream model that answers.
    #[serde(default)]
    pub model: String,
}

/// The object's answer to `join`, when it is not a live stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// Make the answer yourself (and report with `done`).
    #[serde(default)]
    pub lead: bool,
    /// The leader's answer, as a stored cache entry (JSON).
    #[serde(default)]
    pub entry: Option<String>,
}
