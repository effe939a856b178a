//! Tokens per minute: a token bucket that refills continuously, with debt.
//!
//! The bucket holds up to `capacity` tokens and refills `capacity` per
//! minute. Admitting a request reserves its estimate (clamped to the
//! capacity, so one huge request still goes when the bucket is full);
//! settling trues the reservation up to the real usage, giving back what was
//! not used or taking the excess. The excess may push the level below zero:
//! that debt is remembered, and later requests wait until it is refilled, so
//! underestimating is not a way around the limit.
//!
//! The state counts tokens *used* (not yet refilled) rather than the level,
//! so a fresh, all-zero state is a full bucket. Counts are in ticks of
//! 1/60 000 token, in which a bucket of `capacity` per minute refills exactly
//! `capacity` ticks per ms: integer arithmetic, no drift, and exact waits.

use serde::{Deserialize, Serialize};

use super::Remaining;

/// Ticks in a token: one per ms of a minute.
const TICKS_PER_TOKEN: u128 = 60_000;

/// The stored count: `used + used_frac / 60 000` tokens at `at_ms`, split so
/// every stored number stays a safe JavaScript integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct TokenBucket {
    /// Whole tokens used and not yet refilled at `at_ms`; above the
    /// capacity when in debt.
    used: u64,
    /// The fraction of a token, in 1/60 000 token.
    used_frac: u32,
    /// When `used` was brought up to date.
    at_ms: u64,
    /// The capacity `used` was counted against (0 in a fresh state).
    capacity: u64,
}

impl TokenBucket {
    /// The state after reserving `wanted` tokens (clamped to the capacity)
    /// at `now_ms`, and the tokens reserved; or the ms until the level
    /// covers the reservation.
    pub(super) fn reserve(&self, capacity: u64, wanted: u64, now_ms: u64) -> Result<(Self, u64), u64> {
        let capacity = capacity.max(1);
        let reserved = wanted.min(capacity);
        let after = self.used_at(capacity, now_ms) + ticks(reserved);
        let full = ticks(capacity);
        if after > full {
            return Err(refill_ms(after - full, capacity));
        }
        Ok((self.with(after, capacity, now_ms), reserved))
    }

    /// Trues a reservation of `reserved` tokens up to `actual`. A refund
    /// cannot fill the bucket beyond full.
    pub(super) fn settle(&mut self, capacity: u64, reserved: u64, actual: u64, now_ms: u64) {
        let capacity = capacity.max(1);
        let used = self.used_at(capacity, now_ms);
        let used = match actual.checked_sub(reserved) {
            Some(excess) => used.saturating_add(ticks(excess)),
            None => used.saturating_sub(ticks(reserved - actual)),
        };
        *self = self.with(used, capacity, now_ms);
    }

    /// Whole tokens available at `now_ms` (0 in debt), and the ms until the
    /// bucket is full.
    pub(super) fn remaining(&self, capacity: u64, now_ms: u64) -> Remaining {
        let capacity = capacity.max(1);
        let used = self.used_at(capacity, now_ms);
        let left = ticks(capacity).saturating_sub(used) / TICKS_PER_TOKEN;
        Remaining { limit: capacity, remaining: u64::try_from(left).unwrap_or(u64::MAX), reset_ms: refill_ms(used, capacity) }
    }

    /// True when the bucket is full at `now_ms`.
    pub(super) fn is_full(&self, capacity: u64, now_ms: u64) -> bool {
        self.used_at(capacity.max(1), now_ms) == 0
    }

    /// Ticks used at `now_ms`: the stored count less what refilled since.
    /// Under a changed capacity the tokens used are kept but clamped to the
    /// new capacity, so a lowered limit costs at most one minute's wait.
    fn used_at(&self, capacity: u64, now_ms: u64) -> u128 {
        let mut used = u128::from(self.used) * TICKS_PER_TOKEN + u128::from(self.used_frac);
        if self.capacity != 0 && self.capacity != capacity {
            used = used.min(ticks(capacity));
        }
        let refilled = u128::from(now_ms.saturating_sub(self.at_ms)) * u128::from(capacity);
        used.saturating_sub(refilled)
    }

    /// The state holding `used` ticks at `now_ms`. A clock that went back
    /// keeps the later time, so no refill is counted twice.
    fn with(&self, used: u128, capacity: u64, now_ms: u64) -> Self {
        Self {
            used: u64::try_from(used / TICKS_PER_TOKEN).unwrap_or(u64::MAX),
            // Below 60 000.
            used_frac: u32::try_from(used % TICKS_PER_TOKEN).unwrap_or(0),
            at_ms: self.at_ms.max(now_ms),
            capacity,
        }
    }
}

fn ticks(tokens: u64) -> u128 {
    u128::from(tokens) * TICKS_PER_TOKEN
}

