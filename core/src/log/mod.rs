//! The log record: one per request, written after the response.
//!
//! The same record is printed as one JSON line on the console (Workers Logs
//! picks it up) and sent through a queue to D1 for the dashboard
//! ([`store`] has the SQL that writes it, [`query`] the SQL that reads it).
//! It never holds a secret: no keys, no authorization headers, and prompt
//! and answer text only when the route stores bodies, redacted
//! ([`redact`]).

pub mod histogram;
pub mod query;
pub mod redact;
pub mod stats;
pub mod store;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::openai::Usage;

/// The largest `x-edgeway-metadata` accepted, in bytes.
pub const MAX_METADATA_BYTES: usize = 1024;

/// Reads the caller's `x-edgeway-metadata` header: a JSON object of at most
/// [`MAX_METADATA_BYTES`], stored with the record.
pub fn parse_metadata(header: &str) -> Result<Map<String, Value>, crate::GatewayError> {
    let refuse = |message: String| crate::GatewayError::InvalidRequest { param: crate::headers::METADATA.to_owned(), message };
    if header.len() > MAX_METADATA_BYTES {
        return Err(refuse(format!("{} is at most {MAX_METADATA_BYTES} bytes of JSON", crate::headers::METADATA)));
    }
    crate::json::from_str::<Map<String, Value>>(header).map_err(|_| refuse(format!("{} must be a JSON object", crate::headers::METADATA)))
}

/// The data center named by a `cf-ray` header (`8a1b2c3d4e5f6789-SJC`):
/// Cloudflare puts it on every request it hands a Worker, so the log need
/// not read `request.cf`, which the runtime builds from JSON on first use.
/// `None` for anything that does not end in a short uppercase code.
pub fn colo_from_ray(ray: &str) -> Option<&str> {
    let (_, colo) = ray.trim().rsplit_once('-')?;
    let plausible = (2..=5).contains(&colo.len()) && colo.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    plausible.then_some(colo)
}

/// What is stored of a prompt when a route logs bodies: its messages as
/// JSON, redacted.
pub fn prompt_body(request: &crate::openai::ChatRequest) -> String {
    redact::redact(&serde_json::to_string(&request.messages).unwrap_or_default())
}

/// What is stored of an answer: the first choice's text (or its tool
/// calls, as JSON), redacted.
pub fn answer_body(answer: &crate::openai::ChatCompletion) -> String {
    let Some(message) = answer.choices.first().map(|c| &c.message) else { return String::new() };
    let text = match (&message.content, &message.tool_calls) {
        (Some(text), _) => text.clone(),
        (None, Some(calls)) => serde_json::to_string(calls).unwrap_or_default(),
        (None, None) => message.refusal.clone().unwrap_or_default(),
    };
    redact::redact(&text)
}

/// How a request ended, from the gateway's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered completely.
    Ok,
    /// Answered with an error status.
    Error,
    /// A stream started and then failed; the caller got a final error event.
    Interrupted,
    /// The caller went away before the answer was complete.
    ClientClosed,
}

/// One request, as the logs record it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestLog {
    /// Always `"request"`, so log search can pick these lines out.
    pub event: &'static str,
    /// The gateway's request id.
    pub request_id: String,
    /// The caller's own `x-request-id`, kept but never trusted as ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// When the request arrived (ms since epoch).
    pub time_ms: u64,
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The gateway key's id (`dev` for the dev key); never the key itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The key's name, for people reading the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The end user: a token's `sub`, or the request's `user` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The caller's `User-Agent`, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The Cloudflare data center that handled the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colo: Option<String>,
    /// The caller's `x-edgeway-metadata` object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// `fail_open` when the limiter was unreachable and the request went
    /// through unchecked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter: Option<&'static str>,
    /// Route (model alias) used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The complexity tier chosen, on a route with tiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Why that tier: the score and what made it (or that it was pinned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_reason: Option<String>,
    /// Provider that answered, or was last tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Upstream model that answered, or was last tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// HTTP status sent to the caller.
    pub status: u16,
    /// Stable error code, when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Streamed or not.
    pub stream: bool,
    /// Every upstream attempt, in order.
    pub attempts: Vec<AttemptLog>,
    /// Arrival to last byte (ms).
    pub latency_ms: u64,
    /// Arrival to first token (ms), for streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<u64>,
    /// Prompt tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<u64>,
    /// Completion tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<u64>,
    /// Prompt tokens served from the provider's prompt cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_cached: Option<u64>,
    /// True when the provider reported no usage and the tokens were
    /// estimated by the gateway (counted from the stream).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tokens_estimated: bool,
    /// What the request cost in USD, when the model's price is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The response cache: `hit`, `semantic`, `coalesced`, `miss`,
    /// `refresh` or `bypass` (absent: not a cacheable endpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'static str>,
    /// What the route's guardrails ran and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<crate::guardrails::Report>,
    /// The longest a streamed answer's text was held back by the output
    /// guardrails (ms): the latency they added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrail_held_ms: Option<u64>,
    /// Why the answer did not match the JSON schema the caller asked for,
    /// when it was answered anyway (a stream, or a route that reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_error: Option<String>,
    /// A semantic hit's cosine similarity to the cached question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// What a cache hit saved: the original answer's cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_saved_usd: Option<f64>,
    /// Request fields the target could not honour and dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The prompt (the request's messages as JSON), redacted; only when the
    /// route stores bodies and neither the key nor the caller asked for
    /// zero retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The answer's text, redacted, under the same conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// One upstream attempt: which target, how it went, how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptLog {
    /// `provider/model`.
    pub target: String,
    /// `ok`, `retry`, `fallback`, `failed` (gave up), `skipped` (open
    /// circuit) or `unsupported` (the target cannot honour a field of the
    /// request; nothing was sent).
    pub outcome: &'static str,
    /// Upstream HTTP status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, for failed attempts (no secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the attempt started, in ms after the request arrived (so the
    /// waits between attempts show).
    pub start_ms: u64,
    /// Start of the attempt to its outcome (ms).
    pub latency_ms: u64,
}

