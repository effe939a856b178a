//! The limiter as the Durable Object drives it: admit, settle, quota and
//! idleness over simulated time, serde, and properties of the rate limits.

use proptest::prelude::*;

use super::*;

const NOW: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const HOUR: u64 = 3_600_000;
const DAY: u64 = 86_400_000;

fn hourly(limit: u32) -> Option<RequestLimit> {
    Some(RequestLimit::new(limit, HOUR))
}

fn all_limits() -> Limits {
    Limits { requests: hourly(100), tokens_per_minute: Some(10_000), budget_daily_usd: Some(5.0), budget_monthly_usd: Some(50.0) }
}

fn ask(tokens: u64) -> AdmitRequest {
    AdmitRequest { estimated_tokens: tokens }
}

fn is_admitted(decision: &Decision) -> bool {
    matches!(decision, Decision::Admitted { .. })
}

fn refusal(decision: Decision) -> Refusal {
    match decision {
        Decision::Refused { refusal, .. } => refusal,
        Decision::Admitted { .. } => panic!("admitted"),
    }
}

/// Admits `n` requests of `tokens` at `now_ms`; returns how many went.
fn admit_many(state: &mut LimiterState, limits: &Limits, tokens: u64, now_ms: u64, n: usize) -> usize {
    (0..n).filter(|_| is_admitted(&state.admit(limits, &ask(tokens), now_ms))).count()
}

#[test]
fn three_hundred_concurrent_requests_against_a_burst_of_100_admit_exactly_100() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    assert_eq!(admit_many(&mut state, &limits, 10, NOW, 300), 100);
    assert_eq!(refusal(state.admit(&limits, &ask(10), NOW)), Refusal::RateLimited { limit: LimitKind::Requests, retry_after_ms: 36_000 });
    assert_eq!(admit_many(&mut state, &limits, 10, NOW + 36_000, 300), 1);
}

#[test]
fn an_admitted_request_reports_what_is_left_after_it() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    let decision = state.admit(&limits, &ask(2_500), NOW);
    let quota = Quota {
        requests: Some(Remaining { limit: 100, remaining: 99, reset_ms: 36_000 }),
        tokens: Some(Remaining { limit: 10_000, remaining: 7_500, reset_ms: 15_000 }),
    };
    assert_eq!(decision, Decision::Admitted { reserved_tokens: 2_500, quota });
    assert_eq!(state.quota(&limits, NOW), quota);
    assert_eq!(decision.quota(), &quota);
}

#[test]
fn refused_admits_change_nothing() {
    let limits = all_limits();
    // Requests: the burst is used up.
    let mut state = LimiterState::default();
    admit_many(&mut state, &limits, 1, NOW, 100);
    let before = state.clone();
    assert_eq!(admit_many(&mut state, &limits, 1, NOW + 1, 50), 0);
    assert_eq!(state, before);
    // Tokens: the bucket is nearly empty; the request slot is not consumed either.
    let mut state = LimiterState::default();
    admit_many(&mut state, &limits, 9_990, NOW, 1);
    let before = state.clone();
    assert_eq!(refusal(state.admit(&limits, &ask(100), NOW)), Refusal::RateLimited { limit: LimitKind::Tokens, retry_after_ms: 540 });
    assert_eq!(state, before);
    assert_eq!(state.quota(&limits, NOW).requests.map(|r| r.remaining), Some(99));
    // Budget.
    let mut state = LimiterState::default();
    state.settle(&limits, 0, 0, 5.0, NOW);
    let before = state.clone();
    assert!(matches!(refusal(state.admit(&limits, &ask(1), NOW)), Refusal::BudgetExhausted { period: BudgetPeriod::Day, .. }));
    assert_eq!(state, before);
}

#[test]
fn budgets_are_checked_before_requests_and_requests_before_tokens() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    admit_many(&mut state, &limits, 10_000, NOW, 1);
    admit_many(&mut state, &limits, 0, NOW, 99);
    assert!(matches!(refusal(state.admit(&limits, &ask(1), NOW)), Refusal::RateLimited { limit: LimitKind::Requests, .. }));
    state.settle(&limits, 0, 0, 50.0, NOW);
    let expected = Refusal::BudgetExhausted { period: BudgetPeriod::Month, resets_at_ms: NOW + 31 * DAY };
    assert_eq!(refusal(state.admit(&limits, &ask(1), NOW)), expected);
    assert_eq!(expected.retry_after_ms(NOW), 31 * DAY);
    assert_eq!(Refusal::RateLimited { limit: LimitKind::Tokens, retry_after_ms: 7 }.retry_after_ms(NOW), 7);
}

