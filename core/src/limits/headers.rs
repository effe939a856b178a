//! Response headers that report a key's limits, in the two dialects clients
//! read: the IETF's `RateLimit-Policy` / `RateLimit` structured fields
//! (draft-ietf-httpapi-ratelimit-headers-09) and OpenAI's
//! `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, which the OpenAI
//! SDKs and most existing clients already understand.
//!
//! Every duration rounds up, so a client that waits what it is told is not
//! refused again for coming back a few ms early.

use super::budget::{days_of, Civil, DAY_MS};
use super::{Limits, Quota, Remaining};

/// The headers for `quota`, for each limit present in both `quota` and
/// `limits`: `RateLimit-Policy` and `RateLimit` (one list member per limit,
/// `"requests"` then `"tokens"`), then OpenAI's headers. OpenAI's
/// `x-ratelimit-limit-requests` is the burst, so `remaining` never exceeds
/// it; `RateLimit-Policy`'s `q` is the limit per window, as the draft
/// defines it.
pub fn rate_limit_headers(quota: &Quota, limits: &Limits) -> Vec<(&'static str, String)> {
    let policies = policies(quota, limits);
    let mut headers = Vec::with_capacity(8);
    if !policies.is_empty() {
        let list = |member: fn(&Policy) -> String| policies.iter().map(member).collect::<Vec<_>>().join(", ");
        headers.push(("RateLimit-Policy", list(|p| format!("\"{}\";q={};w={}", p.name, p.quota, p.window_s))));
        headers.push(("RateLimit", list(|p| format!("\"{}\";r={};t={}", p.name, p.remaining.remaining, p.remaining.reset_ms.div_ceil(1_000)))));
    }
    headers.extend(openai_headers(quota));
    headers
}

/// One limit as the IETF headers describe it.
struct Policy {
    name: &'static str,
    /// Units per window.
    quota: u64,
    /// The window in seconds, rounded up.
    window_s: u64,
    remaining: Remaining,
}

/// The request limit only: the draft has no unit for LLM tokens, so token
/// limits are reported in OpenAI's `x-ratelimit-*-tokens` headers alone
/// (CONVENTIONS.md).
fn policies(quota: &Quota, limits: &Limits) -> Vec<Policy> {
    let requests = quota.requests.zip(limits.requests).map(|(remaining, limit)| Policy { name: "requests", quota: u64::from(limit.limit), window_s: limit.window_ms.div_ceil(1_000), remaining });
    requests.into_iter().collect()
}

