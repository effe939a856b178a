//! Where a request is looked up by meaning: the semantic cache, consulted
//! after the exact cache (`crate::cache`) misses, on routes that turn it on.
//!
//! `edgeway_core::cache::semantic` decides what may share an answer (the
//! context hash), how vectors are kept (int8) and which entry is near
//! enough; this module embeds the question through the route's
//! embeddings route and talks to the namespace's index, a Durable Object
//! (`object`). Both steps together get the route's `timeout_ms`: past it,
//! or on any failure, the request is simply a miss and goes on upstream.
//! Answers are stored only after the exact cache stored them (complete,
//! successful, not cut short), with the same entry.

pub mod object;
mod wire;

use edgeway_core::cache::entry::CacheEntry;
use edgeway_core::cache::semantic::context;
use edgeway_core::cache::semantic::policy::SemanticPolicy;
use edgeway_core::cache::semantic::vector::Quantized;
use edgeway_core::config::Target;
use edgeway_core::keys::base64url;
use edgeway_core::openai::{ChatRequest, EmbeddingInput, EmbeddingsRequest, EmbeddingsResponse};
use worker::Env;

use crate::attempt::embeddings::{self, EmbeddingsCall};
use crate::{config, runtime};
use crate::http::incoming::Incoming;
use wire::{Ask, Found};

/// The binding of the semantic index Durable Object namespace.
const BINDING: &str = "SEMANTIC";

/// A request's question, embedded: what a lookup asks and what a store
/// files the answer under.
pub struct Question {
    /// The index object's name: the cache namespace and its purge
    /// generation (a purge starts a new, empty index).
    object: String,
    /// Everything but the question, hashed.
    context: String,
    /// The exact request's hash: the entry's id.
    id: String,
    vector: Quantized,
    /// The route's entry lifetime and namespace cap.
    ttl_ms: u64,
    capacity: usize,
}

/// A cached answer to a question close enough.
pub struct SemanticHit {
    /// The answer.
    pub entry: CacheEntry,
    /// How close the cached question is (cosine similarity).
    pub similarity: f32,
}

/// Embeds the request's question and, when `look_up`, asks the index for
/// the nearest cached one. `None` when the request has no question to
/// embed, or embedding failed or took too long; `(question, None)` on a
/// miss. `id` is the exact cache key.
pub async fn look_up(request: &Incoming, env: &Env, policy: &SemanticPolicy, chat: &ChatRequest, namespace: &str, id: &str, look_up: bool) -> Option<(Question, Option<SemanticHit>)> {
    let context = context::context_hash(chat, namespace)?;
    let text = context::question(chat)?;
    let due_ms = runtime::now_ms().saturating_add(policy.timeout_ms);
    let work = async {
        let generation = crate::cache::generation(env, namespace, runtime::now_ms()).await;
        let vector = embed(request, env, policy, text, due_ms).await?;
        let question = Question { object: format!("{generation}:{namespace}"), context, id: id.to_owned(), vector, ttl_ms: policy.ttl_ms, capacity: policy.capacity };
        let hit = if look_up { find(env, &question, policy).await } else { None };
        Some((question, hit))
    };
    runtime::Watchdog::default().race(due_ms, work).await.flatten()
}

/// Files a stored answer (the exact cache's entry, as JSON) under its
/// question; whether the index took it.
pub async fn store(env: &Env, question: Question, entry: String) -> bool {
    let ask = Ask {
        op: "insert".into(),
        context: question.context,
        vector: base64url::encode(&question.vector.to_bytes()),
        id: question.id,
        entry: Some(entry),
        ttl_ms: question.ttl_ms,
        capacity: question.capacity,
        now_ms: runtime::now_ms(),
        ..Ask::default()
    };
    send(env, &question.object, &ask).await.is_some()
}

async fn find(env: &Env, question: &Question, policy: &SemanticPolicy) -> Option<SemanticHit> {
    let ask = Ask {
        op: "lookup".into(),
        context: question.context.clone(),
        vector: base64url::encode(&question.vector.to_bytes()),
        capacity: policy.capacity,
        now_ms: runtime::now_ms(),
        threshold: policy.threshold,
        ..Ask::default()
    };
    let found: Found = edgeway_core::json::from_str(&send(env, &question.object, &ask).await?).ok()?;
    let entry = edgeway_core::json::from_str::<CacheEntry>(&found.entry?).ok()?;
    entry.is_fresh(runtime::now_ms()).then_some(SemanticHit { entry, similarity: found.similarity })
}

/// The question's vector, from the first target of the embeddings route.
async fn embed(request: &Incoming, env: &Env, policy: &SemanticPolicy, text: String, due_ms: u64) -> Option<Quantized> {
    let route = config::get().ok()?.route_for(&policy.embeddings).ok()?;
    let target: &Target = route.targets.first()?;
    let embeddings = EmbeddingsRequest { model: route.name.clone(), input: EmbeddingInput::One(text), encoding_format: None, dimensions: None, user: None, extra: Default::default() };
    let call = EmbeddingsCall { request, env, embeddings: &embeddings, timeouts: route.timeouts, deadline_ms: due_ms };
    let embedded = embeddings::run(&call, target).await.ok()?;
    let response: EmbeddingsResponse = serde_json::from_slice(&embedded.bytes).ok()?;
    let values: Vec<f32> = response.data.first()?.embedding.as_array()?.iter().map(|v| v.as_f64().map(|f| f as f32)).collect::<Option<_>>()?;
    Quantized::from_f32(&values)
}

async fn send(env: &Env, object: &str, ask: &Ask) -> Option<String> {
    let (status, text) = crate::http::object::post(env, BINDING, object, &serde_json::to_string(ask).ok()?).await.ok()?;
    (status == 200).then_some(text)
}

/// A similarity for the `x-edgeway-cache-similarity` header: four decimals.
pub fn format_similarity(similarity: f32) -> String {
    let ten_thousandths = (f64::from(similarity.clamp(0.0, 1.0)) * 10_000.0).round() as u32;
    format!("{}.{:04}", ten_thousandths / 10_000, ten_thousandths % 10_000)
}
