//! One upstream attempt: call a target, wait for its answer within the
//! route's timeouts, and say how it went — an answer ready for the caller,
//! or a classified failure the attempt plan can decide on.

use edgeway_core::config::{Provider, ProviderKind, Route, Target};
use edgeway_core::openai::{ChatRequest, Usage};
use edgeway_core::providers::openai::{self, KeyInfo};
use edgeway_core::providers::redact_secret;
use edgeway_core::reliability::outcome::{AttemptFailure, TimeoutPhase};
use edgeway_core::GatewayError;
use worker::{Env, Request};

use crate::cancel::AbortOnDrop;
use crate::relay::{LiveStream, StreamLimits};
use crate::upstream::{self, UpstreamResponse};
use crate::{config, runtime, settings};

/// Upstream error bodies are read only this far: enough for any real error.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed answer larger than this is refused rather than buffered.
const MAX_ANSWER_BODY: usize = 16 * 1024 * 1024;

/// What every attempt of one request shares.
pub struct Attempts<'a> {
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
}

/// A successful attempt's answer, not yet sent.
pub enum Answer {
    /// A whole `chat.completion`, forwarded byte for byte.
    Json {
        /// The upstream's body.
        bytes: Vec<u8>,
        /// Its usage, if reported.
        usage: Option<Usage>,
    },
    /// A stream whose first event is ready.
    Stream(Box<LiveStream>),
}

/// A failed attempt.
pub struct Failure {
    /// What happened, for the attempt plan.
    pub kind: AttemptFailure,
    /// What the caller would be told if this were the last attempt.
    pub error: GatewayError,
    /// How long the upstream asked us to wait (Retry-After and kin).
    pub wait_hint_ms: Option<u64>,
}

impl Failure {
    fn from_error(error: GatewayError) -> Self {
        Self { kind: kind_of(&error), error, wait_hint_ms: None }
    }
}

/// Runs one attempt on `target`. `attempt` counts attempts within the
/// request from 0 (the demo's `flaky-<n>` counts them).
pub async fn run(ctx: &Attempts<'_>, target: &Target, attempt: u32) -> Result<Answer, Failure> {
    let config = config::get().map_err(Failure::from_error)?;
    let provider = config.provider(&target.provider).ok_or_else(|| {
        Failure::from_error(GatewayError::GatewayMisconfigured { message: format!("unknown provider {}", target.provider) })
    })?;
    let api_key = api_key(provider, ctx.env).map_err(Failure::from_error)?;
    let abort = AbortOnDrop::for_request(ctx.request);
    let mut watchdog = runtime::Watchdog::default();

    let upstream = call(ctx, provider, target, api_key.as_deref(), &abort, attempt, &mut watchdog)
        .await
        .map_err(Failure::from_error)?;
    if !(200..300).contains(&upstream.status) {
        return Err(failed_status(provider, upstream, api_key.as_deref(), ctx.deadline_ms, &mut watchdog).await);
    }
    if ctx.chat.is_stream() {
        let limits = StreamLimits { timeouts: ctx.route.timeouts, deadline_ms: ctx.deadline_ms, watchdog };
        let live = LiveStream::start(upstream.body.into_stream(), ctx.chat.wants_stream_usage(), &provider.name, ctx.request_id, limits, abort)
            .await
            .map_err(Failure::from_error)?;
        return Ok(Answer::Stream(Box::new(live)));
    }
    let bytes = watchdog
        .race(ctx.deadline_ms, upstream.body.read_all(MAX_ANSWER_BODY))
        .await
        .ok_or_else(|| Failure::from_error(GatewayError::UpstreamTimeout {
            provider: provider.name.clone(),
            phase: "total deadline",
            waited_ms: ctx.route.timeouts.total_ms,
        }))?
        .map_err(|message| Failure {
            kind: AttemptFailure::StreamBroken,
            error: GatewayError::UpstreamError { provider: provider.name.clone(), status: Some(upstream.status), message },
            wait_hint_ms: None,
        })?;
    let summary = openai::parse_completion(&provider.name, &bytes).map_err(|error| Failure { kind: AttemptFailure::Malformed, error, wait_hint_ms: None })?;
    abort.disarm();
    Ok(Answer::Json { bytes, usage: summary.usage })
}

