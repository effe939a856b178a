//! The config file's shape, exactly as a human writes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole file. Unknown fields are errors, so a typo cannot be ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Gateway-wide settings.
    #[serde(default)]
    pub gateway: RawGateway,
    /// Default upstream timeouts.
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// Default retry policy.
    #[serde(default)]
    pub retry: RawRetry,
    /// Circuit breakers (one per target, in each isolate).
    #[serde(default)]
    pub breaker: RawBreaker,
    /// Request logs in D1.
    #[serde(default)]
    pub logs: RawLogs,
    /// `[providers.<name>]` tables.
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// `[routes.<alias>]` tables.
    #[serde(default)]
    pub routes: BTreeMap<String, RawRoute>,
    /// `[prices]`: USD per million tokens, by model id, `provider/model`
    /// or `provider/*`, over the built-in list prices.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, RawPrice>,
}

/// One entry of `[prices]`, in USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// Prompt tokens.
    pub input: f64,
    /// Prompt tokens read from the provider's cache (default: `input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
    /// Generated tokens.
    pub output: f64,
}

/// `[logs]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogs {
    /// Days a request record is kept (default 30).
    pub retention_days: Option<u32>,
}

/// `[gateway]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGateway {
    /// Largest request body accepted, in bytes (default 1 MiB).
    pub max_request_bytes: Option<u64>,
}

/// `[timeouts]`, or a route's `timeouts`; every field optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// Until response headers.
    pub response_headers_ms: Option<u64>,
    /// Until a stream's first event.
    pub first_token_ms: Option<u64>,
    /// Between two stream events.
    pub idle_ms: Option<u64>,
    /// The whole request.
    pub total_ms: Option<u64>,
}

/// `[retry]`, or a route's `retry`; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Retries on the same target after its first attempt.
    pub max_retries: Option<u32>,
    /// First backoff ceiling; doubles per retry.
    pub backoff_base_ms: Option<u64>,
    /// Largest backoff ceiling.
    pub backoff_cap_ms: Option<u64>,
    /// Whether to move to the next target when one fails.
    pub fallback: Option<bool>,
    /// Upstream statuses retried on the same target (default 429, 500,
    /// 502, 503, 504, 529). Connection failures and timeouts always are.
    pub retry_on: Option<Vec<u16>>,
    /// Upstream statuses that move to the next target at once (default 404).
    pub fallback_on: Option<Vec<u16>>,
}

/// `[breaker]`; every field optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    /// Failures within the window that open a target's circuit.
    pub failure_threshold: Option<u32>,
    /// The window failures are counted in.
    pub window_ms: Option<u64>,
    /// How long an open circuit stays open before one probe is let through.
    pub cooldown_ms: Option<u64>,
}

/// One target of a route: a plain `"provider/model"` or a weighted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawTarget {
    /// `"provider/model"`, weight 1.
    Plain(String),
    /// `{ target = "provider/model", weight = n }`.
    Weighted {
        /// `"provider/model"`.
        target: String,
        /// Relative share of the group's traffic.
        weight: u32,
    },
}

impl From<&str> for RawTarget {
    fn from(spec: &str) -> Self {
        Self::Plain(spec.to_owned())
    }
}

/// `[providers.<name>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// `demo`, `openai`, `anthropic`, `gemini`, `azure` or `workers-ai`.
    pub kind: String,
    /// Base URL; each kind but `azure` has a default.
    pub base_url: Option<String>,
    /// Name of the secret holding the API key.
    pub api_key_secret: Option<String>,
    /// Demo only: pause between streamed words (default 20 ms).
    pub word_delay_ms: Option<u64>,
    /// Azure only: the `api-version` query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Workers AI only: the Cloudflare account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// `[routes.<alias>]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// One line describing the route.
    #[serde(default)]
    pub description: String,
    /// Targets: `"provider/model"` strings in order of preference (fallback),
    /// or `{ target = "provider/model", weight = 3 }` tables, which make the
    /// list one load-balanced group. The model part may itself contain `/`
    /// (`openrouter/meta-llama/llama-3.1-8b`): the split is at the first slash.
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// Instead of `targets`: groups tried in order, each load-balanced by
    /// weight (weighted groups with fallback between groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<RawTarget>>,
    /// Route-specific timeouts, over the defaults.
    #[serde(default)]
    pub timeouts: RawTimeouts,
    /// Route-specific retry policy, over the defaults.
    #[serde(default)]
    pub retry: RawRetry,
    /// The response cache, on for this route when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<RawCache>,
    /// Input and output checks (prompt injection, secrets, PII, deny-list,
    /// JSON-schema answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<crate::guardrails::RawGuardrails>,
    /// The semantic cache, after the exact cache misses (needs `cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_cache: Option<crate::cache::semantic::policy::RawSemanticCache>,
    /// Store prompts and answers (redacted) with the request logs (default
    /// false). A key's `zero_retention`, or the caller's
    /// `x-edgeway-zero-retention: true`, turns it off for a request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log_bodies: bool,
    /// Instead of `targets`: tiers for complexity routing, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<RawTier>,
    /// A route with tiers may ask this classifier route for the tier, with
    /// the score as the fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<crate::routing::classify::Classifier>,
    /// The scoring weights of a route with tiers (defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<crate::routing::tiers::Weights>,
}

/// One tier of an `auto` route: `{ name = "small", targets = [...], below = 20 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    /// The tier's name, shown in `x-edgeway-tier`.
    pub name: String,
    /// Its targets, like a route's.
    pub targets: Vec<RawTarget>,
    /// Requests scoring below this go to this tier (absent on the last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<i32>,
}

/// A route's `cache = { ... }`; every field optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Entry lifetime in seconds (default 300).
    pub ttl_s: Option<u64>,
    /// Longest lifetime a caller may ask for (default: `ttl_s`, at most a day).
    pub max_ttl_s: Option<u64>,
    /// Cache answers at any temperature, not only 0 (default false).
    pub any_temperature: Option<bool>,
    /// One namespace shared by every key (default false: one per key).
    pub shared: Option<bool>,
}
