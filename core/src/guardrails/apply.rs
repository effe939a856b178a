//! Acting on what the detectors found: block, redact or flag.

use super::detect::{self, Scan, Span};
use super::{Action, Blocked, Report, Rule, Stage};

/// The detector of each rule run over `text`, one scan per rule.
pub(super) fn scan_all(rules: &[Rule], text: &str) -> Vec<Scan> {
    rules.iter().map(|rule| detect::scan(&rule.check, text)).collect()
}

/// Applies `rules` to the matches in `scans` (one per rule) that end by
/// `cut`, counting each in `report`, and returns `text[..cut]` with the
/// redactions made. The first `block` match, in rule order, stops
/// everything: it is counted, and no text is returned.
///
/// `cut` must not fall inside a match; matches beyond it are left for a
/// later call (a stream decides them when more text has come).
pub(super) fn apply(stage: Stage, rules: &[Rule], scans: &[Scan], text: &str, cut: usize, report: &mut Report) -> Result<String, Blocked> {
    let mut redact: Vec<Span> = Vec::new();
    for (rule, scan) in rules.iter().zip(scans) {
        for hit in scan.spans.iter().filter(|s| s.end <= cut) {
            report.count(stage, rule.name(), hit.kind, rule.action);
            match rule.action {
                Action::Block => return Err(Blocked::new(stage, rule.name(), hit.kind, "")),
                Action::Redact => redact.push(*hit),
                Action::Flag => {}
            }
        }
    }
    Ok(redacted(text.get(..cut).unwrap_or(text), redact))
}

/// `text` with each span replaced by `[REDACTED:<kind>]`; spans that
/// overlap (two rules on the same text) become one marker.
fn redacted(text: &str, mut spans: Vec<Span>) -> String {
    crate::small_sort::sort_by_key(&mut spans, |s| s.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.start >= at {
            out.push_str(text.get(at..span.start).unwrap_or_default());
            out.push_str("[REDACTED:");
            out.push_str(span.kind);
            out.push(']');
        }
        at = at.max(span.end);
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::Check;

    #[test]
    fn overlapping_redactions_become_one_marker() {
        let span = |start, end, kind| Span { start, end, kind, context_start: start };
        let text = "a SECRET-EMAIL b SECRET c";
        let spans = vec![span(17, 23, "openai_key"), span(2, 8, "openai_key"), span(2, 14, "email")];
        assert_eq!(redacted(text, spans), "a [REDACTED:openai_key] b [REDACTED:openai_key] c");
    }

    #[test]
    fn a_block_stops_before_anything_is_returned_and_is_counted() {
        let rules = [Rule { check: Check::Email, action: Action::Redact }, Rule { check: Check::Card, action: Action::Block }];
        let text = "ada@example.com 4111 1111 1111 1111";
        let mut report = Report::default();
        let blocked = apply(Stage::Input, &rules, &scan_all(&rules, text), text, text.len(), &mut report).unwrap_err();
        assert_eq!((blocked.rule.as_str(), blocked.kind.as_str()), ("card", "card"));
        assert!(!blocked.message.contains("4111"));
        assert_eq!(report.findings.iter().map(|f| f.action).collect::<Vec<_>>(), [Action::Redact, Action::Block]);
    }
}
