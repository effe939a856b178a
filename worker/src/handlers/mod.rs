//! One handler per endpoint.

pub mod admin;
pub mod chat;
pub mod embeddings;
pub mod evals;
pub mod health;
pub mod logs;
pub mod models;
