//! `POST /v1/chat/completions`: the request path of DESIGN.md, step by step.

use edgeway_core::config::{Provider, ProviderKind, Route, Target};
use edgeway_core::headers;
use edgeway_core::openai::{parse_chat_request, ChatRequest};
use edgeway_core::providers::{openai, redact_secret};
use edgeway_core::GatewayError;
use worker::{Env, Request, Response};

use crate::cancel::AbortOnDrop;
use crate::context::RequestContext;
use crate::http::{body, respond};
use crate::relay::{LiveStream, StreamLimits};
use crate::upstream::{self, UpstreamResponse};
use crate::{config, runtime, settings};

/// Upstream error bodies are read only this far: enough for any real error.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed answer larger than this is refused rather than buffered.
const MAX_ANSWER_BODY: usize = 16 * 1024 * 1024;

/// Handles one chat completion.
pub async fn handle(request: &mut Request, env: &Env, ctx: &mut RequestContext) -> Result<Response, GatewayError> {
    let config = config::get()?;
    let body = body::read_limited(request, config.max_request_bytes).await?;
    let chat = parse_chat_request(&body)?;
    let route = config.route(&chat.model).ok_or_else(|| GatewayError::ModelNotFound { model: chat.model.clone() })?;
    if let Some(log) = &mut ctx.log {
        log.route = Some(route.name.clone());
        log.stream = chat.is_stream();
    }

    // One target for now; retries and fallback across targets come next.
    let target = route.targets.first().ok_or_else(|| GatewayError::GatewayMisconfigured {
        message: format!("route {} has no targets", route.name),
    })?;
    let provider = config.provider(&target.provider).ok_or_else(|| GatewayError::GatewayMisconfigured {
        message: format!("route {} names unknown provider {}", route.name, target.provider),
    })?;
    if let Some(log) = &mut ctx.log {
        log.provider = Some(provider.name.clone());
        log.model = Some(target.model.clone());
        log.attempts = 1;
    }

    let deadline_ms = ctx.started_ms + route.timeouts.total_ms;
    let abort = AbortOnDrop::for_request(request);
    let api_key = api_key(provider, env)?;
    // One timer serves every wait of this request: it is only replaced when
    // a wait must end sooner than the timer would fire.
    let mut watchdog = runtime::Watchdog::default();
    let upstream = call(provider, target, route, &chat, api_key.as_deref(), env, &abort, deadline_ms, &mut watchdog).await?;

    let response = if !(200..300).contains(&upstream.status) {
        return Err(upstream_failure(provider, upstream, api_key.as_deref(), deadline_ms, &mut watchdog).await);
    } else if chat.is_stream() {
        let log = ctx.log.take().ok_or_else(|| GatewayError::Internal { message: "log record missing".into() })?;
        let limits = StreamLimits { timeouts: route.timeouts, deadline_ms, watchdog };
        let started = LiveStream::start(upstream.body.into_stream(), chat.wants_stream_usage(), &provider.name, &ctx.request_id, limits, log, abort).await;
        let live = match started {
            Ok(live) => live,
            Err((error, log)) => {
                ctx.log = Some(log);
                return Err(error);
            }
        };
        let (body, stream_log) = live.into_body();
        ctx.stream_log = Some(stream_log);
        let response = Response::from_stream(body)
            .map_err(|e| GatewayError::Internal { message: format!("could not start the stream: {e}") })?;
        let h = response.headers();
        respond::set(h, "content-type", "text/event-stream; charset=utf-8");
        respond::set(h, "cache-control", "no-cache");
        response
    } else {
        let bytes = watchdog
            .race(deadline_ms, upstream.body.read_all(MAX_ANSWER_BODY))
            .await
            .ok_or_else(|| GatewayError::UpstreamTimeout {
                provider: provider.name.clone(),
                phase: "total deadline",
                waited_ms: route.timeouts.total_ms,
            })?
            .map_err(|message| GatewayError::UpstreamError { provider: provider.name.clone(), status: Some(upstream.status), message })?;
        let completion = openai::parse_completion(&provider.name, &bytes)?;
        abort.disarm();
        let response = respond::json(200, bytes);
        if let Some(usage) = completion.usage {
            respond::set(response.headers(), headers::TOKENS_IN, &usage.prompt_tokens.to_string());
            respond::set(response.headers(), headers::TOKENS_OUT, &usage.completion_tokens.to_string());
            if let Some(log) = &mut ctx.log {
                log.tokens_in = Some(usage.prompt_tokens);
                log.tokens_out = Some(usage.completion_tokens);
            }
        }
        response
    };
    let h = response.headers();
    respond::set(h, headers::PROVIDER, &provider.name);
    respond::set(h, headers::MODEL, &target.model);
    respond::set(h, headers::ROUTE, &route.name);
    respond::set(h, headers::ATTEMPTS, "1");
    Ok(response)
}