/// The provider's API key from its secret, if it needs one.
fn api_key(provider: &Provider, env: &Env) -> Result<Option<String>, GatewayError> {
    let Some(name) = &provider.api_key_secret else { return Ok(None) };
    settings::get(env, name).map(Some).ok_or_else(|| GatewayError::GatewayMisconfigured {
        message: format!("provider {} needs the secret {name}, which is not set", provider.name),
    })
}

/// Makes the upstream call and waits for its response headers.
async fn call(
    ctx: &Attempts<'_>,
    provider: &Provider,
    target: &Target,
    api_key: Option<&str>,
    abort: &AbortOnDrop,
    attempt: u32,
    watchdog: &mut runtime::Watchdog,
) -> Result<UpstreamResponse, GatewayError> {
    let now = runtime::now_ms();
    let headers_due = now + ctx.route.timeouts.response_headers_ms;
    let (phase, due) = if ctx.deadline_ms < headers_due { ("total deadline", ctx.deadline_ms) } else { ("response headers", headers_due) };
    let sent = match provider.kind {
        ProviderKind::Demo => watchdog.race(due, upstream::demo::call(&target.model, ctx.chat, attempt, provider.word_delay_ms)).await,
        ProviderKind::OpenAi => {
            let base_url = settings::get(ctx.env, &provider.base_url_var())
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| provider.base_url.clone());
            let request = openai::chat_request(&base_url, api_key, &target.model, ctx.chat)?;
            watchdog.race(due, upstream::http::send(&request, abort.signal())).await
        }
    };
    match sent {
        None => Err(GatewayError::UpstreamTimeout { provider: provider.name.clone(), phase, waited_ms: due.saturating_sub(now) }),
        Some(Err(message)) => Err(GatewayError::UpstreamError { provider: provider.name.clone(), status: None, message: redact_secret(&message, api_key) }),
        Some(Ok(response)) => Ok(response),
    }
}

/// Reads an upstream error body (bounded) and maps it to a failure.
async fn failed_status(provider: &Provider, upstream: UpstreamResponse, api_key: Option<&str>, deadline_ms: u64, watchdog: &mut runtime::Watchdog) -> Failure {
    let status = upstream.status;
    let wait_hint_ms = upstream.wait_hint_ms;
    let bytes = watchdog.race(deadline_ms, upstream.body.read_all(MAX_ERROR_BODY)).await.and_then(Result::ok).unwrap_or_default();
    let key = KeyInfo { secret_name: provider.api_key_secret.as_deref(), value: api_key };
    let error = openai::error_from_status(&provider.name, key, status, &bytes);
    let error_code = match &error {
        GatewayError::UpstreamRejected { code, .. } => Some(code.clone()),
        _ => None,
    };
    Failure { kind: AttemptFailure::Status { status, error_code }, error, wait_hint_ms }
}

/// Classifies an error that did not come with an upstream status.
fn kind_of(error: &GatewayError) -> AttemptFailure {
    match error {
        GatewayError::UpstreamTimeout { phase, .. } => AttemptFailure::Timeout {
            phase: match *phase {
                "response headers" => TimeoutPhase::ResponseHeaders,
                "first token" => TimeoutPhase::FirstToken,
                "idle" => TimeoutPhase::Idle,
                _ => TimeoutPhase::Total,
            },
        },
        // Before any status: the connection itself failed.
        GatewayError::UpstreamError { status: None, .. } => AttemptFailure::Connect,
        // A 2xx whose stream broke or was unreadable before its first event.
        GatewayError::UpstreamError { .. } => AttemptFailure::StreamBroken,
        // Our own configuration: no other attempt of this target can help.
        // Reported like the upstream refusing our credentials, which is fatal.
        _ => AttemptFailure::Status { status: 401, error_code: None },
    }
}
