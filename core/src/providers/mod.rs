//! Provider adapters: how a chat request becomes an upstream request, and how
//! an upstream answer or failure becomes the caller's.

pub mod openai;

/// An HTTP request for the worker to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Full URL.
    pub url: String,
    /// Headers, secrets included: never log this struct.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: String,
}

/// Removes every occurrence of `secret` from `text`, so an upstream message
/// that echoes our key (as some auth errors do) never reaches a log or a
/// caller. Secrets shorter than 8 characters are not searched for: they
/// would match ordinary words and are no real key anyway.
pub fn redact_secret(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 8 && text.contains(s) => text.replace(s, "[redacted]"),
        _ => text.to_owned(),
    }
}
