//! Circuit breaking per target (provider + model), with time as an input.
//!
//! A [`CircuitBreaker`] is a state machine whose states are named after what
//! they wait for: `Closed` waits for failures (and admits everything), `Open`
//! waits for its cooldown (and rejects, saying until when), `HalfOpen` waits
//! for its single probe's result. Like quinn-proto's pacer it never reads a
//! clock: every call takes `now_ms`, [`CircuitBreaker::admit`] returns a
//! decision and [`CircuitBreaker::next_deadline`] says when it would change.
//! The worker calls `admit` before an attempt and reports how it went.
//!
//! # Why the state lives in isolate memory
//!
//! [`BreakerSet`] lives in the isolate's memory, not in a Durable Object or
//! KV, on purpose. Each Cloudflare location, and each isolate in it, has its
//! own network path to the upstream, and many failures are local to that path
//! (a congested peering link, one regional edge of a provider in trouble), so
//! a location should trip on what *it* sees rather than a global average. The
//! breaker is consulted on every request: a shared store would put a round
//! trip on the hot path, exactly when the upstream is already slow, and be
//! one more dependency that can fail. And forgetting is cheap and bounded: a
//! cold or evicted isolate starts closed and relearns an outage within
//! `failure_threshold` failed attempts, which are retried or fall back like
//! any other failure.
//!
//! Results are attributed to the current state, not to the request that
//! produced them: a late result of a request admitted before the breaker
//! opened is still fresh evidence, except while `Open`, where results are
//! ignored so that a burst of in-flight failures cannot push the cooldown out.

use std::collections::{HashMap, VecDeque};

/// Largest `failure_threshold`: a closed breaker keeps one timestamp per
/// counted failure, so this bounds its memory (8 KB).
pub const MAX_FAILURE_THRESHOLD: u32 = 1_000;

/// Targets a [`BreakerSet`] remembers by default: routes name a handful of
/// targets each, so this is ample while bounding an isolate's memory.
pub const DEFAULT_MAX_TARGETS: usize = 1024;

/// How sensitive a breaker is. Build it with [`BreakerConfig::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreakerConfig {
    /// Failures within `window_ms` that open the breaker (1..=[`MAX_FAILURE_THRESHOLD`]).
    pub failure_threshold: u32,
    /// The sliding window failures are counted in, in ms (at least 1).
    pub window_ms: u64,
    /// How long an open breaker rejects before probing, in ms (at least 1);
    /// also how long a probe may go unanswered before another is sent.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    /// 5 failures within 30 s open it for 30 s: a couple of unlucky requests
    /// do not trip it, and the cooldown is near the `Retry-After` providers
    /// send during incidents.
    fn default() -> Self {
        Self { failure_threshold: 5, window_ms: 30_000, cooldown_ms: 30_000 }
    }
}

/// A [`BreakerConfig`] field out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// `field` is `value`, outside `1..=max`.
    #[error("breaker `{field}` is {value}, but must be between 1 and {max}")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: u64,
        /// Largest allowed value.
        max: u64,
    },
}

impl BreakerConfig {
    /// Builds a config, checking every field.
    pub fn new(failure_threshold: u32, window_ms: u64, cooldown_ms: u64) -> Result<Self, BreakerConfigError> {
        let fields = [("failure_threshold", u64::from(failure_threshold), u64::from(MAX_FAILURE_THRESHOLD)), ("window_ms", window_ms, u64::MAX), ("cooldown_ms", cooldown_ms, u64::MAX)];
        match fields.into_iter().find(|&(_, value, max)| !(1..=max).contains(&value)) {
            Some((field, value, max)) => Err(BreakerConfigError::OutOfRange { field, value, max }),
            None => Ok(Self { failure_threshold, window_ms, cooldown_ms }),
        }
    }

    /// The fields are public, so an unchecked config is clamped, not trusted.
    fn threshold(&self) -> usize {
        usize::try_from(self.failure_threshold.clamp(1, MAX_FAILURE_THRESHOLD)).unwrap_or(1)
    }
}

/// The answer to "may I send a request to this target now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Closed: send it.
    Allowed,
    /// The single half-open probe: send it and report its result.
    Probe,
    /// Open, or half-open with its probe in flight: skip this target.
    Rejected {
        /// When asking again may succeed (for `Retry-After` and logs).
        retry_at_ms: u64,
    },
}

/// The breaker's state, for headers and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Admitting requests.
    Closed,
    /// Rejecting until the cooldown ends.
    Open,
    /// Waiting for the probe's result.
    HalfOpen,
}

