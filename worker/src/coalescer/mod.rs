//! Request coalescing for cacheable misses: identical requests in flight
//! at the same time make one upstream call (`object` says how).
//!
//! Only cacheable misses pay the extra hop. If the coalescer cannot be
//! reached, the request simply leads itself: coalescing saves work, it is
//! never a reason to fail.

pub mod object;
mod wire;

use edgeway_core::cache::entry::CacheEntry;
use futures_channel::mpsc::UnboundedReceiver;
use futures_util::StreamExt;
use worker::{Env, Response};

use wire::{Join, Verdict};

/// The binding of the coalescer Durable Object namespace.
const BINDING: &str = "COALESCER";

/// What a request should do about its miss.
pub enum Role {
    /// Call the upstream, then report the result with [`done`].
    Lead,
    /// Another request made the answer: serve it.
    Follow(Box<CacheEntry>),
    /// Another request is streaming the answer: follow its events (SSE of
    /// OpenAI chunks), with its provider and model.
    Live {
        /// The object's streaming response.
        events: Response,
        /// Who answers.
        provider: String,
        /// The upstream model.
        model: String,
    },
}

/// Joins the flight for `key`: lead it, or wait for its leader's answer.
pub async fn join(env: &Env, key: &str, now_ms: u64, lease_ms: u64) -> Role {
    let ask = Join { op: "join".into(), now_ms, lease_ms, ..Join::default() };
    // A leader that vanished (its isolate gone) never reports: a waiter
    // gives up on it after the lease and leads itself.
    let waited = crate::runtime::Watchdog::default().race(now_ms.saturating_add(lease_ms), send(env, key, &ask)).await;
    let Some(Some(mut response)) = waited else { return Role::Lead };
    if response.headers().get("content-type").ok().flatten().is_some_and(|t| t.starts_with("text/event-stream")) {
        let header = |name: &str| response.headers().get(name).ok().flatten().unwrap_or_default();
        let (provider, model) = (header(object::LIVE_PROVIDER), header(object::LIVE_MODEL));
        return Role::Live { events: response, provider, model };
    }
    let verdict: Option<Verdict> = edgeway_core::json::from_str(&response.text().await.unwrap_or_default()).ok();
    match verdict {
        Some(Verdict { lead: false, entry: Some(entry) }) => match edgeway_core::json::from_str::<CacheEntry>(&entry) {
            Ok(entry) => Role::Follow(Box::new(entry)),
            Err(_) => Role::Lead,
        },
        _ => Role::Lead,
    }
}

/// The leader is done: `entry` is the stored answer's JSON, or `None` when
/// there is nothing to share (the call failed, or was not cacheable).
pub async fn done(env: &Env, key: &str, entry: Option<String>, now_ms: u64) {
    let _ = send(env, key, &Join { op: "done".into(), entry, now_ms, ..Join::default() }).await;
}

/// Publishes a streaming leader's events as they come, in order, until the
/// stream ends (the channel closes); runs in the background.
pub async fn publish(env: Env, key: String, provider: String, model: String, events: UnboundedReceiver<Vec<String>>) {
    let mut batches = events.ready_chunks(64);
    while let Some(batches) = batches.next().await {
        let events = batches.into_iter().flatten().collect();
        let ask = Join { op: "publish".into(), events, provider: provider.clone(), model: model.clone(), ..Join::default() };
        let _ = send(&env, &key, &ask).await;
    }
    let _ = send(&env, &key, &Join { op: "publish".into(), end: true, provider, model, ..Join::default() }).await;
}

async fn send(env: &Env, key: &str, join: &Join) -> Option<Response> {
    crate::http::object::fetch(env, BINDING, key, &serde_json::to_string(join).ok()?).await.ok()
}
