//! `/admin/api/*`: gateway keys (create, list, read, update, revoke, mint
//! tokens, usage), cache purges, request logs, stats and the audit log
//! (`handlers/logs`), eval runs and golden sets (`handlers/evals`), the
//! playground's token and, in test mode only, the
//! movable clock, failure switches and log seeding.
//! Every call needs the admin token (the secret `EDGEWAY_ADMIN_TOKEN`), as
//! `x-edgeway-admin-token` or `Authorization: Bearer`.

use edgeway_core::keys::key_string::{self, KeyKind};
use edgeway_core::keys::record::{InputError, KeyInput, KeyRecord};
use edgeway_core::keys::token::{self, Claims};
use edgeway_core::keys::{base64url, crypto};
use edgeway_core::limits::utc_timestamp;
use edgeway_core::GatewayError;
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Method};

use crate::handlers::{evals, logs};
use crate::http::body;
use crate::http::respond::Reply;
use crate::logs::audit;
use crate::test_mode::{self, Faults};
use crate::{auth, config, keys_store, limiter, runtime, settings};
use crate::http::incoming::Incoming;

/// Name of the secret holding the admin token.
const ADMIN_TOKEN_SECRET: &str = "EDGEWAY_ADMIN_TOKEN";
/// Admin bodies are small JSON documents.
const MAX_ADMIN_BODY: u64 = 64 * 1024;
/// Default and longest lifetime of a minted token.
const DEFAULT_TOKEN_TTL_S: u64 = 15 * 60;
const MAX_TOKEN_TTL_S: u64 = 24 * 60 * 60;

/// Handles one admin call.
pub async fn handle(request: &Incoming, env: &Env, method: &Method, path: &str) -> Result<Reply, GatewayError> {
    check_admin(request, env)?;
    let rest = path.trim_start_matches("/admin/api/").trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    let not_allowed = |allowed: &'static str| GatewayError::MethodNotAllowed { method: method.to_string(), path: path.to_owned(), allowed };
    let now = runtime::now_ms();
    match (segments.as_slice(), method) {
        (["keys"], Method::Get) => list(env, now).await,
        (["keys"], Method::Post) => create(request, env, now).await,
        (["keys"], _) => Err(not_allowed("GET, POST")),
        (["keys", id], Method::Get) => Ok(Reply::json(200, record_json(&find(env, id, now).await?.1))),
        (["keys", id], Method::Patch) => update(request, env, id, now).await,
        (["keys", id], Method::Delete) => revoke(env, id, now).await,
        (["keys", _], _) => Err(not_allowed("GET, PATCH, DELETE")),
        (["keys", id, "tokens"], Method::Post) => mint(request, env, id, now).await,
        (["keys", _, "tokens"], _) => Err(not_allowed("POST")),
        (["keys", id, "usage"], Method::Get) => logs::key_usage(env, &find(env, id, now).await?.1, now).await,
        (["keys", _, "usage"], _) => Err(not_allowed("GET")),
        (["cache", "purge"], Method::Post) => purge(request, env, now).await,
        (["cache", "purge"], _) => Err(not_allowed("POST")),
        (["logs"], Method::Get) => logs::list(request, env, now).await,
        (["logs", id], Method::Get) => logs::record(env, id).await,
        (["logs"] | ["logs", _], _) => Err(not_allowed("GET")),
        (["stats"], Method::Get) => logs::stats(request, env, now).await,
        (["audit"], Method::Get) => logs::audit(request, env).await,
        (["stats"] | ["audit"], _) => Err(not_allowed("GET")),
        (["evals", rest @ ..], _) => evals::handle(request, env, method, path, rest, now).await,
        (["playground", "token"], Method::Post) => playground_token(request, env, now).await,
        (["playground", "token"], _) => Err(not_allowed("POST")),
        (["test", "logs"], Method::Post) if test_mode::enabled(env) => seed_logs(request, env).await,
        (["test", what], _) if test_mode::enabled(env) => test_switch(request, what, method, path).await,
        _ => Err(GatewayError::NotFound { method: method.to_string(), path: path.to_owned() }),
    }
}

