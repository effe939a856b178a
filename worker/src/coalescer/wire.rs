//! Messages between the worker and a coalescer object.

use serde::{Deserialize, Serialize};

/// `join` (may I lead, or wait?) or `done` (the leader's result).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Join {
    /// `join` or `done`.
    pub op: String,
    /// The worker's clock.
    #[serde(default)]
    pub now_ms: u64,
    /// How long a leader may take before waiters stop trusting it: the
    /// route's total timeout.
    #[serde(default)]
    pub lease_ms: u64,
    /// `done`: the stored entry (JSON), or `None` if the leader failed.
    #[serde(default)]
    pub entry: Option<String>,
}

/// The object's answer to `join`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// Make the answer yourself (and report with `done`).
    #[serde(default)]
    pub lead: bool,
    /// The leader's answer, as a stored cache entry (JSON).
    #[serde(default)]
    pub entry: Option<String>,
}
