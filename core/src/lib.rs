//! Edgeway's gateway logic, as plain data and functions.
//!
//! The contract of this crate: **no I/O, no clock reads, no ambient
//! randomness**. Every function that depends on time takes `now` (milliseconds
//! since the Unix epoch) as an argument, and every function that needs
//! randomness takes it from the caller. The Worker (`edgeway-worker`) and the
//! browser SDK (`edgeway-sdk`) perform the I/O and call into this crate to
//! decide what to do, which keeps every decision testable natively, quickly
//! and deterministically.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod small_sort;
pub mod sse;
pub mod cache;
pub mod client;
pub mod config;
pub mod demo;
pub mod error;
pub mod openai;
pub mod pricing;
pub mod query_string;
pub mod tokens;

pub use error::GatewayError;
pub mod headers;
pub mod ids;
pub mod json;
pub mod limits;
pub mod keys;
pub mod log;
pub mod providers;
pub mod relay;
pub mod reliability;
pub mod routing;
pub mod guardrails;