impl BreakerState {
    /// The name used in logs and headers: `closed`, `open`, `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// The states, each holding what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for failures: the times of recent ones, oldest first, at most
    /// `failure_threshold` of them.
    Closed { failures: VecDeque<u64> },
    /// Waiting for the cooldown to end.
    Open { until_ms: u64 },
    /// Waiting for the probe sent at `probe_sent_ms`. Half-open is entered by
    /// admitting the probe, so one is always in flight: its send time stands
    /// in for an `in_flight` flag and dates a lost probe.
    HalfOpen { probe_sent_ms: u64 },
}

const CLOSED: State = State::Closed { failures: VecDeque::new() };

/// One target's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: State,
}

impl CircuitBreaker {
    /// A closed breaker with no failures.
    pub fn new(config: BreakerConfig) -> Self {
        Self { config, state: CLOSED }
    }

    /// Call before each attempt on this target; send only if not `Rejected`.
    pub fn admit(&mut self, now_ms: u64) -> Admission {
        let cooldown = self.config.cooldown_ms;
        let (next, admission) = match std::mem::replace(&mut self.state, CLOSED) {
            closed @ State::Closed { .. } => (closed, Admission::Allowed),
            State::Open { until_ms } if now_ms >= until_ms => (State::HalfOpen { probe_sent_ms: now_ms }, Admission::Probe),
            State::Open { until_ms } => (State::Open { until_ms }, Admission::Rejected { retry_at_ms: until_ms }),
            // No result for a whole cooldown: the probe is lost, send another.
            State::HalfOpen { probe_sent_ms } if now_ms.saturating_sub(probe_sent_ms) >= cooldown => (State::HalfOpen { probe_sent_ms: now_ms }, Admission::Probe),
            State::HalfOpen { probe_sent_ms } => (State::HalfOpen { probe_sent_ms }, Admission::Rejected { retry_at_ms: probe_sent_ms.saturating_add(cooldown) }),
        };
        self.state = next;
        admission
    }

    /// Report a successful attempt: closes a half-open breaker and forgets
    /// past failures. Ignored while open (see the module docs).
    pub fn on_success(&mut self, _now_ms: u64) {
        if !matches!(self.state, State::Open { .. }) {
            self.state = CLOSED;
        }
    }

    /// Report a failed attempt that says something about the target (one
    /// [`super::outcome`] retries or falls back from, not a fatal one). Opens
    /// at the threshold within the window; a failed probe re-opens.
    pub fn on_failure(&mut self, now_ms: u64) {
        let config = self.config;
        let open = State::Open { until_ms: now_ms.saturating_add(config.cooldown_ms) };
        self.state = match std::mem::replace(&mut self.state, CLOSED) {
            State::Closed { mut failures } => {
                while failures.front().is_some_and(|&at| now_ms.saturating_sub(at) >= config.window_ms) {
                    failures.pop_front();
                }
                failures.push_back(now_ms);
                while failures.len() > config.threshold() {
                    failures.pop_front();
                }
                if failures.len() >= config.threshold() { open } else { State::Closed { failures } }
            }
            State::HalfOpen { .. } => open,
            still_open @ State::Open { .. } => still_open,
        };
    }

    /// Report a probe whose result will never come (dropped, cancelled):
    /// a failure, since not knowing is no evidence of recovery.
    pub fn probe_abandoned(&mut self, now_ms: u64) {
        self.on_failure(now_ms);
    }

    /// The current state. An open breaker past its cooldown reads `Open`
    /// until the next [`Self::admit`].
    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// When [`Self::admit`] will next answer differently with no result
    /// reported: the cooldown's end when open, the time a lost probe is
    /// replaced when half-open, `None` when closed.
    pub fn next_deadline(&self) -> Option<u64> {
        match self.state {
            State::Closed { .. } => None,
            State::Open { until_ms } => Some(until_ms),
            State::HalfOpen { probe_sent_ms } => Some(probe_sent_ms.saturating_add(self.config.cooldown_ms)),
        }
    }
}

/// An isolate's breakers, keyed by target (e.g. `openai/gpt-4o-mini`).
///
/// An unknown target is a closed breaker, so only targets with something to
/// remember are stored: `admit` on an unknown target allocates nothing and a
/// success drops the entry. Beyond `max_targets` the entry untouched longest
/// is evicted (a linear scan, only when a new target fails with the set full).
#[derive(Debug, Clone)]
pub struct BreakerSet {
    config: BreakerConfig,
    max_targets: usize,
    /// Each breaker with the last time it was touched.
    breakers: HashMap<String, (CircuitBreaker, u64)>,
}

impl BreakerSet {
    /// An empty set remembering at most [`DEFAULT_MAX_TARGETS`] targets.
    pub fn new(config: BreakerConfig) -> Self {
        Self::with_max_targets(config, DEFAULT_MAX_TARGETS)
    }

    /// An empty set remembering at most `max_targets` targets (at least one).
    pub fn with_max_targets(config: BreakerConfig, max_targets: usize) -> Self {
        Self { config, max_targets: max_targets.max(1), breakers: HashMap::new() }
    }

