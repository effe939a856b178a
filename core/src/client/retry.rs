//! Client retries: whether a failed call is sent again, and after how long.
//!
//! The rules, in order (they match what openai-node does, so a page using
//! Edgeway's SDK behaves like a server using OpenAI's):
//!
//! 1. `x-should-retry: true` or `false` from the gateway decides outright:
//!    the gateway knows when a retry cannot help (a spent budget) or will
//!    (a transient fault behind a status that looks permanent).
//! 2. Otherwise network errors, 408, 429 and every 5xx are retried; every
//!    other status is the caller's to fix, and is not.
//! 3. The wait is the gateway's hint (`retry-after-ms`, `Retry-After`) when
//!    it gave one no longer than [`RetryPolicy::max_hint_ms`], else
//!    exponential backoff with full jitter. The `x-ratelimit-reset-*`
//!    headers are not hints: they say when a window refills, and come on
//!    every answer, failed or not.
//! 4. A wait that would outlast the call's remaining time is not started:
//!    the caller gets the error now rather than a timeout later.

use crate::reliability::backoff::Backoff;
use crate::reliability::retry_after::retry_after_ms;
use crate::reliability::rng::Rng;

/// How a client retries. [`Default`] is what the SDK uses unless told
/// otherwise: 2 retries, backoff from 500 ms to 8 s, hints up to 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 turns retrying off).
    pub max_retries: u32,
    /// The backoff used when the gateway gave no usable hint.
    pub backoff: Backoff,
    /// The longest server-suggested wait honoured as is; a longer one is
    /// treated as no hint (a misconfigured server should not park a page
    /// for an hour).
    pub max_hint_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 2, backoff: DEFAULT_BACKOFF, max_hint_ms: 60_000 }
    }
}

/// 500 ms doubling to 8 s, as openai-node. Checked when compiling: an
/// invalid constant fails the build, not a call.
#[allow(clippy::panic)]
const DEFAULT_BACKOFF: Backoff = match Backoff::new(500, 8_000) {
    Ok(backoff) => backoff,
    Err(_) => panic!("the default backoff is valid"),
};

/// How one attempt of a call failed, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// No response: the connection failed or broke before the first chunk.
    Network,
    /// The gateway answered with an error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// `x-should-retry`, when the gateway sent `true` or `false`.
        should_retry: Option<bool>,
        /// The wait the gateway asked for, in milliseconds from now.
        wait_hint_ms: Option<u64>,
    },
}

impl CallFailure {
    /// A status failure described by its response headers: `get` returns a
    /// header's value by (lower-case) name; `now_ms` dates `Retry-After`.
    pub fn from_response(status: u16, get: impl Fn(&str) -> Option<String>, now_ms: u64) -> Self {
        let should_retry = get(crate::headers::SHOULD_RETRY).and_then(|v| match v.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        });
        Self::Status { status, should_retry, wait_hint_ms: retry_after_ms(&get, now_ms) }
    }

    /// Whether a retry could help at all (rules 1 and 2).
    pub fn is_retryable(&self) -> bool {
        match *self {
            Self::Network => true,
            Self::Status { should_retry: Some(verdict), .. } => verdict,
            Self::Status { status, .. } => status == 408 || status == 429 || status >= 500,
        }
    }
}

/// What the client does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send the call again after waiting this long.
    RetryAfter {
        /// Milliseconds to wait.
        delay_ms: u64,
    },
    /// Give the caller this failure.
    GiveUp,
}

