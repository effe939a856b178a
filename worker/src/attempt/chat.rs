//! One chat-completions attempt: the provider's request built by its
//! adapter, the answer translated back to OpenAI's format — whole, or as a
//! live stream whose first event is already in hand.

use edgeway_core::config::{ProviderKind, Route, Target};
use edgeway_core::demo::DemoModel;
use edgeway_core::guardrails::{self, schema, Action, Guardrails, OutputGuard, Report, SchemaFailure, Stage};
use edgeway_core::openai::{ChatCompletion, ChatRequest, Usage};
use edgeway_core::reliability::outcome::AttemptFailure;
use edgeway_core::providers::{self, ReplyContext, StreamTranslator};
use edgeway_core::{tokens, GatewayError};
use worker::Env;

use super::{resolve, send, Deadlines, Failure};
use crate::cancel::AbortOnDrop;
use crate::relay::{Costing, LiveStream, OutputChecks, Sharing, StreamLimits};
use crate::{config, runtime, upstream};
use crate::http::incoming::Incoming;

/// What every attempt of one chat request shares.
pub struct ChatCall<'a> {
    /// The incoming request (for its cancellation signal).
    pub request: &'a Incoming,
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
    /// What the output guardrails ran and found (a stream's findings go to
    /// its log record when it ends).
    pub guard: Option<Report>,
    /// Why a whole answer did not match the requested JSON schema, when the
    /// route answers it anyway (`schema_failure = "report"`).
    pub schema_error: Option<String>,
}

/// Runs one attempt on `target`. `attempt` counts attempts within the
/// request from 0 (the demo's `flaky-<n>` counts them).
///
/// Boxed: it is awaited from two places (the retry loop, and the tier
/// classifier), and an inlined copy of this state machine in each would
/// cost the wasm several KB.
pub fn run<'a>(call: &'a ChatCall<'a>, target: &'a Target, attempt: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answered, Failure>> + 'a>> {
    Box::pin(run_once(call, target, attempt))
}

async fn run_once(call: &ChatCall<'_>, target: &Target, attempt: u32) -> Result<Answered, Failure> {
    let config = config::get().map_err(Failure::from_error)?;
    let resolved = resolve(config, target, call.env)?;
    let provider = resolved.provider;
    let mut abort = AbortOnDrop::for_request(call.request, call.chat.is_stream());
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
        let checks = OutputChecks {
            guard: call.route.guardrails.as_ref().filter(|g| !g.output.is_empty()).map(OutputGuard::new),
            schema: call.route.guardrails.as_ref().and_then(|_| schema::requested_schema(call.chat)).cloned(),
        };
        let live = LiveStream::start(upstream.body.into_stream(), call.chat.wants_stream_usage(), translator, &provider.name, call.request_id, limits, costing, call.sharing, checks, abort)
            .await
            .map_err(Failure::from_error)?;
        let guard = call.route.guardrails.as_ref().map(|g| Report::ran(Stage::Output, &g.output));
        return Ok(Answered { answer: Answer::Stream(Box::new(live)), warnings, guard, schema_error: None });
    }
    let bytes = deadlines.body(&provider.name, upstream.status, upstream.body).await?;
    let mut completed = providers::completion(provider, bytes, &reply).map_err(Failure::malformed)?;
    abort.disarm();
    let (guard, schema_error) = match &call.route.guardrails {
        Some(rules) => {
            let (body, report, schema_error) = guard_answer(rules, call.chat, completed.body, &provider.name)?;
            completed.body = body;
            (Some(report), schema_error)
        }
        None => (None, None),
    };
    // A provider that reports no usage is counted here, as streams are.
    let (usage, usage_estimated) = match completed.usage {
        Some(usage) => (Some(usage), false),
        None => (estimate_usage(call.chat, &completed.body), true),
    };
    let cost_usd = usage.zip(price).map(|(usage, price)| price.cost_usd(&usage));
    Ok(Answered { answer: Answer::Json { bytes: completed.body, usage, usage_estimated, cost_usd }, warnings, guard, schema_error })
}

/// Runs the route's output guardrails on a whole answer: redacts it, or
/// fails the attempt (`guardrail_blocked`, fatal). An answer that does not
/// match the requested JSON schema fails the attempt too, as the route
/// says: retried on the same target (then the next), passed to the next
/// target at once, or answered and reported.
fn guard_answer(rules: &Guardrails, chat: &ChatRequest, bytes: Vec<u8>, provider: &str) -> Result<(Vec<u8>, Report, Option<String>), Failure> {
    let mut answer: ChatCompletion = serde_json::from_slice(&bytes).map_err(|e| Failure::malformed(GatewayError::UpstreamError { provider: provider.to_owned(), status: Some(200), message: e.to_string() }))?;
    let report = guardrails::check_completion(rules, &mut answer).map_err(|blocked| Failure {
        kind: AttemptFailure::Status { status: 400, error_code: Some(blocked.to_error().code().to_owned()) },
        error: blocked.to_error(),
        wait_hint_ms: None,
    })?;
    let redacted = report.findings.iter().any(|f| f.action == Action::Redact);
    let bytes = if redacted { serde_json::to_vec(&answer).unwrap_or(bytes) } else { bytes };
    let Some(schema) = schema::requested_schema(chat) else { return Ok((bytes, report, None)) };
    let text = answer.choices.first().and_then(|c| c.message.content.as_deref()).unwrap_or_default();
    let Err(mismatch) = schema::check_answer_text(schema, text) else { return Ok((bytes, report, None)) };
    let message = format!("the answer does not match the requested JSON schema at {}: {}", mismatch.path, mismatch.message);
    let error = GatewayError::UpstreamError { provider: provider.to_owned(), status: Some(200), message: message.clone() };
    match rules.schema_failure {
        SchemaFailure::Retry => Err(Failure::malformed(error)),
        SchemaFailure::Fallback => Err(Failure::unsupported(error)),
        SchemaFailure::Report => Ok((bytes, report, Some(message))),
    }
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
    Some(Usage::new(tokens::estimate_prompt(chat), tokens::estimate_chars(chars)))
}