    /// [`CircuitBreaker::admit`] for `target`.
    pub fn admit(&mut self, target: &str, now_ms: u64) -> Admission {
        self.breakers.get_mut(target).map_or(Admission::Allowed, |(breaker, touched)| {
            *touched = now_ms;
            breaker.admit(now_ms)
        })
    }

    /// [`CircuitBreaker::on_success`] for `target`.
    pub fn on_success(&mut self, target: &str, now_ms: u64) {
        if let Some((breaker, touched)) = self.breakers.get_mut(target) {
            breaker.on_success(now_ms);
            *touched = now_ms;
            if breaker.state == CLOSED {
                self.breakers.remove(target);
            }
        }
    }

    /// [`CircuitBreaker::on_failure`] for `target`.
    pub fn on_failure(&mut self, target: &str, now_ms: u64) {
        self.touch(target, now_ms).on_failure(now_ms);
    }

    /// [`CircuitBreaker::probe_abandoned`] for `target`.
    pub fn probe_abandoned(&mut self, target: &str, now_ms: u64) {
        self.touch(target, now_ms).probe_abandoned(now_ms);
    }

    /// The state of `target`'s breaker (closed when unknown).
    pub fn state(&self, target: &str) -> BreakerState {
        self.breakers.get(target).map_or(BreakerState::Closed, |(breaker, _)| breaker.state())
    }

    /// How many targets are remembered.
    pub fn len(&self) -> usize {
        self.breakers.len()
    }

    /// True when no target is remembered.
    pub fn is_empty(&self) -> bool {
        self.breakers.is_empty()
    }

