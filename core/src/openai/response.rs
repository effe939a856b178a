//! The non-streaming chat-completions response.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::open_object::open_object;
use super::request::ToolCall;

/// A `chat.completion` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletion {
    /// Completion id (`chatcmpl-...`).
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The generated choices.
    pub choices: Vec<Choice>,
    /// Token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One generated choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the choices.
    pub index: u32,
    /// The generated message.
    pub message: ResponseMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    pub finish_reason: Option<String>,
    /// Log probabilities, passed through.
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// The assistant message of a choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    pub role: String,
    /// The text, or null when the model only called tools.
    pub content: Option<String>,
    /// Tool calls the model made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// A refusal message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object!(ChatCompletion, "a chat completion object", required: [id, object, created, model, choices], optional: [usage, system_fingerprint]);
open_object!(ResponseMessage, "a message object", required: [role], optional: [content, tool_calls, refusal]);

/// Token usage of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt, cached ones included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u64,
    /// How many prompt tokens were served from the provider's prompt cache
    /// (billed at the cheaper cached-input price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

/// The breakdown of prompt tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens read from the provider's cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    /// Usage from prompt and completion counts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens, prompt_tokens_details: None }
    }

    /// The same usage, with `cached` of its prompt tokens served from cache.
    pub fn with_cached(mut self, cached: u64) -> Self {
        if cached > 0 {
            self.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens: cached });
        }
        self
    }

    /// Prompt tokens served from the provider's cache.
    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details.map_or(0, |d| d.cached_tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","created":7,"model":"m","service_tier":"default",
        "choices":[{"index":0,"message":{"role":"assistant","content":null,"annotations":[],
            "tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
        "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5},"system_fingerprint":null}"#;

    #[test]
    fn unknown_fields_are_kept_and_known_ones_read() {
        let answer: ChatCompletion = crate::json::from_str(ANSWER).unwrap();
        assert_eq!((answer.id.as_str(), answer.created, answer.usage), ("c1", 7, Some(Usage::new(3, 2))));
        assert_eq!(answer.system_fingerprint, None);
        assert_eq!(answer.extra, serde_json::json!({"service_tier":"default"}).as_object().cloned().unwrap());
        let message = &answer.choices[0].message;
        assert_eq!((message.content.as_deref(), message.tool_calls.as_ref().map(Vec::len)), (None, Some(1)));
        assert_eq!(message.extra, serde_json::json!({"annotations":[]}).as_object().cloned().unwrap());
        // An absent `content` is `None`, as serde made it.
        let bare: ResponseMessage = crate::json::from_str(r#"{"role":"assistant"}"#).unwrap();
        assert_eq!((bare.content, bare.extra.len()), (None, 0));
    }

    #[test]
    fn round_trip_is_lossless() {
        let answer: ChatCompletion = crate::json::from_str(ANSWER).unwrap();
        let json = serde_json::to_string(&answer).unwrap();
        assert_eq!(crate::json::from_str::<ChatCompletion>(&json).unwrap(), answer);
        assert!(json.contains(r#""service_tier":"default""#) && json.contains(r#""annotations":[]"#), "{json}");
    }

    #[test]
    fn bad_answers_are_refused_with_serde_messages() {
        for (json, says) in [
            (r#"{"object":"chat.completion","created":1,"model":"m","choices":[]}"#, "missing field `id`"),
            (r#"{"id":"c","object":"o","created":"now","model":"m","choices":[]}"#, "invalid type: string \"now\", expected u64"),
            (r#"{"id":"c","object":"o","created":1,"model":"m","choices":[{"index":0,"message":{"content":"x"},"finish_reason":null}]}"#, "missing field `role`"),
            ("[]", "invalid type: sequence, expected a chat completion object"),
        ] {
            let message = crate::json::from_str::<ChatCompletion>(json).unwrap_err().to_string();
            assert!(message.starts_with(says), "{json}: {message}");
        }
    }
}
