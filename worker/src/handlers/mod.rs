//! One handler per endpoint.

pub mod chat;
pub mod embeddings;
pub mod health;
pub mod models;
