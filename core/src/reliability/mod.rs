//! Reliability policy: backoff, upstream wait hints, outcome classification and circuit breaking, all deciding, none doing.

pub mod backoff;
pub mod retry_after;
pub mod rng;
pub mod breaker;
pub mod outcome;
pub mod attempts;
pub mod balance;
