//! HTTP plumbing: reading bodies within limits, writing JSON responses,
//! and calling Durable Objects.

pub mod body;
pub mod object;
pub mod respond;
