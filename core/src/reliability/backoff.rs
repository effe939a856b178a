//! Exponential backoff with full jitter: how long to wait before a retry.
//!
//! Policy from the AWS Architecture Blog, "Exponential Backoff And Jitter"
//! (Marc Brooker, 2015,
//! <https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/>):
//! `sleep = random_between(0, min(cap, base * 2^attempt))`. Full jitter
//! spreads competing clients across the whole window, so a burst of
//! failures does not come back as a synchronised burst of retries. This
//! module only decides the delay; the Worker sleeps.

use thiserror::Error;

use super::rng::Rng;

/// A problem with backoff settings, naming the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BackoffError {
    /// `base_ms` was 0, which would make every delay 0 and defeat backoff.
    #[error("base_ms must be greater than 0")]
    ZeroBase,
    /// `cap_ms` was smaller than `base_ms`, so even the first retry would
    /// exceed the cap.
    #[error("cap_ms ({cap_ms}) must be at least base_ms ({base_ms})")]
    CapBelowBase {
        /// The configured base, in milliseconds.
        base_ms: u64,
        /// The configured cap, in milliseconds.
        cap_ms: u64,
    },
}

/// Validated exponential-backoff settings with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
}

impl Backoff {
    /// Builds a backoff policy, checking `base_ms > 0` and `cap_ms >= base_ms`.
    pub const fn new(base_ms: u64, cap_ms: u64) -> Result<Self, BackoffError> {
        if base_ms == 0 {
            return Err(BackoffError::ZeroBase);
        }
        if cap_ms < base_ms {
            return Err(BackoffError::CapBelowBase { base_ms, cap_ms });
        }
        Ok(Self { base_ms, cap_ms })
    }

    /// The delay scale of the first retry, in milliseconds.
    pub const fn base_ms(&self) -> u64 {
        self.base_ms
    }

    /// The largest delay this policy will ever return, in milliseconds.
    pub const fn cap_ms(&self) -> u64 {
        self.cap_ms
    }

    /// The upper end of the jitter window for retry number `retry`
    /// (0 for the first retry): `min(cap, base * 2^retry)`.
    ///
    /// Saturating, so any `retry` up to `u32::MAX` is safe; it never
    /// decreases as `retry` grows.
    pub fn ceiling_ms(&self, retry: u32) -> u64 {
        // `checked_shl` fails only for shifts of 64 or more, where
        // base * 2^retry (base >= 1) certainly exceeds any u64 cap.
        match 1u64.checked_shl(retry) {
            Some(factor) => self.base_ms.saturating_mul(factor).min(self.cap_ms),
            None => self.cap_ms,
        }
    }

    /// How long to wait before retry number `retry` (0 for the first retry):
    /// uniform in `[0, ceiling_ms(retry)]`, both ends included.
    ///
    /// Call once per retry with the caller's [`Rng`]; the result is a
    /// duration in milliseconds from now, which the Worker sleeps for.
    pub fn delay_ms(&self, retry: u32, rng: &mut impl Rng) -> u64 {
        let ceiling = self.ceiling_ms(retry);
        match ceiling.checked_add(1) {
            Some(bound) => rng.below(bound),
            // The window is all of u64: every value is in range.
            None => rng.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::rng::SplitMix64;
    use proptest::prelude::*;

    fn policy() -> impl Strategy<Value = Backoff> {
        (1u64.., any::<u64>()).prop_map(|(base, extra)| {
            Backoff::new(base, base.saturating_add(extra)).unwrap()
        })
    }

    #[test]
    fn zero_base_is_rejected() {
        assert_eq!(Backoff::new(0, 10), Err(BackoffError::ZeroBase));
    }

    #[test]
    fn cap_below_base_is_rejected_naming_both_fields() {
        let err = Backoff::new(100, 50).unwrap_err();
        assert_eq!(err, BackoffError::CapBelowBase { base_ms: 100, cap_ms: 50 });
        assert_eq!(err.to_string(), "cap_ms (50) must be at least base_ms (100)");
    }

    #[test]
    fn ceiling_doubles_until_the_cap() {
        let b = Backoff::new(100, 1_000).unwrap();
        let ceilings: Vec<u64> = (0..6).map(|r| b.ceiling_ms(r)).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
    }

    #[test]
    fn huge_retry_numbers_saturate_at_the_cap() {
        let b = Backoff::new(3, u64::MAX).unwrap();
        assert_eq!(b.ceiling_ms(63), u64::MAX);
        assert_eq!(b.ceiling_ms(64), u64::MAX);
        assert_eq!(b.ceiling_ms(u32::MAX), u64::MAX);
        let mut rng = SplitMix64::new(1);
        let _ = b.delay_ms(u32::MAX, &mut rng);
    }

    #[test]
    fn same_seed_gives_same_delays() {
        let b = Backoff::new(100, 30_000).unwrap();
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..10).map(|r| b.delay_ms(r, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
    }

    #[test]
    fn jitter_covers_the_window_and_centres_on_half_the_ceiling() {
        // Deterministic seeds so CI never flakes. With 1000 uniform draws the
        // chance of missing the bottom (or top) 10% is 0.9^1000 ≈ 2e-46, and
        // the mean's standard deviation is ceiling/sqrt(12 * 1000) ≈ 0.9%,
        // so a 5% tolerance is over five sigma.
        let b = Backoff::new(100, 30_000).unwrap();
        for seed in 0..16 {
            let mut rng = SplitMix64::new(seed);
            for retry in 0..10 {
                let ceiling = b.ceiling_ms(retry);
                let draws: Vec<u64> = (0..1000).map(|_| b.delay_ms(retry, &mut rng)).collect();
                let min = *draws.iter().min().unwrap();
                let max = *draws.iter().max().unwrap();
                assert!(min * 10 <= ceiling, "min {min} of ceiling {ceiling}");
                assert!(max * 10 >= ceiling * 9, "max {max} of ceiling {ceiling}");
                let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64;
                let half = ceiling as f64 / 2.0;
                assert!((mean - half).abs() <= ceiling as f64 * 0.05, "mean {mean}, ceiling {ceiling}");
            }
        }
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_the_ceiling_or_the_cap(b in policy(), retry: u32, seed: u64) {
            let mut rng = SplitMix64::new(seed);
            let delay = b.delay_ms(retry, &mut rng);
            prop_assert!(delay <= b.ceiling_ms(retry));
            prop_assert!(delay <= b.cap_ms());
        }

        #[test]
        fn ceiling_is_monotonic_and_capped(b in policy(), retry in 0u32..u32::MAX) {
            prop_assert!(b.ceiling_ms(retry) <= b.ceiling_ms(retry + 1));
            prop_assert!(b.ceiling_ms(retry) <= b.cap_ms());
            prop_assert!(b.ceiling_ms(retry) >= b.base_ms());
        }

        #[test]
        fn ceiling_is_base_times_two_to_the_retry_while_below_the_cap(base in 1u64..1_000_000, retry in 0u32..40) {
            let b = Backoff::new(base, u64::MAX).unwrap();
            prop_assert_eq!(b.ceiling_ms(retry), base << retry);
        }
    }
}
