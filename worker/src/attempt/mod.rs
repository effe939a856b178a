//! One upstream attempt: call a target, wait for its answer within the
//! route's timeouts, and say how it went — an answer ready for the caller,
//! or a classified failure the retry loop (`crate::retries`) decides on.
//!
//! What every endpoint shares lives here: resolving a target to its
//! provider, key and URL, waiting for headers, reading bodies, and reading
//! failures. `chat` and `embeddings` hold what differs.

pub mod chat;
pub mod embeddings;

use edgeway_core::config::{Config, Provider, Target, Timeouts};
use edgeway_core::providers::{self, KeyInfo, UpstreamRequest};
use edgeway_core::reliability::outcome::{AttemptFailure, TimeoutPhase};
use edgeway_core::GatewayError;
use worker::Env;

use crate::cancel::AbortOnDrop;
use crate::upstream::{self, UpstreamBody, UpstreamResponse};
use crate::{runtime, settings};

/// Upstream error bodies are read only this far: enough for any real error.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A non-streamed answer larger than this is refused rather than buffered.
const MAX_ANSWER_BODY: usize = 16 * 1024 * 1024;

/// A failed attempt.
pub struct Failure {
    /// What happened, for the attempt plan.
    pub kind: AttemptFailure,
    /// What the caller would be told if this were the last attempt.
    pub error: GatewayError,
    /// How long the upstream asked us to wait (Retry-After and kin).
    pub wait_hint_ms: Option<u64>,
}

impl Failure {
    /// A failure known only by its error (timeouts, connection failures,
    /// configuration): its kind is read from the error.
    pub fn from_error(error: GatewayError) -> Self {
        Self { kind: kind_of(&error), error, wait_hint_ms: None }
    }

    /// The target cannot honour the request as asked; another target may.
    pub fn unsupported(error: GatewayError) -> Self {
        Self { kind: AttemptFailure::Unsupported, error, wait_hint_ms: None }
    }

    fn malformed(error: GatewayError) -> Self {
        Self { kind: AttemptFailure::Malformed, error, wait_hint_ms: None }
    }
}

/// A target with what calling it needs.
pub struct Resolved<'a> {
    /// Its provider.
    pub provider: &'a Provider,
    /// The provider's key, read from its secret.
    pub api_key: Option<String>,
    /// The base URL, after the `<PROVIDER>_BASE_URL` var's override.
    pub base_url: String,
}

/// Looks up `target`'s provider, key and base URL.
pub fn resolve<'a>(config: &'a Config, target: &Target, env: &Env) -> Result<Resolved<'a>, Failure> {
    let provider = config.provider(&target.provider).ok_or_else(|| {
        Failure::from_error(GatewayError::GatewayMisconfigured { message: format!("unknown provider {}", target.provider) })
    })?;
    let api_key = match &provider.api_key_secret {
        None => None,
        Some(name) => Some(settings::get(env, name).ok_or_else(|| {
            Failure::from_error(GatewayError::GatewayMisconfigured { message: format!("provider {} needs the secret {name}, which is not set", provider.name) })
        })?),
    };
    let base_url = settings::get(env, &provider.base_url_var())
        .map(|v| v.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| provider.base_url.clone());
    Ok(Resolved { provider, api_key, base_url })
}

/// When an attempt must be over, and the timer watching it.
pub struct Deadlines {
    /// The route's timeouts.
    pub timeouts: Timeouts,
    /// When the whole request must be over (ms since epoch).
    pub deadline_ms: u64,
    /// The attempt's timer, carried from the headers to the body.
    pub watchdog: runtime::Watchdog,
}

