//! Dispatch by method and path, and what every response gets: the request
//! id, the gateway headers, JSON errors, and the log record.

use edgeway_core::headers;
use edgeway_core::log::{Outcome, RequestLog};
use edgeway_core::GatewayError;
use worker::{Context, Env, Method};

use crate::http::incoming::Incoming;

use crate::context::RequestContext;
use crate::http::respond::{self, Reply};
use crate::{auth, cache, coalescer, cors, handlers, limiter, logs, runtime};

/// Longest caller-supplied request id kept in the log.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// Handles one request. Never fails: errors become OpenAI-style JSON.
pub async fn handle(request: Incoming, env: Env, ctx: Context) -> Reply {
    let started_ms = runtime::now_ms();
    let request_id = edgeway_core::ids::request_id(runtime::random_bytes());
    let (method, path) = (request.method(), request.path());
    let mut log = RequestLog::new(request_id.clone(), started_ms, method.as_ref(), path);
    log.client_request_id = request.header(headers::REQUEST_ID).map(|id| id.chars().take(MAX_CLIENT_REQUEST_ID).collect());
    note_caller(&request, &mut log);
    let mut rctx = RequestContext { request_id, started_ms, log: Some(log), stream_log: None, response_headers: Vec::new(), admission: None, cache_write: None, coalesce_lead: None, semantic_write: None, background: Vec::new() };

    let result = route(&request, &env, method, path, &mut rctx).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => {
            rctx.note_error(&error);
            let mut response = respond::error(&error, &rctx.request_id);
            if let Some(log) = &rctx.log {
                gateway_headers(&mut response, log);
            }
            response
        }
    };
    response.set(headers::REQUEST_ID, rctx.request_id.clone());
    for (name, value) in rctx.response_headers.drain(..) {
        response.set(name, value);
    }
    if let Some(origin) = request.header("origin").filter(|_| path.starts_with("/v1/")) {
        if cors::is_allowed(&env, origin, runtime::now_ms()).await {
            cors::expose(&mut response, origin);
        }
    }

    // A streaming handler took the log; the stream writes it when it ends.
    // Either way, the limiter is settled from the finished record.
    for work in rctx.background.drain(..) {
        crate::executor::wait_until(&ctx, work);
    }
    // The cache is written last, from the finished record (its cost).
    let admission = rctx.admission.take();
    let cache_write = rctx.cache_write.take().filter(|_| response.status() == 200);
    let lead = rctx.coalesce_lead.take();
    let semantic = rctx.semantic_write.take();
    if let Some(mut log) = rctx.log.take() {
        log.status = response.status();
        if log.status >= 400 && log.outcome == Outcome::Ok {
            log.outcome = Outcome::Error;
        }
        log.latency_ms = runtime::now_ms().saturating_sub(started_ms);
        let queued = logs::sink::print(&env, &log);
        // Most requests have nothing left to do: no task is spawned for them.
        if queued.is_some() || admission.is_some() || cache_write.is_some() || lead.is_some() || semantic.is_some() {
            crate::executor::wait_until(&ctx, async move {
                if let Some(queued) = queued {
                    queued.send().await;
                }
                settle(&env, admission, &log).await;
                store(&env, cache_write, lead, semantic, &log).await;
            });
        }
    } else if let Some(stream_log) = rctx.stream_log.take() {
        crate::executor::wait_until(&ctx, async move {
            if let Ok(log) = stream_log.await {
                logs::sink::write(&env, &log).await;
                settle(&env, admission, &log).await;
                store(&env, cache_write, lead, semantic, &log).await;
            }
        });
    }
    response
}

/// Writes a completed answer to the cache (a skipped write is logged),
/// files it under its question in the semantic cache, and tells the
/// requests waiting on this one how it went.
async fn store(env: &Env, write: Option<cache::PendingWrite>, lead: Option<String>, semantic: Option<crate::semantic::Question>, log: &RequestLog) {
    let stored = match write {
        Some(write) => {
            let result = cache::store(env, write, log.cost_usd, runtime::now_ms()).await;
            let line = match &result {
                Ok(_) => serde_json::json!({"event": "cache_stored", "request_id": log.request_id}),
                Err(reason) => serde_json::json!({"event": "cache_not_stored", "request_id": log.request_id, "reason": reason}),
            };
            worker::console_log!("{line}");
            result.ok()
        }
        None => None,
    };
    let filed = semantic.zip(stored.clone());
    if let Some(key) = lead {
        coalescer::done(env, &key, stored, runtime::now_ms()).await;
    }
    if let Some((question, entry)) = filed {
        let event = if crate::semantic::store(env, question, entry).await { "semantic_stored" } else { "semantic_not_stored" };
        worker::console_log!("{}", serde_json::json!({"event": event, "request_id": log.request_id}));
    }
}

