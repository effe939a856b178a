//! Provider adapters: how a caller's OpenAI-format request becomes each
//! provider's native request, and how its answer, stream and errors become
//! OpenAI's again — so a route can fall back from one vendor to another
//! without the caller noticing.
//!
//! | kind | wire format | module |
//! |---|---|---|
//! | `openai` (OpenAI, Groq, Mistral, DeepSeek, OpenRouter, Together, vLLM, Ollama) | OpenAI chat completions | [`openai`] |
//! | `azure` | OpenAI's, at a deployment URL with `api-version` and an `api-key` header | [`openai`] |
//! | `workers-ai` | OpenAI's, at Cloudflare's REST endpoint for an account | [`openai`] |
//! | `anthropic` | Messages API | [`anthropic`] |
//! | `gemini` | `generateContent` / `streamGenerateContent` | [`gemini`] |
//!
//! Each adapter is pure: it builds an [`UpstreamRequest`] for the worker to
//! send, translates a whole answer, and offers a [`StreamTranslator`] that
//! turns the provider's stream events into `chat.completion.chunk` events
//! one at a time, so streaming stays chunk by chunk.

pub mod anthropic;
mod errors;
mod fields;
pub mod gemini;
pub mod openai;

pub use errors::{error_from_status, ErrorDetails, KeyInfo, UpstreamFailure};
pub use fields::FieldCheck;

use crate::config::{Provider, ProviderKind};
use crate::openai::{ChatRequest, EmbeddingsRequest, Usage};
use crate::GatewayError;

/// An HTTP request for the worker to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Full URL.
    pub url: String,
    /// Headers, secrets included: never log this struct.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: String,
    /// Request fields the target cannot honour and that were dropped as
    /// harmless (sent to the caller as `x-edgeway-warning`).
    pub warnings: Vec<String>,
}

/// What a translated answer needs that the provider may not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyContext {
    /// `created` of the answer (Unix seconds): the gateway's clock.
    pub created: u64,
    /// The target's model id, used when the provider names none.
    pub model: String,
}

/// A whole (non-streamed) answer, in OpenAI's format.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// The `chat.completion` body for the caller.
    pub body: Vec<u8>,
    /// Usage, when the provider reported it.
    pub usage: Option<Usage>,
}

/// Builds the upstream chat request for `provider`, whose base URL (after
/// any override) is `base_url`. An error means the target cannot honour the
/// request as asked (a 400 naming the field): another target may.
pub fn chat_request(provider: &Provider, base_url: &str, api_key: Option<&str>, model: &str, request: &ChatRequest) -> Result<UpstreamRequest, GatewayError> {
    let target = format!("{}/{model}", provider.name);
    match provider.kind {
        ProviderKind::Anthropic => anthropic::chat_request(base_url, api_key, model, request, &target),
        ProviderKind::Gemini => gemini::chat_request(base_url, api_key, model, request, &target),
        ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::WorkersAi | ProviderKind::Demo => {
            openai::chat_request(&openai::Endpoint::for_provider(provider, base_url, model, "chat/completions"), api_key, model, request)
        }
    }
}

/// Checks and translates a 2xx non-streamed answer.
pub fn completion(provider: &Provider, body: Vec<u8>, reply: &ReplyContext) -> Result<Completed, GatewayError> {
    match provider.kind {
        ProviderKind::Anthropic => anthropic::completion(&provider.name, &body, reply),
        ProviderKind::Gemini => gemini::completion(&provider.name, &body, reply),
        ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::WorkersAi | ProviderKind::Demo => {
            let summary = openai::parse_completion(&provider.name, &body)?;
            Ok(Completed { body, usage: summary.usage })
        }
    }
}

/// Whether the provider reports usage in streams when asked (OpenAI's
/// `stream_options.include_usage`). Where it does not, the gateway counts
/// the streamed tokens itself.
pub fn streams_report_usage(kind: ProviderKind) -> bool {
    !matches!(kind, ProviderKind::WorkersAi)
}

/// Builds the upstream embeddings request, or says the provider has none.
pub fn embeddings_request(provider: &Provider, base_url: &str, api_key: Option<&str>, model: &str, request: &EmbeddingsRequest) -> Result<UpstreamRequest, GatewayError> {
    match provider.kind {
        ProviderKind::Gemini => gemini::embeddings_request(base_url, api_key, model, request),
        ProviderKind::OpenAi | ProviderKind::Azure | ProviderKind::WorkersAi => {
            openai::embeddings_request(&openai::Endpoint::for_provider(provider, base_url, model, "embeddings"), api_key, model, request)
        }
        ProviderKind::Anthropic | ProviderKind::Demo => Err(GatewayError::InvalidRequest {
            param: "model".to_owned(),
            message: format!("{} has no embeddings endpoint", provider.name),
        }),
    }
}

