//! The attempt plan of one request: which target to try next, and when.
//!
//! [`AttemptPlan`] holds the decision, the worker holds the loop (tower's
//! split between a retry `Policy` and the `Retry` service). The worker asks
//! for the first target, makes the call, and reports each failure with
//! [`AttemptPlan::on_failure`], which answers "retry this target after N
//! ms", "try the next target now" or "give up" — honouring an upstream's
//! wait hint only when it fits in what is left of the request's deadline,
//! and otherwise moving on at once rather than waiting past it.

use super::backoff::Backoff;
use super::outcome::{decide, AttemptFailure, Decision, OutcomeRules};
use super::rng::Rng;

/// How a route retries and falls back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Retries on the same target after its first attempt.
    pub max_retries: u32,
    /// Delay between retries when the upstream gives no hint.
    pub backoff: Backoff,
    /// Whether a failed target may hand over to the next one.
    pub fallback: bool,
    /// Which statuses retry and which fall back.
    pub rules: OutcomeRules,
}

/// What the worker should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Call `targets[target]`, after waiting `after_ms`.
    Try {
        /// Index into the plan's targets.
        target: usize,
        /// Wait before the call (0: at once).
        after_ms: u64,
    },
    /// Stop: return the last failure (one attempt) or all of them.
    GiveUp,
}

/// The state of one request's attempts over an ordered list of targets.
#[derive(Debug, Clone)]
pub struct AttemptPlan {
    policy: RetryPolicy,
    target_count: usize,
    current: usize,
    retries_used: u32,
    deadline_ms: u64,
}

impl AttemptPlan {
    /// A plan over `target_count` targets that must end by `deadline_ms`.
    pub fn new(policy: RetryPolicy, target_count: usize, deadline_ms: u64) -> Self {
        Self { policy, target_count, current: 0, retries_used: 0, deadline_ms }
    }

    /// The first attempt, or `GiveUp` for a route with no targets.
    pub fn first(&self) -> NextAttempt {
        if self.target_count == 0 {
            NextAttempt::GiveUp
        } else {
            NextAttempt::Try { target: 0, after_ms: 0 }
        }
    }

    /// Skips the current target without calling it (its circuit is open).
    pub fn skip(&mut self) -> NextAttempt {
        self.advance()
    }

    /// The attempt on the current target failed at `now_ms`. `upstream_wait_ms`
    /// is what the upstream asked for (Retry-After and kin), if anything.
    pub fn on_failure(&mut self, failure: &AttemptFailure, upstream_wait_ms: Option<u64>, now_ms: u64, rng: &mut impl Rng) -> NextAttempt {
        let has_next = self.current + 1 < self.target_count;
        let decision = decide(&self.policy.rules, failure, self.retries_used, self.policy.max_retries, self.policy.fallback, has_next);
        match decision {
            Decision::Retry => {
                let wait = upstream_wait_ms.unwrap_or_else(|| self.policy.backoff.delay_ms(self.retries_used, rng));
                if now_ms.saturating_add(wait) < self.deadline_ms {
                    self.retries_used += 1;
                    NextAttempt::Try { target: self.current, after_ms: wait }
                } else if self.policy.fallback && has_next {
                    // The wait does not fit the deadline: do not wait, move on.
                    self.advance()
                } else {
                    NextAttempt::GiveUp
                }
            }
            Decision::Fallback => self.advance(),
            Decision::GiveUp => NextAttempt::GiveUp,
        }
    }

