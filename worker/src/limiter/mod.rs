//! Where a request is rate-limited: the worker's side of the limiter
//! Durable Object (`object`), one per gateway key.
//!
//! Before the upstream call, `admit` asks the key's object to admit the
//! request (requests per window, tokens per minute reserved from the
//! request's estimate, cost budgets, revocation); after the answer,
//! `settle` trues up the tokens and adds the cost. If the object cannot be
//! reached, the key's policy decides: rate limits fail open and budgets
//! fail closed by default, and the log record says which happened.

pub mod object;
mod wire;

use edgeway_core::keys::record::{FailMode, KeyRecord};
use edgeway_core::limits::{utc_timestamp, rate_limit_headers, retry_after_seconds, BudgetPeriod, LimitKind, Limits, Refusal};
use edgeway_core::GatewayError;
use worker::Env;

use crate::test_mode;
use wire::{Answer, Ask};

/// The binding of the limiter Durable Object namespace.
const BINDING: &str = "LIMITER";

/// An admitted request, to settle once its usage is known.
#[derive(Debug, Clone)]
pub struct Admission {
    key_id: String,
    limits: Limits,
    user: Option<String>,
    user_limits: Limits,
    reserved: (u64, u64),
}

/// How the limiter judged a request.
pub struct Admitted {
    /// What to settle afterwards; `None` when the limiter was not reached
    /// and the key fails open.
    pub admission: Option<Admission>,
    /// Headers telling the caller what is left.
    pub headers: Vec<(&'static str, String)>,
    /// `fail_open` when the limiter was unreachable and the request went
    /// through unchecked (for the log).
    pub note: Option<&'static str>,
}

/// Asks the key's limiter to admit a request that may use about
/// `estimated_tokens`, for `user` (an end user of a publishable key).
/// Refusals are errors the caller sees, with their headers in `headers_out`.
pub async fn admit(env: &Env, key: &KeyRecord, user: Option<&str>, estimated_tokens: u64, now_ms: u64, headers_out: &mut Vec<(&'static str, String)>) -> Result<Admitted, GatewayError> {
    let limits = key.limits.clone();
    let user_limits = key.user_limits.clone();
    let user = user.filter(|_| !user_limits.is_empty()).map(str::to_owned);
    let ask = Ask { op: "admit".into(), now_ms, limits: limits.clone(), user: user.clone(), user_limits: user_limits.clone(), estimated_tokens, ..Ask::default() };
    let answer = match call(env, &key.id, &ask).await {
        Ok(answer) => answer,
        Err(_) => return unreachable_policy(key),
    };
    if answer.revoked {
        return Err(GatewayError::InvalidApiKey { reason: "this key has been revoked" });
    }
    // The object reports the end user's quota when the user is limited.
    let user_limited = user.is_some() && user_limits.has_rate_limits();
    let shown_limits = if answer.refused_for_user || user_limited { &user_limits } else { &limits };
    let headers = answer.quota.as_ref().map(|q| rate_limit_headers(q, shown_limits)).unwrap_or_default();
    if let Some(refusal) = answer.refusal {
        headers_out.extend(headers);
        return Err(refusal_error(refusal, if answer.refused_for_user { &user_limits } else { &limits }, answer.refused_for_user, headers_out));
    }
    Ok(Admitted { admission: Some(Admission { key_id: key.id.clone(), limits, user, user_limits, reserved: answer.reserved }), headers, note: None })
}

/// Trues up tokens and adds the cost, once the answer is complete.
pub async fn settle(env: &Env, admission: Admission, actual_tokens: u64, cost_usd: f64, now_ms: u64) {
    let ask = Ask {
        op: "settle".into(),
        now_ms,
        limits: admission.limits,
        user: admission.user,
        user_limits: admission.user_limits,
        reserved: admission.reserved,
        actual_tokens,
        cost_usd,
        ..Ask::default()
    };
    // A lost settlement only leaves a reservation standing until its
    // bucket refills; nothing to tell the caller, who already has the answer.
    let _ = call(env, &admission.key_id, &ask).await;
}

/// Records a revocation in the key's object, which every request consults:
/// it takes effect at once, while KV's copy may be cached for a minute.
pub async fn revoke(env: &Env, key_id: &str, now_ms: u64) -> Result<(), GatewayError> {
    let ask = Ask { op: "revoke".into(), now_ms, ..Ask::default() };
    call(env, key_id, &ask).await.map(|_| ()).map_err(|message| GatewayError::Internal { message: format!("could not record the revocation: {message}") })
}

async fn call(env: &Env, key_id: &str, ask: &Ask) -> Result<Answer, String> {
    if test_mode::faults().limiter {
        return Err("the limiter is switched off (test mode)".into());
    }
    let body = serde_json::to_string(ask).map_err(|e| e.to_string())?;
    let (status, text) = crate::http::object::post(env, BINDING, key_id, &body).await?;
    if status != 200 {
        return Err(format!("the limiter answered HTTP {status}"));
    }
    edgeway_core::json::from_str(&text).map_err(|e| e.to_string())
}

/// The key's policy when its limiter cannot be reached.
fn unreachable_policy(key: &KeyRecord) -> Result<Admitted, GatewayError> {
    let has_budgets = key.limits.budget_daily_usd.is_some() || key.limits.budget_monthly_usd.is_some();
    let has_rates = key.limits.has_rate_limits() || !key.user_limits.is_empty();
    if has_budgets && key.on_limiter_error.budgets == FailMode::Closed {
        return Err(GatewayError::LimiterUnavailable { what: "budgets" });
    }
    if has_rates && key.on_limiter_error.rate_limits == FailMode::Closed {
        return Err(GatewayError::LimiterUnavailable { what: "rate limits" });
    }
    Ok(Admitted { admission: None, headers: Vec::new(), note: Some("fail_open") })
}

/// The caller's error for a refusal; a `Retry-After` joins the headers.
fn refusal_error(refusal: Refusal, limits: &Limits, per_user: bool, headers: &mut Vec<(&'static str, String)>) -> GatewayError {
    match refusal {
        Refusal::RateLimited { limit, retry_after_ms } => {
            let retry_after_s = retry_after_seconds(retry_after_ms);
            headers.push(("retry-after", retry_after_s.to_string()));
            let limit = match limit {
                LimitKind::Requests => "requests",
                LimitKind::Tokens => "tokens",
            };
            GatewayError::RateLimited { limit, retry_after_s, per_user }
        }
        Refusal::BudgetExhausted { period, resets_at_ms } => {
            let resets_at = utc_timestamp(resets_at_ms);
            headers.push((edgeway_core::headers::BUDGET_RESET, resets_at.clone()));
            let (period, budget_usd) = match period {
                BudgetPeriod::Day => ("daily", limits.budget_daily_usd.unwrap_or_default()),
                BudgetPeriod::Month => ("monthly", limits.budget_monthly_usd.unwrap_or_default()),
            };
            GatewayError::BudgetExhausted { period, budget_usd, resets_at }
        }
    }
}