/// Checks and translates a 2xx embeddings answer.
pub fn embeddings(provider: &Provider, body: Vec<u8>, request: &EmbeddingsRequest, model: &str) -> Result<Completed, GatewayError> {
    match provider.kind {
        ProviderKind::Gemini => gemini::embeddings(&provider.name, &body, request, model),
        _ => openai::parse_embeddings(&provider.name, body),
    }
}

/// Turns a provider's stream into OpenAI chunk events, one event at a time.
#[derive(Debug)]
pub enum StreamTranslator {
    /// Anthropic's Messages stream.
    Anthropic(anthropic::StreamTranslator),
    /// Gemini's `streamGenerateContent?alt=sse`.
    Gemini(gemini::StreamTranslator),
}

impl StreamTranslator {
    /// The translator for `kind`, or `None` when its stream already is
    /// OpenAI's and is relayed as it is.
    pub fn for_provider(kind: ProviderKind, reply: ReplyContext) -> Option<Self> {
        match kind {
            ProviderKind::Anthropic => Some(Self::Anthropic(anthropic::StreamTranslator::new(reply))),
            ProviderKind::Gemini => Some(Self::Gemini(gemini::StreamTranslator::new(reply))),
            _ => None,
        }
    }

    /// Translates one upstream event's data, appending the caller's event
    /// payloads (chunk JSON, or `[DONE]`) to `out`. An error means the
    /// stream cannot go on (the provider reported an error, or sent
    /// something unreadable).
    pub fn on_event(&mut self, data: &str, out: &mut Vec<String>) -> Result<(), String> {
        match self {
            Self::Anthropic(t) => t.on_event(data, out),
            Self::Gemini(t) => t.on_event(data, out),
        }
    }

    /// The upstream closed its body: appends whatever ends the stream.
    pub fn on_end(&mut self, out: &mut Vec<String>) {
        match self {
            Self::Anthropic(_) => {}
            Self::Gemini(t) => t.on_end(out),
        }
    }
}

/// Removes every occurrence of `secret` from `text`, so an upstream message
/// that echoes our key (as some auth errors do) never reaches a log or a
/// caller. Secrets shorter than 8 characters are not searched for: they
/// would match ordinary words and are no real key anyway.
pub fn redact_secret(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 8 && text.contains(s) => text.replace(s, "[redacted]"),
        _ => text.to_owned(),
    }
}

/// Splits a `data:<media type>;base64,<data>` URL into its media type and
/// data. Parameters (`;charset=...`) may sit between the type and
/// `;base64`; only the type is kept.
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let (header, data) = url.strip_prefix("data:")?.split_once(',')?;
    let media_type = header.strip_suffix(";base64")?.split(';').next().filter(|m| !m.is_empty())?;
    Some((media_type, data))
}

/// Cuts a provider's message to `max` characters: enough to explain, not
/// enough to carry a whole echoed prompt.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Serializes a translated chunk. Building it from the typed struct keeps
/// every adapter's output the exact shape OpenAI's clients parse.
fn chunk_json(id: &str, reply: &ReplyContext, model: &str, choices: Vec<crate::openai::ChunkChoice>, usage: Option<Usage>) -> String {
    let chunk = crate::openai::ChatCompletionChunk {
        id: id.to_owned(),
        object: "chat.completion.chunk".to_owned(),
        created: reply.created,
        model: if model.is_empty() { reply.model.clone() } else { model.to_owned() },
        choices,
        usage,
        system_fingerprint: None,
        extra: Default::default(),
    };
    serde_json::to_string(&chunk).unwrap_or_default()
}

/// Maps a JSON-encoding failure of our own request to an internal error.
fn encode_error(e: serde_json::Error) -> GatewayError {
    GatewayError::Internal { message: format!("could not encode the upstream request: {e}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_text() {
        assert_eq!(redact_secret("key sk-abcdefgh here", Some("sk-abcdefgh")), "key [redacted] here");
        assert_eq!(redact_secret("a b", Some("a")), "a b");
    }

    #[test]
    fn data_urls_give_their_media_type_and_data() {
        assert_eq!(parse_data_url("data:image/png;base64,iVBOR"), Some(("image/png", "iVBOR")));
        assert_eq!(parse_data_url("data:image/png;charset=x;base64,iVBOR"), Some(("image/png", "iVBOR")));
        assert_eq!(parse_data_url("https://x/cat.png"), None);
        assert_eq!(parse_data_url("data:image/png,raw"), None);
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
