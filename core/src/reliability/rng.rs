//! Injected randomness: a tiny `Rng` trait and a seedable SplitMix64.
//!
//! Core never reads ambient randomness (see the crate docs): the Worker
//! implements [`Rng`] over `crypto.getRandomValues`, and tests use
//! [`SplitMix64`] with a fixed seed so every draw is reproducible.

/// A source of uniformly distributed 64-bit values, supplied by the caller.
pub trait Rng {
    /// Returns the next uniformly distributed `u64`.
    fn next_u64(&mut self) -> u64;

    /// Returns a value uniformly distributed in `[0, bound)`, or 0 when
    /// `bound` is 0.
    ///
    /// Uses the widening-multiply reduction (Lemire, "Fast Random Integer
    /// Generation in an Interval", 2019, without the rejection step): the
    /// high 64 bits of `x * bound` lie in `[0, bound)`. The bias is at most
    /// `bound / 2^64`, far below anything a jittered delay could show.
    fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        // The shift leaves at most 64 significant bits, so the cast is exact.
        (wide >> 64) as u64
    }
}

/// SplitMix64: a tiny, fast, seedable generator for tests and simulations.
///
/// Not cryptographic. Algorithm and constants from Steele, Lea and Flood,
/// "Fast Splittable Pseudorandom Number Generators" (OOPSLA 2014), as
/// published by Vigna at <https://prng.di.unimi.it/splitmix64.c>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The golden-ratio increment `2^64 / φ`, odd, so the state walks a
    /// full period of 2^64.
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
    /// First finaliser multiplier (Stafford's "Mix13" variant, as in Vigna's code).
    const MIX1: u64 = 0xBF58_476D_1CE4_E5B9;
    /// Second finaliser multiplier (same source).
    const MIX2: u64 = 0x94D0_49BB_1331_11EB;

    /// Creates a generator whose sequence is fully determined by `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl Rng for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(Self::MIX1);
        z = (z ^ (z >> 27)).wrapping_mul(Self::MIX2);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    // Named, not globbed: proptest's prelude exports rand's `Rng` too.
    use super::{Rng, SplitMix64};
    use proptest::prelude::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of Vigna's splitmix64.c seeded with 1234567.
        let mut rng = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(got, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]);
    }

    #[test]
    fn same_seed_gives_same_sequence() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn below_zero_is_zero() {
        assert_eq!(SplitMix64::new(7).below(0), 0);
    }

    proptest! {
        #[test]
        fn below_stays_below_the_bound(seed: u64, bound in 1u64..) {
            let mut rng = SplitMix64::new(seed);
            for _ in 0..16 {
                prop_assert!(rng.below(bound) < bound);
            }
        }
    }
}
