//! Edgeway's browser SDK: the `edgeway` npm package's engine.
//!
//! The package's entry (`js/index.js`) loads this wasm on first use and
//! wraps [`client::Client`] and [`stream::ChatStream`] in the classes apps
//! import. Everything that decides lives in `edgeway-core` (retry policy,
//! backoff, `Retry-After`, SSE parsing, stream assembly); this crate only
//! does the browser's I/O:
//!
//! - `client` — the options an app passes and the calls it makes;
//! - `call` — one call: credentials, headers, fetch, and the retry loop;
//! - `auth` — an API key, or short-lived tokens from the app's `getToken`;
//! - `stream` — reading a streamed answer chunk by chunk as it arrives;
//! - `errors` and `metadata` — what the gateway's answer says, for JS;
//! - `runtime` — the few JS pieces used: the error class, timers, signals;
//! - `types` — the TypeScript types of requests and answers.

mod auth;
mod call;
mod client;
mod errors;
mod js;
mod metadata;
mod runtime;
mod stream;
mod types;

pub use client::Client;
pub use stream::ChatStream;
