//! OpenAI-compatible upstreams (OpenAI, Groq, Mistral, vLLM, Ollama, ...),
//! Azure OpenAI and Workers AI, which speak the same format at other URLs.
//!
//! Callers already speak this format, so the request is forwarded as sent,
//! with the target's model id and, for streams, `include_usage` switched on
//! where the provider supports it: the gateway needs the final usage chunk
//! for logs and cost even when the caller did not ask for it (the relay
//! hides it from such callers).

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{encode_error, Completed, ErrorDetails, UpstreamRequest};
use crate::config::{Provider, ProviderKind};
use crate::openai::{ChatRequest, EmbeddingsRequest, EmbeddingsResponse, StreamOptions, Usage};
use crate::GatewayError;

/// Where and how to call one OpenAI-format endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Full URL.
    pub url: String,
    /// Header carrying the key: `authorization` (as `Bearer <key>`) or
    /// Azure's `api-key`.
    pub auth_header: &'static str,
    /// Whether to ask for a usage chunk at the end of streams.
    pub stream_usage: bool,
}

impl Endpoint {
    /// The endpoint `path` (`chat/completions`, `embeddings`) of a provider
    /// whose base URL is `base_url`, for `model` (Azure: the deployment).
    pub fn for_provider(provider: &Provider, base_url: &str, model: &str, path: &str) -> Self {
        match provider.kind {
            ProviderKind::Azure => Self {
                url: format!("{base_url}/openai/deployments/{}/{path}?api-version={}", encode_path(model), provider.api_version),
                auth_header: "api-key",
                stream_usage: true,
            },
            kind => Self { url: format!("{base_url}/{path}"), auth_header: "authorization", stream_usage: super::streams_report_usage(kind) },
        }
    }
}

/// Percent-encodes what may not appear raw in a URL path segment.
pub(crate) fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'@' | b':') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn auth_headers(endpoint: &Endpoint, api_key: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = api_key {
        let value = if endpoint.auth_header == "authorization" { format!("Bearer {key}") } else { key.to_owned() };
        headers.push((endpoint.auth_header, value));
    }
    headers
}

/// Builds the upstream chat request.
pub fn chat_request(endpoint: &Endpoint, api_key: Option<&str>, model: &str, request: &ChatRequest) -> Result<UpstreamRequest, GatewayError> {
    let mut upstream = request.clone();
    upstream.model = model.to_owned();
    if upstream.is_stream() && endpoint.stream_usage {
        let options = upstream.stream_options.get_or_insert_with(|| StreamOptions { include_usage: None, extra: Default::default() });
        options.include_usage = Some(true);
    }
    let body = serde_json::to_string(&upstream).map_err(encode_error)?;
    Ok(UpstreamRequest { url: endpoint.url.clone(), headers: auth_headers(endpoint, api_key), body, warnings: Vec::new() })
}

/// Builds the upstream embeddings request: the caller's, with the target's model.
pub fn embeddings_request(endpoint: &Endpoint, api_key: Option<&str>, model: &str, request: &EmbeddingsRequest) -> Result<UpstreamRequest, GatewayError> {
    let mut upstream = request.clone();
    upstream.model = model.to_owned();
    let body = serde_json::to_string(&upstream).map_err(encode_error)?;
    Ok(UpstreamRequest { url: endpoint.url.clone(), headers: auth_headers(endpoint, api_key), body, warnings: Vec::new() })
}

/// Checks a 2xx embeddings answer; the body is forwarded as it came.
pub fn parse_embeddings(provider: &str, body: Vec<u8>) -> Result<Completed, GatewayError> {
    let parsed: EmbeddingsResponse = serde_json::from_slice(&body).map_err(|e| GatewayError::UpstreamError {
        provider: provider.to_owned(),
        status: Some(200),
        message: format!("the answer is not a valid embeddings list ({e})"),
    })?;
    let usage = Usage::new(parsed.usage.prompt_tokens, 0);
    Ok(Completed { body, usage: Some(usage) })
}

