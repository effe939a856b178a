//! Request fields a target cannot honour: dropped with a warning when that
//! is harmless, refused with a 400 naming the field when the answer would
//! otherwise be wrong.

use serde_json::{Map, Value};

use crate::GatewayError;

/// Collects the warnings of one translation and builds its refusals.
#[derive(Debug)]
pub struct FieldCheck<'a> {
    target: &'a str,
    /// Fields dropped, one sentence each.
    pub warnings: Vec<String>,
}

impl<'a> FieldCheck<'a> {
    /// Checks for `target` (`provider/model`, named in every message).
    pub fn new(target: &'a str) -> Self {
        Self { target, warnings: Vec::new() }
    }

    /// Notes that `field`, when present, is dropped.
    pub fn drop_if(&mut self, present: bool, field: &str) {
        if present {
            // Field names come from the caller and end up in a header: keep
            // them short and printable.
            let field: String = field.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
            self.warnings.push(format!("{field} is not supported by {} and was ignored", self.target));
        }
    }

    /// Notes a value that was changed to fit the target.
    pub fn adjusted(&mut self, field: &str, how: &str) {
        self.warnings.push(format!("{field} {how} for {}", self.target));
    }

    /// Drops every unknown top-level field except those the adapter handles
    /// itself (`handled`), with one warning each.
    pub fn drop_unknown(&mut self, extra: &Map<String, Value>, handled: &[&str]) {
        for name in extra.keys().filter(|k| !handled.contains(&k.as_str())) {
            self.drop_if(true, name);
        }
    }

    /// The refusal for `param`: the answer would be wrong without it.
    pub fn refuse(&self, param: impl Into<String>, why: &str) -> GatewayError {
        let param = param.into();
        GatewayError::InvalidRequest { message: format!("{} cannot honour `{param}`: {why}", self.target), param }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_refusals_name_the_field_and_target() {
        let mut check = FieldCheck::new("anthropic/claude");
        check.drop_if(true, "seed");
        check.drop_if(false, "user");
        let mut extra = Map::new();
        extra.insert("logit_bias".into(), Value::Null);
        extra.insert("parallel_tool_calls".into(), Value::Bool(true));
        check.drop_unknown(&extra, &["parallel_tool_calls"]);
        assert_eq!(check.warnings, ["seed is not supported by anthropic/claude and was ignored", "logit_bias is not supported by anthropic/claude and was ignored"]);
        let refusal = check.refuse("n", "only one choice per request");
        assert_eq!((refusal.status(), refusal.param()), (400, Some("n")));
        assert!(refusal.to_string().contains("anthropic/claude"));
    }
}
