//! Edgeway as a Cloudflare Worker: the thin I/O shell around `edgeway-core`.
//!
//! A request goes `executor` (runs the handler) → `http::incoming` (the
//! request, read into Rust once) → `router` → a handler in `handlers/` →
//! `retries` (retries, fallback, circuit breakers) → `attempt/` (one call
//! through the provider's adapter) → `upstream/` (the network, or the
//! built-in demo model) → `relay` (streams) → `http::respond` (the
//! response, made in one call into JS) → the caller. Awaiting JS promises
//! and timers goes through `promise`.
//! Every decision is made by `edgeway-core`; this crate reads the clock and
//! the CSPRNG (`runtime`), talks to the network and the bindings, and turns
//! core's errors into responses.

mod alloc;
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
mod executor;
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

use worker::{event, Context, Env, MessageBatch, Result, ScheduleContext, ScheduledEvent};

/// The Worker's fetch handler, exported by hand rather than through
/// `#[event(fetch)]` so that `executor` runs it. It never fails: every
/// failure becomes an OpenAI-style JSON error inside `router::handle`.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch(request: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> js_sys::Promise {
    executor::spawn(async move { router::handle(http::incoming::Incoming::read(request), env, Context::new(ctx)).await.into_response().into() })
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
// `TalckWasm` (no locking) and the size classes' free lists require.
#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses<talc::TalckWasm> = unsafe { alloc::SizeClasses::new(talc::TalckWasm::new_global()) };
