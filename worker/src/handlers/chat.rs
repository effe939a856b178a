//! `POST /v1/chat/completions`: the request path of DESIGN.md, step by step.
//!
//! Parse → route → attempts (retries with backoff, fallback to the next
//! target, open circuits skipped: `edgeway_core::reliability` decides,
//! `crate::attempt` calls) → answer with the gateway's headers.

use edgeway_core::config::{Route, Target};
use edgeway_core::headers;
use edgeway_core::log::AttemptLog;
use edgeway_core::openai::parse_chat_request;
use edgeway_core::reliability::attempts::{AttemptPlan, NextAttempt};
use edgeway_core::reliability::breaker::Admission;
use edgeway_core::reliability::outcome::{classify, Verdict};
use edgeway_core::GatewayError;
use worker::{Env, Request, Response};

use crate::attempt::{self, Answer, Attempts, Failure};
use crate::context::RequestContext;
use crate::http::{body, respond};
use crate::timer::Timer;
use crate::{breakers, config, idempotency, runtime};

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
    let deadline_ms = ctx.started_ms + route.timeouts.total_ms;
    // A caller may pin one target and switch fallback off (every key may,
    // until keys carry their own permissions).
    let pinned = match request.headers().get(headers::TARGET).ok().flatten() {
        Some(spec) => Some(config.pinned_target(&spec).map_err(|message| GatewayError::InvalidRequest {
            param: headers::TARGET.to_owned(),
            message: format!("invalid {}: {message}", headers::TARGET),
        })?),
        None => None,
    };
    let mut rng = runtime::CryptoRng;
    // The order this request tries targets in: weighted draws within each
    // group, groups in order (or just the pinned target).
    let targets: Vec<Target> = match pinned {
        Some(target) => vec![target],
        None => route.attempt_order(&mut rng),
    };
    let mut policy = route.retry.clone();
    if request.headers().get(headers::FALLBACK).ok().flatten().is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        policy.fallback = false;
    }
    let request_id = ctx.request_id.clone();
    let attempts = Attempts { request, env, chat: &chat, route, request_id: &request_id, deadline_ms };

    let mut plan = AttemptPlan::new(policy, targets.len(), deadline_ms);
    let mut next = plan.first();
    let mut calls = 0u32;
    // Attempts a client's earlier tries of this same request already made.
    let idempotency_key = request.headers().get(headers::IDEMPOTENCY_KEY).ok().flatten();
    let earlier = idempotency_key.as_deref().map_or(0, |key| idempotency::prior_attempts(key, ctx.started_ms));
    let mut last_failure: Option<Failure> = None;
    while let NextAttempt::Try { target: index, after_ms } = next {
        let Some(target) = targets.get(index) else { break };
        let target_name = target.to_string();
        if after_ms > 0 {
            Timer::new(after_ms).await;
        }
        let started = runtime::now_ms();
        if let Admission::Rejected { .. } = breakers::admit(&target_name, started) {
            record(ctx, target, "skipped", None, None, 0);
            next = plan.skip();
            continue;
        }
        calls += 1;
        if let Some(key) = &idempotency_key {
            idempotency::add_attempts(key, 1, started);
        }
        match attempt::run(&attempts, target, earlier + calls - 1).await {
            Ok(answer) => {
                let now = runtime::now_ms();
                breakers::on_success(&target_name, now);
                record(ctx, target, "ok", Some(200), None, now.saturating_sub(started));
                return answer_response(answer, route, target, ctx);
            }
            Err(failure) => {
                let now = runtime::now_ms();
                if classify(&failure.kind) == Verdict::Fatal {
                    breakers::on_success(&target_name, now); // it answered; the request was at fault
                } else {
                    breakers::on_failure(&target_name, now);
                }
                next = plan.on_failure(&failure.kind, failure.wait_hint_ms, now, &mut rng);
                let outcome = match next {
                    NextAttempt::Try { target: t, .. } if t == index => "retry",
                    NextAttempt::Try { .. } => "fallback",
                    NextAttempt::GiveUp => "failed",
                };
                let status = match &failure.kind {
                    edgeway_core::reliability::outcome::AttemptFailure::Status { status, .. } => Some(*status),
                    _ => None,
                };
                record(ctx, target, outcome, status, Some(failure.error.to_string()), now.saturating_sub(started));
                last_failure = Some(failure);
            }
        }
    }
    Err(give_up(ctx, last_failure, route))
}

/// The error for a request whose attempts all failed: the last failure
/// itself when only one target was tried (`upstream_error`,
/// `upstream_timeout`, …) or when it was the caller's fault; otherwise
/// `upstream_unavailable` with every attempt listed.
fn give_up(ctx: &RequestContext, last: Option<Failure>, route: &Route) -> GatewayError {
    let tried = ctx.log.as_ref().map(|l| l.attempts.as_slice()).unwrap_or_default();
    let mut targets: Vec<&str> = tried.iter().filter(|a| a.outcome != "skipped").map(|a| a.target.as_str()).collect();
    targets.dedup();
    let one_target = targets.len() == 1 && tried.iter().all(|a| a.outcome != "skipped");
    match last {
        Some(failure) if one_target || classify(&failure.kind) == Verdict::Fatal => failure.error,
        _ if tried.is_empty() => GatewayError::UpstreamUnavailable { attempts: format!("route {} has no targets", route.name) },
        _ => GatewayError::UpstreamUnavailable {
            attempts: tried
                .iter()
                .map(|a| format!("{} {}{}", a.target, a.outcome, a.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

fn record(ctx: &mut RequestContext, target: &Target, outcome: &'static str, status: Option<u16>, error: Option<String>, latency_ms: u64) {
    if let Some(log) = &mut ctx.log {
        log.provider = Some(target.provider.clone());
        log.model = Some(target.model.clone());
        log.attempts.push(AttemptLog { target: target.to_string(), outcome, status, error, latency_ms });
    }
}

/// The caller's response for a successful attempt.
fn answer_response(answer: Answer, route: &Route, target: &Target, ctx: &mut RequestContext) -> Result<Response, GatewayError> {
    let calls = ctx.log.as_ref().map_or(1, |l| l.attempts.iter().filter(|a| a.outcome != "skipped").count());
    let response = match answer {
        Answer::Stream(live) => {
            let log = ctx.log.take().ok_or_else(|| GatewayError::Internal { message: "log record missing".into() })?;
            let (body, stream_log) = (*live).into_body(log);
            ctx.stream_log = Some(stream_log);
            let response = Response::from_stream(body)
                .map_err(|e| GatewayError::Internal { message: format!("could not start the stream: {e}") })?;
            respond::set(response.headers(), "content-type", "text/event-stream; charset=utf-8");
            respond::set(response.headers(), "cache-control", "no-cache");
            response
        }
        Answer::Json { bytes, usage } => {
            let response = respond::json(200, bytes);
            if let Some(usage) = usage {
                respond::set(response.headers(), headers::TOKENS_IN, &usage.prompt_tokens.to_string());
                respond::set(response.headers(), headers::TOKENS_OUT, &usage.completion_tokens.to_string());
                if let Some(log) = &mut ctx.log {
                    log.tokens_in = Some(usage.prompt_tokens);
                    log.tokens_out = Some(usage.completion_tokens);
                }
            }
            response
        }
    };
    let h = response.headers();
    respond::set(h, headers::PROVIDER, &target.provider);
    respond::set(h, headers::MODEL, &target.model);
    respond::set(h, headers::ROUTE, &route.name);
    respond::set(h, headers::ATTEMPTS, &calls.to_string());
    Ok(response)
}
