//! Test mode: a movable clock and bindings that fail on demand, so tests of
//! expiry and failure never sleep (DESIGN.md, "Time in tests").
//!
//! Only live when the var `EDGEWAY_TEST_MODE` is `1` at startup, which no
//! deployment sets; otherwise its admin endpoints answer 404 and the clock
//! is the real one. State is per isolate, as `wrangler dev` runs one.

use std::cell::{Cell, RefCell};

use worker::Env;

/// The var that switches test mode on.
const TEST_MODE_VAR: &str = "EDGEWAY_TEST_MODE";

thread_local! {
    static CLOCK_OFFSET_MS: Cell<u64> = const { Cell::new(0) };
    static FAULTS: RefCell<Faults> = RefCell::new(Faults::default());
}

/// Bindings made to fail, by name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// Reads from KV fail.
    #[serde(default)]
    pub kv_read: bool,
    /// Writes to KV fail.
    #[serde(default)]
    pub kv_write: bool,
    /// The limiter Durable Object cannot be reached.
    #[serde(default)]
    pub limiter: bool,
    /// Circuit breakers never open, so every request pays for a dead
    /// target (the bench's "breaker closed" case).
    #[serde(default)]
    pub hold_breakers: bool,
}

/// Whether this deployment runs in test mode.
pub fn enabled(env: &Env) -> bool {
    crate::settings::get(env, TEST_MODE_VAR).as_deref() == Some("1")
}

/// How far the test clock is ahead of the real one.
pub fn clock_offset_ms() -> u64 {
    CLOCK_OFFSET_MS.with(Cell::get)
}

/// Moves the clock forward (it never goes back: time-based state would
/// otherwise see time run backwards).
pub fn advance_clock(ms: u64) {
    CLOCK_OFFSET_MS.with(|c| c.set(c.get().saturating_add(ms)));
}

/// The bindings currently made to fail.
pub fn faults() -> Faults {
    FAULTS.with(|f| *f.borrow())
}

/// Sets which bindings fail.
pub fn set_faults(faults: Faults) {
    FAULTS.with(|f| *f.borrow_mut() = faults);
}
