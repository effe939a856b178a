//! OpenAI-compatible upstreams (OpenAI, Groq, Mistral, vLLM, Ollama, ...).
//!
//! Callers already speak this format, so the request is forwarded as sent,
//! with the target's model id and, for streams, `include_usage` switched on:
//! the gateway needs the final usage chunk for logs and cost even when the
//! caller did not ask for it (the relay hides it from such callers).

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::UpstreamRequest;
use crate::openai::{ChatRequest, StreamOptions, Usage};
use crate::GatewayError;

/// Builds the upstream request for `POST {base_url}/chat/completions`.
pub fn chat_request(base_url: &str, api_key: Option<&str>, model: &str, request: &ChatRequest) -> Result<UpstreamRequest, GatewayError> {
    let mut upstream = request.clone();
    upstream.model = model.to_owned();
    if upstream.is_stream() {
        let options = upstream.stream_options.get_or_insert_with(|| StreamOptions { include_usage: None, extra: Default::default() });
        options.include_usage = Some(true);
    }
    let body = serde_json::to_string(&upstream).map_err(|e| GatewayError::Internal { message: format!("could not encode the upstream request: {e}") })?;
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    Ok(UpstreamRequest { url: format!("{base_url}/chat/completions"), headers, body })
}

/// The parts of an OpenAI error body the gateway reads.
#[derive(Deserialize)]
struct UpstreamErrorBody {
    error: UpstreamErrorObject,
}

#[derive(Deserialize)]
struct UpstreamErrorObject {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    param: Option<String>,
}

/// Longest piece of an upstream message passed on: enough to explain, not
/// enough to carry a whole echoed prompt.
const MAX_UPSTREAM_MESSAGE: usize = 300;

/// The key used for a call: the secret's name (said to the operator) and
/// its value (only ever searched for, to redact it).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyInfo<'a> {
    /// Name of the secret holding the key.
    pub secret_name: Option<&'a str>,
    /// The key itself.
    pub value: Option<&'a str>,
}

/// Turns a non-2xx upstream answer into the caller's error. The upstream's
/// message is passed on with our key redacted from it; the key itself is
/// never part of the result.
pub fn error_from_status(provider: &str, key: KeyInfo<'_>, status: u16, body: &[u8]) -> GatewayError {
    let secret_name = key.secret_name;
    let parsed: Option<UpstreamErrorObject> = serde_json::from_slice::<UpstreamErrorBody>(body).ok().map(|b| b.error);
    let message = parsed
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(|m| truncate(&super::redact_secret(m, key.value), MAX_UPSTREAM_MESSAGE))
        .unwrap_or_else(|| format!("HTTP {status} with no error message"));
    match status {
        401 | 403 => GatewayError::GatewayMisconfigured {
            // Auth errors often echo the key: say what to fix, not what was said.
            message: match secret_name {
                Some(name) => format!("{provider} refused the gateway's credentials (HTTP {status}); check the secret {name}"),
                None => format!("{provider} refused the gateway's credentials (HTTP {status}) and no API key is configured for it"),
            },
        },
        400 | 413 | 422 => {
            let code = parsed
                .as_ref()
                .and_then(|e| e.code.as_ref())
                .and_then(|c| c.as_str())
                .filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .unwrap_or("invalid_request")
                .to_owned();
            GatewayError::UpstreamRejected {
                provider: provider.to_owned(),
                status,
                code,
                param: parsed.and_then(|e| e.param),
                message,
            }
        }
        _ => GatewayError::UpstreamError { provider: provider.to_owned(), status: Some(status), message },
    }
}

/// What the gateway reads from a non-streamed answer. The body itself is
/// forwarded byte for byte, so only the parts the gateway needs are parsed;
/// the rest is skipped, not built.
#[derive(Debug, Deserialize)]
pub struct CompletionSummary {
    /// Token usage, if reported.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// The choices, checked for presence and shape only.
    pub choices: Vec<ChoiceSummary>,
}

/// The part of a choice the gateway reads.
#[derive(Debug, Deserialize)]
pub struct ChoiceSummary {
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    message: Option<IgnoredAny>,
}

