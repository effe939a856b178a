//! Per-route guardrails: checks on what goes to the upstream and what comes back.
//!
//! A route lists input rules (run on the request before any upstream sees
//! it) and output rules (run on the answer before the caller sees it). Each
//! rule pairs a detector (`injection`, `secrets`, `email`, `phone`, `card`,
//! `deny`) with an action: `block` refuses the request or ends the answer
//! with a `guardrail_blocked` error that names the rule but never the
//! matched text, `redact` replaces each match with `[REDACTED:<kind>]`, and
//! `flag` lets it through and records it. A [`Report`] says which rules ran
//! and what they found, for the `x-edgeway-guardrails` header and the log.
//!
//! Streamed answers go through an [`OutputGuard`], which holds back just
//! enough text that a match split across chunks is caught before any of it
//! is released. Answers requested with a JSON schema can be checked with
//! [`schema::check_answer_text`]; what a failure does is the route's
//! [`SchemaFailure`].
//!
//! Everything here is pure: the detectors are hand-written scanners (no
//! regular expressions, which would cost the worker's wasm more than the
//! whole module) and time is passed in.

mod apply;
mod config;
pub mod detect;
pub mod injection;
mod input;
mod output;
pub mod schema;

use serde::{Deserialize, Serialize};


pub use config::{Action, Check, Guardrails, RawGuardrails, RawRule, Rule, SchemaFailure};
pub use input::check_input;
pub use output::{check_completion, OutputGuard, Release};

/// Where a rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// On the request, before the upstream.
    Input,
    /// On the answer, before the caller.
    Output,
}

impl Stage {
    /// `input` or `output`, as in headers and findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
        }
    }
}

/// What one rule found: how many matches of one kind, and what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Input or output.
    pub stage: Stage,
    /// The rule's name (`secrets`, `email`, ...).
    pub rule: String,
    /// What matched (`openai_key`, `email`, `prompt_injection`, ...).
    pub kind: String,
    /// What the rule did about it.
    pub action: Action,
    /// How many matches (for injection: how many messages).
    pub count: u32,
}

/// Which rules ran on a request and what they found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `stage:rule` of every rule that ran, in order (`input:injection`).
    pub ran: Vec<String>,
    /// What they found; one entry per stage, rule, kind and action.
    pub findings: Vec<Finding>,
}

impl Report {
    /// A report in which `rules` ran at `stage` and found nothing yet.
    pub fn ran(stage: Stage, rules: &[Rule]) -> Self {
        let ran = rules.iter().map(|r| format!("{}:{}", stage.as_str(), r.name())).collect();
        Self { ran, findings: Vec::new() }
    }

    /// The report of a stage that ended in `blocked`: the stage's rules
    /// ran, and the block is its finding.
    pub fn of_block(guardrails: &Guardrails, blocked: &Blocked) -> Self {
        let rules = match blocked.stage {
            Stage::Input => &guardrails.input,
            Stage::Output => &guardrails.output,
        };
        let mut report = Self::ran(blocked.stage, rules);
        report.count(blocked.stage, &blocked.rule, &blocked.kind, Action::Block);
        report
    }

    /// Counts one match.
    pub(crate) fn count(&mut self, stage: Stage, rule: &str, kind: &str, action: Action) {
        let same = |f: &&mut Finding| f.stage == stage && f.rule == rule && f.kind == kind && f.action == action;
        match self.findings.iter_mut().find(same) {
            Some(finding) => finding.count = finding.count.saturating_add(1),
            None => self.findings.push(Finding { stage, rule: rule.to_owned(), kind: kind.to_owned(), action, count: 1 }),
        }
    }

    /// Adds `other` to this report: rules not yet listed, and its counts.
    pub fn merge(&mut self, other: Report) {
        for ran in other.ran {
            if !self.ran.contains(&ran) {
                self.ran.push(ran);
            }
        }
        for f in other.findings {
            let same = |g: &&mut Finding| g.stage == f.stage && g.rule == f.rule && g.kind == f.kind && g.action == f.action;
            match self.findings.iter_mut().find(same) {
                Some(g) => g.count = g.count.saturating_add(f.count),
                None => self.findings.push(f),
            }
        }
    }