#[test]
fn settling_trues_up_tokens_and_adds_the_cost() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    let Decision::Admitted { reserved_tokens, .. } = state.admit(&limits, &ask(50_000), NOW) else { panic!("refused") };
    assert_eq!(reserved_tokens, 10_000);
    state.settle(&limits, reserved_tokens, 1_000, 4.0, NOW);
    assert_eq!(state.quota(&limits, NOW).tokens.map(|t| t.remaining), Some(9_000));
    state.settle(&limits, 0, 12_000, 0.5, NOW);
    // 3 000 tokens of debt: a request of 1 000 waits for 4 000 tokens, 24 s.
    assert_eq!(refusal(state.admit(&limits, &ask(1_000), NOW)), Refusal::RateLimited { limit: LimitKind::Tokens, retry_after_ms: 24_000 });
    assert!(is_admitted(&state.admit(&limits, &ask(1_000), NOW + 24_000)));
    state.settle(&limits, 1_000, 1_000, 0.5, NOW + 24_000);
    assert!(matches!(refusal(state.admit(&limits, &ask(1), NOW + 25_000)), Refusal::BudgetExhausted { period: BudgetPeriod::Day, .. }));
    assert!(is_admitted(&state.admit(&limits, &ask(1), NOW + DAY)));
}

#[test]
fn without_limits_everything_is_admitted_and_nothing_reported() {
    let mut state = LimiterState::default();
    let decision = state.admit(&Limits::default(), &ask(1_000_000), NOW);
    assert_eq!(decision, Decision::Admitted { reserved_tokens: 0, quota: Quota { requests: None, tokens: None } });
    state.settle(&Limits::default(), 0, 1_000_000, 100.0, NOW);
    assert_eq!(state, LimiterState::default());
}

#[test]
fn a_state_with_only_some_limits_checks_only_those() {
    let tokens_only = Limits { tokens_per_minute: Some(100), ..Limits::default() };
    let mut state = LimiterState::default();
    assert_eq!(admit_many(&mut state, &tokens_only, 10, NOW, 1_000), 10);
    assert_eq!(state.quota(&tokens_only, NOW), Quota { requests: None, tokens: Some(Remaining { limit: 100, remaining: 0, reset_ms: 60_000 }) });
    let requests_only = Limits { requests: Some(RequestLimit { limit: 2, window_ms: 1_000, burst: 5 }), ..Limits::default() };
    assert_eq!(admit_many(&mut state, &requests_only, 1_000_000, NOW, 10), 5);
}

#[test]
fn limits_edited_between_calls_take_effect_without_nonsense() {
    let mut limits = all_limits();
    let mut state = LimiterState::default();
    admit_many(&mut state, &limits, 5_000, NOW, 1);
    admit_many(&mut state, &limits, 0, NOW, 49);
    state.settle(&limits, 5_000, 5_000, 4.0, NOW);
    // Lowered below what is already used: a wait of at most one refill, not hours.
    limits.requests = Some(RequestLimit { limit: 10, window_ms: 60_000, burst: 10 });
    limits.tokens_per_minute = Some(1_000);
    limits.budget_daily_usd = Some(1.0);
    let quota = state.quota(&limits, NOW);
    assert_eq!(quota.requests, Some(Remaining { limit: 10, remaining: 0, reset_ms: 60_000 }));
    assert_eq!(quota.tokens, Some(Remaining { limit: 1_000, remaining: 0, reset_ms: 60_000 }));
    assert!(matches!(refusal(state.admit(&limits, &ask(1), NOW)), Refusal::BudgetExhausted { period: BudgetPeriod::Day, .. }));
    // Raised: what was used still counts, the rest is available now.
    let raised = Limits { requests: hourly(1_000), tokens_per_minute: Some(100_000), budget_daily_usd: Some(10.0), budget_monthly_usd: None };
    let quota = state.quota(&raised, NOW);
    assert_eq!((quota.requests.map(|r| r.remaining), quota.tokens.map(|t| t.remaining)), (Some(950), Some(95_000)));
    assert!(is_admitted(&state.admit(&raised, &ask(1), NOW)));
    // Removed and unvalidated limits neither panic nor refuse forever.
    state.settle(&Limits::default(), 1, 1_000_000, 1.0, NOW);
    let zeros = Limits { requests: Some(RequestLimit { limit: 0, window_ms: 0, burst: 0 }), tokens_per_minute: Some(0), budget_daily_usd: Some(f64::NAN), budget_monthly_usd: Some(f64::INFINITY) };
    state.settle(&zeros, u64::MAX, 0, 1.0, NOW);
    let _ = state.admit(&zeros, &ask(u64::MAX), NOW);
    assert!(is_admitted(&state.admit(&zeros, &ask(u64::MAX), NOW + DAY)));
}