impl RetryPolicy {
    /// Decides what follows `failure`, the failure of attempt number
    /// `retries_done + 1`. `remaining_ms` is the time left before the
    /// call's timeout, if it has one.
    pub fn next(&self, failure: &CallFailure, retries_done: u32, remaining_ms: Option<u64>, rng: &mut impl Rng) -> Next {
        if retries_done >= self.max_retries || !failure.is_retryable() {
            return Next::GiveUp;
        }
        let hint = match *failure {
            CallFailure::Status { wait_hint_ms, .. } => wait_hint_ms.filter(|&ms| ms <= self.max_hint_ms),
            CallFailure::Network => None,
        };
        let delay_ms = hint.unwrap_or_else(|| self.backoff.delay_ms(retries_done, rng));
        match remaining_ms {
            Some(remaining) if delay_ms >= remaining => Next::GiveUp,
            _ => Next::RetryAfter { delay_ms },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::rng::SplitMix64;
    use proptest::prelude::*;

    fn status(status: u16) -> CallFailure {
        CallFailure::Status { status, should_retry: None, wait_hint_ms: None }
    }

    fn headers(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn network_errors_408_429_and_5xx_are_retried_other_statuses_are_not() {
        for retried in [status(408), status(429), status(500), status(502), status(503), status(504), CallFailure::Network] {
            assert!(retried.is_retryable(), "{retried:?}");
        }
        for kept in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!status(kept).is_retryable(), "{kept}");
        }
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let budget = CallFailure::from_response(429, headers(&[("x-should-retry", "false"), ("retry-after", "3600")]), 0);
        assert!(!budget.is_retryable());
        let forced = CallFailure::from_response(409, headers(&[("x-should-retry", "true")]), 0);
        assert!(forced.is_retryable());
        let garbled = CallFailure::from_response(503, headers(&[("x-should-retry", "maybe")]), 0);
        assert!(garbled.is_retryable());
    }

    #[test]
    fn retry_after_is_read_from_seconds_dates_and_milliseconds() {
        let seconds = CallFailure::from_response(429, headers(&[("retry-after", "2")]), 0);
        assert_eq!(seconds, CallFailure::Status { status: 429, should_retry: None, wait_hint_ms: Some(2_000) });
        // 1994-11-06 08:49:37 UTC, 5 s after now.
        let now = 784_111_772_000;
        let date = CallFailure::from_response(503, headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]), now);
        assert!(matches!(date, CallFailure::Status { wait_hint_ms: Some(5_000), .. }));
        let precise = CallFailure::from_response(429, headers(&[("retry-after-ms", "250"), ("retry-after", "1")]), 0);
        assert!(matches!(precise, CallFailure::Status { wait_hint_ms: Some(250), .. }));
        let window = CallFailure::from_response(502, headers(&[("x-ratelimit-reset-requests", "2s")]), 0);
        assert!(matches!(window, CallFailure::Status { wait_hint_ms: None, .. }), "a window reset is not a retry hint");
    }

    #[test]
    fn a_hint_is_waited_exactly_and_an_absurd_one_falls_back_to_backoff() {
        let policy = RetryPolicy::default();
        let mut rng = SplitMix64::new(1);
        let hinted = CallFailure::Status { status: 429, should_retry: None, wait_hint_ms: Some(1_000) };
        assert_eq!(policy.next(&hinted, 0, None, &mut rng), Next::RetryAfter { delay_ms: 1_000 });
        let absurd = CallFailure::Status { status: 429, should_retry: None, wait_hint_ms: Some(3_600_000) };
        let Next::RetryAfter { delay_ms } = policy.next(&absurd, 0, None, &mut rng) else { panic!("not retried") };
        assert!(delay_ms <= 500);
    }

    #[test]
    fn retries_stop_at_max_retries() {
        let policy = RetryPolicy { max_retries: 2, ..RetryPolicy::default() };
        let mut rng = SplitMix64::new(2);
        assert!(matches!(policy.next(&status(503), 0, None, &mut rng), Next::RetryAfter { .. }));
        assert!(matches!(policy.next(&status(503), 1, None, &mut rng), Next::RetryAfter { .. }));
        assert_eq!(policy.next(&status(503), 2, None, &mut rng), Next::GiveUp);
        let off = RetryPolicy { max_retries: 0, ..RetryPolicy::default() };
        assert_eq!(off.next(&CallFailure::Network, 0, None, &mut rng), Next::GiveUp);
    }

    #[test]
    fn a_wait_longer_than_the_time_left_is_not_started() {
        let policy = RetryPolicy::default();
        let mut rng = SplitMix64::new(3);
        let hinted = CallFailure::Status { status: 429, should_retry: None, wait_hint_ms: Some(5_000) };
        assert_eq!(policy.next(&hinted, 0, Some(4_000), &mut rng), Next::GiveUp);
        assert_eq!(policy.next(&hinted, 0, Some(6_000), &mut rng), Next::RetryAfter { delay_ms: 5_000 });
    }

    proptest! {
        #[test]
        fn backoff_delays_stay_in_the_full_jitter_window(seed: u64, retries_done in 0u32..10, max_retries in 0u32..12) {
            let policy = RetryPolicy { max_retries, ..RetryPolicy::default() };
            let mut rng = SplitMix64::new(seed);
            match policy.next(&CallFailure::Network, retries_done, None, &mut rng) {
                Next::RetryAfter { delay_ms } => {
                    prop_assert!(retries_done < max_retries);
                    prop_assert!(delay_ms <= policy.backoff.ceiling_ms(retries_done));
                }
                Next::GiveUp => prop_assert!(retries_done >= max_retries),
            }
        }
    }
}