/// Trues up the limiter with what the request really used.
async fn settle(env: &Env, admission: Option<limiter::Admission>, log: &RequestLog) {
    if let Some(admission) = admission {
        // Answers from the cache or another request used no upstream tokens.
        let served_for_free = matches!(log.cache, Some("hit" | "coalesced"));
        let tokens = if served_for_free { 0 } else { log.tokens_in.unwrap_or(0) + log.tokens_out.unwrap_or(0) };
        limiter::settle(env, admission, tokens, log.cost_usd.unwrap_or(0.0), runtime::now_ms()).await;
    }
}

async fn route(request: &Incoming, env: &Env, method: &Method, path: &str, ctx: &mut RequestContext) -> Result<Reply, GatewayError> {
    let not_allowed = |allowed: &'static str| GatewayError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_owned(),
        allowed,
    };
    match path {
        "/healthz" => match method {
            Method::Get | Method::Head => handlers::health::handle(),
            _ => Err(not_allowed("GET")),
        },
        _ if path.starts_with("/v1/") && *method == Method::Options => {
            Ok(cors::preflight(env, request.header("origin"), runtime::now_ms()).await)
        }
        // Boxed: the admin API and embeddings are seldom called, and their
        // state need not be part of every chat request's future.
        _ if path.starts_with("/admin/api/") => Box::pin(handlers::admin::handle(request, env, method, path)).await,
        "/v1/chat/completions" => match method {
            Method::Post => {
                let caller = authenticated(request, env, ctx).await?;
                handlers::chat::handle(request, env, ctx, &caller).await
            }
            _ => Err(not_allowed("POST")),
        },
        "/v1/embeddings" => match method {
            Method::Post => {
                let caller = authenticated(request, env, ctx).await?;
                Box::pin(handlers::embeddings::handle(request, env, ctx, &caller)).await
            }
            _ => Err(not_allowed("POST")),
        },
        "/v1/models" => match method {
            Method::Get => {
                let caller = authenticated(request, env, ctx).await?;
                handlers::models::handle(&caller)
            }
            _ => Err(not_allowed("GET")),
        },
        _ => Err(GatewayError::NotFound { method: method.to_string(), path: path.to_owned() }),
    }
}

/// Authenticates the caller and notes its key and end user in the log.
async fn authenticated(request: &Incoming, env: &Env, ctx: &mut RequestContext) -> Result<auth::Caller, GatewayError> {
    let caller = auth::authenticate(request, env, runtime::now_ms()).await?;
    if let Some(log) = &mut ctx.log {
        log.metadata = request.header(headers::METADATA).map(edgeway_core::log::parse_metadata).transpose()?;
        log.key_id = Some(caller.key_id().to_owned());
        log.key_name = caller.key.as_ref().map(|k| k.name.clone());
        log.user_id = caller.end_user.as_deref().and_then(|u| u.strip_prefix("sub:")).map(str::to_owned);
    }
    Ok(caller)
}

/// The longest `User-Agent` kept in the log.
const MAX_USER_AGENT: usize = 256;

/// What the log keeps about where a request came from: its user agent and
/// the data center that took it.
fn note_caller(request: &Incoming, log: &mut RequestLog) {
    log.user_agent = request.header("user-agent").map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    log.colo = request.header("cf-ray").and_then(edgeway_core::log::colo_from_ray).map(str::to_owned);
}

/// Route, provider and model headers on an error, as far as they are known.
fn gateway_headers(response: &mut Reply, log: &RequestLog) {
    for (name, value) in [(headers::ROUTE, &log.route), (headers::PROVIDER, &log.provider), (headers::MODEL, &log.model)] {
        if let Some(value) = value {
            response.set(name, value.clone());
        }
    }
    let calls = log.upstream_calls();
    if calls > 0 {
        response.set(headers::ATTEMPTS, calls.to_string());
    }
}
