//! The gateway's errors and their one conversion to the wire.
//!
//! Every error a caller can see is a [`GatewayError`]. Each variant knows its
//! HTTP status, its stable `code` and OpenAI `type` (names: CONVENTIONS.md),
//! and whether a client retry could help; [`GatewayError::to_body`] is the only
//! place an error becomes JSON.

use crate::openai::{ErrorBody, ErrorObject};

/// Everything that can go wrong with a request, from the caller's view.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The body is not JSON.
    #[error("the request body is not valid JSON: {detail}")]
    InvalidJson {
        /// The parser's explanation (position, what was expected).
        detail: String,
    },
    /// A field is missing, wrongly typed or out of range.
    #[error("{message}")]
    InvalidRequest {
        /// JSON path of the field at fault, empty for the whole body.
        param: String,
        /// What is wrong with it.
        message: String,
    },
    /// No route by that name.
    #[error("the model `{model}` does not exist or you do not have access to it")]
    ModelNotFound {
        /// The alias the caller asked for.
        model: String,
    },
    /// No such endpoint.
    #[error("no endpoint at {method} {path}")]
    NotFound {
        /// The method used.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The endpoint exists but not for this method.
    #[error("{method} is not allowed on {path}; use {allowed}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path.
        path: String,
        /// Methods that are allowed, comma separated.
        allowed: &'static str,
    },
    /// The body is bigger than the configured limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// No key, or a key the gateway does not know.
    #[error("{reason}")]
    InvalidApiKey {
        /// Why (missing, unknown). Never contains the key.
        reason: &'static str,
    },
    /// A short-lived token whose `exp` has passed.
    #[error("the token expired at {expired_at}; ask the application for a new one")]
    TokenExpired {
        /// When it expired (RFC 3339).
        expired_at: String,
    },
    /// A token that is malformed or whose signature does not verify.
    #[error("the token is invalid: {reason}")]
    TokenInvalid {
        /// What is wrong with it (never the token itself).
        reason: String,
    },
    /// A publishable key used from an origin it does not allow.
    #[error("this key may not be used from {origin}")]
    OriginNotAllowed {
        /// The request's `Origin` (or "no origin").
        origin: String,
    },
    /// The key (or token) does not allow this route or this override.
    #[error("{message}")]
    RouteNotAllowed {
        /// What was refused.
        message: String,
        /// The field at fault (`model`, or a header name).
        param: String,
    },
    /// A request or token rate limit was reached.
    #[error("rate limit reached for {limit}; retry in {retry_after_s} s")]
    RateLimited {
        /// `requests` or `tokens`: which limit (also the error's type).
        limit: &'static str,
        /// Seconds until a retry can succeed.
        retry_after_s: u64,
        /// Whether the limit is an end user's (publishable keys) rather than the key's.
        per_user: bool,
    },
    /// A cost budget is spent.
    #[error("the key's {period} budget of ${} is spent; it resets at {resets_at}", crate::pricing::format_usd(*.budget_usd))]
    BudgetExhausted {
        /// `daily` or `monthly`.
        period: &'static str,
        /// The budget in USD.
        budget_usd: f64,
        /// When it resets (RFC 3339, UTC).
        resets_at: String,
    },
    /// The rate limiter could not be reached and the key's policy fails closed.
    #[error("the rate limiter is unavailable and this key's {what} fail closed; retry shortly")]
    LimiterUnavailable {
        /// `budgets` or `rate limits`.
        what: &'static str,
    },
    /// A guardrail blocked the request or its answer. The message names the
    /// rule and what it matched, never the matched text.
    #[error("{message}")]
    GuardrailBlocked {
        /// For the caller (`crate::guardrails::Blocked::message`).
        message: String,
    },
    /// The upstream failed and nothing else was tried.
    #[error("{provider} answered with an error{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    UpstreamError {
        /// Provider name from config.
        provider: String,
        /// Upstream HTTP status, if it answered at all.
        status: Option<u16>,
        /// What went wrong, with no secrets in it.
        message: String,
    },
    /// The upstream refused the request as invalid (400, 413, 422): the
    /// caller's fault, passed back with the upstream's code.
    #[error("{provider} refused the request: {message}")]
    UpstreamRejected {
        /// Provider name from config.
        provider: String,
        /// Upstream HTTP status, returned as is.
        status: u16,
        /// Upstream's code when it is a plain identifier, else `invalid_request`.
        code: String,
        /// Upstream's `param`, if any.
        param: Option<String>,
        /// Upstream's message, with no secrets in it.
        message: String,
    },
    /// A stream failed after its first chunk reached the client.
    #[error("the stream was interrupted: {reason}")]
    StreamInterrupted {
        /// What happened upstream.
        reason: String,
    },
    /// Every target failed.
    #[error("every target failed: {attempts}")]
    UpstreamUnavailable {
        /// The attempts, summarised for a person.
        attempts: String,
    },
    /// The upstream did not answer in time.
    #[error("{provider} did not answer within {waited_ms} ms ({phase})")]
    UpstreamTimeout {
        /// Provider name from config.
        provider: String,
        /// Which wait ran out: response headers, first token, idle, total.
        phase: &'static str,
        /// How long the gateway waited.
        waited_ms: u64,
    },
    /// The gateway's own configuration is wrong (e.g. a provider refused our key).
    #[error("{message}")]
    GatewayMisconfigured {
        /// What is wrong, with no secrets in it.
        message: String,
    },
    /// A bug or an unexpected runtime failure.
    #[error("internal error: {message}")]
    Internal {
        /// What failed, with no secrets in it.
        message: String,
    },
}

