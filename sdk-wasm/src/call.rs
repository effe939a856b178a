//! One call to the gateway: credentials, headers, fetch, and the retry loop.
//!
//! Whether to retry and how long to wait is `edgeway_core::client::retry`'s
//! decision; this loop performs it. Every attempt of a call sends the same
//! body and the same `x-edgeway-idempotency-key`, so the gateway can tell a
//! retry from a new request. A 401 `token_expired` gets one fresh token from
//! `getToken` and is sent again at once, outside the retry count.

use std::cell::Cell;
use std::rc::Rc;

use edgeway_core::client::retry::{CallFailure, Next, RetryPolicy};
use edgeway_core::headers;
use edgeway_core::reliability::rng::Rng;
use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Response};

use crate::client::ClientInner;
use crate::errors::ErrorInfo;
use crate::js::{self, MathRandom};
use crate::runtime::{self, CallSignal};

/// Why an attempt did not produce an answer.
pub enum AttemptError {
    /// Another attempt may succeed (subject to the retry policy).
    Retryable(CallFailure, JsValue),
    /// The call is over: aborted, timed out, or the caller's own mistake.
    Final(JsValue),
}

/// One logical call, across its attempts.
pub struct Call {
    client: Rc<ClientInner>,
    method: &'static str,
    path: &'static str,
    body: Option<String>,
    headers: Vec<(String, String)>,
    policy: RetryPolicy,
    timeout_ms: Option<f64>,
    started_ms: f64,
    idempotency_key: String,
    retries: Cell<u32>,
    /// Fires on the caller's signal, the timeout, or an explicit abort.
    pub signal: CallSignal,
}

impl Call {
    /// Prepares a call; `options` is the app's per-call `CallOptions`.
    pub fn new(client: Rc<ClientInner>, method: &'static str, path: &'static str, body: Option<String>, options: &JsValue) -> Self {
        let timeout_ms = js::number(options, "timeoutMs").or(client.timeout_ms).filter(|ms| *ms > 0.0);
        let max_retries = js::number(options, "maxRetries").map_or(client.max_retries, |n| n.max(0.0) as u32);
        let mut headers = client.headers.clone();
        headers.extend(js::field(options, "headers").map(|h| js::string_pairs(&h)).unwrap_or_default());
        let signal = CallSignal::new(&js::field(options, "signal").unwrap_or(JsValue::UNDEFINED), timeout_ms.unwrap_or(0.0));
        let mut rng = MathRandom;
        let idempotency_key = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        Self {
            client,
            method,
            path,
            body,
            headers,
            policy: RetryPolicy { max_retries, ..RetryPolicy::default() },
            timeout_ms,
            started_ms: js::now_ms(),
            idempotency_key,
            retries: Cell::new(0),
            signal,
        }
    }

    /// Retries made so far.
    pub fn retries(&self) -> u32 {
        self.retries.get()
    }

    /// Sends the call until `read` accepts a 2xx answer or the retry policy
    /// gives up. `read` may fail with a retryable error too (a stream that
    /// broke before its first chunk), and then the call is sent again.
    pub async fn run<T>(&self, mut read: impl AsyncFnMut(Response) -> Result<T, AttemptError>) -> Result<T, JsValue> {
        let mut refreshed = false;
        loop {
            let credential = self.client.auth.credential().await?;
            let outcome = match self.send(&credential).await {
                Ok(response) if response.ok() => read(response).await,
                Ok(response) => {
                    let (failure, error) = self.refused(&response).await;
                    if error.code == "token_expired" && !refreshed {
                        if let Some(fresh) = self.client.auth.refresh(&credential).await {
                            fresh?;
                            refreshed = true;
                            continue;
                        }
                    }
                    Err(AttemptError::Retryable(failure, error.into_js(&JsValue::UNDEFINED)))
                }
                Err(error) => Err(error),
            };
            let (failure, error) = match outcome {
                Ok(answer) => return Ok(answer),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Retryable(failure, error)) => (failure, error),
            };
            match self.policy.next(&failure, self.retries(), self.remaining_ms(), &mut MathRandom) {
                Next::GiveUp => return Err(error),
                Next::RetryAfter { delay_ms } => {
                    if JsFuture::from(runtime::sleep(delay_ms as f64, &self.signal.signal())).await.is_err() {
                        return Err(self.stopped());
                    }
                    self.retries.set(self.retries() + 1);
                }
            }
        }
    }

    /// One fetch. A rejection is a network error unless the call was stopped.
    async fn send(&self, credential: &str) -> Result<Response, AttemptError> {
        let request_headers = Headers::new().map_err(AttemptError::Final)?;
        for (name, value) in &self.headers {
            request_headers.set(name, value).map_err(AttemptError::Final)?;
        }
        let set = |name: &str, value: &str| request_headers.set(name, value).map_err(AttemptError::Final);
        set("authorization", &format!("Bearer {credential}"))?;
        set(headers::IDEMPOTENCY_KEY, &self.idempotency_key)?;
        let init = js_sys::Object::new();
        js::set(&init, "method", self.method);
        if let Some(body) = &self.body {
            set("content-type", "application/json")?;
            js::set(&init, "body", body.as_str());
        }
        js::set(&init, "headers", request_headers);
        js::set(&init, "signal", self.signal.signal());
        let url = format!("{}{}", self.client.base_url, self.path);
        let fetched = self
            .client
            .fetch
            .call2(&JsValue::UNDEFINED, &JsValue::from_str(&url), &init)
            .map(|p| JsFuture::from(Promise::resolve(&p)));
        let answer = match fetched {
            Ok(pending) => pending.await,
            Err(error) => Err(error),
        };
        answer.and_then(|r| r.dyn_into::<Response>()).map_err(|error| self.broken(error))
    }

    /// Reads a refusal: its error (with the gateway's code) and what it
    /// says about retrying.
    async fn refused(&self, response: &Response) -> (CallFailure, ErrorInfo) {
        let response_headers = response.headers();
        let get = |name: &str| response_headers.get(name).ok().flatten();
        let failure = CallFailure::from_response(response.status(), get, js::now_ms() as u64);
        let text = match response.text() {
            Ok(pending) => JsFuture::from(pending).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let body = js_sys::JSON::parse(&text).unwrap_or(JsValue::UNDEFINED);
        let mut error = ErrorInfo::from_error_body(&body, Some(response.status()), get(headers::REQUEST_ID));
        if let CallFailure::Status { wait_hint_ms, .. } = &failure {
            error.retry_after_ms = *wait_hint_ms;
        }
        (failure, error)
    }

    /// What a rejected fetch or read means: the call was stopped (final),
    /// or the network failed (retryable while nothing reached the app).
    pub fn broken(&self, cause: JsValue) -> AttemptError {
        if self.signal.reason().is_some() {
            return AttemptError::Final(self.stopped());
        }
        let message = js::string(&cause, "message").unwrap_or_else(|| "the network request failed".to_owned());
        let error = ErrorInfo::local("network", format!("could not reach the gateway: {message}")).into_js(&cause);
        AttemptError::Retryable(CallFailure::Network, error)
    }

    /// The error for a call stopped by its signal: `timeout` or `aborted`.
    pub fn stopped(&self) -> JsValue {
        let info = match self.signal.reason().as_deref() {
            Some("timeout") => ErrorInfo::timeout(self.timeout_ms),
            _ => ErrorInfo::aborted(),
        };
        info.into_js(&JsValue::UNDEFINED)
    }

    fn remaining_ms(&self) -> Option<u64> {
        self.timeout_ms.map(|timeout| (timeout - (js::now_ms() - self.started_ms)).max(0.0) as u64)
    }
}
