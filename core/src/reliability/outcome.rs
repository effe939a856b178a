//! Classification of one failed upstream attempt: retry, fall back, or give up.
//!
//! The worker performs the attempt and describes how it failed as an
//! [`AttemptFailure`]; [`classify`] (or [`OutcomeRules::classify_with`] for a
//! route with its own status lists) turns that into a [`Verdict`], and
//! [`decide`] combines the verdict with the attempt counts into a
//! [`Decision`]. How long to wait before a retry is not decided here (see the
//! backoff and retry-after modules): like tower's `retry::Policy`, this module
//! only answers "should we", and the worker's loop owns fetch, sleep and abort.
//!
//! The default table, from the reliability issue:
//!
//! | failure | verdict | why |
//! |---|---|---|
//! | 429, 500, 502, 503, 504, 529 | retry same target | overload or a transient server fault; 529 is Anthropic's "overloaded" |
//! | other 5xx | retry same target | a server fault, which is usually transient |
//! | 404 | next target | this target lacks the model; another may have it |
//! | error code `content_filter` / `content_policy_violation` | fatal | the prompt itself is refused; every target would refuse it |
//! | 400, 401, 403, 413, 422, other 4xx | fatal | the request (or, for 401/403, the gateway's key) is wrong; a retry sends the same thing |
//! | any other status (1xx-3xx) | next target | the target is unusable (e.g. a misconfigured base URL redirecting) |
//! | the target cannot honour a field of the request (`n > 1` on Anthropic, ...) | next target | another target may honour it; nothing was sent |
//! | connect error, timeout before the deadline, malformed answer, stream broken before its first event | retry same target | nothing reached the client yet, so a retry is invisible to it |
//! | the request's total deadline ran out | fatal | there is no time left for anything else |

/// Statuses retried on the same target by default (see the module table).
pub const DEFAULT_RETRY_STATUSES: [u16; 6] = [429, 500, 502, 503, 504, 529];

/// Statuses that move on to the next target straight away by default.
pub const DEFAULT_FALLBACK_STATUSES: [u16; 1] = [404];

/// Upstream error codes that mean the content itself was refused. OpenAI
/// answers `content_filter` (and Azure OpenAI `content_policy_violation`,
/// as does OpenAI's image API); another target would refuse the same prompt.
const CONTENT_POLICY_CODES: [&str; 2] = ["content_filter", "content_policy_violation"];

/// How one upstream attempt failed, as observed by the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptFailure {
    /// The upstream answered with a non-2xx status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The `error.code` from the upstream's body, when it had one.
        error_code: Option<String>,
    },
    /// No answer at all: connection refused, DNS failure, reset before headers.
    Connect,
    /// A wait ran out.
    Timeout {
        /// Which wait.
        phase: TimeoutPhase,
    },
    /// A 2xx answer the gateway could not read (not JSON, wrong shape).
    Malformed,
    /// A stream that broke after its headers but before its first event, so
    /// nothing has reached the client yet.
    StreamBroken,
    /// The target cannot honour the request as asked (a field it lacks);
    /// nothing was sent.
    Unsupported,
}

/// Which wait of an attempt ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Waiting for the response headers.
    ResponseHeaders,
    /// Waiting for the first token of a stream.
    FirstToken,
    /// Waiting between two chunks of a stream.
    Idle,
    /// The whole request's deadline, across all attempts.
    Total,
}

/// What one failure says about the target, before counting attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transient: the same target may well succeed on another try.
    RetrySameTarget,
    /// This target cannot serve the request; another one might.
    NextTarget,
    /// No target can serve it: return the error to the client.
    Fatal,
}

/// What the worker should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try the same target again (after the backoff delay).
    Retry,
    /// Move on to the next target of the route.
    Fallback,
    /// Stop and return the error.
    GiveUp,
}

