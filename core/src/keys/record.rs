//! A gateway key's policy, as KV stores it and the admin API edits it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::key_string::KeyKind;
use crate::limits::{Limits, RequestLimit};

/// What the gateway does when the rate limiter cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Let the request through, unlimited.
    Open,
    /// Refuse the request (503 `limiter_unavailable`).
    Closed,
}

/// Fail-open or fail-closed, per kind of limit. The defaults: a rate limit
/// that cannot be checked lets traffic through (availability first), a
/// budget that cannot be checked does not (money first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailPolicy {
    /// Requests and tokens per window.
    #[serde(default = "open")]
    pub rate_limits: FailMode,
    /// Daily and monthly cost budgets.
    #[serde(default = "closed")]
    pub budgets: FailMode,
}

fn open() -> FailMode {
    FailMode::Open
}

fn closed() -> FailMode {
    FailMode::Closed
}

impl Default for FailPolicy {
    fn default() -> Self {
        Self { rate_limits: FailMode::Open, budgets: FailMode::Closed }
    }
}

/// A key as stored: never the key string itself, only its id (the hash is
/// the KV key it is stored under).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// `key_<16 hex>`, also the Durable Object's name and the tokens' `kid`.
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Server (secret) or publishable (browser).
    pub kind: KeyKind,
    /// Routes the key may use; empty: every route.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Browser origins a publishable key works from (`https://app.example`,
    /// or `https://*.example.com` for subdomains).
    #[serde(default)]
    pub origins: Vec<String>,
    /// The key's own limits and budgets.
    #[serde(default)]
    pub limits: Limits,
    /// Limits per end user (an IP, or a token's `sub`).
    #[serde(default)]
    pub user_limits: Limits,
    /// What happens when the limiter is unreachable.
    #[serde(default)]
    pub on_limiter_error: FailPolicy,
    /// Whether callers may pin a target (`x-edgeway-target`) or switch
    /// fallback off: on for server keys, off for publishable ones.
    pub allow_overrides: bool,
    /// Never store this key's prompts and answers, even on routes that log
    /// bodies.
    #[serde(default)]
    pub zero_retention: bool,
    /// The operator's own data, returned as stored.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// When the key was made (ms since epoch).
    pub created_ms: u64,
    /// Revoked keys are refused everywhere.
    #[serde(default)]
    pub revoked: bool,
}

/// Per-end-user limit of a publishable key whose operator set none: enough
/// for a person typing, not for a script.
pub const DEFAULT_USER_LIMIT: RequestLimit = RequestLimit { limit: 60, window_ms: 60_000, burst: 20 };

/// What the admin API accepts to create or update a key: every field
/// optional, so an update names only what changes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// A name for people.
    pub name: Option<String>,
    /// `server` or `publishable` (create only).
    pub kind: Option<KeyKind>,
    /// Allowed routes.
    pub routes: Option<Vec<String>>,
    /// Allowed browser origins.
    pub origins: Option<Vec<String>>,
    /// The key's limits.
    pub limits: Option<Limits>,
    /// Per-end-user limits.
    pub user_limits: Option<Limits>,
    /// Fail-open/closed policy.
    pub on_limiter_error: Option<FailPolicy>,
    /// Whether target pinning and fallback switches are allowed.
    pub allow_overrides: Option<bool>,
    /// See [`KeyRecord::zero_retention`].
    pub zero_retention: Option<bool>,
    /// The operator's own data.
    pub metadata: Option<Map<String, Value>>,
}

/// A problem with a key's input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The field (`origins[1]`, `limits.requests.limit`).
    pub param: String,
    /// What is wrong.
    pub message: String,
}

