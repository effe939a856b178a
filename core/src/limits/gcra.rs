//! Requests: the generic cell rate algorithm (GCRA), in exact integers.
//!
//! GCRA (ITU-T I.371's virtual scheduling form) keeps one number, the
//! theoretical arrival time (TAT): when the next request would be due if
//! requests came exactly at the rate. With emission interval
//! T = `window_ms / limit` and tolerance τ = (`burst` − 1) × T, a request at
//! `now` conforms when `now >= TAT − τ`; admitting it sets
//! TAT = max(TAT, now) + T. So an idle key admits `burst` at once, then one
//! per T, and a refusal costs nothing.
//!
//! T is rarely a whole number of ms (3 per second is 333.3… ms). Rounding
//! it, or the stored TAT, drifts by up to a ms per request, which over a
//! window admits a request too many or too few. So times are counted in
//! ticks of 1/`limit` ms, where T is exactly `window_ms` ticks, and the
//! stored TAT keeps its fraction of a ms.

use serde::{Deserialize, Serialize};

use super::{Remaining, RequestLimit};

/// A request limit in ticks of 1/`limit` ms, where every quantity is whole.
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Ticks per ms: the limit.
    ticks_per_ms: u128,
    /// The emission interval T: `window_ms` ticks.
    interval: u128,
    /// τ = (burst − 1) × T: how far the TAT may run ahead of now and still admit.
    tolerance: u128,
    /// The burst, for [`Remaining::limit`].
    burst: u64,
}

impl Rate {
    /// The fields of a [`RequestLimit`] are public, so zeros are read as 1
    /// rather than trusted (and divided by).
    fn new(limit: &RequestLimit) -> Self {
        let burst = limit.burst.max(1);
        let interval = u128::from(limit.window_ms.max(1));
        Self { ticks_per_ms: u128::from(limit.limit.max(1)), interval, tolerance: u128::from(burst - 1) * interval, burst: u64::from(burst) }
    }

    fn ticks(&self, ms: u64) -> u128 {
        u128::from(ms) * self.ticks_per_ms
    }

    /// Rounds up, so a client told to wait this long is admitted on return.
    fn ms_ceil(&self, ticks: u128) -> u64 {
        u64::try_from(ticks.div_ceil(self.ticks_per_ms)).unwrap_or(u64::MAX)
    }
}

/// The stored TAT: `tat_ms + tat_frac / limit` ms since the epoch, and the
/// rate it was written under. Split so every stored number stays a safe
/// JavaScript integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct Gcra {
    /// The TAT's whole ms.
    tat_ms: u64,
    /// The TAT's fraction of a ms, in 1/`limit` ms.
    tat_frac: u32,
    /// The limit the TAT was written under (0 in a fresh state).
    limit: u32,
    /// The window the TAT was written under.
    window_ms: u64,
}

impl Gcra {
    /// The state after admitting one request at `now_ms`, or the ms until
    /// one would be admitted.
    pub(super) fn admit(&self, limit: &RequestLimit, now_ms: u64) -> Result<Self, u64> {
        let rate = Rate::new(limit);
        let ahead = self.ahead(&rate, now_ms);
        if ahead > rate.tolerance {
            return Err(rate.ms_ceil(ahead - rate.tolerance));
        }
        Ok(Self::at(limit, &rate, rate.ticks(now_ms) + ahead + rate.interval))
    }

    /// How many requests would be admitted at `now_ms`, and when all
    /// `burst` will be again.
    pub(super) fn remaining(&self, limit: &RequestLimit, now_ms: u64) -> Remaining {
        let rate = Rate::new(limit);
        let ahead = self.ahead(&rate, now_ms);
        // The k-th request from now conforms when TAT + (k − 1)T − now <= τ.
        let admissible = rate.tolerance.checked_sub(ahead).map_or(0, |slack| slack / rate.interval + 1);
        let remaining = u64::try_from(admissible).unwrap_or(u64::MAX).min(rate.burst);
        Remaining { limit: rate.burst, remaining, reset_ms: rate.ms_ceil(ahead) }
    }

    /// True when the whole burst is available at `now_ms`.
    pub(super) fn is_full(&self, limit: &RequestLimit, now_ms: u64) -> bool {
        self.ahead(&Rate::new(limit), now_ms) == 0
    }