/// A route's status lists. [`Default`] holds the module table; a route may
/// widen or narrow them. A status in both lists is retried first (and falls
/// back once retries are spent, as every retryable failure does). Statuses in
/// neither list keep the table's class rule (other 4xx fatal, other 5xx
/// retried), and content-policy refusals are fatal whatever the lists say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutcomeRules {
    /// Statuses retried on the same target.
    pub retry_statuses: Vec<u16>,
    /// Statuses that move on to the next target without a retry.
    pub fallback_statuses: Vec<u16>,
}

impl Default for OutcomeRules {
    fn default() -> Self {
        Self { retry_statuses: DEFAULT_RETRY_STATUSES.to_vec(), fallback_statuses: DEFAULT_FALLBACK_STATUSES.to_vec() }
    }
}

impl OutcomeRules {
    /// Classifies a failure with this route's status lists.
    pub fn classify_with(&self, failure: &AttemptFailure) -> Verdict {
        classify_in(&self.retry_statuses, &self.fallback_statuses, failure)
    }
}

/// Classifies a failure with the default table (no allocation).
pub fn classify(failure: &AttemptFailure) -> Verdict {
    classify_in(&DEFAULT_RETRY_STATUSES, &DEFAULT_FALLBACK_STATUSES, failure)
}

fn classify_in(retry: &[u16], fallback: &[u16], failure: &AttemptFailure) -> Verdict {
    match failure {
        AttemptFailure::Status { error_code: Some(code), .. } if CONTENT_POLICY_CODES.contains(&code.as_str()) => Verdict::Fatal,
        AttemptFailure::Status { status, .. } if retry.contains(status) => Verdict::RetrySameTarget,
        AttemptFailure::Status { status, .. } if fallback.contains(status) => Verdict::NextTarget,
        AttemptFailure::Status { status: 400..=499, .. } => Verdict::Fatal,
        AttemptFailure::Status { status: 500..=599, .. } => Verdict::RetrySameTarget,
        AttemptFailure::Status { .. } | AttemptFailure::Unsupported => Verdict::NextTarget,
        AttemptFailure::Timeout { phase: TimeoutPhase::Total } => Verdict::Fatal,
        AttemptFailure::Connect | AttemptFailure::Timeout { .. } | AttemptFailure::Malformed | AttemptFailure::StreamBroken => Verdict::RetrySameTarget,
    }
}

