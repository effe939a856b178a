//! Attempts already made for one logical request, across a client's retries.
//!
//! A client that retries resends its `x-edgeway-idempotency-key` (the SDK
//! does); the demo's `flaky-<n>` counts attempts across those retries, as a
//! real flaky upstream would see them. Kept in isolate memory, bounded and
//! short-lived: it only has to outlast a client's retry loop, and a retry
//! that lands on another isolate merely starts counting afresh.

use std::cell::RefCell;
use std::collections::HashMap;

/// A client's retries come within seconds; five minutes is plenty.
const KEEP_MS: u64 = 5 * 60 * 1000;
/// Bound on remembered keys, so a flood of unique keys cannot grow memory.
const MAX_KEYS: usize = 4096;
/// Longest key remembered (longer keys are not counted).
const MAX_KEY_LEN: usize = 128;

thread_local! {
    static ATTEMPTS: RefCell<HashMap<String, (u32, u64)>> = RefCell::new(HashMap::new());
}

/// Upstream calls already made under `key` (0 for a new key).
pub fn prior_attempts(key: &str, now_ms: u64) -> u32 {
    ATTEMPTS.with(|a| match a.borrow().get(key) {
        Some((count, seen)) if now_ms.saturating_sub(*seen) < KEEP_MS => *count,
        _ => 0,
    })
}

/// Records that this request made `calls` upstream calls under `key`.
pub fn add_attempts(key: &str, calls: u32, now_ms: u64) {
    if key.is_empty() || key.len() > MAX_KEY_LEN || calls == 0 {
        return;
    }
    ATTEMPTS.with(|a| {
        let mut map = a.borrow_mut();
        if map.len() >= MAX_KEYS {
            map.retain(|_, (_, seen)| now_ms.saturating_sub(*seen) < KEEP_MS);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let entry = map.entry(key.to_owned()).or_insert((0, now_ms));
        if now_ms.saturating_sub(entry.1) >= KEEP_MS {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(calls);
        entry.1 = now_ms;
    });
}
