//! The gateway's account of an answer, from its response headers: which
//! request, route, provider and model, the cache's verdict, the tier, the
//! guardrails, attempts, cost.

use edgeway_core::headers;
use js_sys::Object;
use web_sys::Headers;

use crate::js;

/// The metadata object apps read (`ResponseMetadata` in the TypeScript
/// types). `retries` counts the SDK's own retries of the call.
pub fn read(response_headers: &Headers, retries: u32) -> Object {
    let get = |name: &str| response_headers.get(name).ok().flatten();
    // JS parses the numbers: Rust's float parser would cost wasm size.
    let number = |name: &str| get(name).map(|v| js_sys::Number::parse_float(&v)).filter(|n| !n.is_nan());
    let metadata = Object::new();
    js::set(&metadata, "requestId", get(headers::REQUEST_ID));
    js::set(&metadata, "route", get(headers::ROUTE));
    js::set(&metadata, "provider", get(headers::PROVIDER));
    js::set(&metadata, "model", get(headers::MODEL));
    js::set(&metadata, "cache", get(headers::CACHE));
    js::set(&metadata, "cacheAgeSeconds", number(headers::CACHE_AGE));
    js::set(&metadata, "cacheSimilarity", number(headers::CACHE_SIMILARITY));
    js::set(&metadata, "tier", get(headers::TIER));
    js::set(&metadata, "tierReason", get(headers::TIER_REASON));
    js::set(&metadata, "guardrails", get(headers::GUARDRAILS));
    js::set(&metadata, "attempts", number(headers::ATTEMPTS));
    js::set(&metadata, "tokensIn", number(headers::TOKENS_IN));
    js::set(&metadata, "tokensOut", number(headers::TOKENS_OUT));
    js::set(&metadata, "costUsd", number(headers::COST_USD));
    js::set(&metadata, "retries", f64::from(retries));
    metadata
}