/// Decides what to do after a failed attempt.
///
/// Call it once per failure. `retries_used` counts retries already made on
/// this target (0 after the first attempt), `max_retries` is the route's
/// limit, `fallback_allowed` is false when the caller sent
/// `x-edgeway-fallback: off` or pinned a target, and `has_next_target` says
/// whether the route has a target left to try.
pub fn decide(rules: &OutcomeRules, failure: &AttemptFailure, retries_used: u32, max_retries: u32, fallback_allowed: bool, has_next_target: bool) -> Decision {
    let can_fall_back = fallback_allowed && has_next_target;
    match rules.classify_with(failure) {
        Verdict::RetrySameTarget if retries_used < max_retries => Decision::Retry,
        Verdict::RetrySameTarget | Verdict::NextTarget if can_fall_back => Decision::Fallback,
        Verdict::RetrySameTarget | Verdict::NextTarget | Verdict::Fatal => Decision::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttemptFailure::*;
    use Verdict::*;

    fn status(status: u16) -> AttemptFailure {
        AttemptFailure::Status { status, error_code: None }
    }

    fn coded(status: u16, code: &str) -> AttemptFailure {
        AttemptFailure::Status { status, error_code: Some(code.to_owned()) }
    }

    #[test]
    fn every_row_of_the_default_table_is_classified_as_the_issue_says() {
        let rows: Vec<(AttemptFailure, Verdict)> = vec![
            (Unsupported, NextTarget),
            (status(429), RetrySameTarget),
            (status(500), RetrySameTarget),
            (status(502), RetrySameTarget),
            (status(503), RetrySameTarget),
            (status(504), RetrySameTarget),
            (status(529), RetrySameTarget),
            (status(507), RetrySameTarget),
            (status(404), NextTarget),
            (coded(404, "model_not_found"), NextTarget),
            (status(400), Fatal),
            (status(401), Fatal),
            (status(403), Fatal),
            (status(413), Fatal),
            (status(422), Fatal),
            (status(409), Fatal),
            (coded(400, "content_filter"), Fatal),
            (coded(400, "content_policy_violation"), Fatal),
            (coded(500, "content_filter"), Fatal),
            (coded(400, "context_length_exceeded"), Fatal),
            (coded(503, "overloaded"), RetrySameTarget),
            (status(302), NextTarget),
            (Connect, RetrySameTarget),
            (Timeout { phase: TimeoutPhase::ResponseHeaders }, RetrySameTarget),
            (Timeout { phase: TimeoutPhase::FirstToken }, RetrySameTarget),
            (Timeout { phase: TimeoutPhase::Idle }, RetrySameTarget),
            (Timeout { phase: TimeoutPhase::Total }, Fatal),
            (Malformed, RetrySameTarget),
            (StreamBroken, RetrySameTarget),
        ];
        for (failure, expected) in rows {
            assert_eq!(classify(&failure), expected, "{failure:?}");
            assert_eq!(OutcomeRules::default().classify_with(&failure), expected, "{failure:?}");
        }
    }

    #[test]
    fn a_route_can_move_a_status_from_retry_to_fallback_or_make_a_4xx_retryable() {
        let rules = OutcomeRules { retry_statuses: vec![429, 408], fallback_statuses: vec![503, 401] };
        assert_eq!(rules.classify_with(&status(503)), NextTarget);
        assert_eq!(rules.classify_with(&status(401)), NextTarget);
        assert_eq!(rules.classify_with(&status(408)), RetrySameTarget);
        // Unlisted statuses keep their class rule.
        assert_eq!(rules.classify_with(&status(500)), RetrySameTarget);
        assert_eq!(rules.classify_with(&status(404)), Fatal);
    }

    #[test]
    fn content_policy_refusals_are_fatal_even_when_the_status_is_listed() {
        let rules = OutcomeRules { retry_statuses: vec![400], fallback_statuses: vec![400] };
        assert_eq!(rules.classify_with(&coded(400, "content_filter")), Fatal);
        assert_eq!(rules.classify_with(&status(400)), RetrySameTarget);
    }

    #[test]
    fn decisions_combine_the_verdict_with_retries_and_fallback() {
        let rules = OutcomeRules::default();
        // (failure, retries_used, max_retries, fallback_allowed, has_next_target, expected)
        let rows: Vec<(AttemptFailure, u32, u32, bool, bool, Decision)> = vec![
            // Retryable with retries left: retry, whatever the fallback.
            (status(503), 0, 2, true, true, Decision::Retry),
            (Connect, 1, 2, false, false, Decision::Retry),
            // Retryable with retries spent: fall back if possible.
            (status(503), 2, 2, true, true, Decision::Fallback),
            (status(503), 2, 2, false, true, Decision::GiveUp),
            (status(503), 2, 2, true, false, Decision::GiveUp),
            (status(429), 0, 0, true, true, Decision::Fallback),
            // Next-target verdicts skip retries.
            (status(404), 0, 3, true, true, Decision::Fallback),
            (status(404), 0, 3, false, true, Decision::GiveUp),
            (status(404), 0, 3, true, false, Decision::GiveUp),
            // Fatal never retries nor falls back.
            (status(400), 0, 3, true, true, Decision::GiveUp),
            (coded(400, "content_filter"), 0, 3, true, true, Decision::GiveUp),
            (Timeout { phase: TimeoutPhase::Total }, 0, 3, true, true, Decision::GiveUp),
        ];
        for (failure, used, max, allowed, next, expected) in rows {
            assert_eq!(decide(&rules, &failure, used, max, allowed, next), expected, "{failure:?} used={used} max={max} allowed={allowed} next={next}");
        }
    }
}