impl GatewayError {
    /// The HTTP status of the error response.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidJson { .. } | Self::InvalidRequest { .. } | Self::GuardrailBlocked { .. } => 400,
            Self::InvalidApiKey { .. } | Self::TokenExpired { .. } | Self::TokenInvalid { .. } => 401,
            Self::OriginNotAllowed { .. } | Self::RouteNotAllowed { .. } => 403,
            Self::RateLimited { .. } | Self::BudgetExhausted { .. } => 429,
            Self::LimiterUnavailable { .. } => 503,
            Self::ModelNotFound { .. } | Self::NotFound { .. } => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge { .. } => 413,
            Self::UpstreamRejected { status, .. } => *status,
            Self::UpstreamError { .. } | Self::GatewayMisconfigured { .. } | Self::StreamInterrupted { .. } => 502,
            Self::UpstreamUnavailable { .. } => 503,
            Self::UpstreamTimeout { .. } => 504,
            Self::Internal { .. } => 500,
        }
    }

    /// The stable machine-readable code (CONVENTIONS.md).
    pub fn code(&self) -> &str {
        match self {
            Self::UpstreamRejected { code, .. } => code,
            Self::StreamInterrupted { .. } => "stream_interrupted",
            Self::InvalidJson { .. } => "invalid_json",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::GuardrailBlocked { .. } => "guardrail_blocked",
            Self::ModelNotFound { .. } => "model_not_found",
            Self::NotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::InvalidApiKey { .. } => "invalid_api_key",
            Self::TokenExpired { .. } => "token_expired",
            Self::TokenInvalid { .. } => "token_invalid",
            Self::OriginNotAllowed { .. } => "origin_not_allowed",
            Self::RouteNotAllowed { .. } => "route_not_allowed",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::BudgetExhausted { .. } => "insufficient_quota",
            Self::LimiterUnavailable { .. } => "limiter_unavailable",
            Self::UpstreamError { .. } => "upstream_error",
            Self::UpstreamUnavailable { .. } => "upstream_unavailable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::GatewayMisconfigured { .. } => "gateway_misconfigured",
            Self::Internal { .. } => "internal_error",
        }
    }

    /// OpenAI's error `type` for this error.
    pub fn error_type(&self) -> &'static str {
        if let Self::RateLimited { limit, .. } = self {
            return limit;
        }
        if let Self::BudgetExhausted { .. } = self {
            return "insufficient_quota";
        }
        if self.status() >= 500 {
            "server_error"
        } else {
            "invalid_request_error"
        }
    }

    /// The request field at fault, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { param, .. } if !param.is_empty() => Some(param),
            Self::ModelNotFound { .. } => Some("model"),
            Self::UpstreamRejected { param, .. } => param.as_deref(),
            Self::RouteNotAllowed { param, .. } => Some(param),
            _ => None,
        }
    }

    /// `Some(false)` when retrying the same request cannot help, so the
    /// response says `x-should-retry: false` and clients do not multiply load.
    pub fn should_retry(&self) -> Option<bool> {
        match self {
            Self::InvalidJson { .. }
            | Self::InvalidRequest { .. }
            | Self::GuardrailBlocked { .. }
            | Self::ModelNotFound { .. }
            | Self::NotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::PayloadTooLarge { .. }
            | Self::InvalidApiKey { .. }
            | Self::TokenExpired { .. }
            | Self::TokenInvalid { .. }
            | Self::OriginNotAllowed { .. }
            | Self::RouteNotAllowed { .. }
            | Self::BudgetExhausted { .. }
            | Self::UpstreamRejected { .. }
            | Self::GatewayMisconfigured { .. } => Some(false),
            _ => None,
        }
    }

    /// The OpenAI-style body, carrying the gateway's request id.
    pub fn to_body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                message: self.to_string(),
                kind: self.error_type().to_owned(),
                param: self.param().map(str::to_owned),
                code: Some(self.code().to_owned()),
                request_id: Some(request_id.to_owned()),
            },
        }
    }

    /// [`Self::to_body`] serialised.
    pub fn to_json(&self, request_id: &str) -> String {
        // Serialising these plain strings cannot fail; fall back to a fixed
        // body rather than panicking if it ever did.
        serde_json::to_string(&self.to_body(request_id)).unwrap_or_else(|_| {
            String::from(r#"{"error":{"message":"internal error","type":"server_error","param":null,"code":"internal_error"}}"#)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_the_openai_shape_and_request_id() {
        let errors = [
            GatewayError::InvalidJson { detail: "eof".into() },
            GatewayError::InvalidRequest { param: "messages[0].role".into(), message: "bad".into() },
            GatewayError::ModelNotFound { model: "x".into() },
            GatewayError::NotFound { method: "GET".into(), path: "/nope".into() },
            GatewayError::MethodNotAllowed { method: "GET".into(), path: "/v1/chat/completions".into(), allowed: "POST" },
            GatewayError::PayloadTooLarge { limit: 10 },
            GatewayError::InvalidApiKey { reason: "missing" },
            GatewayError::UpstreamError { provider: "openai".into(), status: Some(500), message: "boom".into() },
            GatewayError::UpstreamUnavailable { attempts: "a".into() },
            GatewayError::UpstreamRejected { provider: "openai".into(), status: 400, code: "context_length_exceeded".into(), param: Some("messages".into()), message: "too long".into() },
            GatewayError::StreamInterrupted { reason: "dropped".into() },
            GatewayError::UpstreamTimeout { provider: "openai".into(), phase: "response headers", waited_ms: 5 },
            GatewayError::GatewayMisconfigured { message: "m".into() },
            GatewayError::Internal { message: "m".into() },
            GatewayError::TokenExpired { expired_at: "2026-01-01T00:00:00Z".into() },
            GatewayError::TokenInvalid { reason: "bad signature".into() },
            GatewayError::OriginNotAllowed { origin: "https://evil.example".into() },
            GatewayError::RouteNotAllowed { message: "no".into(), param: "model".into() },
            GatewayError::LimiterUnavailable { what: "budgets" },
        ];
        for error in errors {
            let value: serde_json::Value = crate::json::from_str(&error.to_json("req_1")).unwrap();
            let obj = &value["error"];
            assert_eq!(obj["code"], error.code());
            assert_eq!(obj["request_id"], "req_1");
            assert!(obj["message"].as_str().is_some_and(|m| !m.is_empty()));
            let expected_type = if error.status() >= 500 { "server_error" } else { "invalid_request_error" };
            assert_eq!(obj["type"], expected_type);
        }
    }

    #[test]
    fn limits_have_openai_types_and_budgets_say_do_not_retry() {
        let requests = GatewayError::RateLimited { limit: "requests", retry_after_s: 12, per_user: false };
        assert_eq!((requests.status(), requests.code(), requests.error_type()), (429, "rate_limit_exceeded", "requests"));
        assert_eq!(requests.should_retry(), None);
        let tokens = GatewayError::RateLimited { limit: "tokens", retry_after_s: 1, per_user: true };
        assert_eq!(tokens.error_type(), "tokens");
        let budget = GatewayError::BudgetExhausted { period: "daily", budget_usd: 5.0, resets_at: "2026-11-27T00:00:00Z".into() };
        assert_eq!((budget.status(), budget.code(), budget.error_type()), (429, "insufficient_quota", "insufficient_quota"));
        assert_eq!(budget.should_retry(), Some(false));
        assert!(budget.to_string().contains("daily") && budget.to_string().contains("2026-11-27T00:00:00Z"));
    }

    #[test]
    fn invalid_request_names_its_param() {
        let body = GatewayError::InvalidRequest { param: "temperature".into(), message: "x".into() }.to_body("r");
        assert_eq!(body.error.param.as_deref(), Some("temperature"));
    }

    #[test]
    fn client_errors_say_do_not_retry() {
        assert_eq!(GatewayError::InvalidJson { detail: String::new() }.should_retry(), Some(false));
        assert_eq!(GatewayError::UpstreamUnavailable { attempts: String::new() }.should_retry(), None);
    }
}
