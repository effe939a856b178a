//! One chat-completions attempt: the provider's request built by its
//! adapter, the answer translated back to OpenAI's format — whole, or as a
//! live stream whose first event is already in hand.

use edgeway_core::config::{ProviderKind, Route, Target};
use edgeway_core::demo::DemoModel;
use edgeway_core::openai::{ChatRequest, Usage};
use edgeway_core::providers::{self, ReplyContext, StreamTranslator};
use edgeway_core::{tokens, GatewayError};
use worker::{Env, Request};

use super::{resolve, send, Deadlines, Failure};
use crate::cancel::AbortOnDrop;
use crate::relay::{Costing, LiveStream, Sharing, StreamLimits};
use crate::{config, runtime, upstream};

/// What every attempt of one chat request shares.
pub struct ChatCall<'a> {
    /// The incoming request (for its cancellation signal).
    pub request: &'a Request,
    /// Vars and secrets.
    pub env: &'a Env,
    /// The caller's chat request.
    pub chat: &'a ChatRequest,
    /// The route it names.
    pub route: &'a Route,
    /// The gateway's request id (for stream error events).
    pub request_id: &'a str,
    /// When the whole request must be over.
    pub deadline_ms: u64,
    /// What a streamed answer is also relayed for (cache, followers).
    pub sharing: Sharing,
}

/// A successful attempt's answer, not yet sent.
pub enum Answer {
    /// A whole `chat.completion` in OpenAI's format.
    Json {
        /// The body for the caller.
        bytes: Vec<u8>,
        /// Its usage: reported, or estimated when the provider said none.
        usage: Option<Usage>,
        /// Whether `usage` is the gateway's estimate.
        usage_estimated: bool,
        /// Its cost in USD, if the model's price is known.
        cost_usd: Option<f64>,
    },
    /// A stream whose first event is ready.
    Stream(Box<LiveStream>),
}

/// An answer and the request fields its target dropped.
pub struct Answered {
    /// The answer.
    pub answer: Answer,
    /// Harmless fields the target could not honour (`x-edgeway-warning`).
    pub warnings: Vec<String>,
}

/// Runs one attempt on `target`. `attempt` counts attempts within the
/// request from 0 (the demo's `flaky-<n>` counts them).
pub async fn run(call: &ChatCall<'_>, target: &Target, attempt: u32) -> Result<Answered, Failure> {
    let config = config::get().map_err(Failure::from_error)?;
    let resolved = resolve(config, target, call.env)?;
    let provider = resolved.provider;
    let abort = AbortOnDrop::for_request(call.request);
    let mut deadlines = Deadlines { timeouts: call.route.timeouts, deadline_ms: call.deadline_ms, watchdog: runtime::Watchdog::default() };

    let (upstream, warnings) = if provider.kind == ProviderKind::Demo {
        if DemoModel::parse(&target.model) == Ok(DemoModel::Embed) {
            return Err(Failure::unsupported(GatewayError::InvalidRequest {
                param: "model".to_owned(),
                message: format!("{target} is an embeddings model; use /v1/embeddings"),
            }));
        }
        let demo = upstream::demo::call(&target.model, call.chat, attempt, provider.word_delay_ms);
        (deadlines.headers(&provider.name, None, demo).await.map_err(Failure::from_error)?, Vec::new())
    } else {
        let built = providers::chat_request(provider, &resolved.base_url, resolved.api_key.as_deref(), &target.model, call.chat).map_err(Failure::unsupported)?;
        (send(&resolved, &built, &abort, &mut deadlines).await?, built.warnings)
    };
    if !(200..300).contains(&upstream.status) {
        return Err(deadlines.failure(&resolved, upstream).await);
    }
    let reply = ReplyContext { created: runtime::now_ms() / 1000, model: target.model.clone() };
    let price = config.prices.lookup(&target.provider, &target.model).copied();
    if call.chat.is_stream() {
        let translator = StreamTranslator::for_provider(provider.kind, reply);
        let costing = Costing { price, prompt_estimate: tokens::estimate_prompt(call.chat) };
        let limits = StreamLimits { timeouts: deadlines.timeouts, deadline_ms: deadlines.deadline_ms, watchdog: deadlines.watchdog };
        let live = LiveStream::start(upstream.body.into_stream(), call.chat.wants_stream_usage(), translator, &provider.name, call.request_id, limits, costing, call.sharing, abort)
            .await
            .map_err(Failure::from_error)?;
        return Ok(Answered { answer: Answer::Stream(Box::new(live)), warnings });
    }
    let bytes = deadlines.body(&provider.name, upstream.status, upstream.body).await?;
    let completed = providers::completion(provider, bytes, &reply).map_err(Failure::malformed)?;
    abort.disarm();
    // A provider that reports no usage is counted here, as streams are.
    let (usage, usage_estimated) = match completed.usage {
        Some(usage) => (Some(usage), false),
        None => (estimate_usage(call.chat, &completed.body), true),
    };
    let cost_usd = usage.zip(price).map(|(usage, price)| price.cost_usd(&usage));
    Ok(Answered { answer: Answer::Json { bytes: completed.body, usage, usage_estimated, cost_usd }, warnings })
}

/// Usage estimated from the request and the answer's text (content,
/// refusals and tool-call arguments), at about four characters a token.
fn estimate_usage(chat: &ChatRequest, body: &[u8]) -> Option<Usage> {
    let answer: edgeway_core::openai::ChatCompletion = serde_json::from_slice(body).ok()?;
    let chars: u64 = answer
        .choices
        .iter()
        .map(|choice| {
            let message = &choice.message;
            let text = message.content.as_deref().unwrap_or_default().chars().count() + message.refusal.as_deref().unwrap_or_default().chars().count();
            let arguments: usize = message.tool_calls.iter().flatten().map(|call| call.function.arguments.chars().count()).sum();
            (text + arguments) as u64
        })
        .sum();
    Some(Usage::new(tokens::estimate_prompt(chat), chars.div_ceil(tokens::CHARS_PER_TOKEN)))
}
