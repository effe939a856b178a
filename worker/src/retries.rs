//! Retries, fallback and circuit breakers around upstream attempts: the
//! loop every upstream endpoint (chat, embeddings) runs.
//!
//! `edgeway_core::reliability` decides (which target next, after how long,
//! or give up); this module waits, skips open circuits, counts attempts for
//! idempotent client retries, and records each attempt in the log.

use edgeway_core::config::{Config, Route, Target};
use edgeway_core::headers;
use edgeway_core::log::AttemptLog;
use edgeway_core::reliability::attempts::{AttemptPlan, NextAttempt, RetryPolicy};
use edgeway_core::reliability::breaker::Admission;
use edgeway_core::reliability::outcome::{classify, AttemptFailure, Verdict};
use edgeway_core::GatewayError;


use crate::attempt::Failure;
use crate::context::RequestContext;
use crate::timer::Timer;
use crate::{breakers, idempotency, runtime};
use crate::http::incoming::Incoming;

/// Which targets a request tries, and how.
pub struct Plan<'a> {
    /// The route.
    pub route: &'a Route,
    /// Targets in the order to try them.
    pub targets: Vec<Target>,
    /// Retries and fallback.
    pub policy: RetryPolicy,
    /// When the whole request must be over.
    pub deadline_ms: u64,
    /// The caller's `x-edgeway-idempotency-key`, if sent.
    pub idempotency_key: Option<String>,
}

impl<'a> Plan<'a> {
    /// The plan for `request` on `route`: the caller may pin one target and
    /// switch fallback off (every key may, until keys carry permissions);
    /// otherwise weighted draws within each group, groups in order.
    pub fn for_request(request: &Incoming, config: &Config, route: &'a Route, deadline_ms: u64) -> Result<Self, GatewayError> {
        let header = |name: &str| request.header(name);
        let targets = match header(headers::TARGET) {
            Some(spec) => vec![config.pinned_target(spec).map_err(|message| GatewayError::InvalidRequest {
                param: headers::TARGET.to_owned(),
                message: format!("invalid {}: {message}", headers::TARGET),
            })?],
            None => route.attempt_order(&mut runtime::CryptoRng),
        };
        let mut policy = route.retry.clone();
        if header(headers::FALLBACK).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
            policy.fallback = false;
        }
        Ok(Self { route, targets, policy, deadline_ms, idempotency_key: header(headers::IDEMPOTENCY_KEY).map(str::to_owned) })
    }
}

/// Runs `attempt` on the plan's targets until one succeeds or the plan
/// gives up. `attempt` gets the target and the attempt's number within the
/// logical request (counting a client's earlier tries with the same
/// idempotency key). Returns the answer and the target that gave it.
pub async fn run<A>(ctx: &mut RequestContext, plan: Plan<'_>, mut attempt: impl AsyncFnMut(&Target, u32) -> Result<A, Failure>) -> Result<(A, Target), GatewayError> {
    let mut rng = runtime::CryptoRng;
    let mut schedule = AttemptPlan::new(plan.policy, plan.targets.len(), plan.deadline_ms);
    let mut next = schedule.first();
    let mut calls = 0u32;
    let earlier = plan.idempotency_key.as_deref().map_or(0, |key| idempotency::prior_attempts(key, ctx.started_ms));
    let mut last_failure: Option<Failure> = None;
    while let NextAttempt::Try { target: index, after_ms } = next {
        let Some(target) = plan.targets.get(index) else { break };
        let target_name = target.to_string();
        if after_ms > 0 {
            Timer::new(after_ms).await;
        }
        let started = runtime::now_ms();
        if let Admission::Rejected { .. } = breakers::admit(&target_name, started) {
            let now = runtime::now_ms();
            record(ctx, target, "skipped", None, None, now, now);
            next = schedule.skip();
            continue;
        }
        calls += 1;
        if let Some(key) = &plan.idempotency_key {
            idempotency::add_attempts(key, 1, started);
        }
        match attempt(target, earlier + calls - 1).await {
            Ok(answer) => {
                let now = runtime::now_ms();
                breakers::on_success(&target_name, now);
                record(ctx, target, "ok", Some(200), None, started, now);
                return Ok((answer, target.clone()));
            }
            Err(failure) => {
                let now = runtime::now_ms();
                match classify(&failure.kind) {
                    // It answered (or was never called): the request was at fault.
                    Verdict::Fatal => breakers::on_success(&target_name, now),
                    _ if failure.kind == AttemptFailure::Unsupported => {}
                    _ => breakers::on_failure(&target_name, now),
                }
                next = schedule.on_failure(&failure.kind, failure.wait_hint_ms, now, &mut rng);
                let outcome = match next {
                    _ if failure.kind == AttemptFailure::Unsupported => "unsupported",
                    NextAttempt::Try { target: t, .. } if t == index => "retry",
                    NextAttempt::Try { .. } => "fallback",
                    NextAttempt::GiveUp => "failed",
                };
                let status = match &failure.kind {
                    AttemptFailure::Status { status, .. } => Some(*status),
                    _ => None,
                };
                record(ctx, target, outcome, status, Some(failure.error.to_string()), started, now);
                last_failure = Some(failure);
            }
        }
    }
    Err(give_up(ctx, last_failure, plan.route))
}

/// The error for a request whose attempts all failed: the last failure
/// itself when only one target was tried (`upstream_error`,
/// `upstream_timeout`, …) or when it was the caller's fault; otherwise
/// `upstream_unavailable` with every attempt listed.
fn give_up(ctx: &RequestContext, last: Option<Failure>, route: &Route) -> GatewayError {
    let tried = ctx.log.as_ref().map(|l| l.attempts.as_slice()).unwrap_or_default();
    let mut targets: Vec<&str> = tried.iter().filter(|a| a.outcome != "skipped").map(|a| a.target.as_str()).collect();
    targets.dedup();
    // One target tried, none skipped: its own error says it best.
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

/// Notes an attempt that ran from `started` to `ended` (ms since epoch).
fn record(ctx: &mut RequestContext, target: &Target, outcome: &'static str, status: Option<u16>, error: Option<String>, started: u64, ended: u64) {
    let start_ms = started.saturating_sub(ctx.started_ms);
    if let Some(log) = &mut ctx.log {
        log.provider = Some(target.provider.clone());
        log.model = Some(target.model.clone());
        log.attempts.push(AttemptLog { target: target.to_string(), outcome, status, error, start_ms, latency_ms: ended.saturating_sub(started) });
    }
}