/// One of OpenAI's fields: how to write it, and its requests and tokens names.
type OpenAiField = (fn(&Remaining) -> String, [&'static str; 2]);

/// OpenAI's headers, in the order OpenAI sends them: both limits, both
/// remainders, both resets.
fn openai_headers(quota: &Quota) -> Vec<(&'static str, String)> {
    let fields: [OpenAiField; 3] = [
        (|r| r.limit.to_string(), ["x-ratelimit-limit-requests", "x-ratelimit-limit-tokens"]),
        (|r| r.remaining.to_string(), ["x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"]),
        (|r| openai_duration(r.reset_ms), ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]),
    ];
    let present = [quota.requests, quota.tokens];
    fields
        .into_iter()
        .flat_map(|(format, names)| names.into_iter().zip(present).filter_map(move |(name, remaining)| Some((name, format(&remaining?)))))
        .collect()
}

/// A duration as OpenAI's reset headers write it (Go's `time.Duration`
/// text): `0s`, `120ms` below a second, then whole seconds rounded up:
/// `1s`, `59s`, `1m0s`, `6m30s`, `2h3m4s`.
pub fn openai_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let seconds = ms.div_ceil(1_000);
    let (hours, minutes, seconds) = (seconds / 3_600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// `Retry-After` in whole seconds: rounded up, and at least 1, since
/// `Retry-After: 0` invites an immediate retry that would be refused again.
pub fn retry_after_seconds(ms: u64) -> u64 {
    ms.div_ceil(1_000).max(1)
}

/// A time (ms since epoch) as an RFC 3339 UTC timestamp,
/// `2026-12-01T00:00:00Z`, rounded up to the second: budget resets, token
/// expiries.
pub fn utc_timestamp(resets_at_ms: u64) -> String {
    let ms = resets_at_ms.div_ceil(1_000).saturating_mul(1_000);
    let date = Civil::from_days(days_of(ms));
    let second_of_day = ms % DAY_MS / 1_000;
    let (hour, minute, second) = (second_of_day / 3_600, second_of_day / 60 % 60, second_of_day % 60);
    format!("{:04}-{:02}-{:02}T{hour:02}:{minute:02}:{second:02}Z", date.year, date.month, date.day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::RequestLimit;
    use crate::reliability::retry_after::parse_reset_duration;

    fn limits() -> Limits {
        Limits { requests: Some(RequestLimit { limit: 100, window_ms: 3_600_000, burst: 20 }), tokens_per_minute: Some(40_000), ..Limits::default() }
    }

    #[test]
    fn headers_for_a_sample_quota() {
        let quota = Quota {
            requests: Some(Remaining { limit: 20, remaining: 17, reset_ms: 108_000 }),
            tokens: Some(Remaining { limit: 40_000, remaining: 39_000, reset_ms: 1_500 }),
        };
        let expected = [
            ("RateLimit-Policy", "\"requests\";q=100;w=3600"),
            ("RateLimit", "\"requests\";r=17;t=108"),
            ("x-ratelimit-limit-requests", "20"),
            ("x-ratelimit-limit-tokens", "40000"),
            ("x-ratelimit-remaining-requests", "17"),
            ("x-ratelimit-remaining-tokens", "39000"),
            ("x-ratelimit-reset-requests", "1m48s"),
            ("x-ratelimit-reset-tokens", "2s"),
        ];
        let headers = rate_limit_headers(&quota, &limits());
        assert_eq!(headers, expected.map(|(name, value)| (name, value.to_owned())));
    }

    #[test]
    fn only_the_limits_present_are_reported() {
        let quota = Quota { requests: None, tokens: Some(Remaining { limit: 40_000, remaining: 0, reset_ms: 0 }) };
        let headers = rate_limit_headers(&quota, &Limits { requests: None, ..limits() });
        let names: Vec<_> = headers.iter().map(|(name, _)| *name).collect();
        // Tokens have no unit in the IETF draft: OpenAI's headers only.
        assert_eq!(names, ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"]);
        // A window under a second is reported as one; no limits, no headers.
        let fast = Limits { requests: Some(RequestLimit::new(5, 500)), ..Limits::default() };
        let quota = Quota { requests: Some(Remaining { limit: 5, remaining: 5, reset_ms: 0 }), tokens: None };
        assert_eq!(rate_limit_headers(&quota, &fast)[0].1, "\"requests\";q=5;w=1");
        assert!(rate_limit_headers(&Quota::default(), &Limits::default()).is_empty());
    }

    #[test]
    fn durations_are_written_as_openai_writes_them() {
        let table = [
            (0, "0s"),
            (1, "1ms"),
            (120, "120ms"),
            (999, "999ms"),
            (1_000, "1s"),
            (1_001, "2s"),
            (12_000, "12s"),
            (59_000, "59s"),
            (59_001, "1m0s"),
            (60_000, "1m0s"),
            (360_000, "6m0s"),
            (390_000, "6m30s"),
            (3_599_001, "1h0m0s"),
            (3_600_000, "1h0m0s"),
            (7_384_000, "2h3m4s"),
            (90_000_000, "25h0m0s"),
        ];
        for (ms, text) in table {
            assert_eq!(openai_duration(ms), text, "{ms} ms");
            // What we write, the gateway's own parser reads back, never shorter.
            let parsed = parse_reset_duration(text).unwrap();
            assert!(parsed >= ms && parsed < ms + 1_000, "{text}");
        }
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_a_second() {
        assert_eq!([0, 1, 999, 1_000, 1_001, 36_000].map(retry_after_seconds), [1, 1, 1, 1, 2, 36]);
    }

    #[test]
    fn budget_resets_are_rfc_3339_utc() {
        assert_eq!(utc_timestamp(1_796_083_200_000), "2026-12-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_767_225_599_001), "2026-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_767_229_384_000), "2026-01-01T01:03:04Z");
    }
}
