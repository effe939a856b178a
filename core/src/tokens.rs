//! Token estimates for when a provider has not counted yet.
//!
//! About four characters of English per token is OpenAI's own rule of thumb;
//! estimates reserve limits and fill usage for the demo provider, and are
//! always replaced by an upstream's real counts when it reports them.

use crate::openai::ChatRequest;

/// Characters per token, on average, for English text.
const CHARS_PER_TOKEN: u64 = 4;
/// Each message costs a few tokens of framing (role markers) on top of its text.
const TOKENS_PER_MESSAGE: u64 = 3;

/// Estimated tokens of a piece of text (at least 1 for non-empty text).
pub fn estimate_text(text: &str) -> u64 {
    estimate_chars(text.chars().count() as u64)
}

/// Estimated tokens of text `chars` characters long.
pub fn estimate_chars(chars: u64) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// Estimated prompt tokens of a request: every message's text and framing.
pub fn estimate_prompt(request: &ChatRequest) -> u64 {
    request
        .messages
        .iter()
        // Counted in place, with no copy of each message's text: this runs
        // for every request (its limits), and again for a streamed one.
        .map(|m| TOKENS_PER_MESSAGE + estimate_chars(m.text_chars() as u64))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_counts_its_text_parts_as_one_text() {
        let request: ChatRequest = crate::json::from_str(
            r#"{"model":"m","messages":[{"role":"system","content":"héllo"},{"role":"user","content":[{"type":"text","text":"abc"},{"type":"image_url","image_url":{"url":"https://x"}},{"type":"text","text":"de"}]}]}"#,
        )
        .unwrap();
        assert_eq!(request.messages[1].text_chars(), request.messages[1].text().chars().count());
        // 3 + ⌈5/4⌉ for the system message, 3 + ⌈5/4⌉ for the user's two parts.
        assert_eq!(estimate_prompt(&request), 10);
    }

    #[test]
    fn four_characters_make_a_token() {
        assert_eq!(estimate_text(""), 0);
        assert_eq!(estimate_text("abc"), 1);
        assert_eq!(estimate_text("abcdefgh"), 2);
        assert_eq!(estimate_text("héllo"), 2);
    }
}