impl AttemptLog {
    /// Whether this attempt called the upstream (open circuits and
    /// unsupported requests send nothing).
    pub fn reached_upstream(&self) -> bool {
        !matches!(self.outcome, "skipped" | "unsupported")
    }
}

impl RequestLog {
    /// Upstream calls made so far (`x-edgeway-attempts`).
    pub fn upstream_calls(&self) -> usize {
        self.attempts.iter().filter(|a| a.reached_upstream()).count()
    }

    /// A record for a request that arrived at `time_ms`; the handler fills
    /// in the rest as it learns it.
    pub fn new(request_id: String, time_ms: u64, method: &str, path: &str) -> Self {
        Self {
            event: "request",
            request_id,
            client_request_id: None,
            time_ms,
            method: method.to_owned(),
            path: path.to_owned(),
            key_id: None,
            key_name: None,
            user_id: None,
            user_agent: None,
            colo: None,
            metadata: None,
            limiter: None,
            route: None,
            tier: None,
            tier_reason: None,
            provider: None,
            model: None,
            status: 200,
            error_code: None,
            outcome: Outcome::Ok,
            stream: false,
            attempts: Vec::new(),
            latency_ms: 0,
            ttft_ms: None,
            tokens_in: None,
            tokens_out: None,
            tokens_cached: None,
            tokens_estimated: false,
            cost_usd: None,
            cache: None,
            guardrails: None,
            guardrail_held_ms: None,
            schema_error: None,
            similarity: None,
            cost_saved_usd: None,
            warnings: Vec::new(),
            prompt: None,
            answer: None,
        }
    }

    /// Records the answer's usage and what it cost (`None`: price unknown).
    pub fn record_usage(&mut self, usage: &Usage, estimated: bool, cost_usd: Option<f64>) {
        self.tokens_in = Some(usage.prompt_tokens);
        self.tokens_out = Some(usage.completion_tokens);
        self.tokens_cached = Some(usage.cached_tokens()).filter(|n| *n > 0);
        self.tokens_estimated = estimated;
        self.cost_usd = cost_usd;
    }

    /// The record as one JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"event\":\"request\",\"log_error\":{}}}", crate::json::quote(&e.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_center_is_read_from_the_ray_id() {
        assert_eq!(colo_from_ray("8a1b2c3d4e5f6789-SJC"), Some("SJC"));
        assert_eq!(colo_from_ray(" 8a1b2c3d4e5f6789-LHR "), Some("LHR"));
        for no in ["", "8a1b2c3d4e5f6789", "8a1b2c3d4e5f6789-", "8a1b2c3d4e5f6789-sjc", "8a1b-S J", "8a1b-TOOLONGCODE"] {
            assert_eq!(colo_from_ray(no), None, "{no:?}");
        }
    }

    #[test]
    fn a_record_is_one_json_line_without_empty_fields() {
        let mut log = RequestLog::new("req_1".into(), 1000, "POST", "/v1/chat/completions");
        log.route = Some("demo".into());
        log.latency_ms = 12;
        let line = log.to_json_line();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = crate::json::from_str(&line).unwrap();
        assert_eq!(value["event"], "request");
        assert_eq!(value["route"], "demo");
        assert_eq!(value["outcome"], "ok");
        assert!(value.get("ttft_ms").is_none());
    }

    #[test]
    fn metadata_is_a_small_json_object() {
        assert_eq!(parse_metadata(r#"{"team":"search","run":7}"#).unwrap()["team"], "search");
        for bad in ["[1,2]", "\"text\"", "{", &format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_METADATA_BYTES))] {
            match parse_metadata(bad) {
                Err(crate::GatewayError::InvalidRequest { param, .. }) => assert_eq!(param, "x-edgeway-metadata"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn stored_bodies_are_redacted() {
        let request: crate::openai::ChatRequest =
            crate::json::from_str(r#"{"model":"m","messages":[{"role":"user","content":"my key is sk-abcdefghijklmnopqrstuv, mail me at a@b.example"}]}"#).unwrap();
        let prompt = prompt_body(&request);
        assert!(prompt.contains("[redacted:key]") && prompt.contains("[redacted:email]") && !prompt.contains("sk-abc"), "{prompt}");
    }
}