    /// The `x-edgeway-guardrails` header: `ran=…` then, for each action that
    /// was taken, `blocked=…`, `redacted=…`, `flagged=…`, each a list of
    /// `stage:rule`, e.g. `ran=input:injection,output:secrets; flagged=input:email`.
    /// Matched text never appears; only visible ASCII is written.
    pub fn header_value(&self) -> String {
        let mut value = format!("ran={}", self.ran.join(","));
        for (action, label) in [(Action::Block, "blocked"), (Action::Redact, "redacted"), (Action::Flag, "flagged")] {
            let mut rules: Vec<String> = Vec::new();
            for f in self.findings.iter().filter(|f| f.action == action) {
                let rule = format!("{}:{}", f.stage.as_str(), f.rule);
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
            if !rules.is_empty() {
                value.push_str(&format!("; {label}={}", rules.join(",")));
            }
        }
        value.retain(|c| c.is_ascii_graphic() || c == ' ');
        value
    }
}

/// A rule with action `block` fired: the request must not go upstream, or
/// the answer must stop. Its message names the rule and the kind of match,
/// never the matched text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Blocked {
    /// Input or output.
    pub stage: Stage,
    /// The rule that blocked (`card`).
    pub rule: String,
    /// What it matched (`card`, `openai_key`, `prompt_injection`).
    pub kind: String,
    /// For the caller, e.g. "the input guardrail `card` blocked this request: it contains a payment card number".
    pub message: String,
}

impl Blocked {
    /// The stable error code (CONVENTIONS.md).
    pub const CODE: &'static str = "guardrail_blocked";

    /// A block by `rule` at `stage` for a match of `kind`; `detail`, if any,
    /// is appended (it must not contain matched text).
    pub(crate) fn new(stage: Stage, rule: &str, kind: &str, detail: &str) -> Self {
        let what = match stage {
            Stage::Input => "request",
            Stage::Output => "answer",
        };
        let mut message = format!("the {} guardrail `{rule}` blocked this {what}: it contains {} ({kind})", stage.as_str(), describe(kind));
        if !detail.is_empty() {
            message.push_str(&format!("; {detail}"));
        }
        Self { stage, rule: rule.to_owned(), kind: kind.to_owned(), message }
    }

    /// The error the caller gets (`guardrail_blocked`, 400).
    pub fn to_error(&self) -> crate::GatewayError {
        crate::GatewayError::GuardrailBlocked { message: self.message.clone() }
    }

    /// [`Self::to_error`] as the JSON body (or a stream's last event).
    pub fn to_json(&self, request_id: &str) -> String {
        self.to_error().to_json(request_id)
    }
}

/// What a kind of match is, for a person.
fn describe(kind: &str) -> &'static str {
    match kind {
        "email" => "an e-mail address",
        "phone" => "a phone number",
        "card" => "a payment card number",
        "deny" => "a denied phrase",
        injection::KIND => "a likely prompt injection",
        _ => "a secret",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(stage: Stage, rule: &str, action: Action, count: u32) -> Finding {
        Finding { stage, rule: rule.into(), kind: rule.into(), action, count }
    }

    #[test]
    fn the_header_lists_what_ran_and_what_was_done() {
        let mut report = Report { ran: vec!["input:injection".into(), "input:secrets".into()], findings: vec![] };
        report.count(Stage::Input, "email", "email", Action::Flag);
        report.count(Stage::Input, "email", "email", Action::Flag);
        report.merge(Report {
            ran: vec!["input:secrets".into(), "output:secrets".into()],
            findings: vec![finding(Stage::Output, "secrets", Action::Redact, 2), finding(Stage::Input, "email", Action::Flag, 1)],
        });
        assert_eq!(report.ran, ["input:injection", "input:secrets", "output:secrets"]);
        assert_eq!(report.findings[0].count, 3);
        assert_eq!(report.header_value(), "ran=input:injection,input:secrets,output:secrets; redacted=output:secrets; flagged=input:email");
        let json = serde_json::to_value(&report.findings[0]).unwrap();
        assert_eq!(json, serde_json::json!({"stage":"input","rule":"email","kind":"email","action":"flag","count":3}));
    }

    #[test]
    fn a_block_becomes_the_guardrail_blocked_error_body() {
        let blocked = Blocked::new(Stage::Output, "deny", "deny", "");
        let body: serde_json::Value = crate::json::from_str(&blocked.to_json("req_1")).unwrap();
        assert_eq!(body["error"]["code"], "guardrail_blocked");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["request_id"], "req_1");
        assert!(body["error"]["message"].as_str().unwrap().contains("`deny`"));
    }
}