/// The provider's API key from its secret, if it needs one.
fn api_key(provider: &Provider, env: &Env) -> Result<Option<String>, GatewayError> {
    let Some(name) = &provider.api_key_secret else { return Ok(None) };
    match settings::get(env, name) {
        Some(key) => Ok(Some(key)),
        None => Err(GatewayError::GatewayMisconfigured {
            message: format!("provider {} needs the secret {name}, which is not set", provider.name),
        }),
    }
}

/// Makes the upstream call and waits for its response headers.
#[allow(clippy::too_many_arguments)] // each is one fact of the attempt; a struct would only rename them
async fn call(
    provider: &Provider,
    target: &Target,
    route: &Route,
    chat: &ChatRequest,
    api_key: Option<&str>,
    env: &Env,
    abort: &AbortOnDrop,
    deadline_ms: u64,
    watchdog: &mut runtime::Watchdog,
) -> Result<UpstreamResponse, GatewayError> {
    let now = runtime::now_ms();
    let headers_due = now + route.timeouts.response_headers_ms;
    let (phase, due) = if deadline_ms < headers_due {
        ("total deadline", deadline_ms)
    } else {
        ("response headers", headers_due)
    };
    let wait = due.saturating_sub(now);
    let sent = match provider.kind {
        ProviderKind::Demo => watchdog.race(due, upstream::demo::call(&target.model, chat, 0, provider.word_delay_ms)).await,
        ProviderKind::OpenAi => {
            let base_url = settings::get(env, &provider.base_url_var())
                .map(|v| v.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| provider.base_url.clone());
            let request = openai::chat_request(&base_url, api_key, &target.model, chat)?;
            watchdog.race(due, upstream::http::send(&request, abort.signal())).await
        }
    };
    match sent {
        None => Err(GatewayError::UpstreamTimeout { provider: provider.name.clone(), phase, waited_ms: wait }),
        Some(Err(message)) => Err(GatewayError::UpstreamError {
            provider: provider.name.clone(),
            status: None,
            message: redact_secret(&message, api_key),
        }),
        Some(Ok(response)) => Ok(response),
    }
}

/// Reads an upstream error body (bounded) and maps it to the caller's error.
async fn upstream_failure(
    provider: &Provider,
    upstream: UpstreamResponse,
    api_key: Option<&str>,
    deadline_ms: u64,
    watchdog: &mut runtime::Watchdog,
) -> GatewayError {
    let bytes = watchdog
        .race(deadline_ms, upstream.body.read_all(MAX_ERROR_BODY))
        .await
        .and_then(Result::ok)
        .unwrap_or_default();
    let error = openai::error_from_status(&provider.name, provider.api_key_secret.as_deref(), upstream.status, &bytes);
    match error {
        GatewayError::UpstreamError { provider, status, message } => {
            GatewayError::UpstreamError { provider, status, message: redact_secret(&message, api_key) }
        }
        GatewayError::UpstreamRejected { provider, status, code, param, message } => {
            GatewayError::UpstreamRejected { provider, status, code, param, message: redact_secret(&message, api_key) }
        }
        other => other,
    }
}