    /// How far the TAT is ahead of `now_ms`, in ticks of `rate`: 0 when it
    /// is past (an idle limit is full, it does not save up), and at most a
    /// whole burst, which only a limit lowered since it was written exceeds.
    /// Under a different rate, the requests it stands for are kept: k
    /// intervals ahead under the old rate are k intervals under the new.
    fn ahead(&self, rate: &Rate, now_ms: u64) -> u128 {
        if self.limit == 0 {
            return 0;
        }
        let written = Rate::new(&RequestLimit { limit: self.limit, window_ms: self.window_ms, burst: 1 });
        let tat = u128::from(self.tat_ms) * written.ticks_per_ms + u128::from(self.tat_frac);
        let ahead = tat.saturating_sub(written.ticks(now_ms));
        let ahead = if written.interval == rate.interval { ahead } else { mul_div_ceil(ahead, rate.interval, written.interval) };
        ahead.min(rate.tolerance + rate.interval)
    }

    /// The state holding a TAT of `tat` ticks of `rate`, written under `limit`.
    fn at(limit: &RequestLimit, rate: &Rate, tat: u128) -> Self {
        Self {
            tat_ms: u64::try_from(tat / rate.ticks_per_ms).unwrap_or(u64::MAX),
            // Below `ticks_per_ms`, which came from a u32.
            tat_frac: u32::try_from(tat % rate.ticks_per_ms).unwrap_or(0),
            limit: limit.limit.max(1),
            window_ms: limit.window_ms.max(1),
        }
    }
}

