//! Per-key limits: requests (GCRA), tokens per minute (a token bucket) and
//! daily and monthly budgets in USD, with time as an input.
//!
//! Each gateway key's [`LimiterState`] lives in its own Durable Object, which
//! is single-threaded: the object calls [`LimiterState::admit`] before a
//! request goes upstream and [`LimiterState::settle`] with the real usage and
//! cost once the answer is in, then stores the state (it is plain serde
//! data). Publishable keys keep one more state per end user in the same
//! object, and forget those that [`LimiterState::is_idle`] says are fresh.
//!
//! Exactness matters more than speed here, because a limit is a promise to
//! an operator: 300 concurrent requests against a burst of 100 must admit
//! exactly 100, not 99 or 101. So both rates run in integer arithmetic
//! on units chosen to make its rate whole (see the `gcra` and
//! `token_bucket` modules), and a refused request changes nothing.
//!
//! A state does not remember the limits it was written under: limits are an
//! argument to every call, so an operator editing a key takes effect on the
//! next request, and the state is read clamped to whatever the limits are now.

mod budget;
pub use budget::period_start_ms;
mod gcra;
pub mod headers;
mod token_bucket;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use headers::{utc_timestamp, openai_duration, rate_limit_headers, retry_after_seconds};

/// A request rate: at most `burst` at once, refilling `limit` per `window_ms`
/// (one every `window_ms / limit` ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestLimit {
    /// Requests per window (at least 1).
    pub limit: u32,
    /// The window, in ms (at least 1).
    pub window_ms: u64,
    /// Requests admitted at once from idle (at least 1); usually `limit`.
    pub burst: u32,
}

impl RequestLimit {
    /// `limit` per `window_ms`, with a burst of `limit`: the usual reading of
    /// "100 requests per hour".
    pub const fn new(limit: u32, window_ms: u64) -> Self {
        Self { limit, window_ms, burst: limit }
    }
}

/// What one key, or one end user of a publishable key, may do. Every limit
/// is optional: an absent one is not checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// The request rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestLimit>,
    /// Tokens (prompt and completion) per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_minute: Option<u64>,
    /// Spend per UTC calendar day, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_daily_usd: Option<f64>,
    /// Spend per UTC calendar month, in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_monthly_usd: Option<f64>,
}

impl Limits {
    /// Whether requests or tokens are limited (budgets aside).
    pub fn has_rate_limits(&self) -> bool {
        self.requests.is_some() || self.tokens_per_minute.is_some()
    }

    /// Whether anything at all is limited.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every present limit, naming the first bad field. Unchecked
    /// limits do not panic (zeros are read as 1), but they do not mean what
    /// the operator wrote either, so configs should be validated on load.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(requests) = &self.requests {
            let fields = [("limit", u64::from(requests.limit)), ("window_ms", requests.window_ms), ("burst", u64::from(requests.burst))];
            if let Some((field, _)) = fields.into_iter().find(|&(_, value)| value == 0) {
                return Err(format!("limits.requests.{field} must be greater than 0"));
            }
        }
        if self.tokens_per_minute == Some(0) {
            return Err("limits.tokens_per_minute must be greater than 0".to_owned());
        }
        let budgets = [("budget_daily_usd", self.budget_daily_usd), ("budget_monthly_usd", self.budget_monthly_usd)];
        match budgets.into_iter().find(|(_, usd)| usd.is_some_and(|usd| !(usd.is_finite() && usd > 0.0))) {
            Some((field, _)) => Err(format!("limits.{field} must be a finite number greater than 0")),
            None => Ok(()),
        }
    }
}

/// One key's (or end user's) usage, as the Durable Object stores it.
///
/// The default is a fresh state: every bucket full, nothing spent. Every
/// field defaults when missing, so states written by an older version keep
/// loading, and parts equal to their default are not written, so a fresh
/// state serializes as `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimiterState {
    /// The request limit's theoretical arrival time.
    #[serde(default, skip_serializing_if = "is_default")]
    requests: gcra::Gcra,
    /// Tokens taken from the per-minute bucket.
    #[serde(default, skip_serializing_if = "is_default")]
    tokens: token_bucket::TokenBucket,
    /// Spend in the current day and month.
    #[serde(default, skip_serializing_if = "is_default")]
    spend: budget::Spend,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What [`LimiterState::admit`] needs to know about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRequest {
    /// Tokens to reserve: `max_tokens` (or a default) plus the prompt's
    /// estimate, computed by the caller.
    pub estimated_tokens: u64,
}

/// The answer to "may this request go upstream now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Send it, then [`LimiterState::settle`] with `reserved_tokens`.
    Admitted {
        /// Tokens taken from the bucket: the estimate clamped to the
        /// per-minute capacity, or 0 when tokens are not limited.
        reserved_tokens: u64,
        /// What is left after this request, for the response headers.
        quota: Quota,
    },
    /// Answer 429 (or 402 for a budget) without calling upstream.
    Refused {
        /// Which limit refused, and until when.
        refusal: Refusal,
        /// What is left (unchanged by the refusal), for the response headers.
        quota: Quota,
    },
}