/// An OpenAI error body, or Cloudflare's API envelope (Workers AI).
#[derive(Deserialize)]
struct UpstreamErrorBody {
    #[serde(default)]
    error: Option<UpstreamErrorObject>,
    #[serde(default)]
    errors: Option<Vec<CloudflareError>>,
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

#[derive(Deserialize)]
struct CloudflareError {
    #[serde(default)]
    message: Option<String>,
}

/// Reads an OpenAI-style (or Cloudflare-style) error body.
pub fn error_details(body: &[u8]) -> ErrorDetails {
    let Ok(parsed) = serde_json::from_slice::<UpstreamErrorBody>(body) else { return ErrorDetails::default() };
    if let Some(error) = parsed.error {
        return ErrorDetails {
            message: error.message,
            // Azure's codes are numbers as strings ("401"): not ours to pass on.
            code: error.code.as_ref().and_then(|c| c.as_str()).map(str::to_owned),
            param: error.param,
            ..ErrorDetails::default()
        };
    }
    let message = parsed.errors.unwrap_or_default().into_iter().filter_map(|e| e.message).collect::<Vec<_>>().join("; ");
    ErrorDetails { message: Some(message).filter(|m| !m.is_empty()), ..ErrorDetails::default() }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_request;
    use serde_json::Value;

    fn request(json: &str) -> ChatRequest {
        parse_chat_request(json.as_bytes()).unwrap()
    }

    fn provider(kind: ProviderKind) -> Provider {
        Provider { name: "p".into(), kind, base_url: String::new(), api_key_secret: None, word_delay_ms: 0, api_version: "2024-10-21".into() }
    }

    fn openai_endpoint(base: &str) -> Endpoint {
        Endpoint::for_provider(&provider(ProviderKind::OpenAi), base, "m", "chat/completions")
    }

    #[test]
    fn the_target_model_replaces_the_alias_and_unknown_fields_survive() {
        let req = request(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#);
        let up = chat_request(&openai_endpoint("https://api.openai.com/v1"), Some("sk-test-123456"), "gpt-4o-mini", &req).unwrap();
        assert_eq!(up.url, "https://api.openai.com/v1/chat/completions");
        let body: Value = crate::json::from_str(&up.body).unwrap();
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(body["logprobs"], true);
        assert!(body.get("stream_options").is_none());
        assert!(up.headers.contains(&("authorization", "Bearer sk-test-123456".to_owned())));
    }

    #[test]
    fn streams_always_ask_for_usage_where_the_provider_reports_it() {
        let req = request(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}],"stream":true}"#);
        let up = chat_request(&openai_endpoint("http://x/v1"), None, "m", &req).unwrap();
        let body: Value = crate::json::from_str(&up.body).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(up.headers.iter().all(|(name, _)| *name != "authorization"));
        let workers_ai = Endpoint::for_provider(&provider(ProviderKind::WorkersAi), "http://x/ai/v1", "@cf/meta/llama", "chat/completions");
        let up = chat_request(&workers_ai, Some("cf-token-123"), "@cf/meta/llama", &req).unwrap();
        assert_eq!(up.url, "http://x/ai/v1/chat/completions");
        assert!(!up.body.contains("include_usage"));
    }

    #[test]
    fn azure_calls_the_deployment_with_its_api_version_and_api_key_header() {
        let endpoint = Endpoint::for_provider(&provider(ProviderKind::Azure), "https://r.openai.azure.com", "my gpt4o", "chat/completions");
        assert_eq!(endpoint.url, "https://r.openai.azure.com/openai/deployments/my%20gpt4o/chat/completions?api-version=2024-10-21");
        let req = request(r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#);
        let up = chat_request(&endpoint, Some("azure-key-123"), "my gpt4o", &req).unwrap();
        assert!(up.headers.contains(&("api-key", "azure-key-123".to_owned())));
        assert!(up.headers.iter().all(|(name, _)| *name != "authorization"));
    }

    #[test]
    fn cloudflare_error_envelopes_are_read() {
        let details = error_details(br#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}],"messages":[],"result":null}"#);
        assert_eq!(details.message.as_deref(), Some("Authentication error"));
        let azure = error_details(br#"{"error":{"code":"401","message":"Access denied"}}"#);
        assert_eq!((azure.message.as_deref(), azure.code.as_deref()), (Some("Access denied"), Some("401")));
    }

    #[test]
    fn malformed_completion_is_an_upstream_error() {
        assert_eq!(parse_completion("openai", b"{\"id\":").unwrap_err().code(), "upstream_error");
        assert_eq!(parse_completion("openai", b"{\"choices\":[{\"index\":0}]}").unwrap_err().code(), "upstream_error");
        let ok = parse_completion("openai", br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":2}}}"#).unwrap();
        assert_eq!(ok.usage, Some(Usage::new(3, 1).with_cached(2)));
        assert_eq!(ok.choices[0].finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn embeddings_are_checked_and_forwarded() {
        let body = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#.to_vec();
        let done = parse_embeddings("openai", body.clone()).unwrap();
        assert_eq!(done.body, body);
        assert_eq!(done.usage.map(|u| u.prompt_tokens), Some(5));
        assert_eq!(parse_embeddings("openai", b"{}".to_vec()).unwrap_err().code(), "upstream_error");
    }
}
