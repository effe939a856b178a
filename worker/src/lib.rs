//! Edgeway as a Cloudflare Worker: the thin I/O shell around `edgeway-core`.
//!
//! A request goes `router` → a handler in `handlers/` → `retries` (retries,
//! fallback, circuit breakers) → `attempt/` (one call through the provider's
//! adapter) → `upstream/` (the network, or the built-in demo model) →
//! `relay` (streams) → the caller.
//! Every decision is made by `edgeway-core`; this crate reads the clock and
//! the CSPRNG (`runtime`), talks to the network and the bindings, and turns
//! core's errors into responses.

// A failed attempt carries its whole error: it is the cold path, and
// boxing it would only add an allocation to every failure.
#[allow(clippy::result_large_err)]
mod attempt;
mod auth;
mod breakers;
mod cache;
mod cancel;
mod coalescer;
mod config;
mod context;
mod cors;
mod gate;
mod handlers;
mod idempotency;
mod keys_store;
mod limiter;
mod http;
mod logs;
mod promise;
mod relay;
mod retries;
mod router;
mod runtime;
mod semantic;
mod settings;
mod test_mode;
mod timer;
mod upstream;

use worker::{event, Context, Env, MessageBatch, Response, Result, ScheduleContext, ScheduledEvent};

/// The Worker's fetch handler. It never returns `Err`: every failure becomes
/// an OpenAI-style JSON error inside `router::handle`.
#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, ctx: Context) -> Result<Response> {
    Ok(router::handle(http::incoming::Incoming::read(request), env, ctx).await)
}

/// The log queue's consumer: batches of request records into D1.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    logs::consumer::consume(batch, &env).await
}

/// The daily cron: log retention.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    logs::retention::run(&env).await;
}

// SAFETY: a Worker isolate runs the wasm on one thread, which is what
// `TalckWasm` (no locking) requires.
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
