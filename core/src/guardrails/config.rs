//! A route's `guardrails` table, as written and as validated.

use serde::{Deserialize, Serialize};

/// `[routes.<alias>.guardrails]` exactly as written. Names are plain
/// strings here so that [`Guardrails::from_raw`] can report every wrong one
/// by its field, instead of serde stopping at the first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrails {
    /// Rules run on the request, in order.
    #[serde(default)]
    pub input: Vec<RawRule>,
    /// Rules run on the answer, in order.
    #[serde(default)]
    pub output: Vec<RawRule>,
    /// `retry`, `fallback` or `report` (default `retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_failure: Option<String>,
    /// Characters a stream holds back (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdback_chars: Option<i64>,
}

/// One rule as written: `{ rule = "deny", action = "block", phrases = [...] }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// `injection`, `secrets`, `email`, `phone`, `card` or `deny`.
    pub rule: String,
    /// `block`, `redact` or `flag`.
    pub action: String,
    /// Injection only: the score (0 to 1) at which it fires (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Deny only: the phrases, matched whole and case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrases: Option<Vec<String>>,
}

/// A route's validated guardrails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardrails {
    /// Rules run on the request, in order.
    pub input: Vec<Rule>,
    /// Rules run on the answer, in order (never injection).
    pub output: Vec<Rule>,
    /// What a non-streamed answer that fails its JSON schema does.
    pub schema_failure: SchemaFailure,
    /// Characters a stream holds back, 16 to 4096.
    pub holdback_chars: u32,
}

/// One validated rule: what to look for and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The detector.
    pub check: Check,
    /// What a match does.
    pub action: Action,
}

/// What a rule looks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Prompt-injection heuristics (input only).
    Injection {
        /// The score (0 to 1) at which the rule fires.
        threshold: f64,
    },
    /// API keys, tokens and private keys.
    Secrets,
    /// E-mail addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Payment card numbers (Luhn-checked).
    Card,
    /// Configured phrases, whole and case-insensitive.
    Deny {
        /// The phrases; never empty.
        phrases: Vec<String>,
    },
}

/// What a rule does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the request, or end the answer with an error.
    Block,
    /// Replace the match with `[REDACTED:<kind>]`.
    Redact,
    /// Let it through; record it.
    Flag,
}

/// What a non-streamed answer that does not match the requested JSON
/// schema does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaFailure {
    /// Ask the same target once more.
    #[default]
    Retry,
    /// Ask the next target.
    Fallback,
    /// Answer as is, and record the failure.
    Report,
}

/// Default injection threshold: one strong signal (see `injection`) fires.
const DEFAULT_THRESHOLD: f64 = 0.5;
/// Default holdback: longer than any fixed-format secret, card or phone
/// number, at the cost of ~64 characters of extra latency.
const DEFAULT_HOLDBACK: u32 = 64;
/// Below 16 the holdback would not cover an AWS key id or a card number;
/// above 4096 a stream would stall visibly.
const HOLDBACK_RANGE: std::ops::RangeInclusive<i64> = 16..=4096;

impl Rule {
    /// The rule's name, as written in config (`secrets`).
    pub fn name(&self) -> &'static str {
        match self.check {
            Check::Injection { .. } => "injection",
            Check::Secrets => "secrets",
            Check::Email => "email",
            Check::Phone => "phone",
            Check::Card => "card",
            Check::Deny { .. } => "deny",
        }
    }
}

