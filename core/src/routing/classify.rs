//! Asking a small model for a request's tier, instead of scoring it.
//!
//! A route with tiers may name a `classifier` route. The gateway then sends
//! it one short request ([`request`]): the tiers in order, and the last
//! user message; the answer names a tier ([`tier_in`]). It costs one extra
//! call, so it has its own short timeout, and the rule-based score
//! (`super::tiers`) decides whenever the classifier is slow, fails, or
//! names no tier.

use serde::{Deserialize, Serialize};

use crate::openai::{ChatRequest, Content, Message, Role};

/// Longest question sent to the classifier, in characters.
const MAX_QUESTION_CHARS: usize = 4_000;
/// The classifier's timeout unless the route sets one.
pub const DEFAULT_TIMEOUT_MS: u64 = 500;

/// `classifier = { route = "...", timeout_ms = 500 }` on a route with tiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classifier {
    /// The route that classifies (a small, fast model).
    pub route: String,
    /// How long to wait for its answer before scoring instead.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// The classifier's request for `original`, whose tiers are `names`, least
/// capable first. `None` when there is no user message to classify.
pub fn request(original: &ChatRequest, names: &[&str], route: &str) -> Option<ChatRequest> {
    let question: String = original.last_user_text()?.chars().take(MAX_QUESTION_CHARS).collect();
    let instructions = format!(
        "You route requests to a model by how hard they are. Tiers, from least to most capable: {}. \
         Reply with the name of the least capable tier that can answer the user's request well, and nothing else.",
        names.join(", ")
    );
    let message = |role, text: String| Message { role, content: Some(Content::Text(text)), name: None, tool_calls: None, tool_call_id: None, extra: Default::default() };
    Some(ChatRequest {
        model: route.to_owned(),
        messages: vec![message(Role::System, instructions), message(Role::User, question)],
        stream: None,
        stream_options: None,
        temperature: Some(0.0),
        top_p: None,
        max_tokens: Some(8),
        max_completion_tokens: None,
        stop: None,
        seed: None,
        n: None,
        tools: None,
        tool_choice: None,
        response_format: None,
        user: None,
        extra: Default::default(),
    })
}

/// The tier the classifier's answer names: the whole answer, or failing
/// that the first tier name in it as a word (ASCII letters in any case).
pub fn tier_in(answer: &str, names: &[&str]) -> Option<usize> {
    let answer = answer.trim().trim_matches(|c: char| c.is_ascii_punctuation()).to_ascii_lowercase();
    if let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(&answer)) {
        return Some(index);
    }
    answer
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
        .find_map(|word| names.iter().position(|n| n.eq_ignore_ascii_case(word)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIERS: [&str; 3] = ["small", "medium", "large"];

    #[test]
    fn the_answer_names_a_tier() {
        assert_eq!(tier_in("medium", &TIERS), Some(1));
        assert_eq!(tier_in("  Large.\n", &TIERS), Some(2));
        assert_eq!(tier_in("I would pick the small tier", &TIERS), Some(0));
        assert_eq!(tier_in("extra-large", &TIERS), None, "a word, not a part of one");
        assert_eq!(tier_in("no idea", &TIERS), None);
        assert_eq!(tier_in("", &TIERS), None);
    }

    #[test]
    fn the_request_lists_the_tiers_and_carries_the_question() {
        let original = crate::openai::parse_chat_request(br#"{"model":"auto","messages":[{"role":"system","content":"secret sauce"},{"role":"user","content":"Prove it step by step"}]}"#).unwrap();
        let asked = request(&original, &TIERS, "classify").unwrap();
        assert_eq!(asked.model, "classify");
        assert!(asked.messages[0].text().contains("small, medium, large"));
        assert_eq!(asked.messages[1].text(), "Prove it step by step");
        assert!(!serde_json::to_string(&asked).unwrap().contains("secret sauce"), "only the question is sent");
        assert_eq!(asked.max_tokens, Some(8));
    }
}
