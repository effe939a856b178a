//! HTTP plumbing: reading bodies within limits and writing JSON responses.

pub mod body;
pub mod respond;
