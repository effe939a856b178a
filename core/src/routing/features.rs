//! What a request's complexity is judged by, read without I/O.

use crate::openai::{ChatRequest, ResponseFormat, Role};
use crate::tokens;

/// The measurable traits of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// User turns in the conversation.
    pub turns: u32,
    /// Whether tools are offered.
    pub tools: bool,
    /// Whether a JSON answer (object or schema) is asked for.
    pub structured_output: bool,
    /// Fenced code blocks (```) in the messages.
    pub code_blocks: u32,
    /// The answer's requested length (`max_tokens` or `max_completion_tokens`).
    pub max_tokens: Option<u32>,
    /// The last user message with ASCII letters lower-cased, for keyword
    /// rules (full Unicode case folding would cost the wasm its tables).
    pub last_user_text: String,
}

/// Reads the features of `request`.
pub fn extract(request: &ChatRequest) -> Features {
    let fences: usize = request.messages.iter().map(|m| m.text().matches("```").count()).sum();
    Features {
        prompt_tokens: tokens::estimate_prompt(request),
        turns: u32::try_from(request.messages.iter().filter(|m| m.role == Role::User).count()).unwrap_or(u32::MAX),
        tools: request.tools.as_ref().is_some_and(|t| !t.is_empty()),
        structured_output: matches!(request.response_format, Some(ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. })),
        // An opening and a closing fence make one block.
        code_blocks: u32::try_from(fences.div_ceil(2)).unwrap_or(u32::MAX),
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
        last_user_text: request.last_user_text().unwrap_or_default().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> ChatRequest {
        crate::json::from_str(json).unwrap()
    }

    #[test]
    fn features_are_read_from_the_request() {
        let chat = request(
            r#"{"model":"auto","max_tokens":2000,"response_format":{"type":"json_object"},
                "tools":[{"type":"function","function":{"name":"f"}}],
                "messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},
                {"role":"assistant","content":"hello"},{"role":"user","content":"Fix ```let x = 1``` Step By Step"}]}"#,
        );
        let f = extract(&chat);
        assert_eq!((f.turns, f.tools, f.structured_output, f.code_blocks, f.max_tokens), (2, true, true, 1, Some(2000)));
        assert_eq!(f.last_user_text, "fix ```let x = 1``` step by step");
        assert!(f.prompt_tokens > 0);
    }

    #[test]
    fn a_bare_question_has_no_features_to_speak_of() {
        let f = extract(&request(r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#));
        assert_eq!((f.turns, f.tools, f.structured_output, f.code_blocks, f.max_tokens), (1, false, false, 0, None));
    }
}
