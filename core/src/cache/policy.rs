//! Whether and how one request uses the cache: the route's settings, the
//! caller's `x-edgeway-cache*` headers, and the request's temperature.

use serde::{Deserialize, Serialize};

use crate::headers;
use crate::openai::ChatRequest;
use crate::GatewayError;

/// A route's cache settings (`cache = { ... }` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePolicy {
    /// How long entries live unless the caller asks for less.
    pub ttl_ms: u64,
    /// The longest TTL a caller may ask for.
    pub max_ttl_ms: u64,
    /// Cache answers sampled at any temperature, not only at 0.
    pub any_temperature: bool,
    /// One namespace for every key, instead of one per key.
    pub shared: bool,
}

/// Defaults for a route that turns the cache on with no settings.
pub const DEFAULT_TTL_MS: u64 = 5 * 60 * 1000;
/// Longest TTL a route may set: a day.
pub const MAX_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// The namespace of routes with `shared = true`.
pub const SHARED_NAMESPACE: &str = "shared";

/// What the cache does for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    /// Neither read nor written.
    Bypass,
    /// Read; on a miss, the answer is written.
    Lookup,
    /// Not read; the fresh answer replaces the entry.
    Refresh,
}

/// The cache plan of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePlan {
    /// What to do.
    pub mode: CacheMode,
    /// TTL of a written entry.
    pub ttl_ms: u64,
    /// Whose entries: the key's namespace (or the shared one), and a
    /// caller's sub-namespace within it.
    pub namespace: String,
}

/// The caller's cache headers, as sent.
#[derive(Debug, Clone, Default)]
pub struct CacheHeaders {
    /// `x-edgeway-cache`: `skip` or `refresh`.
    pub control: Option<String>,
    /// `x-edgeway-cache-ttl`: seconds.
    pub ttl: Option<String>,
    /// `x-edgeway-cache-namespace`: a sub-namespace within the key's own.
    pub namespace: Option<String>,
}