impl Deadlines {
    /// Waits for `call` (an upstream call resolving with its headers) within
    /// the response-headers timeout and the total deadline.
    pub async fn headers<F>(&mut self, provider: &str, api_key: Option<&str>, call: F) -> Result<UpstreamResponse, GatewayError>
    where
        F: std::future::Future<Output = Result<UpstreamResponse, String>>,
    {
        let now = runtime::now_ms();
        let headers_due = now + self.timeouts.response_headers_ms;
        let (phase, due) = if self.deadline_ms < headers_due { ("total deadline", self.deadline_ms) } else { ("response headers", headers_due) };
        match self.watchdog.race(due, call).await {
            None => Err(GatewayError::UpstreamTimeout { provider: provider.to_owned(), phase, waited_ms: due.saturating_sub(now) }),
            Some(Err(message)) => Err(GatewayError::UpstreamError { provider: provider.to_owned(), status: None, message: providers::redact_secret(&message, api_key) }),
            Some(Ok(response)) => Ok(response),
        }
    }

    /// Reads a whole 2xx body within the total deadline.
    pub async fn body(&mut self, provider: &str, status: u16, body: UpstreamBody) -> Result<Vec<u8>, Failure> {
        self.watchdog
            .race(self.deadline_ms, body.read_all(MAX_ANSWER_BODY))
            .await
            .ok_or_else(|| Failure::from_error(GatewayError::UpstreamTimeout { provider: provider.to_owned(), phase: "total deadline", waited_ms: self.timeouts.total_ms }))?
            .map_err(|message| Failure {
                kind: AttemptFailure::StreamBroken,
                error: GatewayError::UpstreamError { provider: provider.to_owned(), status: Some(status), message },
                wait_hint_ms: None,
            })
    }

    /// Reads an upstream error body (bounded) and maps it to a failure.
    pub async fn failure(&mut self, target: &Resolved<'_>, upstream: UpstreamResponse) -> Failure {
        let status = upstream.status;
        let bytes = self.watchdog.race(self.deadline_ms, upstream.body.read_all(MAX_ERROR_BODY)).await.and_then(Result::ok).unwrap_or_default();
        let provider = target.provider;
        let key = KeyInfo { secret_name: provider.api_key_secret.as_deref(), value: target.api_key.as_deref() };
        let failure = providers::error_from_status(provider.kind, &provider.name, key, status, &bytes);
        // A wait the headers asked for wins over one in the body.
        let wait_hint_ms = upstream.wait_hint_ms.or(failure.wait_hint_ms);
        let kind = match &failure.error {
            // Refused credentials: reported as a 401, which no retry can fix.
            GatewayError::GatewayMisconfigured { .. } => AttemptFailure::Status { status: 401, error_code: None },
            _ => AttemptFailure::Status { status, error_code: failure.error_code },
        };
        Failure { kind, error: failure.error, wait_hint_ms }
    }
}

/// Sends a built request over the network, waiting for its headers.
pub async fn send(target: &Resolved<'_>, request: &UpstreamRequest, abort: &AbortOnDrop, deadlines: &mut Deadlines) -> Result<UpstreamResponse, Failure> {
    deadlines
        .headers(&target.provider.name, target.api_key.as_deref(), upstream::http::send(request, abort.controller()))
        .await
        .map_err(Failure::from_error)
}

/// Classifies an error that did not come with an upstream status.
fn kind_of(error: &GatewayError) -> AttemptFailure {
    match error {
        GatewayError::UpstreamTimeout { phase, .. } => AttemptFailure::Timeout {
            phase: match *phase {
                "response headers" => TimeoutPhase::ResponseHeaders,
                "first token" => TimeoutPhase::FirstToken,
                "idle" => TimeoutPhase::Idle,
                _ => TimeoutPhase::Total,
            },
        },
        // Before any status: the connection itself failed.
        GatewayError::UpstreamError { status: None, .. } => AttemptFailure::Connect,
        // A 2xx whose stream broke or was unreadable before its first event.
        GatewayError::UpstreamError { .. } => AttemptFailure::StreamBroken,
        // Our own configuration: no other attempt of this target can help.
        // Reported like the upstream refusing our credentials, which is fatal.
        _ => AttemptFailure::Status { status: 401, error_code: None },
    }
}