#[test]
fn a_state_is_idle_once_every_bucket_is_full_and_nothing_is_spent_this_period() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    assert!(state.is_idle(&limits, NOW));
    admit_many(&mut state, &limits, 10_000, NOW, 1);
    assert!(!state.is_idle(&limits, NOW));
    // Tokens full after a minute, the request slot after 36 s.
    assert!(!state.is_idle(&limits, NOW + 59_999));
    assert!(state.is_idle(&limits, NOW + 60_000));
    state.settle(&limits, 10_000, 0, 0.01, NOW + 60_000);
    assert!(!state.is_idle(&limits, NOW + 60_000));
    // Still spent today, and this month after midnight.
    assert!(!state.is_idle(&limits, NOW + DAY));
    assert!(state.is_idle(&Limits { budget_monthly_usd: None, ..limits.clone() }, NOW + DAY));
    assert!(state.is_idle(&limits, NOW + 31 * DAY));
    // Limits not set do not keep a state alive.
    let mut state = LimiterState::default();
    admit_many(&mut state, &limits, 10_000, NOW, 1);
    assert!(state.is_idle(&Limits::default(), NOW));
}

#[test]
fn state_survives_a_serde_round_trip() {
    let limits = all_limits();
    let mut state = LimiterState::default();
    admit_many(&mut state, &Limits { requests: Some(RequestLimit::new(3, 1_000)), ..limits.clone() }, 777, NOW, 2);
    state.settle(&limits, 777, 1_000, 0.25, NOW + 5);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(crate::json::from_str::<LimiterState>(&json).unwrap(), state);
    // A fresh state stores as `{}`, and every field may be missing.
    assert_eq!(serde_json::to_string(&LimiterState::default()).unwrap(), "{}");
    assert_eq!(crate::json::from_str::<LimiterState>("{}").unwrap(), LimiterState::default());
    let partial: LimiterState = crate::json::from_str(r#"{"requests":{"tat_ms":1767225636000,"limit":100,"window_ms":3600000},"spend":{"day":{"usd":1.5}},"future_field":1}"#).unwrap();
    assert_eq!(partial.quota(&limits, NOW).requests.map(|r| r.remaining), Some(99));
    assert!(partial.is_idle(&Limits::default(), NOW));
}

#[test]
fn limits_serialize_only_what_is_set() {
    let limits = Limits { requests: Some(RequestLimit::new(60, 60_000)), budget_daily_usd: Some(2.5), ..Limits::default() };
    let json = serde_json::to_string(&limits).unwrap();
    assert_eq!(json, r#"{"requests":{"limit":60,"window_ms":60000,"burst":60},"budget_daily_usd":2.5}"#);
    assert_eq!(crate::json::from_str::<Limits>(&json).unwrap(), limits);
    assert_eq!(crate::json::from_str::<Limits>("{}").unwrap(), Limits::default());
}

#[test]
fn decisions_serialize_for_the_trip_from_the_durable_object() {
    let decision = Decision::Refused { refusal: Refusal::RateLimited { limit: LimitKind::Tokens, retry_after_ms: 5 }, quota: Quota::default() };
    let json = serde_json::to_value(decision).unwrap();
    assert_eq!(json["refused"]["refusal"]["rate_limited"]["limit"], "tokens");
    assert_eq!(serde_json::from_value::<Decision>(json).unwrap(), decision);
}

#[test]
fn validation_names_the_bad_field() {
    assert_eq!(all_limits().validate(), Ok(()));
    assert_eq!(Limits::default().validate(), Ok(()));
    let requests = |limit, window_ms, burst| Limits { requests: Some(RequestLimit { limit, window_ms, burst }), ..Limits::default() }.validate();
    assert_eq!(requests(0, 1, 1), Err("limits.requests.limit must be greater than 0".to_owned()));
    assert_eq!(requests(1, 0, 1), Err("limits.requests.window_ms must be greater than 0".to_owned()));
    assert_eq!(requests(1, 1, 0), Err("limits.requests.burst must be greater than 0".to_owned()));
    let tpm = Limits { tokens_per_minute: Some(0), ..Limits::default() };
    assert_eq!(tpm.validate(), Err("limits.tokens_per_minute must be greater than 0".to_owned()));
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let daily = Limits { budget_daily_usd: Some(bad), ..Limits::default() };
        assert_eq!(daily.validate(), Err("limits.budget_daily_usd must be a finite number greater than 0".to_owned()));
        let monthly = Limits { budget_monthly_usd: Some(bad), ..Limits::default() };
        assert_eq!(monthly.validate(), Err("limits.budget_monthly_usd must be a finite number greater than 0".to_owned()));
    }
}

/// ITU-T I.371's other statement of GCRA, the continuous-state leaky
/// bucket, in ticks of 1/limit ms: an independent model to check against.
struct LeakyBucket {
    content: u128,
    last: u128,
    limit: u128,
    interval: u128,
    tolerance: u128,
}

impl LeakyBucket {
    fn new(limit: RequestLimit) -> Self {
        let interval = u128::from(limit.window_ms);
        Self { content: 0, last: 0, limit: u128::from(limit.limit), interval, tolerance: u128::from(limit.burst - 1) * interval }
    }

    /// Ok if it conforms (and counts it), else the ms until it would.
    fn arrive(&mut self, now_ms: u64) -> Result<(), u64> {
        let now = u128::from(now_ms) * self.limit;
        let content = self.content.saturating_sub(now - self.last);
        if content > self.tolerance {
            return Err(u64::try_from((content - self.tolerance).div_ceil(self.limit)).unwrap());
        }
        (self.content, self.last) = (content + self.interval, now);
        Ok(())
    }
}

fn request_limit() -> impl Strategy<Value = RequestLimit> {
    (1u32..20, 1u64..5_000, 1u32..10).prop_map(|(limit, window_ms, burst)| RequestLimit { limit, window_ms, burst })
}

/// Gaps between arrivals: many simultaneous, some short, a few long.
fn gaps() -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(prop_oneof![3 => Just(0u64), 3 => 0u64..50, 1 => 0u64..5_000], 1..200)
}