/// `value × numerator / denominator`, rounded up; on overflow (only for
/// absurd limits) divides first, losing precision rather than panicking.
fn mul_div_ceil(value: u128, numerator: u128, denominator: u128) -> u128 {
    let denominator = denominator.max(1);
    value.checked_mul(numerator).map_or_else(|| (value / denominator).saturating_mul(numerator), |product| product.div_ceil(denominator))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    const HOURLY: RequestLimit = RequestLimit { limit: 100, window_ms: 3_600_000, burst: 100 };

    /// Admits `n` requests at `now_ms` one after another; returns how many went.
    fn burst(state: &mut Gcra, limit: &RequestLimit, now_ms: u64, n: usize) -> usize {
        (0..n).filter(|_| state.admit(limit, now_ms).map(|next| *state = next).is_ok()).count()
    }

    #[test]
    fn admits_exactly_the_burst_at_one_instant_then_says_wait_one_interval() {
        let mut state = Gcra::default();
        assert_eq!(burst(&mut state, &HOURLY, NOW, 300), 100);
        assert_eq!(state.admit(&HOURLY, NOW), Err(36_000));
        assert_eq!(state.remaining(&HOURLY, NOW), Remaining { limit: 100, remaining: 0, reset_ms: 3_600_000 });
    }

    #[test]
    fn after_the_burst_admits_one_per_interval_exactly() {
        let mut state = Gcra::default();
        burst(&mut state, &HOURLY, NOW, 100);
        assert_eq!(state.admit(&HOURLY, NOW + 35_999), Err(1));
        assert_eq!(burst(&mut state, &HOURLY, NOW + 36_000, 5), 1);
        assert_eq!(state.admit(&HOURLY, NOW + 36_000), Err(36_000));
        assert_eq!(burst(&mut state, &HOURLY, NOW + 72_000, 5), 1);
    }

    #[test]
    fn refills_one_request_per_interval_while_idle() {
        let mut state = Gcra::default();
        burst(&mut state, &HOURLY, NOW, 40);
        assert_eq!(state.remaining(&HOURLY, NOW), Remaining { limit: 100, remaining: 60, reset_ms: 40 * 36_000 });
        let later = state.remaining(&HOURLY, NOW + 10 * 36_000 + 35_999);
        assert_eq!((later.remaining, later.reset_ms), (70, 29 * 36_000 + 1));
        assert!(!state.is_full(&HOURLY, NOW + 40 * 36_000 - 1));
        assert!(state.is_full(&HOURLY, NOW + 40 * 36_000));
        assert_eq!(burst(&mut state, &HOURLY, NOW + 40 * 36_000, 300), 100);
    }

    #[test]
    fn conforms_exactly_at_tat_minus_tolerance() {
        // T = 100 ms, τ = 200 ms: three at 0 leave TAT = 300, due again at 100.
        let limit = RequestLimit { limit: 10, window_ms: 1_000, burst: 3 };
        let mut state = Gcra::default();
        assert_eq!(burst(&mut state, &limit, 0, 3), 3);
        assert_eq!(state.admit(&limit, 99), Err(1));
        assert_eq!(burst(&mut state, &limit, 100, 1), 1);
        assert_eq!(state.admit(&limit, 100), Err(100));
    }

    #[test]
    fn a_window_the_limit_does_not_divide_does_not_drift() {
        // T = 333.3… ms, τ = T: due at 0, 0, then 333.3, 666.6, 1000, … read as whole ms.
        let limit = RequestLimit { limit: 3, window_ms: 1_000, burst: 2 };
        let mut state = Gcra::default();
        let mut admitted = Vec::new();
        for t in 0..30_000 {
            admitted.extend(std::iter::repeat_n(t, burst(&mut state, &limit, t, 5)));
        }
        assert_eq!(admitted[..6], [0, 0, 334, 667, 1_000, 1_334]);
        assert_eq!((admitted.len(), admitted[90]), (91, 29_667));
        // Three at once take exactly one window: all three are back at 1 000, not 1 002.
        let limit = RequestLimit { limit: 3, window_ms: 1_000, burst: 3 };
        let mut state = Gcra::default();
        assert_eq!(burst(&mut state, &limit, 0, 5), 3);
        assert_eq!(state.remaining(&limit, 0).reset_ms, 1_000);
        assert_eq!(burst(&mut state, &limit, 1_000, 5), 3);
        assert_eq!(state.admit(&limit, 1_000), Err(334));
    }

    #[test]
    fn a_lowered_limit_clamps_the_wait_to_one_burst() {
        let mut state = Gcra::default();
        burst(&mut state, &HOURLY, NOW, 100);
        // 100 requests outstanding, now 1 per second: one interval to wait, not 100.
        let strict = RequestLimit { limit: 1, window_ms: 1_000, burst: 1 };
        assert_eq!(state.admit(&strict, NOW), Err(1_000));
        assert_eq!(state.remaining(&strict, NOW), Remaining { limit: 1, remaining: 0, reset_ms: 1_000 });
        // Unvalidated zeros are read as 1 and do not panic.
        let zeros = RequestLimit { limit: 0, window_ms: 0, burst: 0 };
        assert_eq!(state.admit(&zeros, NOW), Err(1));
        assert!(Gcra::default().admit(&zeros, NOW).is_ok());
    }

    #[test]
    fn a_raised_limit_keeps_the_requests_already_made() {
        let mut state = Gcra::default();
        burst(&mut state, &HOURLY, NOW, 40);
        // 40 of 100 used; doubled to 200 per hour, 160 are left, back in 40 of the new intervals.
        let doubled = RequestLimit { limit: 200, window_ms: 3_600_000, burst: 200 };
        assert_eq!(state.remaining(&doubled, NOW), Remaining { limit: 200, remaining: 160, reset_ms: 40 * 18_000 });
        assert_eq!(burst(&mut state, &doubled, NOW, 300), 160);
        // Same rate in other units (10 per 6 minutes, T = 36 s): unchanged.
        let mut state = Gcra::default();
        burst(&mut state, &HOURLY, NOW, 95);
        let same_rate = RequestLimit { limit: 10, window_ms: 360_000, burst: 100 };
        assert_eq!(state.remaining(&same_rate, NOW + 1), state.remaining(&HOURLY, NOW + 1));
    }

    #[test]
    fn a_fraction_written_under_one_rate_converts_rounding_up() {
        // Limit 3 leaves TAT = 333⅓ ms: one interval ahead, which is 5 s under 2 per 10 s.
        let thirds = RequestLimit { limit: 3, window_ms: 1_000, burst: 1 };
        let state = Gcra::default().admit(&thirds, 0).unwrap();
        assert_eq!(state, Gcra { tat_ms: 333, tat_frac: 1, limit: 3, window_ms: 1_000 });
        assert_eq!(state.remaining(&thirds, 0).reset_ms, 334);
        assert_eq!(state.admit(&thirds, 333), Err(1));
        let slower = RequestLimit { limit: 2, window_ms: 10_000, burst: 1 };
        assert_eq!(state.remaining(&slower, 0).reset_ms, 5_000);
        // 100 ms later, 0.3 intervals are gone: 0.7 × 5 000 = 3 500 ms.
        assert_eq!(state.remaining(&slower, 100).reset_ms, 3_500);
    }
}