    fn advance(&mut self) -> NextAttempt {
        if self.current + 1 < self.target_count {
            self.current += 1;
            self.retries_used = 0;
            NextAttempt::Try { target: self.current, after_ms: 0 }
        } else {
            NextAttempt::GiveUp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reliability::outcome::TimeoutPhase;
    use crate::reliability::rng::SplitMix64;

    fn policy(max_retries: u32, fallback: bool) -> RetryPolicy {
        RetryPolicy { max_retries, backoff: Backoff::new(100, 1000).unwrap(), fallback, rules: OutcomeRules::default() }
    }

    fn status(status: u16) -> AttemptFailure {
        AttemptFailure::Status { status, error_code: None }
    }

    #[test]
    fn a_503_is_retried_with_backoff_then_falls_back_when_retries_are_spent() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(2, true), 2, 60_000);
        assert_eq!(plan.first(), NextAttempt::Try { target: 0, after_ms: 0 });
        for _ in 0..2 {
            match plan.on_failure(&status(503), None, 0, &mut rng) {
                NextAttempt::Try { target: 0, after_ms } => assert!(after_ms <= 1000),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(plan.on_failure(&status(503), None, 0, &mut rng), NextAttempt::Try { target: 1, after_ms: 0 });
        for _ in 0..2 {
            assert!(matches!(plan.on_failure(&status(503), None, 0, &mut rng), NextAttempt::Try { target: 1, .. }));
        }
        assert_eq!(plan.on_failure(&status(503), None, 0, &mut rng), NextAttempt::GiveUp);
    }

    #[test]
    fn retry_after_is_honoured_when_it_fits_the_deadline() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(2, true), 2, 10_000);
        assert_eq!(plan.on_failure(&status(429), Some(1_000), 0, &mut rng), NextAttempt::Try { target: 0, after_ms: 1_000 });
    }

    #[test]
    fn a_wait_past_the_deadline_moves_to_the_next_target_at_once() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(2, true), 2, 10_000);
        assert_eq!(plan.on_failure(&status(429), Some(30_000), 0, &mut rng), NextAttempt::Try { target: 1, after_ms: 0 });
        // On the last target there is nowhere to go: give up rather than wait past the deadline.
        assert_eq!(plan.on_failure(&status(429), Some(30_000), 0, &mut rng), NextAttempt::GiveUp);
    }

    #[test]
    fn fatal_failures_give_up_at_once() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(2, true), 3, 60_000);
        assert_eq!(plan.on_failure(&status(400), None, 0, &mut rng), NextAttempt::GiveUp);
        let mut plan = AttemptPlan::new(policy(2, true), 3, 60_000);
        let total = AttemptFailure::Timeout { phase: TimeoutPhase::Total };
        assert_eq!(plan.on_failure(&total, None, 0, &mut rng), NextAttempt::GiveUp);
    }

    #[test]
    fn a_missing_model_falls_back_without_retrying() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(2, true), 2, 60_000);
        assert_eq!(plan.on_failure(&status(404), None, 0, &mut rng), NextAttempt::Try { target: 1, after_ms: 0 });
    }

    #[test]
    fn without_fallback_a_spent_target_gives_up() {
        let mut rng = SplitMix64::new(1);
        let mut plan = AttemptPlan::new(policy(0, false), 2, 60_000);
        assert_eq!(plan.on_failure(&status(503), None, 0, &mut rng), NextAttempt::GiveUp);
    }

    #[test]
    fn skipping_an_open_circuit_moves_on_without_a_call() {
        let mut plan = AttemptPlan::new(policy(2, true), 2, 60_000);
        assert_eq!(plan.skip(), NextAttempt::Try { target: 1, after_ms: 0 });
        assert_eq!(plan.skip(), NextAttempt::GiveUp);
    }

    proptest::proptest! {
        #[test]
        fn attempts_are_bounded_and_waits_fit_the_deadline(
            max_retries in 0u32..4, targets in 1usize..4, deadline in 1u64..100_000,
            statuses in proptest::collection::vec(proptest::sample::select(vec![429u16, 500, 503, 404, 400]), 1..40),
            hint in proptest::option::of(0u64..200_000), seed in 0u64..1000,
        ) {
            let mut rng = SplitMix64::new(seed);
            let mut plan = AttemptPlan::new(policy(max_retries, true), targets, deadline);
            let mut calls = 1usize;
            for s in statuses {
                match plan.on_failure(&status(s), hint, 0, &mut rng) {
                    NextAttempt::Try { target, after_ms } => {
                        proptest::prop_assert!(target < targets);
                        proptest::prop_assert!(after_ms < deadline);
                        calls += 1;
                    }
                    NextAttempt::GiveUp => break,
                }
            }
            proptest::prop_assert!(calls <= targets * (max_retries as usize + 1));
        }
    }
}
