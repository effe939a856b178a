//! A route's semantic cache settings, validated.

use serde::{Deserialize, Serialize};

use super::index::DEFAULT_CAPACITY;

/// Similarity a cached question needs, unless the route says otherwise.
pub const DEFAULT_THRESHOLD: f64 = 0.95;
/// How long an entry lives, unless the route says otherwise: an hour.
pub const DEFAULT_TTL_MS: u64 = 60 * 60 * 1000;
/// Longest entry lifetime a route may set: thirty days.
pub const MAX_TTL_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// Most entries a namespace may keep (memory, see `index`).
pub const MAX_CAPACITY: usize = 10_000;
/// How long the embedding call and the index lookup may take together
/// before the request goes on as a miss, unless the route says otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 500;

/// `semantic_cache = { embeddings = "…", threshold, ttl_s, capacity, timeout_ms }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemanticCache {
    /// The embeddings route that turns questions into vectors.
    pub embeddings: String,
    /// Cosine similarity at or above which a cached answer is served.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Entry lifetime in seconds.
    #[serde(default)]
    pub ttl_s: Option<u64>,
    /// Entries a namespace keeps (least recently used evicted past it).
    #[serde(default)]
    pub capacity: Option<usize>,
    /// Budget of the embedding call and lookup, in ms.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticPolicy {
    /// The embeddings route.
    pub embeddings: String,
    /// Cosine similarity at or above which a cached answer is served.
    pub threshold: f32,
    /// Entry lifetime.
    pub ttl_ms: u64,
    /// Entries a namespace keeps.
    pub capacity: usize,
    /// Budget of the embedding call and lookup.
    pub timeout_ms: u64,
}

impl SemanticPolicy {
    /// Checks `raw`; the problems are `(field, message)` pairs.
    pub fn from_raw(raw: &RawSemanticCache) -> Result<Self, Vec<(&'static str, &'static str)>> {
        let mut problems = Vec::new();
        let threshold = raw.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold > 0.0 && threshold <= 1.0) {
            problems.push(("threshold", "must be above 0 and at most 1"));
        }
        let ttl_ms = raw.ttl_s.map_or(DEFAULT_TTL_MS, |s| s.saturating_mul(1000));
        if ttl_ms == 0 || ttl_ms > MAX_TTL_MS {
            problems.push(("ttl_s", "must be between 1 and 2592000 (thirty days)"));
        }
        let capacity = raw.capacity.unwrap_or(DEFAULT_CAPACITY);
        if capacity == 0 || capacity > MAX_CAPACITY {
            problems.push(("capacity", "must be between 1 and 10000"));
        }
        let timeout_ms = raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if !(10..=10_000).contains(&timeout_ms) {
            problems.push(("timeout_ms", "must be between 10 and 10000"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self { embeddings: raw.embeddings.clone(), threshold: threshold as f32, ttl_ms, capacity, timeout_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSemanticCache {
        RawSemanticCache { embeddings: "embed".into(), threshold: None, ttl_s: None, capacity: None, timeout_ms: None }
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let policy = SemanticPolicy::from_raw(&raw()).unwrap();
        assert_eq!((policy.threshold, policy.ttl_ms, policy.capacity, policy.timeout_ms), (0.95, DEFAULT_TTL_MS, DEFAULT_CAPACITY, DEFAULT_TIMEOUT_MS));
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let bad = RawSemanticCache { threshold: Some(1.5), ttl_s: Some(0), capacity: Some(0), timeout_ms: Some(60_000), ..raw() };
        let fields: Vec<_> = SemanticPolicy::from_raw(&bad).unwrap_err().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["threshold", "ttl_s", "capacity", "timeout_ms"]);
    }
}