impl KeyRecord {
    /// A new key from admin input. `route_exists` says whether a route
    /// name is known, so a typo is refused rather than silently useless.
    pub fn create(
        id: String,
        input: KeyInput,
        now_ms: u64,
        route_exists: impl Fn(&str) -> bool,
    ) -> Result<Self, InputError> {
        let kind = input.kind.unwrap_or(KeyKind::Server);
        let mut record = Self {
            id,
            name: String::new(),
            kind,
            routes: Vec::new(),
            origins: Vec::new(),
            limits: Limits::default(),
            user_limits: Limits::default(),
            on_limiter_error: FailPolicy::default(),
            allow_overrides: kind == KeyKind::Server,
            zero_retention: false,
            metadata: Map::new(),
            created_ms: now_ms,
            revoked: false,
        };
        let name = input
            .name
            .clone()
            .ok_or_else(|| InputError { param: "name".into(), message: "a key needs a name".into() })?;
        record.name = name;
        record.update(KeyInput { kind: None, ..input }, route_exists)?;
        if record.kind == KeyKind::Publishable && record.user_limits.requests.is_none() {
            record.user_limits.requests = Some(DEFAULT_USER_LIMIT);
        }
        Ok(record)
    }

    /// Applies an update. The kind of a key never changes: a secret key
    /// turned publishable would already have been exposed.
    pub fn update(&mut self, input: KeyInput, route_exists: impl Fn(&str) -> bool) -> Result<(), InputError> {
        if input.kind.is_some_and(|k| k != self.kind) {
            return Err(InputError {
                param: "kind".into(),
                message: "a key's kind cannot change; create a new key".into(),
            });
        }
        let mut next = self.clone();
        if let Some(name) = input.name {
            if name.trim().is_empty() || name.len() > 200 {
                return Err(InputError { param: "name".into(), message: "a name is 1 to 200 characters".into() });
            }
            next.name = name;
        }
        if let Some(routes) = input.routes {
            if let Some((i, route)) = routes.iter().enumerate().find(|(_, r)| !route_exists(r)) {
                return Err(InputError { param: format!("routes[{i}]"), message: format!("unknown route {}", crate::json::quote(route)) });
            }
            next.routes = routes;
        }
        if let Some(origins) = input.origins {
            if let Some((i, origin)) = origins.iter().enumerate().find(|(_, o)| !is_valid_origin(o)) {
                return Err(InputError {
                    param: format!("origins[{i}]"),
                    message: format!(
                        "{} is not an origin like \"https://app.example\" or \"https://*.example.com\"",
                        crate::json::quote(origin)
                    ),
                });
            }
            next.origins = origins;
        }
        for (field, limits, into) in
            [("limits", input.limits, &mut next.limits), ("user_limits", input.user_limits, &mut next.user_limits)]
        {
            if let Some(limits) = limits {
                limits.validate().map_err(|message| InputError { param: field.into(), message })?;
                *into = limits;
            }
        }
        if let Some(policy) = input.on_limiter_error {
            next.on_limiter_error = policy;
        }
        if let Some(allow) = input.allow_overrides {
            next.allow_overrides = allow;
        }
        if let Some(zero) = input.zero_retention {
            next.zero_retention = zero;
        }
        if let Some(metadata) = input.metadata {
            if serde_json::to_string(&metadata).map_or(true, |m| m.len() > 4096) {
                return Err(InputError {
                    param: "metadata".into(),
                    message: "metadata is at most 4 KB of JSON".into(),
                });
            }
            next.metadata = metadata;
        }
        if next.kind == KeyKind::Publishable && next.origins.is_empty() {
            return Err(InputError {
                param: "origins".into(),
                message: "a publishable key needs at least one allowed origin".into(),
            });
        }
        *self = next;
        Ok(())
    }

    /// Whether the key may call `route`.
    pub fn allows_route(&self, route: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|r| r == route)
    }

    /// Whether a browser at `origin` may use the key.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| origin_matches(allowed, origin))
    }
}