/// The admin token, compared in constant time.
fn check_admin(request: &Incoming, env: &Env) -> Result<(), GatewayError> {
    let expected = settings::get(env, ADMIN_TOKEN_SECRET).ok_or(GatewayError::InvalidApiKey { reason: "the admin API is off: no admin token is set" })?;
    let presented = request.header("x-edgeway-admin-token").map(str::to_owned).or_else(|| auth::presented_key(request));
    match presented {
        Some(token) if crypto::constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(GatewayError::InvalidApiKey { reason: "the admin token is not valid" }),
        None => Err(GatewayError::InvalidApiKey { reason: "no admin token: send `x-edgeway-admin-token`" }),
    }
}

/// Reads an admin body. Plain serde_json (its message gives the line and
/// column) rather than the field-path parser of the API endpoints: the
/// admin API's few callers do not need paths, and the wasm stays smaller.
async fn json_body<T: serde::de::DeserializeOwned>(request: &Incoming) -> Result<T, GatewayError> {
    let bytes = body::read_limited(request, MAX_ADMIN_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => GatewayError::InvalidRequest { param: String::new(), message: e.to_string() },
        _ => GatewayError::InvalidJson { detail: e.to_string() },
    })
}

fn input_error(error: InputError) -> GatewayError {
    GatewayError::InvalidRequest { param: error.param, message: error.message }
}

fn record_json(record: &KeyRecord) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

async fn find(env: &Env, id: &str, now: u64) -> Result<(String, KeyRecord), GatewayError> {
    let missing = || GatewayError::NotFound { method: "key".to_owned(), path: id.to_owned() };
    let hash = keys_store::hash_of(env, id).await?.ok_or_else(missing)?;
    let record = keys_store::by_hash(env, &hash, now).await?.ok_or_else(missing)?;
    Ok((hash, record))
}

async fn list(env: &Env, now: u64) -> Result<Reply, GatewayError> {
    let keys = keys_store::list(env, now).await?;
    Ok(Reply::json(200, json!({"object": "list", "data": keys}).to_string()))
}

/// The random part of a new key string, from the CSPRNG only.
fn key_bytes<const N: usize>() -> Result<[u8; N], GatewayError> {
    runtime::secret_bytes().ok_or_else(|| GatewayError::Internal { message: "the runtime's random number generator failed".to_owned() })
}

/// Creates a key. Its string and signing secret are in this answer only.
async fn create(request: &Incoming, env: &Env, now: u64) -> Result<Reply, GatewayError> {
    let input: KeyInput = json_body(request).await?;
    let kind = input.kind.unwrap_or(KeyKind::Server);
    let config = config::get()?;
    let new = key_string::generate(kind, key_bytes()?);
    let record = KeyRecord::create(new.id, input, now, |route| config.route(route).is_some()).map_err(input_error)?;
    keys_store::save(env, &key_string::hash(&new.secret), &record).await?;
    audit::record(env, now, "key.created", &record.id, &format!("{} ({:?})", record.name, record.kind)).await;
    let signing_secret = settings::get(env, auth::SIGNING_SECRET).map(|master| base64url::encode(&crypto::derive_signing_secret(master.as_bytes(), &record.id)));
    let body = json!({"key": new.secret, "signing_secret": signing_secret, "record": record});
    Ok(Reply::json(201, body.to_string()))
}

async fn update(request: &Incoming, env: &Env, id: &str, now: u64) -> Result<Reply, GatewayError> {
    let input: KeyInput = json_body(request).await?;
    let (hash, mut record) = find(env, id, now).await?;
    let config = config::get()?;
    record.update(input, |route| config.route(route).is_some()).map_err(input_error)?;
    keys_store::save(env, &hash, &record).await?;
    audit::record(env, now, "key.updated", &record.id, &record.name).await;
    Ok(Reply::json(200, record_json(&record)))
}

/// Revokes a key: in its limiter object first (immediate everywhere), then
/// in KV (which edge caches may serve for a minute).
async fn revoke(env: &Env, id: &str, now: u64) -> Result<Reply, GatewayError> {
    let (hash, mut record) = find(env, id, now).await?;
    limiter::revoke(env, &record.id, now).await?;
    record.revoked = true;
    keys_store::save(env, &hash, &record).await?;
    audit::record(env, now, "key.revoked", &record.id, &record.name).await;
    Ok(Reply::json(200, record_json(&record)))
}

