//! Where a request is cached: the response cache in KV (`CACHE`).
//!
//! `edgeway_core::cache` decides (plan, key, freshness, what may be
//! stored); this module reads and writes KV. Entries are written after the
//! response, in `wait_until`, and only for complete, successful answers. A
//! KV failure on either side is a miss, never an error.
//!
//! Keys: `e:<all version>:<namespace version>:<hash>`, where the hash covers
//! the namespace and the canonical request. Purging bumps a version
//! (`ver:all`, or `ver:<namespace>`), so old entries are simply never
//! read again and KV's own expiry cleans them up.

use std::cell::RefCell;
use std::collections::HashMap;

use edgeway_core::cache::entry::{is_cacheable, CacheEntry, MAX_ENTRY_BYTES};
use edgeway_core::cache::key::cache_key;
use edgeway_core::openai::{ChatCompletion, ChatRequest};
use worker::Env;

use crate::test_mode;

/// The KV binding.
const BINDING: &str = "CACHE";
/// How long namespace versions are trusted from isolate memory.
const VERSION_TTL_MS: u64 = 5_000;
/// KV keeps an entry this much longer than its TTL, as a cleanup backstop;
/// freshness itself is judged by the gateway's clock.
const EXPIRY_SLACK_S: u64 = 60;

thread_local! {
    static VERSIONS: RefCell<HashMap<String, (u64, u64)>> = RefCell::new(HashMap::new());
}

/// Where a request's answer lives in KV (`None`: the request has no key,
/// and is not cached).
pub async fn entry_key(env: &Env, namespace: &str, request: &ChatRequest, now_ms: u64) -> Option<String> {
    let hash = cache_key(request, namespace)?;
    Some(format!("e:{}:{hash}", generation(env, namespace, now_ms).await))
}

/// The namespace's purge generation, `<all>:<own>`: bumped by a purge of
/// everything or of the namespace.
pub async fn generation(env: &Env, namespace: &str, now_ms: u64) -> String {
    let all = version(env, "all", now_ms).await;
    let own = version(env, namespace, now_ms).await;
    format!("{all}:{own}")
}

/// A namespace's purge counter (0 until first purged).
async fn version(env: &Env, namespace: &str, now_ms: u64) -> u64 {
    if let Some(v) = VERSIONS.with(|m| m.borrow().get(namespace).filter(|(at, _)| now_ms.saturating_sub(*at) < VERSION_TTL_MS).map(|(_, v)| *v)) {
        return v;
    }
    let v = read(env, &format!("ver:{namespace}")).await.and_then(|t| t.parse().ok()).unwrap_or(0);
    VERSIONS.with(|m| m.borrow_mut().insert(namespace.to_owned(), (now_ms, v)));
    v
}

/// Purges a namespace (`None`: everything) by bumping its version.
pub async fn purge(env: &Env, namespace: Option<&str>, now_ms: u64) -> Result<u64, String> {
    let name = namespace.unwrap_or("all");
    let current: u64 = read(env, &format!("ver:{name}")).await.and_then(|t| t.parse().ok()).unwrap_or(0);
    let next = current + 1;
    write(env, &format!("ver:{name}"), next.to_string(), None).await?;
    VERSIONS.with(|m| m.borrow_mut().insert(name.to_owned(), (now_ms, next)));
    Ok(next)
}

/// A fresh entry for `key`, if there is one.
pub async fn lookup(env: &Env, key: &str, now_ms: u64) -> Option<CacheEntry> {
    let text = read(env, key).await?;
    let entry: CacheEntry = edgeway_core::json::from_str(&text).ok()?;
    entry.is_fresh(now_ms).then_some(entry)
}

/// An answer waiting to be stored once the response is complete.
pub struct PendingWrite {
    /// Where it goes.
    pub key: String,
    /// Its lifetime.
    pub ttl_ms: u64,
    /// Who answered.
    pub provider: String,
    /// The upstream model that answered.
    pub model: String,
    /// The answer: known now (JSON) or when the stream ends.
    pub answer: PendingAnswer,
}

/// Where the answer to store comes from.
pub enum PendingAnswer {
    /// A whole answer's bytes.
    Json(Vec<u8>),
    /// A stream's assembled answer, sent only if it completed properly.
    Stream(futures_channel::oneshot::Receiver<ChatCompletion>),
}

/// Stores the answer if it is complete, successful and small enough, and
/// returns the stored entry (JSON); returns why not otherwise (for the log).
pub async fn store(env: &Env, pending: PendingWrite, cost_usd: Option<f64>, now_ms: u64) -> Result<String, &'static str> {
    let answer = match pending.answer {
        PendingAnswer::Json(bytes) => serde_json::from_slice::<ChatCompletion>(&bytes).map_err(|_| "unreadable answer")?,
        PendingAnswer::Stream(receiver) => receiver.await.map_err(|_| "the stream did not complete")?,
    };
    if !is_cacheable(&answer) {
        return Err("not cacheable (cut short or filtered)");
    }
    let entry = CacheEntry { created_ms: now_ms, ttl_ms: pending.ttl_ms, provider: pending.provider, model: pending.model, answer, cost_usd };
    let json = serde_json::to_string(&entry).map_err(|_| "unencodable")?;
    if json.len() > MAX_ENTRY_BYTES {
        return Err("larger than KV's value limit");
    }
    let expire_s = (pending.ttl_ms / 1000).saturating_add(EXPIRY_SLACK_S).max(EXPIRY_SLACK_S);
    write(env, &pending.key, json.clone(), Some(expire_s)).await.map_err(|_| "KV write failed")?;
    Ok(json)
}

async fn read(env: &Env, key: &str) -> Option<String> {
    if test_mode::faults().kv_read {
        return None;
    }
    env.kv(BINDING).ok()?.get(key).text().await.ok().flatten()
}

async fn write(env: &Env, key: &str, value: String, expire_s: Option<u64>) -> Result<(), String> {
    if test_mode::faults().kv_write {
        return Err("KV writes are switched off (test mode)".to_owned());
    }
    let kv = env.kv(BINDING).map_err(|e| e.to_string())?;
    // As bytes: `put` would run the text through serde_wasm_bindgen (and
    // float formatting) on its way to being the same text.
    let mut put = kv.put_bytes(key, value.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(s) = expire_s {
        put = put.expiration_ttl(s);
    }
    put.execute().await.map_err(|e| e.to_string())
}
