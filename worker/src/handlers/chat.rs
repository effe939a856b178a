//! `POST /v1/chat/completions`: the request path of DESIGN.md, step by step.
//!
//! Parse → route → attempts (`crate::retries`: retries with backoff,
//! fallback to the next target, open circuits skipped; `crate::attempt::chat`
//! calls one target through its provider's adapter) → answer with the
//! gateway's headers.

use edgeway_core::config::{Route, Target};
use edgeway_core::headers;
use edgeway_core::log::RequestLog;
use edgeway_core::openai::parse_chat_request;
use edgeway_core::openai::ChatRequest;
use edgeway_core::pricing::format_usd;
use edgeway_core::{tokens, GatewayError};
use worker::{Env, Request, Response};

use crate::attempt::chat::{self, Answer, Answered, ChatCall};
use crate::auth::Caller;
use crate::context::RequestContext;
use crate::http::{body, respond};
use crate::retries::{self, Plan};
use crate::{config, gate};

/// Output tokens reserved from a tokens-per-minute limit when the request
/// sets no `max_tokens`; the real count replaces it when the answer is done.
const DEFAULT_OUTPUT_RESERVATION: u64 = 256;

/// Handles one chat completion.
pub async fn handle(request: &mut Request, env: &Env, ctx: &mut RequestContext, caller: &Caller) -> Result<Response, GatewayError> {
    let config = config::get()?;
    let body = body::read_limited(request, config.max_request_bytes).await?;
    let chat = parse_chat_request(&body)?;
    let route = config.route(&chat.model).ok_or_else(|| GatewayError::ModelNotFound { model: chat.model.clone() })?;
    if let Some(log) = &mut ctx.log {
        log.route = Some(route.name.clone());
        log.stream = chat.is_stream();
    }
    gate::pass(request, env, ctx, caller, route, estimated_tokens(&chat)).await?;
    let deadline_ms = ctx.started_ms + route.timeouts.total_ms;
    let plan = Plan::for_request(request, config, route, deadline_ms)?;
    let request_id = ctx.request_id.clone();
    let call = ChatCall { request, env, chat: &chat, route, request_id: &request_id, deadline_ms };
    let (answered, target) = retries::run(ctx, plan, async |target, attempt| chat::run(&call, target, attempt).await).await?;
    answer_response(answered, route, &target, ctx)
}

/// Tokens the request may use: its prompt's estimate and its output limit.
fn estimated_tokens(chat: &ChatRequest) -> u64 {
    let output = chat.max_completion_tokens.or(chat.max_tokens).map_or(DEFAULT_OUTPUT_RESERVATION, u64::from);
    tokens::estimate_prompt(chat) + output
}

/// The caller's response for a successful attempt.
fn answer_response(answered: Answered, route: &Route, target: &Target, ctx: &mut RequestContext) -> Result<Response, GatewayError> {
    let calls = ctx.log.as_ref().map_or(1, RequestLog::upstream_calls);
    if let Some(log) = &mut ctx.log {
        log.warnings.clone_from(&answered.warnings);
    }
    let response = match answered.answer {
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
        Answer::Json { bytes, usage, cost_usd } => {
            let response = respond::json(200, bytes);
            if let Some(usage) = usage {
                respond::set(response.headers(), headers::TOKENS_IN, &usage.prompt_tokens.to_string());
                respond::set(response.headers(), headers::TOKENS_OUT, &usage.completion_tokens.to_string());
                if let Some(cost) = cost_usd {
                    respond::set(response.headers(), headers::COST_USD, &format_usd(cost));
                }
                if let Some(log) = &mut ctx.log {
                    log.record_usage(&usage, false, cost_usd);
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
    if !answered.warnings.is_empty() {
        respond::set(h, headers::WARNING, &answered.warnings.join("; "));
    }
    Ok(response)
}