/// What the admin API needs to mint a token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintInput {
    sub: String,
    #[serde(default)]
    ttl_s: Option<u64>,
    #[serde(default)]
    routes: Option<Vec<String>>,
}

/// Mints a short-lived token for one end user of a key (an app's backend
/// can do the same with any JWT library and the key's signing secret).
async fn mint(request: &Incoming, env: &Env, id: &str, now: u64) -> Result<Reply, GatewayError> {
    let input: MintInput = json_body(request).await?;
    let (_, record) = find(env, id, now).await?;
    if input.sub.is_empty() || input.sub.len() > 256 {
        return Err(GatewayError::InvalidRequest { param: "sub".to_owned(), message: "`sub` is 1 to 256 characters".to_owned() });
    }
    let ttl = input.ttl_s.unwrap_or(DEFAULT_TOKEN_TTL_S);
    if ttl == 0 || ttl > MAX_TOKEN_TTL_S {
        return Err(GatewayError::InvalidRequest { param: "ttl_s".to_owned(), message: format!("`ttl_s` is 1 to {MAX_TOKEN_TTL_S}") });
    }
    let (token, expires_ms) = token_for(env, &record, input.sub, ttl, input.routes, now)?;
    audit::record(env, now, "token.minted", &record.id, &format!("ttl {ttl} s")).await;
    Ok(Reply::json(201, json!({"token": token, "expires_at": utc_timestamp(expires_ms)}).to_string()))
}

/// A token for `record`'s end user `sub`, and when it expires (ms).
fn token_for(env: &Env, record: &KeyRecord, sub: String, ttl_s: u64, routes: Option<Vec<String>>, now: u64) -> Result<(String, u64), GatewayError> {
    if record.revoked {
        return Err(GatewayError::InvalidRequest { param: String::new(), message: "the key is revoked".to_owned() });
    }
    let master = settings::get(env, auth::SIGNING_SECRET).ok_or(GatewayError::GatewayMisconfigured { message: format!("tokens need the secret {}", auth::SIGNING_SECRET) })?;
    let secret = crypto::derive_signing_secret(master.as_bytes(), &record.id);
    let now_s = now / 1000;
    let claims = Claims { sub, exp: now_s + ttl_s, iat: Some(now_s), nbf: None, routes };
    Ok((token::mint(&claims, &record.id, &secret), (now_s + ttl_s) * 1000))
}

/// The id of the dashboard playground's own publishable key.
const PLAYGROUND_KEY_ID: &str = "key_playground";
/// How long a playground token lives.
const PLAYGROUND_TOKEN_TTL_S: u64 = 15 * 60;

/// A token for the dashboard's playground, which calls `/v1` through the
/// SDK like any web app: with a publishable key of its own (made on first
/// use, allowed from the dashboard's origin, listed with the other keys,
/// revocable) and short-lived tokens.
async fn playground_token(request: &Incoming, env: &Env, now: u64) -> Result<Reply, GatewayError> {
    let origin = request.header("origin").or_else(|| edgeway_core::query_string::origin(request.url())).map(str::to_owned);
    let mut record = match keys_store::by_id(env, PLAYGROUND_KEY_ID, now).await? {
        Some(record) => record,
        None => {
            let config = config::get()?;
            let input = KeyInput {
                name: Some("Dashboard playground".to_owned()),
                kind: Some(KeyKind::Publishable),
                origins: origin.clone().map(|o| vec![o]),
                ..KeyInput::default()
            };
            let record = KeyRecord::create(PLAYGROUND_KEY_ID.to_owned(), input, now, |route| config.route(route).is_some()).map_err(input_error)?;
            // The key string is never shown: the playground uses tokens.
            let unused = key_string::generate(KeyKind::Publishable, key_bytes()?);
            keys_store::save(env, &key_string::hash(&unused.secret), &record).await?;
            audit::record(env, now, "key.created", &record.id, &record.name).await;
            record
        }
    };
    if let Some(origin) = origin.filter(|o| !record.origins.contains(o)) {
        record.origins.push(origin);
        let hash = keys_store::hash_of(env, &record.id).await?.ok_or_else(|| GatewayError::Internal { message: "the playground key has no hash".to_owned() })?;
        keys_store::save(env, &hash, &record).await?;
    }
    let (token, expires_ms) = token_for(env, &record, "dashboard".to_owned(), PLAYGROUND_TOKEN_TTL_S, None, now)?;
    Ok(Reply::json(201, json!({"token": token, "expires_ms": expires_ms}).to_string()))
}

