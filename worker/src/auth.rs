//! Who is calling: a gateway key (server or publishable), a short-lived
//! token minted for one of them, or the dev key of `make dev`.
//!
//! Keys are looked up by the SHA-256 of the key string (`keys_store`);
//! tokens are verified without any lookup first — the signing secret is
//! derived from the master secret and the token's `kid` — and only a token
//! with a good signature costs a key lookup. Publishable keys only work from
//! their allowed origins, and every caller of one is an end user with
//! limits of their own: the token's `sub`, or the client's IP.

use std::rc::Rc;

use edgeway_core::keys::key_string::{self, KeyKind};
use edgeway_core::keys::record::KeyRecord;
use edgeway_core::keys::{crypto, token};
use edgeway_core::limits::utc_timestamp;
use edgeway_core::GatewayError;
use worker::Env;

use crate::{keys_store, settings};
use crate::http::incoming::Incoming;

/// Name of the secret holding the dev gateway key.
const DEV_KEY_SECRET: &str = "EDGEWAY_DEV_KEY";
/// Name of the secret tokens' signing secrets are derived from.
pub const SIGNING_SECRET: &str = "EDGEWAY_SIGNING_SECRET";

/// An authenticated caller.
pub struct Caller {
    /// The key, or `None` for the dev key (unlimited, every route).
    pub key: Option<Rc<KeyRecord>>,
    /// The end user: a token's `sub`, or the IP for a publishable key.
    pub end_user: Option<String>,
    /// Routes a token narrows the key to.
    pub token_routes: Option<Vec<String>>,
}

impl Caller {
    /// Whether this caller may use `route`.
    pub fn check_route(&self, route: &str) -> Result<(), GatewayError> {
        let key_allows = self.key.as_ref().is_none_or(|k| k.allows_route(route));
        let token_allows = self.token_routes.as_ref().is_none_or(|routes| routes.iter().any(|r| r == route));
        if key_allows && token_allows {
            Ok(())
        } else {
            Err(GatewayError::RouteNotAllowed { message: format!("this key may not use the route {}", edgeway_core::json::quote(route)), param: "model".to_owned() })
        }
    }

    /// Whether this caller may pin targets or switch fallback off.
    pub fn may_override(&self) -> bool {
        self.key.as_ref().is_none_or(|k| k.allow_overrides)
    }

    /// The key's id, for logs (`dev` for the dev key).
    pub fn key_id(&self) -> &str {
        self.key.as_ref().map_or("dev", |k| k.id.as_str())
    }
}

/// Authenticates the request (`Authorization: Bearer …` or `x-api-key`).
pub async fn authenticate(request: &Incoming, env: &Env, now_ms: u64) -> Result<Caller, GatewayError> {
    let presented = presented_key(request).ok_or(GatewayError::InvalidApiKey { reason: "no API key: send `Authorization: Bearer <gateway key>`" })?;
    let caller = if key_string::looks_like_jwt(&presented) {
        from_token(env, &presented, now_ms).await?
    } else if key_string::parse(&presented).is_some() {
        let record = keys_store::by_hash(env, &key_string::hash(&presented), now_ms).await?;
        let record = live(record)?;
        Caller { key: Some(Rc::new(record)), end_user: None, token_routes: None }
    } else {
        let expected = settings::get(env, DEV_KEY_SECRET).ok_or(GatewayError::InvalidApiKey { reason: "the API key is not valid for this gateway" })?;
        if !crypto::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return Err(GatewayError::InvalidApiKey { reason: "the API key is not valid for this gateway" });
        }
        return Ok(Caller { key: None, end_user: None, token_routes: None });
    };
    check_browser(request, caller)
}

/// A token: signature first (no lookup for forgeries), then its key.
async fn from_token(env: &Env, token_text: &str, now_ms: u64) -> Result<Caller, GatewayError> {
    let invalid = |reason: String| GatewayError::TokenInvalid { reason };
    let kid = token::key_id(token_text).map_err(|e| invalid(e.to_string()))?;
    let master = settings::get(env, SIGNING_SECRET).ok_or_else(|| invalid("this gateway does not accept tokens (no signing secret is set)".to_owned()))?;
    let secret = crypto::derive_signing_secret(master.as_bytes(), &kid);
    let claims = token::verify(token_text, &secret, now_ms).map_err(|e| match e {
        token::TokenError::Expired { expired_at_s } => GatewayError::TokenExpired { expired_at: utc_timestamp(expired_at_s.saturating_mul(1000)) },
        other => invalid(other.to_string()),
    })?;
    let record = live(keys_store::by_id(env, &kid, now_ms).await?)?;
    Ok(Caller { key: Some(Rc::new(record)), end_user: Some(format!("sub:{}", claims.sub)), token_routes: claims.routes })
}

/// Unknown and revoked keys look the same to the caller.
fn live(record: Option<KeyRecord>) -> Result<KeyRecord, GatewayError> {
    record.filter(|r| !r.revoked).ok_or(GatewayError::InvalidApiKey { reason: "unknown or revoked key" })
}

/// A publishable key works only from its allowed origins, and its callers
/// are end users (the token's `sub`, else the client's IP).
fn check_browser(request: &Incoming, mut caller: Caller) -> Result<Caller, GatewayError> {
    let Some(key) = caller.key.as_ref().filter(|k| k.kind == KeyKind::Publishable) else { return Ok(caller) };
    let origin = request.header("origin").or_else(|| same_origin(request));
    match origin {
        Some(origin) if key.allows_origin(origin) => {}
        Some(origin) => return Err(GatewayError::OriginNotAllowed { origin: origin.chars().take(200).collect() }),
        None => return Err(GatewayError::OriginNotAllowed { origin: "a request with no Origin (publishable keys work from browsers)".to_owned() }),
    }
    if caller.end_user.is_none() {
        let ip = request.header("cf-connecting-ip").unwrap_or("unknown");
        caller.end_user = Some(format!("ip:{ip}"));
    }
    Ok(caller)
}

/// The request's own origin when a browser says the request comes from it:
/// browsers send no `Origin` on a same-origin GET (the dashboard's
/// playground listing models), but do send `Sec-Fetch-Site`, which no page
/// can set.
fn same_origin(request: &Incoming) -> Option<&str> {
    let site = request.header("sec-fetch-site")?;
    (site == "same-origin").then(|| edgeway_core::query_string::origin(request.url())).flatten()
}

/// The credential a request presents.
pub fn presented_key(request: &Incoming) -> Option<String> {
    if let Some(value) = request.header("authorization") {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    request.header("x-api-key").map(|v| v.trim().to_owned())
}
