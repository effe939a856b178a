//! What must match exactly for two requests to share a semantic answer.
//!
//! Only the last user message is compared by meaning. Everything else is
//! hashed, as the exact cache hashes a whole request: the system prompt,
//! every earlier turn (so a short follow-up such as "yes" never gets
//! another conversation's answer), and every answer-changing parameter.

use crate::cache::key::cache_key;
use crate::openai::{ChatRequest, Content, Role};

/// The question to embed: the last message, when it is the user's and has
/// text. Requests ending otherwise (a tool result, an image alone) are not
/// looked up by meaning.
pub fn question(request: &ChatRequest) -> Option<String> {
    let last = request.messages.last().filter(|m| m.role == Role::User)?;
    let text = last.text();
    (!text.trim().is_empty()).then_some(text)
}

/// The hash shared by requests that differ at most in their question's
/// wording, within `namespace`; `None` when the request has no question.
pub fn context_hash(request: &ChatRequest, namespace: &str) -> Option<String> {
    question(request)?;
    let mut context = request.clone();
    if let Some(last) = context.messages.last_mut() {
        last.content = Some(Content::Text(String::new()));
    }
    cache_key(&context, &format!("semantic:{namespace}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> ChatRequest {
        crate::openai::parse_chat_request(json.as_bytes()).unwrap()
    }

    fn hash(json: &str) -> Option<String> {
        context_hash(&req(json), "key_1")
    }

    #[test]
    fn only_the_question_may_differ() {
        let a = hash(r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the capital of France?"}]}"#);
        let b = hash(r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Which city is France's capital?"}]}"#);
        assert!(a.is_some());
        assert_eq!(a, b);
        for different in [
            r#"{"model":"m","messages":[{"role":"system","content":"be verbose"},{"role":"user","content":"What is the capital of France?"}]}"#,
            r#"{"model":"m","temperature":1.5,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the capital of France?"}]}"#,
            r#"{"model":"other","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is the capital of France?"}]}"#,
        ] {
            assert_ne!(a, hash(different), "{different}");
        }
        assert_ne!(a, context_hash(&req(r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"x"}]}"#), "key_2"));
    }

    #[test]
    fn a_follow_up_carries_its_conversation() {
        let one = hash(r#"{"model":"m","messages":[{"role":"user","content":"Shall I delete the database?"},{"role":"assistant","content":"Are you sure?"},{"role":"user","content":"yes"}]}"#);
        let two = hash(r#"{"model":"m","messages":[{"role":"user","content":"Shall I order pizza?"},{"role":"assistant","content":"Are you sure?"},{"role":"user","content":"yes"}]}"#);
        assert_ne!(one, two);
    }

    #[test]
    fn requests_without_a_text_question_are_not_looked_up() {
        assert_eq!(hash(r#"{"model":"m","messages":[{"role":"user","content":"   "}]}"#), None);
        assert_eq!(hash(r#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#), None);
    }
}
