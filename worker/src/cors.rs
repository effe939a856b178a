//! CORS for browser callers (the SDK), as DESIGN.md describes.
//!
//! A preflight carries no credentials, so it is answered for any origin
//! that some live publishable key allows; the key's own origins are then
//! enforced on the real request (`auth`). Every answer to an allowed
//! origin lists the gateway's response headers in
//! `Access-Control-Expose-Headers`, or the browser would hide them.

use edgeway_core::keys::record::origin_matches;
use worker::Env;

use crate::http::respond::Reply;
use crate::keys_store;

/// Request headers a browser may send (`Authorization` must be named: a
/// wildcard does not cover it).
const ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, x-request-id, traceparent, x-edgeway-cache, x-edgeway-cache-ttl, \
x-edgeway-cache-namespace, x-edgeway-target, x-edgeway-fallback, x-edgeway-tier, x-edgeway-metadata, x-edgeway-idempotency-key";

/// Response headers the browser may read.
const EXPOSE_HEADERS: &str = "x-request-id, x-edgeway-provider, x-edgeway-model, x-edgeway-route, x-edgeway-attempts, x-edgeway-cache, \
x-edgeway-cache-age, x-edgeway-tier, x-edgeway-tier-reason, x-edgeway-tokens-in, x-edgeway-tokens-out, x-edgeway-cost-usd, \
x-edgeway-warning, x-edgeway-budget-reset, x-edgeway-cache-similarity, x-edgeway-guardrails, retry-after, x-should-retry, \
ratelimit, ratelimit-policy, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, \
x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";

/// How long a browser may cache a preflight answer.
const MAX_AGE_S: &str = "600";

/// Whether some live publishable key allows `origin`.
pub async fn is_allowed(env: &Env, origin: &str, now_ms: u64) -> bool {
    keys_store::allowed_origins(env, now_ms).await.iter().any(|pattern| origin_matches(pattern, origin))
}

/// The answer to a preflight (`OPTIONS` with `Origin`).
pub async fn preflight(env: &Env, origin: Option<&str>, now_ms: u64) -> Reply {
    let mut response = Reply::empty(204);
    if let Some(origin) = origin {
        if is_allowed(env, origin, now_ms).await {
            response.set("access-control-allow-origin", origin);
            response.set("access-control-allow-methods", "GET, POST, OPTIONS");
            response.set("access-control-allow-headers", ALLOW_HEADERS);
            response.set("access-control-max-age", MAX_AGE_S);
        }
    }
    response.set("vary", "Origin");
    response
}

/// Lets the browser at `origin` read `response` and its headers.
pub fn expose(response: &mut Reply, origin: &str) {
    response.set("access-control-allow-origin", origin);
    response.set("access-control-expose-headers", EXPOSE_HEADERS);
    response.set("vary", "Origin");
}
