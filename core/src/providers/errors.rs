//! A provider's error answer, in any dialect, as the caller's error.
//!
//! Each adapter reads its own error body into [`ErrorDetails`]; the mapping
//! from status and details to a [`GatewayError`] is the same for every
//! provider, so fallback and retries treat all vendors alike.

use super::{redact_secret, truncate};
use crate::config::ProviderKind;
use crate::GatewayError;

/// Longest piece of an upstream message passed on.
const MAX_UPSTREAM_MESSAGE: usize = 300;

/// What a provider's error body says, whatever its shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetails {
    /// The provider's message.
    pub message: Option<String>,
    /// A stable code for the caller, in OpenAI's vocabulary where one fits
    /// (`context_length_exceeded`, `content_filter`, ...).
    pub code: Option<String>,
    /// The request field at fault.
    pub param: Option<String>,
    /// The provider refused our credentials, whatever the status says
    /// (Gemini answers a bad key with 400).
    pub bad_credentials: bool,
    /// How long the provider asked us to wait, from the body (Gemini's
    /// `RetryInfo`); headers are read by the worker.
    pub retry_after_ms: Option<u64>,
}

/// The key used for a call: the secret's name (said to the operator) and
/// its value (only ever searched for, to redact it).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyInfo<'a> {
    /// Name of the secret holding the key.
    pub secret_name: Option<&'a str>,
    /// The key itself.
    pub value: Option<&'a str>,
}

/// A failed upstream answer, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFailure {
    /// What the caller is told if nothing else is tried.
    pub error: GatewayError,
    /// The upstream's error code, for the retry rules (content-policy
    /// refusals are never retried).
    pub error_code: Option<String>,
    /// A wait the body asked for.
    pub wait_hint_ms: Option<u64>,
}

/// Turns a non-2xx answer of a provider of `kind` into the caller's error.
/// The provider's message is passed on with our key redacted from it; the
/// key itself is never part of the result.
pub fn error_from_status(kind: ProviderKind, provider: &str, key: KeyInfo<'_>, status: u16, body: &[u8]) -> UpstreamFailure {
    let details = match kind {
        ProviderKind::Anthropic => super::anthropic::error_details(body),
        ProviderKind::Gemini => super::gemini::error_details(body),
        _ => super::openai::error_details(body),
    };
    classify(provider, key, status, details)
}

fn classify(provider: &str, key: KeyInfo<'_>, status: u16, details: ErrorDetails) -> UpstreamFailure {
    let message = details
        .message
        .as_deref()
        .map(|m| truncate(&redact_secret(m, key.value), MAX_UPSTREAM_MESSAGE))
        .unwrap_or_else(|| format!("HTTP {status} with no error message"));
    let wait_hint_ms = details.retry_after_ms;
    let code = details.code.filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if details.bad_credentials || matches!(status, 401 | 403) {
        // Auth errors often echo the key: say what to fix, not what was said.
        let message = match key.secret_name {
            Some(name) => format!("{provider} refused the gateway's credentials (HTTP {status}); check the secret {name}"),
            None => format!("{provider} refused the gateway's credentials (HTTP {status}) and no API key is configured for it"),
        };
        // Reported to the retry rules as a 401, which no retry can fix.
        return UpstreamFailure { error: GatewayError::GatewayMisconfigured { message }, error_code: None, wait_hint_ms: None };
    }
    let error = match status {
        400 | 413 | 422 => GatewayError::UpstreamRejected {
            provider: provider.to_owned(),
            status,
            code: code.clone().unwrap_or_else(|| "invalid_request".to_owned()),
            param: details.param,
            message,
        },
        _ => GatewayError::UpstreamError { provider: provider.to_owned(), status: Some(status), message },
    };
    UpstreamFailure { error, error_code: code, wait_hint_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_are_misconfiguration_and_never_echo_the_upstream_message() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-live-abcdef","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let failure = error_from_status(ProviderKind::OpenAi, "openai", KeyInfo { secret_name: Some("OPENAI_API_KEY"), value: None }, 401, body);
        assert_eq!(failure.error.code(), "gateway_misconfigured");
        assert!(!failure.error.to_string().contains("sk-live"));
        assert!(failure.error.to_string().contains("OPENAI_API_KEY"));
    }

    #[test]
    fn invalid_requests_pass_back_the_upstream_code() {
        let body = br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let e = error_from_status(ProviderKind::OpenAi, "openai", KeyInfo::default(), 400, body).error;
        assert_eq!((e.status(), e.code(), e.param()), (400, "context_length_exceeded", Some("messages")));
    }

    #[test]
    fn server_errors_become_upstream_errors_even_without_a_body() {
        let e = error_from_status(ProviderKind::OpenAi, "openai", KeyInfo::default(), 503, b"<html>bad gateway</html>").error;
        assert_eq!((e.status(), e.code()), (502, "upstream_error"));
        assert!(e.to_string().contains("503"));
    }

    #[test]
    fn an_echoed_key_is_redacted_from_passed_on_messages() {
        let body = br#"{"error":{"message":"bad key sk-live-abcdef123 here"}}"#;
        let key = KeyInfo { secret_name: Some("K"), value: Some("sk-live-abcdef123") };
        let e = error_from_status(ProviderKind::OpenAi, "openai", key, 500, body).error;
        assert!(e.to_string().contains("bad key [redacted] here"), "{e}");
    }

    #[test]
    fn codes_that_are_not_plain_identifiers_are_dropped() {
        let body = br#"{"error":{"message":"x","code":"Some Thing!"}}"#;
        let failure = error_from_status(ProviderKind::OpenAi, "openai", KeyInfo::default(), 400, body);
        assert_eq!(failure.error.code(), "invalid_request");
        assert_eq!(failure.error_code, None);
    }
}
