//! The streamed `chat.completion.chunk` object.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::open_object::open_object;
use super::response::Usage;

/// One streamed chunk of a chat completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletionChunk {
    /// Completion id, the same on every chunk.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// Choice deltas; empty on the final usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Usage, on the final chunk when `include_usage` was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_object!(ChatCompletionChunk, "a chat completion chunk object", required: [id, object, created, model, choices], optional: [usage, system_fingerprint]);

/// A choice's delta within a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position among the choices.
    pub index: u32,
    /// What this chunk adds.
    pub delta: Delta,
    /// Set on the choice's last chunk.
    pub finish_reason: Option<String>,
    /// Log probabilities, passed through.
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// What one chunk adds to the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant`, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A piece of text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Pieces of tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// A piece of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// A piece of a streamed tool call; `index` ties the pieces together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call this piece belongs to.
    pub index: u32,
    /// Call id, on the first piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on the first piece.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (first piece) and argument fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_unknown_fields_and_round_trip() {
        let json = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","obfuscation":"xy",
            "choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}"#;
        let chunk: ChatCompletionChunk = crate::json::from_str(json).unwrap();
        assert_eq!(chunk.choices[0].delta.content.as_deref(), Some("hi"));
        assert_eq!((chunk.usage, chunk.system_fingerprint.as_deref()), (None, None));
        assert_eq!(chunk.extra.get("obfuscation"), Some(&Value::from("xy")));
        let again = serde_json::to_string(&chunk).unwrap();
        assert_eq!(crate::json::from_str::<ChatCompletionChunk>(&again).unwrap(), chunk);
        let usage: ChatCompletionChunk = crate::json::from_str(r#"{"id":"c","object":"o","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#).unwrap();
        assert_eq!(usage.usage, Some(Usage::new(1, 2)));
        let err = crate::json::from_str::<ChatCompletionChunk>(r#"{"id":"c","object":"o","created":1,"model":"m"}"#).unwrap_err();
        assert!(err.to_string().starts_with("missing field `choices`"), "{err}");
    }
}
