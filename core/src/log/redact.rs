//! Redaction of stored prompt and answer text: API keys, bearer tokens,
//! JWTs and e-mail addresses become `[redacted:<kind>]`.
//!
//! A hand-written scanner rather than regular expressions: the regex crate
//! would cost the worker's wasm more than the rest of this module family.
//! Text is cut into words at whitespace and quoting characters; a word is
//! redacted whole when it looks like a secret, and the word after `Bearer`
//! (any case) always is.

/// Returns `text` with secrets and e-mail addresses replaced.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_bearer = false;
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(|c: char| !is_separator(c)).unwrap_or(rest.len());
        let (separators, word_and_rest) = rest.split_at(start);
        out.push_str(separators);
        let end = word_and_rest.find(is_separator).unwrap_or(word_and_rest.len());
        let (word, tail) = word_and_rest.split_at(end);
        if word.is_empty() {
            break;
        }
        // A key ends where its alphabet does (`sk-…abc.Next` keeps `.Next`).
        if let Some(key_len) = key_length(word) {
            let (_, after) = word.split_at(key_len);
            out.push_str("[redacted:key]");
            out.push_str(after);
            after_bearer = false;
            rest = tail;
            continue;
        }
        // Trailing sentence punctuation stays outside the word.
        let trimmed = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
        let (core, punctuation) = word.split_at(trimmed.len());
        match kind_of(core, after_bearer) {
            Some(kind) => {
                out.push_str("[redacted:");
                out.push_str(kind);
                out.push(']');
            }
            None => out.push_str(core),
        }
        out.push_str(punctuation);
        after_bearer = core.eq_ignore_ascii_case("bearer");
        rest = tail;
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '(' | '[' | '{' | '=' | ',')
}

/// Prefixes of provider and gateway keys (OpenAI, Anthropic, Google,
/// GitHub, Slack, AWS access key ids, Edgeway).
const KEY_PREFIXES: [&str; 10] = ["sk-", "sk_", "ew_sk_", "ew_pk_", "AIza", "ghp_", "gho_", "xoxb-", "xoxp-", "AKIA"];

fn kind_of(word: &str, after_bearer: bool) -> Option<&'static str> {
    if word.len() < 8 {
        return None;
    }
    if after_bearer {
        return Some("token");
    }
    if is_jwt(word) {
        return Some("token");
    }
    if is_email(word) {
        return Some("email");
    }
    None
}

/// The length of the key `word` starts with: a known prefix and at least
/// 16 characters of key alphabet in all.
fn key_length(word: &str) -> Option<usize> {
    KEY_PREFIXES.iter().find(|p| word.starts_with(**p))?;
    let len = word.bytes().take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')).count();
    (len >= 16).then_some(len)
}

/// Three base64url segments, the first a JSON object (`eyJ`).
fn is_jwt(word: &str) -> bool {
    let segments: Vec<&str> = word.split('.').collect();
    segments.len() == 3
        && word.starts_with("eyJ")
        && segments.iter().take(2).all(|s| s.len() >= 4)
        && segments.iter().all(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=')))
}

fn is_email(word: &str) -> bool {
    let Some((local, domain)) = word.rsplit_once('@') else { return false };
    let local = local.rsplit([':', ';']).next().unwrap_or(local);
    !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_tokens_and_emails_are_replaced_and_the_rest_kept() {
        let text = "Use sk-proj-abcdefghijklmnop1234 with Authorization: Bearer abc.def-123456, \
                    mail ada@example.com (or ada.l+x@mail.example.org). token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl \
                    and ew_sk_0123456789abcdefghij; AKIAIOSFODNN7EXAMPLE.";
        let out = redact(text);
        for secret in ["sk-proj-abcdefghijklmnop1234", "abc.def-123456", "ada@example.com", "ada.l+x@mail.example.org", "eyJhbGciOiJIUzI1NiJ9", "ew_sk_0123456789abcdefghij", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!out.contains(secret), "{secret} survived: {out}");
        }
        assert!(out.starts_with("Use [redacted:key] with Authorization: Bearer [redacted:token], mail [redacted:email] (or [redacted:email])."), "{out}");
        assert!(out.contains("token=[redacted:token]"));
        assert!(out.ends_with("and [redacted:key]; [redacted:key]."), "{out}");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for text in ["The skies were clear.", "sk-short", "an @ sign alone, user@localhost", "eyJ is not a token", "a-b_c 12345678"] {
            assert_eq!(redact(text), text);
        }
    }

    proptest! {
        #[test]
        fn an_embedded_key_never_survives(prefix in "[ a-z.,]{0,20}", key in "[A-Za-z0-9]{20,40}", suffix in "[ a-z.,]{0,20}") {
            let text = format!("{prefix} sk-{key}{suffix}");
            prop_assert!(!redact(&text).contains(&key));
        }

        #[test]
        fn text_without_secrets_round_trips(text in "[a-zA-Z ,.!?]{0,200}") {
            prop_assert_eq!(redact(&text), text);
        }
    }
}
