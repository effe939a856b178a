//! Gateway keys in KV, by the hash of the key string, with a few seconds
//! of isolate memory in front so a busy key costs no KV read per request.
//!
//! Layout of the `KEYS` namespace:
//! - `key:<sha256 of the key string>` → the key's record (JSON)
//! - `id:<key id>` → that hash, so the admin API and tokens find a key by id
//! - `cors:origins` → every origin some live publishable key allows, for
//!   answering preflights before any key is known

use std::cell::RefCell;
use std::collections::HashMap;

use edgeway_core::keys::key_string::KeyKind;
use edgeway_core::keys::record::KeyRecord;
use edgeway_core::GatewayError;
use worker::Env;

use crate::test_mode;

/// The KV binding.
const BINDING: &str = "KEYS";
/// How long a lookup is served from isolate memory. Revocation does not
/// wait for it: the key's limiter object is consulted on every request.
const MEMORY_TTL_MS: u64 = 5_000;
/// Entries kept in isolate memory at most.
const MEMORY_CAP: usize = 1_000;
const ORIGINS: &str = "cors:origins";

thread_local! {
    static MEMORY: RefCell<HashMap<String, (u64, Option<KeyRecord>)>> = RefCell::new(HashMap::new());
    static ORIGINS_MEMORY: RefCell<Option<(u64, Vec<String>)>> = const { RefCell::new(None) };
}

fn unavailable(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Internal { message: format!("the key store is unavailable: {e}") }
}

fn kv(env: &Env) -> Result<worker::kv::KvStore, GatewayError> {
    env.kv(BINDING).map_err(unavailable)
}

async fn read(env: &Env, name: &str) -> Result<Option<String>, GatewayError> {
    if test_mode::faults().kv_read {
        return Err(unavailable("KV reads are switched off (test mode)"));
    }
    kv(env)?.get(name).text().await.map_err(unavailable)
}

async fn write(env: &Env, name: &str, value: String) -> Result<(), GatewayError> {
    if test_mode::faults().kv_write {
        return Err(unavailable("KV writes are switched off (test mode)"));
    }
    // As bytes: `put` would run the JSON text through serde_wasm_bindgen.
    kv(env)?.put_bytes(name, value.as_bytes()).map_err(unavailable)?.execute().await.map_err(unavailable)
}

/// The key whose string hashes to `hash`, from memory or KV.
pub async fn by_hash(env: &Env, hash: &str, now_ms: u64) -> Result<Option<KeyRecord>, GatewayError> {
    if let Some(record) = MEMORY.with(|m| m.borrow().get(hash).filter(|(at, _)| now_ms.saturating_sub(*at) < MEMORY_TTL_MS).map(|(_, r)| r.clone())) {
        return Ok(record);
    }
    let record = read(env, &format!("key:{hash}")).await?.and_then(|json| edgeway_core::json::from_str::<KeyRecord>(&json).ok());
    MEMORY.with(|m| {
        let mut memory = m.borrow_mut();
        if memory.len() >= MEMORY_CAP {
            memory.retain(|_, (at, _)| now_ms.saturating_sub(*at) < MEMORY_TTL_MS);
        }
        if memory.len() < MEMORY_CAP {
            memory.insert(hash.to_owned(), (now_ms, record.clone()));
        }
    });
    Ok(record)
}

/// The hash a key id is stored under.
pub async fn hash_of(env: &Env, id: &str) -> Result<Option<String>, GatewayError> {
    read(env, &format!("id:{id}")).await
}

/// The key with id `id`.
pub async fn by_id(env: &Env, id: &str, now_ms: u64) -> Result<Option<KeyRecord>, GatewayError> {
    match hash_of(env, id).await? {
        Some(hash) => by_hash(env, &hash, now_ms).await,
        None => Ok(None),
    }
}

/// Stores a key (new or changed) and refreshes the CORS origins.
pub async fn save(env: &Env, hash: &str, record: &KeyRecord) -> Result<(), GatewayError> {
    let json = serde_json::to_string(record).map_err(unavailable)?;
    write(env, &format!("key:{hash}"), json).await?;
    write(env, &format!("id:{}", record.id), hash.to_owned()).await?;
    MEMORY.with(|m| m.borrow_mut().remove(hash));
    refresh_origins(env).await
}

/// Every key, newest first.
pub async fn list(env: &Env, now_ms: u64) -> Result<Vec<KeyRecord>, GatewayError> {
    if test_mode::faults().kv_read {
        return Err(unavailable("KV reads are switched off (test mode)"));
    }
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list = kv(env)?.list().prefix("id:".to_owned());
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = list.execute().await.map_err(unavailable)?;
        for entry in &page.keys {
            if let Some(id) = entry.name.strip_prefix("id:") {
                if let Some(record) = by_id(env, id, now_ms).await? {
                    records.push(record);
                }
            }
        }
        match page.cursor {
            Some(c) if !page.list_complete => cursor = Some(c),
            _ => break,
        }
    }
    edgeway_core::small_sort::sort_by_key(&mut records, |k| std::cmp::Reverse(k.created_ms));
    Ok(records)
}

/// Rewrites the origins every live publishable key allows.
async fn refresh_origins(env: &Env) -> Result<(), GatewayError> {
    let now = crate::runtime::now_ms();
    let mut origins: Vec<String> = list(env, now)
        .await?
        .into_iter()
        .filter(|k| k.kind == KeyKind::Publishable && !k.revoked)
        .flat_map(|k| k.origins)
        .collect();
    edgeway_core::small_sort::sort_by(&mut origins, Ord::cmp);
    origins.dedup();
    write(env, ORIGINS, serde_json::to_string(&origins).map_err(unavailable)?).await?;
    ORIGINS_MEMORY.with(|m| *m.borrow_mut() = Some((now, origins)));
    Ok(())
}

/// Origin patterns some live publishable key allows (for preflights).
pub async fn allowed_origins(env: &Env, now_ms: u64) -> Vec<String> {
    if let Some(origins) = ORIGINS_MEMORY.with(|m| m.borrow().as_ref().filter(|(at, _)| now_ms.saturating_sub(*at) < MEMORY_TTL_MS).map(|(_, o)| o.clone())) {
        return origins;
    }
    // A failed read answers no preflight: a browser retries, and no origin
    // is let in on a guess.
    let origins: Vec<String> = read(env, ORIGINS).await.ok().flatten().and_then(|json| edgeway_core::json::from_str(&json).ok()).unwrap_or_default();
    ORIGINS_MEMORY.with(|m| *m.borrow_mut() = Some((now_ms, origins.clone())));
    origins
}