/// Checks a 2xx non-streaming body: it must look like a `chat.completion`
/// (an object with a `choices` array of messages).
pub fn parse_completion(provider: &str, body: &[u8]) -> Result<CompletionSummary, GatewayError> {
    let malformed = |detail: String| GatewayError::UpstreamError {
        provider: provider.to_owned(),
        status: Some(200),
        message: format!("the answer is not a valid chat completion ({detail})"),
    };
    let summary: CompletionSummary = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    if summary.choices.iter().any(|c| c.message.is_none()) {
        return Err(malformed("a choice has no message".to_owned()));
    }
    Ok(summary)
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_request;
    use serde_json::Value;

    fn request(json: &str) -> ChatRequest {
        parse_chat_request(json.as_bytes()).unwrap()
    }

    #[test]
    fn the_target_model_replaces_the_alias_and_unknown_fields_survive() {
        let req = request(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#);
        let up = chat_request("https://api.openai.com/v1", Some("sk-test-123456"), "gpt-4o-mini", &req).unwrap();
        assert_eq!(up.url, "https://api.openai.com/v1/chat/completions");
        let body: Value = serde_json::from_str(&up.body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["logprobs"], true);
        assert!(body.get("stream_options").is_none());
        assert!(up.headers.contains(&("authorization", "Bearer sk-test-123456".to_owned())));
    }

    #[test]
    fn streams_always_ask_for_usage() {
        let req = request(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":true}"#);
        let up = chat_request("http://x/v1", None, "m", &req).unwrap();
        let body: Value = serde_json::from_str(&up.body).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(up.headers.iter().all(|(name, _)| *name != "authorization"));
    }

    #[test]
    fn auth_failures_are_misconfiguration_and_never_echo_the_upstream_message() {
        let body = br#"{"error":{"message":"Incorrect API key provided: sk-live-abcdef","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let err = error_from_status("openai", KeyInfo { secret_name: Some("OPENAI_API_KEY"), value: None }, 401, body);
        assert_eq!(err.code(), "gateway_misconfigured");
        assert!(!err.to_string().contains("sk-live"));
        assert!(err.to_string().contains("OPENAI_API_KEY"));
    }

    #[test]
    fn invalid_requests_pass_back_the_upstream_code() {
        let body = br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let err = error_from_status("openai", KeyInfo::default(), 400, body);
        assert_eq!((err.status(), err.code(), err.param()), (400, "context_length_exceeded", Some("messages")));
    }

    #[test]
    fn server_errors_become_upstream_errors_even_without_a_body() {
        let err = error_from_status("openai", KeyInfo::default(), 503, b"<html>bad gateway</html>");
        assert_eq!((err.status(), err.code()), (502, "upstream_error"));
        assert!(err.to_string().contains("503"));
    }

    #[test]
    fn an_echoed_key_is_redacted_from_passed_on_messages() {
        let body = br#"{"error":{"message":"bad key sk-live-abcdef123 here"}}"#;
        let key = KeyInfo { secret_name: Some("K"), value: Some("sk-live-abcdef123") };
        let err = error_from_status("openai", key, 500, body);
        assert!(err.to_string().contains("bad key [redacted] here"), "{err}");
    }

    #[test]
    fn malformed_completion_is_an_upstream_error() {
        assert_eq!(parse_completion("openai", b"{\"id\":").unwrap_err().code(), "upstream_error");
        assert_eq!(parse_completion("openai", b"{\"choices\":[{\"index\":0}]}").unwrap_err().code(), "upstream_error");
        let ok = parse_completion("openai", br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#).unwrap();
        assert_eq!(ok.usage, Some(Usage::new(3, 1)));
        assert_eq!(ok.choices[0].finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn secrets_are_redacted_from_text() {
        assert_eq!(super::super::redact_secret("key sk-abcdefgh here", Some("sk-abcdefgh")), "key [redacted] here");
        assert_eq!(super::super::redact_secret("a b", Some("a")), "a b");
    }
}
