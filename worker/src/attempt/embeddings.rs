//! One embeddings attempt: the demo's vectors, or a provider's through its
//! adapter, in OpenAI's list shape.

use edgeway_core::config::{ProviderKind, Target, Timeouts};
use edgeway_core::demo::{embed, DemoModel};
use edgeway_core::openai::{EmbeddingsRequest, EmbeddingsResponse, Usage};
use edgeway_core::{providers, tokens, GatewayError};
use worker::Env;

use super::{resolve, send, Deadlines, Failure};
use crate::cancel::AbortOnDrop;
use crate::{config, runtime};
use crate::http::incoming::Incoming;

/// What every attempt of one embeddings request shares.
pub struct EmbeddingsCall<'a> {
    /// The incoming request (for its cancellation signal).
    pub request: &'a Incoming,
    /// Vars and secrets.
    pub env: &'a Env,
    /// The caller's request.
    pub embeddings: &'a EmbeddingsRequest,
    /// The route's timeouts.
    pub timeouts: Timeouts,
    /// When the whole request must be over.
    pub deadline_ms: u64,
}

/// Vectors for the caller, in OpenAI's shape.
pub struct Embedded {
    /// The body.
    pub bytes: Vec<u8>,
    /// Tokens read.
    pub usage: Option<Usage>,
    /// Cost in USD, if the model's price is known.
    pub cost_usd: Option<f64>,
}

/// Runs one attempt on `target`.
pub async fn run(call: &EmbeddingsCall<'_>, target: &Target) -> Result<Embedded, Failure> {
    let config = config::get().map_err(Failure::from_error)?;
    let resolved = resolve(config, target, call.env)?;
    let provider = resolved.provider;
    let price = config.prices.lookup(&target.provider, &target.model).copied();
    if provider.kind == ProviderKind::Demo {
        return demo(call.embeddings, target);
    }
    let built = providers::embeddings_request(provider, &resolved.base_url, resolved.api_key.as_deref(), &target.model, call.embeddings).map_err(Failure::unsupported)?;
    let mut abort = AbortOnDrop::for_request(call.request, false);
    let mut deadlines = Deadlines { timeouts: call.timeouts, deadline_ms: call.deadline_ms, watchdog: runtime::Watchdog::default() };
    let upstream = send(&resolved, &built, &abort, &mut deadlines).await?;
    if !(200..300).contains(&upstream.status) {
        return Err(deadlines.failure(&resolved, upstream).await);
    }
    let bytes = deadlines.body(&provider.name, upstream.status, upstream.body).await?;
    let done = providers::embeddings(provider, bytes, call.embeddings, &target.model).map_err(Failure::malformed)?;
    abort.disarm();
    let cost_usd = done.usage.zip(price).map(|(usage, price)| price.cost_usd(&usage));
    Ok(Embedded { bytes: done.body, usage: done.usage, cost_usd })
}

/// The demo `embed` model's deterministic vectors.
fn demo(request: &EmbeddingsRequest, target: &Target) -> Result<Embedded, Failure> {
    let unsupported = |message: String| Failure::unsupported(GatewayError::InvalidRequest { param: "model".to_owned(), message });
    if DemoModel::parse(&target.model) != Ok(DemoModel::Embed) {
        return Err(unsupported(format!("{target} is not an embeddings model; the demo's is demo/embed")));
    }
    let texts = request.texts().ok_or_else(|| Failure::unsupported(GatewayError::InvalidRequest {
        param: "input".to_owned(),
        message: format!("{target} embeds text, not token arrays"),
    }))?;
    let dimensions = request.dimensions.and_then(|d| usize::try_from(d).ok());
    let vectors = texts.iter().map(|text| embed::embed(text, dimensions)).collect();
    let prompt_tokens = texts.iter().map(|t| tokens::estimate_text(t)).sum();
    let response = EmbeddingsResponse::from_vectors(&target.model, vectors, request.wants_base64(), prompt_tokens);
    let bytes = serde_json::to_vec(&response).map_err(|e| Failure::from_error(GatewayError::Internal { message: e.to_string() }))?;
    Ok(Embedded { bytes, usage: Some(Usage::new(prompt_tokens, 0)), cost_usd: None })
}
