//! The messages between the worker and its limiter Durable Object: plain
//! JSON over the object's `fetch`, one shape each way.

use edgeway_core::limits::{Limits, Quota, Refusal};
use serde::{Deserialize, Serialize};

/// What the worker asks. `op` is `admit`, `settle`, `revoke` or `peek`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ask {
    /// The operation.
    pub op: String,
    /// The worker's clock: the object never reads its own, so both agree
    /// (and test mode's clock reaches it).
    pub now_ms: u64,
    /// The key's limits.
    #[serde(default)]
    pub limits: Limits,
    /// The end user, for publishable keys and tokens.
    #[serde(default)]
    pub user: Option<String>,
    /// The end user's limits.
    #[serde(default)]
    pub user_limits: Limits,
    /// `admit`: tokens to reserve.
    #[serde(default)]
    pub estimated_tokens: u64,
    /// `settle`: what `admit` reserved, for the key and the user.
    #[serde(default)]
    pub reserved: (u64, u64),
    /// `settle`: tokens really used.
    #[serde(default)]
    pub actual_tokens: u64,
    /// `settle`: what the request cost.
    #[serde(default)]
    pub cost_usd: f64,
}

/// What the object answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Answer {
    /// The key was revoked: refuse, whatever the limits say.
    #[serde(default)]
    pub revoked: bool,
    /// `admit`: why the request is refused, if it is.
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// `admit`: whether the refusal is the end user's limit.
    #[serde(default)]
    pub refused_for_user: bool,
    /// `admit`: tokens reserved for the key and for the user.
    #[serde(default)]
    pub reserved: (u64, u64),
    /// What is left, for the response headers: the end user's quota when
    /// the user is limited, else the key's.
    #[serde(default)]
    pub quota: Option<Quota>,
}