    fn touch(&mut self, target: &str, now_ms: u64) -> &mut CircuitBreaker {
        if !self.breakers.contains_key(target) && self.breakers.len() >= self.max_targets {
            if let Some(oldest) = self.breakers.iter().min_by_key(|(_, (_, touched))| *touched).map(|(key, _)| key.clone()) {
                self.breakers.remove(&oldest);
            }
        }
        let (breaker, touched) = self.breakers.entry(target.to_owned()).or_insert_with(|| (CircuitBreaker::new(self.config), now_ms));
        *touched = now_ms;
        breaker
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Admission::{Allowed, Probe, Rejected};
    use BreakerState as S;

    const CONFIG: BreakerConfig = BreakerConfig { failure_threshold: 3, window_ms: 1_000, cooldown_ms: 5_000 };

    /// A simulated clock driving one breaker: step time, then drive calls.
    struct Sim { now: u64, breaker: CircuitBreaker }

    impl Sim {
        fn new() -> Self { Self { now: 0, breaker: CircuitBreaker::new(CONFIG) } }
        /// A breaker that opened at time 0, until 5 000.
        fn opened() -> Self { let mut sim = Self::new(); sim.fail().fail().fail(); sim }
        /// An opened breaker stepped to its cooldown's end, probe sent at 5 000.
        fn probing() -> Self { let mut sim = Self::opened(); assert_eq!(sim.step_to_deadline().admit(), Probe); sim }
        fn step(&mut self, ms: u64) -> &mut Self { self.now += ms; self }
        fn step_to_deadline(&mut self) -> &mut Self { self.now = self.breaker.next_deadline().unwrap(); self }
        fn admit(&mut self) -> Admission { self.breaker.admit(self.now) }
        fn fail(&mut self) -> &mut Self { self.breaker.on_failure(self.now); self }
        fn succeed(&mut self) -> &mut Self { self.breaker.on_success(self.now); self }
        fn state(&self) -> BreakerState { self.breaker.state() }
    }

    #[test]
    fn opens_after_threshold_failures_within_the_window() {
        let mut sim = Sim::new();
        sim.fail().step(400).fail();
        assert_eq!((sim.admit(), sim.state()), (Allowed, S::Closed));
        sim.step(400).fail();
        assert_eq!((sim.admit(), sim.state()), (Rejected { retry_at_ms: 800 + 5_000 }, S::Open));
    }

    #[test]
    fn failures_spread_wider_than_the_window_or_split_by_a_success_do_not_open_it() {
        let mut sim = Sim::new();
        for _ in 0..20 {
            sim.fail().step(500);
        }
        sim.fail().succeed().fail();
        assert_eq!((sim.admit(), sim.breaker.next_deadline()), (Allowed, None));
    }

    #[test]
    fn open_rejects_until_the_cooldown_ends_and_late_failures_do_not_extend_it() {
        let mut sim = Sim::opened();
        assert_eq!(sim.step(4_999).admit(), Rejected { retry_at_ms: 5_000 });
        assert_eq!(sim.fail().step(1).admit(), Probe);
    }

    #[test]
    fn half_open_admits_exactly_one_probe() {
        let mut sim = Sim::probing();
        for _ in 0..3 {
            assert_eq!(sim.step(10).admit(), Rejected { retry_at_ms: 10_000 });
        }
        assert_eq!(sim.state(), S::HalfOpen);
    }

    #[test]
    fn probe_success_closes_and_forgets_the_failures_that_opened_it() {
        let mut sim = Sim::probing();
        sim.step(200).succeed().fail().fail();
        assert_eq!((sim.state(), sim.admit(), sim.admit()), (S::Closed, Allowed, Allowed));
    }

    #[test]
    fn probe_failure_reopens_for_another_cooldown() {
        let mut sim = Sim::probing();
        assert_eq!(sim.step(300).fail().admit(), Rejected { retry_at_ms: 5_300 + 5_000 });
        assert_eq!(sim.step_to_deadline().admit(), Probe);
    }

    #[test]
    fn an_abandoned_probe_reopens_like_a_failed_one() {
        let mut sim = Sim::probing();
        sim.breaker.probe_abandoned(sim.now);
        assert_eq!((sim.state(), sim.admit()), (S::Open, Rejected { retry_at_ms: 10_000 }));
    }

    #[test]
    fn a_probe_never_reported_cannot_wedge_the_breaker_half_open() {
        let mut sim = Sim::probing();
        assert_eq!(sim.step(4_999).admit(), Rejected { retry_at_ms: 10_000 });
        assert_eq!(sim.step(1).admit(), Probe);
        assert_eq!(sim.admit(), Rejected { retry_at_ms: 15_000 });
    }

    #[test]
    fn config_errors_name_the_field() {
        assert_eq!(BreakerConfig::new(3, 1_000, 5_000), Ok(CONFIG));
        let field = |r: Result<BreakerConfig, BreakerConfigError>| match r.unwrap_err() {
            BreakerConfigError::OutOfRange { field, .. } => field,
        };
        assert_eq!(field(BreakerConfig::new(0, 1, 1)), "failure_threshold");
        assert_eq!(field(BreakerConfig::new(MAX_FAILURE_THRESHOLD + 1, 1, 1)), "failure_threshold");
        assert_eq!(field(BreakerConfig::new(1, 0, 1)), "window_ms");
        assert_eq!(field(BreakerConfig::new(1, 1, 0)), "cooldown_ms");
    }

    #[test]
    fn the_set_keeps_targets_apart_and_evicts_the_least_recently_touched() {
        let mut set = BreakerSet::with_max_targets(BreakerConfig { failure_threshold: 1, ..CONFIG }, 2);
        set.on_failure("a", 1);
        set.on_failure("b", 2);
        assert!(matches!(set.admit("a", 3), Rejected { .. }));
        assert_eq!(set.admit("unknown", 3), Allowed);
        set.on_failure("c", 4);
        assert_eq!((set.len(), [set.state("a"), set.state("b"), set.state("c")]), (2, [S::Open, S::Closed, S::Open]));
    }

    #[test]
    fn the_set_forgets_a_target_once_it_is_healthy_again() {
        let mut set = BreakerSet::new(CONFIG);
        set.on_failure("a", 1);
        assert_eq!(set.len(), 1);
        set.on_success("a", 2);
        assert!(set.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Event { Advance(u64), Admit, Success, Failure, Abandon }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![(0u64..7_000).prop_map(Event::Advance), Just(Event::Admit), Just(Event::Success), Just(Event::Failure), Just(Event::Abandon)]
    }

    proptest! {
        #[test]
        fn never_two_probes_at_once_and_never_admits_while_open(events in proptest::collection::vec(event(), 0..200)) {
            let mut sim = Sim::new();
            // When the probe the breaker admitted was sent, until a result is reported.
            let mut probe_sent: Option<u64> = None;
            for event in events {
                match event {
                    Event::Advance(ms) => { sim.step(ms); }
                    Event::Success => { sim.succeed(); probe_sent = None; }
                    Event::Failure => { sim.fail(); probe_sent = None; }
                    Event::Abandon => { sim.breaker.probe_abandoned(sim.now); probe_sent = None; }
                    Event::Admit => {
                        let (before, deadline) = (sim.state(), sim.breaker.next_deadline());
                        let admission = sim.admit();
                        if let (S::Open, Some(until)) = (before, deadline) {
                            if sim.now < until {
                                prop_assert_eq!(admission, Rejected { retry_at_ms: until });
                            }
                        }
                        match admission {
                            Allowed => prop_assert_eq!(before, S::Closed),
                            Probe => {
                                prop_assert!(probe_sent.is_none_or(|sent| sim.now >= sent + CONFIG.cooldown_ms));
                                probe_sent = Some(sim.now);
                            }
                            Rejected { retry_at_ms } => prop_assert!(retry_at_ms > sim.now),
                        }
                    }
                }
            }
        }
    }
}
