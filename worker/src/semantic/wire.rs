//! Messages between the worker and a semantic index object.

use serde::{Deserialize, Serialize};

/// `lookup` (the nearest cached question in `context`) or `insert` (file
/// an answer under a question).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ask {
    /// `lookup` or `insert`.
    pub op: String,
    /// The context hash.
    pub context: String,
    /// The question's int8 vector, base64url.
    pub vector: String,
    /// `insert`: the entry's id (the exact cache key).
    #[serde(default)]
    pub id: String,
    /// `insert`: the cache entry, as JSON.
    #[serde(default)]
    pub entry: Option<String>,
    /// `insert`: how long it lives.
    #[serde(default)]
    pub ttl_ms: u64,
    /// Most entries the namespace keeps.
    #[serde(default)]
    pub capacity: usize,
    /// The worker's clock.
    #[serde(default)]
    pub now_ms: u64,
    /// `lookup`: the similarity a hit needs.
    #[serde(default)]
    pub threshold: f32,
}

/// The answer to `lookup`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Found {
    /// The nearest entry's cache entry (JSON), when near enough.
    #[serde(default)]
    pub entry: Option<String>,
    /// Its similarity.
    #[serde(default)]
    pub similarity: f32,
}