/// Ms until `ticks` have refilled at `capacity` ticks per ms, rounded up.
fn refill_ms(ticks: u128, capacity: u64) -> u64 {
    u64::try_from(ticks.div_ceil(u128::from(capacity.max(1)))).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000;

    fn reserve(bucket: &mut TokenBucket, capacity: u64, wanted: u64, now_ms: u64) -> Result<u64, u64> {
        let (next, reserved) = bucket.reserve(capacity, wanted, now_ms)?;
        *bucket = next;
        Ok(reserved)
    }

    #[test]
    fn a_reservation_takes_from_the_bucket_and_settling_refunds_what_was_not_used() {
        let mut bucket = TokenBucket::default();
        assert_eq!(reserve(&mut bucket, 1_000, 600, NOW), Ok(600));
        assert_eq!(bucket.remaining(1_000, NOW), Remaining { limit: 1_000, remaining: 400, reset_ms: 36_000 });
        bucket.settle(1_000, 600, 100, NOW);
        // 100 used, refilling 1 000 per minute: full in 6 s.
        assert_eq!(bucket.remaining(1_000, NOW), Remaining { limit: 1_000, remaining: 900, reset_ms: 6_000 });
        assert!(!bucket.is_full(1_000, NOW + 5_999));
        assert!(bucket.is_full(1_000, NOW + 6_000));
    }

    #[test]
    fn usage_beyond_the_reservation_is_debt_that_later_requests_wait_out() {
        let mut bucket = TokenBucket::default();
        assert_eq!(reserve(&mut bucket, 1_000, 1_000, NOW), Ok(1_000));
        bucket.settle(1_000, 1_000, 1_500, NOW);
        assert_eq!(bucket.remaining(1_000, NOW), Remaining { limit: 1_000, remaining: 0, reset_ms: 90_000 });
        // 100 more need the level at 100, i.e. 600 tokens refilled: 36 s.
        assert_eq!(reserve(&mut bucket, 1_000, 100, NOW), Err(36_000));
        assert_eq!(reserve(&mut bucket, 1_000, 100, NOW + 35_999), Err(1));
        assert_eq!(reserve(&mut bucket, 1_000, 100, NOW + 36_000), Ok(100));
    }

    #[test]
    fn a_reservation_beyond_the_capacity_is_clamped_and_waits_for_a_full_bucket() {
        let mut bucket = TokenBucket::default();
        assert_eq!(reserve(&mut bucket, 1_000, 5_000, NOW), Ok(1_000));
        bucket.settle(1_000, 1_000, 1, NOW);
        // One token used: a full-size request waits 60 ms for it.
        assert_eq!(reserve(&mut bucket, 1_000, u64::MAX, NOW), Err(60));
        assert_eq!(reserve(&mut bucket, 1_000, u64::MAX, NOW + 60), Ok(1_000));
    }

    #[test]
    fn waits_are_exact_when_the_refill_rate_is_a_fraction_per_ms() {
        // 7 per minute: one token every 8 571.43 ms.
        let mut bucket = TokenBucket::default();
        assert_eq!(reserve(&mut bucket, 7, 7, NOW), Ok(7));
        assert_eq!(reserve(&mut bucket, 7, 1, NOW), Err(8_572));
        assert_eq!(reserve(&mut bucket, 7, 1, NOW + 8_571), Err(1));
        assert_eq!(reserve(&mut bucket, 7, 1, NOW + 8_572), Ok(1));
        // Polled every ms, the 8th is due at ⌈8 × 8 571.43⌉ = 68 572: no drift.
        let admitted = (NOW + 8_573..=NOW + 68_572).filter(|&t| reserve(&mut bucket, 7, 1, t).is_ok()).count();
        assert_eq!(admitted, 7);
    }

    #[test]
    fn a_refund_cannot_overfill_and_a_clock_going_back_refills_nothing() {
        let mut bucket = TokenBucket::default();
        reserve(&mut bucket, 1_000, 500, NOW).unwrap();
        bucket.settle(1_000, 500, 0, NOW + 60_000);
        assert_eq!(bucket.remaining(1_000, NOW + 60_000).remaining, 1_000);
        reserve(&mut bucket, 1_000, 1_000, NOW + 60_000).unwrap();
        bucket.settle(1_000, 0, 0, NOW);
        assert_eq!(bucket.remaining(1_000, NOW + 60_000).remaining, 0);
    }

    #[test]
    fn a_changed_capacity_keeps_the_tokens_used_but_clamps_debt_to_one_minute() {
        let mut bucket = TokenBucket::default();
        reserve(&mut bucket, 1_000, 500, NOW).unwrap();
        assert_eq!(bucket.remaining(1_000_000, NOW).remaining, 999_500);
        assert_eq!(bucket.remaining(100, NOW), Remaining { limit: 100, remaining: 0, reset_ms: 60_000 });
        bucket.settle(1_000, 500, 5_000, NOW);
        assert_eq!(bucket.remaining(1_000, NOW).reset_ms, 300_000);
        assert_eq!(bucket.remaining(2_000, NOW).reset_ms, 60_000);
        // Unvalidated zero reads as 1 and does not panic.
        assert_eq!(TokenBucket::default().reserve(0, 10, NOW).map(|(_, reserved)| reserved), Ok(1));
    }
}