/// Test mode: stores request records as given (`{"records": [...]}`),
/// through the queue consumer's own insert, so tests and benchmarks can
/// seed the logs with known data. Parsed by JS: the records go back out as
/// JSON text, so there is nothing for serde to do.
async fn seed_logs(request: &Incoming, env: &Env) -> Result<Reply, GatewayError> {
    // Seeding a benchmark's 100k records goes faster in large batches.
    let bytes = body::read_limited(request, 16 * 1024 * 1024).await?;
    let invalid = || GatewayError::InvalidRequest { param: "records".to_owned(), message: "expected {\"records\": [...]}".to_owned() };
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let seed = js_sys::JSON::parse(text).map_err(|_| invalid())?;
    let records = js_sys::Reflect::get(&seed, &"records".into()).map_err(|_| invalid())?;
    if !js_sys::Array::is_array(&records) {
        return Err(invalid());
    }
    let lines: Vec<wasm_bindgen::JsValue> = js_sys::Array::from(&records).iter().filter_map(|r| js_sys::JSON::stringify(&r).ok().map(Into::into)).collect();
    crate::logs::consumer::store(env, &lines).await?;
    Ok(Reply::json(201, format!(r#"{{"stored":{}}}"#, lines.len())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeInput {
    /// A namespace (a key id, `shared`, or `key/sub`); absent: everything.
    #[serde(default)]
    namespace: Option<String>,
}

/// Purges the cache: one namespace, or all of it.
async fn purge(request: &Incoming, env: &Env, now: u64) -> Result<Reply, GatewayError> {
    let input: PurgeInput = json_body(request).await?;
    let version = crate::cache::purge(env, input.namespace.as_deref(), now)
        .await
        .map_err(|message| GatewayError::Internal { message: format!("could not purge: {message}") })?;
    audit::record(env, now, "cache.purged", input.namespace.as_deref().unwrap_or("all"), "").await;
    Ok(Reply::json(200, json!({"purged": input.namespace.as_deref().unwrap_or("all"), "version": version}).to_string()))
}

/// Loses the wasm instance on purpose (test mode only): a panic aborts it.
#[allow(clippy::panic, reason = "test mode's crash switch exists to panic")]
fn crash() {
    panic!("crashed on purpose (test mode)");
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockInput {
    advance_ms: u64,
}

/// Test mode's switches: `POST /admin/api/test/clock {"advance_ms": n}`,
/// `POST /admin/api/test/faults {"limiter": true, ...}`, and
/// `POST /admin/api/test/crash`, which panics on purpose: the wasm
/// instance is lost, and `tests/config/bare-workerd.test.mjs` checks that
/// the next request gets a new one.
async fn test_switch(request: &Incoming, what: &str, method: &Method, path: &str) -> Result<Reply, GatewayError> {
    match (what, method) {
        ("clock", Method::Post) => {
            let input: ClockInput = json_body(request).await?;
            test_mode::advance_clock(input.advance_ms);
        }
        ("faults", Method::Post) => test_mode::set_faults(json_body::<Faults>(request).await?),
        ("crash", Method::Post) => crash(),
        ("clock" | "faults" | "crash", _) => return Err(GatewayError::MethodNotAllowed { method: method.to_string(), path: path.to_owned(), allowed: "POST" }),
        _ => return Err(GatewayError::NotFound { method: method.to_string(), path: path.to_owned() }),
    }
    Ok(Reply::json(200, json!({"now_ms": runtime::now_ms(), "faults": test_mode::faults()}).to_string()))
}
