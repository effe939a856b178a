//! The isolate's circuit breakers, one per target (provider/model).
//!
//! State lives in isolate memory on purpose (the reasons are in
//! `edgeway_core::reliability::breaker`): no storage round trip on the hot
//! path, and each location trips on what it sees itself.

use std::cell::RefCell;

use edgeway_core::reliability::breaker::{Admission, BreakerConfig, BreakerSet};

thread_local! {
    static BREAKERS: RefCell<BreakerSet> = RefCell::new(BreakerSet::new(
        crate::config::get().map(|c| c.breaker).unwrap_or_else(|_| BreakerConfig::default()),
    ));
}

/// May `target` be called now?
pub fn admit(target: &str, now_ms: u64) -> Admission {
    if crate::test_mode::faults().hold_breakers {
        return Admission::Allowed;
    }
    BREAKERS.with(|b| b.borrow_mut().admit(target, now_ms))
}

/// The target answered (even with an error that was the caller's fault).
pub fn on_success(target: &str, now_ms: u64) {
    BREAKERS.with(|b| b.borrow_mut().on_success(target, now_ms));
}

/// The target failed in a way that says something about its health.
pub fn on_failure(target: &str, now_ms: u64) {
    BREAKERS.with(|b| b.borrow_mut().on_failure(target, now_ms));
}