proptest! {
    #[test]
    fn admits_exactly_what_gcra_allows_and_never_more_than_burst_plus_elapsed_over_t(limit in request_limit(), gaps in gaps()) {
        let limits = Limits { requests: Some(limit), ..Limits::default() };
        let (mut state, mut model, mut now, mut admitted) = (LimiterState::default(), LeakyBucket::new(limit), 1_000_000, Vec::new());
        for gap in gaps {
            now += gap;
            let remaining = state.quota(&limits, now).requests.unwrap().remaining;
            let decision = state.admit(&limits, &ask(0), now);
            match (model.arrive(now), decision) {
                (Ok(()), Decision::Admitted { .. }) => admitted.push(now),
                (Err(wait), Decision::Refused { refusal: Refusal::RateLimited { limit: LimitKind::Requests, retry_after_ms }, .. }) => {
                    prop_assert_eq!(retry_after_ms, wait);
                    prop_assert_eq!(remaining, 0);
                    // The wait is exact: a ms earlier is refused, on time is admitted.
                    prop_assert!(!is_admitted(&state.clone().admit(&limits, &ask(0), now + wait - 1)));
                    prop_assert!(is_admitted(&state.clone().admit(&limits, &ask(0), now + wait)));
                }
                (expected, decision) => prop_assert!(false, "model {:?}, limiter {:?}", expected, decision),
            }
            // `remaining` is how many would be admitted right now.
            let mut probe = state.clone();
            let left = state.quota(&limits, now).requests.unwrap().remaining;
            prop_assert_eq!(admit_many(&mut probe, &limits, 0, now, 20), usize::try_from(left).unwrap());
        }
        // n admitted between t1 and tn: (n − burst) × T <= tn − t1.
        for (i, first) in admitted.iter().enumerate() {
            for (j, last) in admitted.iter().enumerate().skip(i) {
                let n = u128::try_from(j - i + 1).unwrap();
                let excess = n.saturating_sub(u128::from(limit.burst));
                prop_assert!(excess * u128::from(limit.window_ms) <= u128::from(last - first) * u128::from(limit.limit));
            }
        }
    }

    #[test]
    fn token_waits_are_exact_and_the_level_never_exceeds_the_capacity(
        capacity in 1u64..5_000,
        steps in proptest::collection::vec((0u64..20_000, 0u64..6_000, 0u64..3), 1..100),
    ) {
        let limits = Limits { tokens_per_minute: Some(capacity), ..Limits::default() };
        let (mut state, mut now) = (LimiterState::default(), 0);
        for (gap, tokens, usage) in steps {
            now += gap;
            match state.admit(&limits, &ask(tokens), now) {
                Decision::Admitted { reserved_tokens, .. } => {
                    prop_assert_eq!(reserved_tokens, tokens.min(capacity));
                    // Settle for none, as much, or twice as much as reserved.
                    state.settle(&limits, reserved_tokens, reserved_tokens * usage, 0.0, now);
                }
                Decision::Refused { refusal: Refusal::RateLimited { limit: LimitKind::Tokens, retry_after_ms }, .. } => {
                    prop_assert!(retry_after_ms > 0);
                    prop_assert!(!is_admitted(&state.clone().admit(&limits, &ask(tokens), now + retry_after_ms - 1)));
                    prop_assert!(is_admitted(&state.clone().admit(&limits, &ask(tokens), now + retry_after_ms)));
                }
                other => prop_assert!(false, "{:?}", other),
            }
            let quota = state.quota(&limits, now).tokens.unwrap();
            prop_assert!(quota.remaining <= capacity);
            prop_assert_eq!(quota.reset_ms == 0, state.is_idle(&limits, now));
            prop_assert!(state.is_idle(&limits, now + quota.reset_ms));
        }
    }
}
