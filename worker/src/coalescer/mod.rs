//! Request coalescing for cacheable misses: identical requests in flight
//! at the same time make one upstream call (`object` says how).
//!
//! Only cacheable misses pay the extra hop. If the coalescer cannot be
//! reached, the request simply leads itself: coalescing saves work, it is
//! never a reason to fail.

pub mod object;
mod wire;

use edgeway_core::cache::entry::CacheEntry;
use worker::{Env, Method, Request, RequestInit};

use wire::{Join, Verdict};

/// The binding of the coalescer Durable Object namespace.
const BINDING: &str = "COALESCER";

/// What a request should do about its miss.
pub enum Role {
    /// Call the upstream, then report the result with [`done`].
    Lead,
    /// Another request made the answer: serve it.
    Follow(Box<CacheEntry>),
}

/// Joins the flight for `key`: lead it, or wait for its leader's answer.
pub async fn join(env: &Env, key: &str, now_ms: u64, lease_ms: u64) -> Role {
    let ask = Join { op: "join".into(), now_ms, lease_ms, entry: None };
    match call(env, key, &ask).await {
        Some(Verdict { lead: false, entry: Some(entry) }) => match serde_json::from_str::<CacheEntry>(&entry) {
            Ok(entry) => Role::Follow(Box::new(entry)),
            Err(_) => Role::Lead,
        },
        _ => Role::Lead,
    }
}

/// The leader is done: `entry` is the stored answer's JSON, or `None` when
/// there is nothing to share (the call failed, or was not cacheable).
pub async fn done(env: &Env, key: &str, entry: Option<String>) {
    let _ = call(env, key, &Join { op: "done".into(), entry, ..Join::default() }).await;
}

async fn call(env: &Env, key: &str, join: &Join) -> Option<Verdict> {
    let namespace = env.durable_object(BINDING).ok()?;
    let stub = namespace.id_from_name(key).and_then(|id| id.get_stub()).ok()?;
    let body = serde_json::to_string(join).ok()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init("https://coalescer.internal/", &init).ok()?;
    let mut response = stub.fetch_with_request(request).await.ok()?;
    serde_json::from_str(&response.text().await.ok()?).ok()
}