/// Decides the plan. `key_namespace` is the caller's own (its key id). Bad
/// header values are refused with a 400 naming the header, so a typo never
/// silently turns the cache off.
pub fn plan(route: Option<&CachePolicy>, request: &ChatRequest, given: &CacheHeaders, key_namespace: &str) -> Result<CachePlan, GatewayError> {
    let invalid = |param: &str, message: String| GatewayError::InvalidRequest { param: param.to_owned(), message };
    let control = match given.control.as_deref().map(str::trim) {
        None => None,
        Some(c) if c.eq_ignore_ascii_case("skip") => Some(CacheMode::Bypass),
        Some(c) if c.eq_ignore_ascii_case("refresh") => Some(CacheMode::Refresh),
        Some(other) => return Err(invalid(headers::CACHE, format!("{} must be \"skip\" or \"refresh\", got {}", headers::CACHE, crate::json::quote(other)))),
    };
    let ttl_s = match given.ttl.as_deref().map(str::trim) {
        None => None,
        Some(t) => Some(t.parse::<u64>().ok().filter(|s| *s > 0).ok_or_else(|| invalid(headers::CACHE_TTL, format!("{} must be a whole number of seconds, 1 or more", headers::CACHE_TTL)))?),
    };
    let sub = match given.namespace.as_deref().map(str::trim) {
        None => None,
        Some(ns) if !ns.is_empty() && ns.len() <= 64 && ns.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) => Some(ns),
        Some(_) => return Err(invalid(headers::CACHE_NAMESPACE, format!("{} is 1 to 64 letters, digits, '.', '_' or '-'", headers::CACHE_NAMESPACE))),
    };
    let Some(policy) = route else {
        return Ok(CachePlan { mode: CacheMode::Bypass, ttl_ms: 0, namespace: String::new() });
    };
    let base = if policy.shared { SHARED_NAMESPACE } else { key_namespace };
    let namespace = match sub {
        Some(sub) => format!("{base}/{sub}"),
        None => base.to_owned(),
    };
    let ttl_ms = ttl_s.map_or(policy.ttl_ms, |s| s.saturating_mul(1000)).min(policy.max_ttl_ms);
    // An absent temperature is the provider's default, which samples.
    let deterministic = request.temperature == Some(0.0);
    let mode = match control {
        Some(mode) => mode,
        None if !deterministic && !policy.any_temperature => CacheMode::Bypass,
        None => CacheMode::Lookup,
    };
    let mode = if mode == CacheMode::Refresh && !deterministic && !policy.any_temperature { CacheMode::Bypass } else { mode };
    Ok(CachePlan { mode, ttl_ms, namespace })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_request;

    const POLICY: CachePolicy = CachePolicy { ttl_ms: 300_000, max_ttl_ms: 3_600_000, any_temperature: false, shared: false };

    fn request(temperature: &str) -> ChatRequest {
        parse_chat_request(format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}]{temperature}}}"#).as_bytes()).unwrap()
    }

    fn headers(control: Option<&str>, ttl: Option<&str>, namespace: Option<&str>) -> CacheHeaders {
        CacheHeaders { control: control.map(Into::into), ttl: ttl.map(Into::into), namespace: namespace.map(Into::into) }
    }

    #[test]
    fn only_deterministic_requests_are_cached_unless_the_route_says_any_temperature() {
        let none = CacheHeaders::default();
        assert_eq!(plan(Some(&POLICY), &request(r#","temperature":0"#), &none, "key_a").unwrap().mode, CacheMode::Lookup);
        assert_eq!(plan(Some(&POLICY), &request(r#","temperature":0.7"#), &none, "key_a").unwrap().mode, CacheMode::Bypass);
        assert_eq!(plan(Some(&POLICY), &request(""), &none, "key_a").unwrap().mode, CacheMode::Bypass);
        let any = CachePolicy { any_temperature: true, ..POLICY };
        assert_eq!(plan(Some(&any), &request(r#","temperature":0.7"#), &none, "key_a").unwrap().mode, CacheMode::Lookup);
        assert_eq!(plan(None, &request(r#","temperature":0"#), &none, "key_a").unwrap().mode, CacheMode::Bypass);
    }

    #[test]
    fn headers_skip_refresh_and_bound_the_ttl() {
        let zero = request(r#","temperature":0"#);
        assert_eq!(plan(Some(&POLICY), &zero, &headers(Some("skip"), None, None), "k").unwrap().mode, CacheMode::Bypass);
        assert_eq!(plan(Some(&POLICY), &zero, &headers(Some("REFRESH"), None, None), "k").unwrap().mode, CacheMode::Refresh);
        assert_eq!(plan(Some(&POLICY), &zero, &headers(None, Some("30"), None), "k").unwrap().ttl_ms, 30_000);
        assert_eq!(plan(Some(&POLICY), &zero, &headers(None, Some("999999"), None), "k").unwrap().ttl_ms, 3_600_000, "bounded by the route");
        assert_eq!(plan(Some(&POLICY), &zero, &headers(None, None, None), "k").unwrap().ttl_ms, 300_000);
        for (h, param) in [
            (headers(Some("sometimes"), None, None), headers::CACHE),
            (headers(None, Some("0"), None), headers::CACHE_TTL),
            (headers(None, Some("ten"), None), headers::CACHE_TTL),
            (headers(None, None, Some("a/b")), headers::CACHE_NAMESPACE),
        ] {
            assert_eq!(plan(Some(&POLICY), &zero, &h, "k").unwrap_err().param(), Some(param));
        }
    }

    #[test]
    fn namespaces_are_per_key_with_sub_namespaces_inside_or_shared_by_route() {
        let zero = request(r#","temperature":0"#);
        assert_eq!(plan(Some(&POLICY), &zero, &CacheHeaders::default(), "key_a").unwrap().namespace, "key_a");
        assert_eq!(plan(Some(&POLICY), &zero, &headers(None, None, Some("tenant-1")), "key_a").unwrap().namespace, "key_a/tenant-1");
        let shared = CachePolicy { shared: true, ..POLICY };
        assert_eq!(plan(Some(&shared), &zero, &CacheHeaders::default(), "key_a").unwrap().namespace, SHARED_NAMESPACE);
    }
}