impl Guardrails {
    /// Validates `raw`, returning every problem found, each naming its
    /// field: `input[0].action: injection cannot redact`.
    pub fn from_raw(raw: &RawGuardrails) -> Result<Guardrails, Vec<String>> {
        let mut errors = Vec::new();
        let input = rules("input", &raw.input, &mut errors);
        let output = rules("output", &raw.output, &mut errors);
        let schema_failure = match raw.schema_failure.as_deref() {
            None | Some("retry") => SchemaFailure::Retry,
            Some("fallback") => SchemaFailure::Fallback,
            Some("report") => SchemaFailure::Report,
            Some(other) => {
                errors.push(format!("schema_failure: unknown value `{other}` (expected retry, fallback or report)"));
                SchemaFailure::Retry
            }
        };
        let holdback = raw.holdback_chars.unwrap_or(i64::from(DEFAULT_HOLDBACK));
        if !HOLDBACK_RANGE.contains(&holdback) {
            errors.push(format!("holdback_chars: must be between 16 and 4096, got {holdback}"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let holdback_chars = u32::try_from(holdback).unwrap_or(DEFAULT_HOLDBACK);
        Ok(Guardrails { input, output, schema_failure, holdback_chars })
    }
}

/// Validates one list of rules, pushing its problems onto `errors`.
fn rules(stage: &str, raw: &[RawRule], errors: &mut Vec<String>) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let at = format!("{stage}[{i}]");
        let before = errors.len();
        let action = match r.action.as_str() {
            "block" => Some(Action::Block),
            "redact" => Some(Action::Redact),
            "flag" => Some(Action::Flag),
            other => {
                errors.push(format!("{at}.action: unknown action `{other}` (expected block, redact or flag)"));
                None
            }
        };
        if r.threshold.is_some() && r.rule != "injection" {
            errors.push(format!("{at}.threshold: only the injection rule has a threshold"));
        }
        if r.phrases.is_some() && r.rule != "deny" {
            errors.push(format!("{at}.phrases: only the deny rule has phrases"));
        }
        let check = match r.rule.as_str() {
            "injection" => {
                if stage == "output" {
                    errors.push(format!("{at}.rule: injection runs on input only"));
                }
                if action == Some(Action::Redact) {
                    errors.push(format!("{at}.action: injection cannot redact"));
                }
                let threshold = r.threshold.unwrap_or(DEFAULT_THRESHOLD);
                if !(0.0..=1.0).contains(&threshold) {
                    errors.push(format!("{at}.threshold: must be between 0 and 1, got {threshold}"));
                }
                Some(Check::Injection { threshold })
            }
            "secrets" => Some(Check::Secrets),
            "email" => Some(Check::Email),
            "phone" => Some(Check::Phone),
            "card" => Some(Check::Card),
            "deny" => {
                let phrases = r.phrases.clone().unwrap_or_default();
                if phrases.is_empty() {
                    errors.push(format!("{at}.phrases: a deny rule needs at least one phrase"));
                }
                for (j, phrase) in phrases.iter().enumerate() {
                    if phrase.trim().is_empty() {
                        errors.push(format!("{at}.phrases[{j}]: a phrase must not be empty"));
                    }
                }
                Some(Check::Deny { phrases })
            }
            other => {
                errors.push(format!("{at}.rule: unknown rule `{other}` (expected injection, secrets, email, phone, card or deny)"));
                None
            }
        };
        if let (Some(check), Some(action), true) = (check, action, errors.len() == before) {
            rules.push(Rule { check, action });
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape a route's table takes in the config file.
    const EXAMPLE: &str = r#"
        input = [
          { rule = "injection", action = "block", threshold = 0.5 },
          { rule = "secrets", action = "redact" },
          { rule = "email", action = "flag" },
          { rule = "phone", action = "redact" },
          { rule = "card", action = "block" },
        ]
        output = [
          { rule = "secrets", action = "redact" },
          { rule = "email", action = "redact" },
          { rule = "deny", action = "block", phrases = ["project nightingale"] },
        ]
        schema_failure = "retry"
        holdback_chars = 64
    "#;

    #[test]
    fn the_documented_example_is_accepted() {
        let raw: RawGuardrails = toml::from_str(EXAMPLE).unwrap();
        let g = Guardrails::from_raw(&raw).unwrap();
        assert_eq!(g.input.len(), 5);
        assert_eq!(g.input[0], Rule { check: Check::Injection { threshold: 0.5 }, action: Action::Block });
        assert_eq!(g.output[2].check, Check::Deny { phrases: vec!["project nightingale".into()] });
        assert_eq!((g.schema_failure, g.holdback_chars), (SchemaFailure::Retry, 64));
        let round: Guardrails = crate::json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(round, g);
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let raw: RawGuardrails = toml::from_str(r#"input = [{ rule = "injection", action = "flag" }]"#).unwrap();
        let g = Guardrails::from_raw(&raw).unwrap();
        assert_eq!(g.input[0].check, Check::Injection { threshold: 0.5 });
        assert_eq!((g.schema_failure, g.holdback_chars), (SchemaFailure::Retry, 64));
    }

    #[test]
    fn unknown_fields_are_refused_by_serde() {
        assert!(toml::from_str::<RawGuardrails>("holdback = 3").is_err());
        assert!(toml::from_str::<RawGuardrails>(r#"input = [{ rule = "email", action = "flag", extra = 1 }]"#).is_err());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let raw: RawGuardrails = toml::from_str(
            r#"
            input = [
              { rule = "injection", action = "redact", threshold = 1.5 },
              { rule = "nonsense", action = "flag" },
              { rule = "email", action = "shout", threshold = 0.2 },
              { rule = "deny", action = "block" },
              { rule = "deny", action = "block", phrases = ["ok", "  "] },
            ]
            output = [{ rule = "injection", action = "block" }, { rule = "card", action = "flag", phrases = ["x"] }]
            schema_failure = "panic"
            holdback_chars = 8
            "#,
        )
        .unwrap();
        let errors = Guardrails::from_raw(&raw).unwrap_err();
        assert_eq!(
            errors,
            [
                "input[0].action: injection cannot redact",
                "input[0].threshold: must be between 0 and 1, got 1.5",
                "input[1].rule: unknown rule `nonsense` (expected injection, secrets, email, phone, card or deny)",
                "input[2].action: unknown action `shout` (expected block, redact or flag)",
                "input[2].threshold: only the injection rule has a threshold",
                "input[3].phrases: a deny rule needs at least one phrase",
                "input[4].phrases[1]: a phrase must not be empty",
                "output[0].rule: injection runs on input only",
                "output[1].phrases: only the deny rule has phrases",
                "schema_failure: unknown value `panic` (expected retry, fallback or report)",
                "holdback_chars: must be between 16 and 4096, got 8",
            ]
        );
    }

    #[test]
    fn holdback_bounds_are_inclusive() {
        for (value, ok) in [(15, false), (16, true), (4096, true), (4097, false), (-1, false)] {
            let raw = RawGuardrails { holdback_chars: Some(value), ..RawGuardrails::default() };
            assert_eq!(Guardrails::from_raw(&raw).is_ok(), ok, "{value}");
        }
    }
}