impl Decision {
    /// The quota to report in the response headers, either way.
    pub fn quota(&self) -> &Quota {
        match self {
            Self::Admitted { quota, .. } | Self::Refused { quota, .. } => quota,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A rate limit: the same request is admitted after `retry_after_ms`
    /// (unless others take the room first).
    RateLimited {
        /// Which rate.
        limit: LimitKind,
        /// Ms from now until this request would be admitted.
        retry_after_ms: u64,
    },
    /// A budget is spent until its period ends.
    BudgetExhausted {
        /// Which budget.
        period: BudgetPeriod,
        /// When the period ends (ms since the epoch, a UTC midnight).
        resets_at_ms: u64,
    },
}

impl Refusal {
    /// Ms from `now_ms` until asking again may succeed (for `Retry-After`).
    pub fn retry_after_ms(&self, now_ms: u64) -> u64 {
        match *self {
            Self::RateLimited { retry_after_ms, .. } => retry_after_ms,
            Self::BudgetExhausted { resets_at_ms, .. } => resets_at_ms.saturating_sub(now_ms),
        }
    }
}

/// A rate limit's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// [`Limits::requests`].
    Requests,
    /// [`Limits::tokens_per_minute`].
    Tokens,
}

/// A budget's period, a UTC calendar day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    /// [`Limits::budget_daily_usd`].
    Day,
    /// [`Limits::budget_monthly_usd`].
    Month,
}

/// What is left of each rate limit, as the response headers report it.
/// A limit that is not set is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Requests; `limit` is the burst.
    pub requests: Option<Remaining>,
    /// Tokens; `limit` is the per-minute capacity.
    pub tokens: Option<Remaining>,
}

/// What is left of one rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remaining {
    /// The most that can be available at once.
    pub limit: u64,
    /// How much is available right now.
    pub remaining: u64,
    /// Ms from now until `remaining` is back to `limit`, as OpenAI's
    /// `x-ratelimit-reset-*` mean it (0 when already full).
    pub reset_ms: u64,
}

impl LimiterState {
    /// Decides whether a request may go upstream now. Checks budgets, then
    /// requests, then tokens, and changes nothing unless it admits: a refused
    /// request must not use up a request slot or tokens. Admitting takes one
    /// request and reserves `estimated_tokens`, clamped to the per-minute
    /// capacity so that a single huge request still goes when the bucket is
    /// full.
    pub fn admit(&mut self, limits: &Limits, request: &AdmitRequest, now_ms: u64) -> Decision {
        match self.admitted(limits, request, now_ms) {
            Ok((next, reserved_tokens)) => {
                *self = next;
                Decision::Admitted { reserved_tokens, quota: self.quota(limits, now_ms) }
            }
            Err(refusal) => Decision::Refused { refusal, quota: self.quota(limits, now_ms) },
        }
    }

    /// The state after admitting `request`, and the tokens reserved, or why not.
    fn admitted(&self, limits: &Limits, request: &AdmitRequest, now_ms: u64) -> Result<(Self, u64), Refusal> {
        if let Some(refusal) = self.spend.exhausted(limits, now_ms) {
            return Err(refusal);
        }
        let rate_limited = |limit| move |retry_after_ms| Refusal::RateLimited { limit, retry_after_ms };
        let mut next = self.clone();
        if let Some(limit) = &limits.requests {
            next.requests = self.requests.admit(limit, now_ms).map_err(rate_limited(LimitKind::Requests))?;
        }
        let mut reserved = 0;
        if let Some(capacity) = limits.tokens_per_minute {
            (next.tokens, reserved) = self.tokens.reserve(capacity, request.estimated_tokens, now_ms).map_err(rate_limited(LimitKind::Tokens))?;
        }
        Ok((next, reserved))
    }

    /// Records a finished request: trues up the token reservation to
    /// `actual_tokens` (giving back what was not used, or taking the excess,
    /// which may leave the bucket in debt) and adds `cost_usd` to the
    /// budgets that are set. A negative, NaN or infinite cost is ignored.
    pub fn settle(&mut self, limits: &Limits, reserved_tokens: u64, actual_tokens: u64, cost_usd: f64, now_ms: u64) {
        if let Some(capacity) = limits.tokens_per_minute {
            self.tokens.settle(capacity, reserved_tokens, actual_tokens, now_ms);
        }
        self.spend.add(limits, cost_usd, now_ms);
    }

    /// What is left of each rate limit that is set.
    pub fn quota(&self, limits: &Limits, now_ms: u64) -> Quota {
        Quota {
            requests: limits.requests.as_ref().map(|limit| self.requests.remaining(limit, now_ms)),
            tokens: limits.tokens_per_minute.map(|capacity| self.tokens.remaining(capacity, now_ms)),
        }
    }

    /// True when, under `limits`, this state decides exactly as a fresh one
    /// would: every bucket full and nothing spent in the current day or
    /// month. The Durable Object drops such per-user states to stay small.
    pub fn is_idle(&self, limits: &Limits, now_ms: u64) -> bool {
        limits.requests.as_ref().is_none_or(|limit| self.requests.is_full(limit, now_ms))
            && limits.tokens_per_minute.is_none_or(|capacity| self.tokens.is_full(capacity, now_ms))
            && self.spend.is_idle(limits, now_ms)
    }
}
