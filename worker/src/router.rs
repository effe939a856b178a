//! Dispatch by method and path, and what every response gets: the request
//! id, the gateway headers, JSON errors, and the log record.

use edgeway_core::headers;
use edgeway_core::log::{Outcome, RequestLog};
use edgeway_core::GatewayError;
use worker::{Context, Env, Method, Request, Response};

use crate::context::{emit_log, RequestContext};
use crate::http::respond;
use crate::{auth, handlers, runtime};

/// Longest caller-supplied request id kept in the log.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// Handles one request. Never fails: errors become OpenAI-style JSON.
pub async fn handle(mut request: Request, env: Env, ctx: Context) -> Response {
    let started_ms = runtime::now_ms();
    let request_id = edgeway_core::ids::request_id(runtime::random_bytes());
    let method = request.method();
    let path = request.path();
    let mut log = RequestLog::new(request_id.clone(), started_ms, method.as_ref(), &path);
    log.client_request_id = request
        .headers()
        .get(headers::REQUEST_ID)
        .ok()
        .flatten()
        .map(|id| id.chars().take(MAX_CLIENT_REQUEST_ID).collect());
    let mut rctx = RequestContext { request_id, started_ms, log: Some(log), stream_log: None };

    let result = route(&mut request, &env, &method, &path, &mut rctx).await;
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            rctx.note_error(&error);
            let response = respond::error(&error, &rctx.request_id);
            if let Some(log) = &rctx.log {
                gateway_headers(&response, log);
            }
            response
        }
    };
    respond::set(response.headers(), headers::REQUEST_ID, &rctx.request_id);

    // A streaming handler took the log; the stream writes it when it ends.
    if let Some(mut log) = rctx.log.take() {
        log.status = response.status_code();
        if log.status >= 400 && log.outcome == Outcome::Ok {
            log.outcome = Outcome::Error;
        }
        log.latency_ms = runtime::now_ms().saturating_sub(started_ms);
        ctx.wait_until(async move { emit_log(&log) });
    }
    if let Some(stream_log) = rctx.stream_log.take() {
        ctx.wait_until(async move {
            if let Ok(log) = stream_log.await {
                emit_log(&log);
            }
        });
    }
    response
}

async fn route(request: &mut Request, env: &Env, method: &Method, path: &str, ctx: &mut RequestContext) -> Result<Response, GatewayError> {
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
        "/v1/chat/completions" => match method {
            Method::Post => {
                auth::authenticate(request, env)?;
                handlers::chat::handle(request, env, ctx).await
            }
            _ => Err(not_allowed("POST")),
        },
        "/v1/embeddings" => match method {
            Method::Post => {
                auth::authenticate(request, env)?;
                handlers::embeddings::handle(request, env, ctx).await
            }
            _ => Err(not_allowed("POST")),
        },
        "/v1/models" => match method {
            Method::Get => {
                auth::authenticate(request, env)?;
                handlers::models::handle()
            }
            _ => Err(not_allowed("GET")),
        },
        _ => Err(GatewayError::NotFound { method: method.to_string(), path: path.to_owned() }),
    }
}

/// Route, provider and model headers on an error, as far as they are known.
fn gateway_headers(response: &Response, log: &RequestLog) {
    let h = response.headers();
    for (name, value) in [(headers::ROUTE, &log.route), (headers::PROVIDER, &log.provider), (headers::MODEL, &log.model)] {
        if let Some(value) = value {
            respond::set(h, name, value);
        }
    }
    let calls = log.upstream_calls();
    if calls > 0 {
        respond::set(h, headers::ATTEMPTS, &calls.to_string());
    }
}
