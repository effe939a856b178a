//! `POST /v1/embeddings`: vectors for text, through the same routes,
//! retries, fallback and circuit breakers as chat.

use edgeway_core::headers;
use edgeway_core::log::RequestLog;
use edgeway_core::openai::parse_embeddings_request;
use edgeway_core::pricing::format_usd;
use edgeway_core::{tokens, GatewayError};
use worker::Env;

use crate::attempt::embeddings::{self, EmbeddingsCall};
use crate::auth::Caller;
use crate::context::RequestContext;
use crate::http::body;
use crate::http::respond::Reply;
use crate::retries::{self, Plan};
use crate::{config, gate};
use crate::http::incoming::Incoming;

/// Handles one embeddings request.
pub async fn handle(request: &Incoming, env: &Env, ctx: &mut RequestContext, caller: &Caller) -> Result<Reply, GatewayError> {
    let config = config::get()?;
    let body = body::read_limited(request, config.max_request_bytes).await?;
    let parsed = parse_embeddings_request(&body)?;
    let route = config.route_for(&parsed.model)?;
    if let Some(log) = &mut ctx.log {
        log.route = Some(route.name.clone());
    }
    let estimate = parsed.texts().map_or(0, |texts| texts.iter().map(|t| tokens::estimate_text(t)).sum());
    gate::pass(request, env, ctx, caller, route, estimate).await?;
    let deadline_ms = ctx.started_ms + route.timeouts.total_ms;
    let plan = Plan::for_request(request, config, route, deadline_ms)?;
    let call = EmbeddingsCall { request, env, embeddings: &parsed, timeouts: route.timeouts, deadline_ms };
    let (embedded, target) = retries::run(ctx, plan, async |target, _attempt| embeddings::run(&call, target).await).await?;

    let calls = ctx.log.as_ref().map_or(1, RequestLog::upstream_calls);
    let mut response = Reply::json(200, embedded.bytes);
    if let Some(usage) = embedded.usage {
        response.set(headers::TOKENS_IN, usage.prompt_tokens.to_string());
        if let Some(log) = &mut ctx.log {
            log.record_usage(&usage, false, embedded.cost_usd);
        }
    }
    if let Some(cost) = embedded.cost_usd {
        response.set(headers::COST_USD, format_usd(cost));
    }
    response.set(headers::PROVIDER, target.provider.clone());
    response.set(headers::MODEL, target.model.clone());
    response.set(headers::ROUTE, route.name.clone());
    response.set(headers::ATTEMPTS, calls.to_string());
    Ok(response)
}