/// `https://app.example`, `http://localhost:5173`, or a wildcard for one
/// level of subdomains, `https://*.example.com`. No path, no trailing slash.
fn is_valid_origin(origin: &str) -> bool {
    let Some((scheme, host)) = origin.split_once("://") else { return false };
    let host = host.strip_prefix("*.").unwrap_or(host);
    matches!(scheme, "https" | "http")
        && !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Whether `origin` (as a browser sends it) matches the allowed pattern.
pub fn origin_matches(allowed: &str, origin: &str) -> bool {
    if allowed == origin {
        return true;
    }
    let Some((scheme, host)) = allowed.split_once("://*.") else { return false };
    let Some(rest) = origin.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")) else { return false };
    // One or more labels before the allowed domain, never the bare domain.
    rest.strip_suffix(host).is_some_and(|sub| sub.len() > 1 && sub.ends_with('.') && !sub.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(name: &str) -> bool {
        matches!(name, "demo" | "demo-story")
    }

    fn input(json: &str) -> KeyInput {
        crate::json::from_str(json).unwrap()
    }

    #[test]
    fn a_server_key_is_made_from_input_with_defaults() {
        let record =
            KeyRecord::create("key_1".into(), input(r#"{"name":"backend","routes":["demo"]}"#), 5, routes).unwrap();
        assert_eq!(record.kind, KeyKind::Server);
        assert!(record.allow_overrides);
        assert!(record.allows_route("demo") && !record.allows_route("demo-story"));
        assert_eq!(record.on_limiter_error, FailPolicy { rate_limits: FailMode::Open, budgets: FailMode::Closed });
        assert_eq!(record.created_ms, 5);
    }

    #[test]
    fn a_publishable_key_needs_origins_and_gets_a_per_user_limit() {
        let err =
            KeyRecord::create("key_1".into(), input(r#"{"name":"web","kind":"publishable"}"#), 0, routes).unwrap_err();
        assert_eq!(err.param, "origins");
        let record = KeyRecord::create(
            "key_1".into(),
            input(r#"{"name":"web","kind":"publishable","origins":["https://app.example"]}"#),
            0,
            routes,
        )
        .unwrap();
        assert!(!record.allow_overrides);
        assert_eq!(record.user_limits.requests, Some(DEFAULT_USER_LIMIT));
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (r#"{"name":"x","routes":["demo","nope"]}"#, "routes[1]"),
            (r#"{"name":"x","origins":["https://ok.example","ftp://bad"]}"#, "origins[1]"),
            (r#"{"name":""}"#, "name"),
            (r#"{"routes":[]}"#, "name"),
        ];
        for (json, param) in cases {
            assert_eq!(KeyRecord::create("key_1".into(), input(json), 0, routes).unwrap_err().param, param, "{json}");
        }
        assert!(
            crate::json::from_str::<KeyInput>(r#"{"name":"x","colour":"red"}"#).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn the_kind_never_changes_and_a_failed_update_changes_nothing() {
        let mut record = KeyRecord::create("key_1".into(), input(r#"{"name":"x"}"#), 0, routes).unwrap();
        let before = record.clone();
        assert_eq!(record.update(input(r#"{"kind":"publishable"}"#), routes).unwrap_err().param, "kind");
        assert_eq!(record.update(input(r#"{"name":"y","routes":["nope"]}"#), routes).unwrap_err().param, "routes[0]");
        assert_eq!(record, before);
        record.update(input(r#"{"name":"y"}"#), routes).unwrap();
        assert_eq!(record.name, "y");
    }

    #[test]
    fn origins_match_exactly_or_by_one_wildcard_level() {
        assert!(origin_matches("https://app.example", "https://app.example"));
        assert!(!origin_matches("https://app.example", "http://app.example"));
        assert!(!origin_matches("https://app.example", "https://app.example.evil"));
        assert!(origin_matches("https://*.example.com", "https://a.example.com"));
        assert!(origin_matches("https://*.example.com", "https://a.b.example.com"));
        assert!(!origin_matches("https://*.example.com", "https://example.com"));
        assert!(!origin_matches("https://*.example.com", "https://evilexample.com"));
        assert!(!origin_matches("https://*.example.com", "http://a.example.com"));
    }
}
