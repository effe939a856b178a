//! One handler per endpoint.

pub mod chat;
pub mod health;
pub mod models;
