//! Scoring a request's complexity and picking its tier.
//!
//! The score is a sum of points, each feature's share spelled out in the
//! reason: prompt size, turns, tools, structured output, code, the answer's
//! requested length, and keyword rules on the last user message (which may
//! also take points away). Tiers are tried in order; the first whose
//! `below` the score is under takes the request, and the last takes the
//! rest. Weights have defaults and every one can be set per route.

use serde::{Deserialize, Serialize};

use super::features::Features;

/// Points a feature is worth. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Per 1,000 estimated prompt tokens.
    pub per_1k_prompt_tokens: u32,
    /// Most points prompt size can give.
    pub max_prompt_points: u32,
    /// Per user turn after the first.
    pub per_extra_turn: u32,
    /// Most points turns can give.
    pub max_turn_points: u32,
    /// When tools are offered.
    pub tools: u32,
    /// When a JSON answer is asked for.
    pub structured_output: u32,
    /// When the messages hold fenced code.
    pub code: u32,
    /// Per 1,000 tokens of requested answer length.
    pub per_1k_max_tokens: u32,
    /// Most points the requested length can give.
    pub max_length_points: u32,
    /// Phrases in the last user message, and their points (ASCII letters
    /// match in any case).
    pub keywords: Vec<KeywordRule>,
}

/// A phrase worth points (negative: the request is simpler than it looks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Matched anywhere in the last user message, ignoring case.
    pub contains: String,
    /// Points when it matches.
    pub points: i32,
}

impl Default for Weights {
    fn default() -> Self {
        let rule = |contains: &str, points| KeywordRule { contains: contains.to_owned(), points };
        Self {
            per_1k_prompt_tokens: 10,
            max_prompt_points: 40,
            per_extra_turn: 3,
            max_turn_points: 15,
            tools: 20,
            structured_output: 20,
            code: 20,
            per_1k_max_tokens: 10,
            max_length_points: 20,
            keywords: vec![
                rule("step by step", 25),
                rule("prove", 25),
                rule("derive", 20),
                rule("analyze", 15),
                rule("analyse", 15),
                rule("compare", 10),
                rule("explain why", 10),
                rule("refactor", 15),
                rule("debug", 15),
                rule("algorithm", 15),
                rule("translate", 5),
                rule("summarize", 5),
                rule("thanks", -10),
                rule("hello", -5),
            ],
        }
    }
}

/// A tier's place in the order: the score it takes requests below.
pub trait TierBound {
    /// The tier's name.
    fn name(&self) -> &str;
    /// Requests scoring below this go here; `None` for the last tier.
    fn below(&self) -> Option<i32>;
}

/// Which tier a request goes to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The tier's position in the route's list.
    pub index: usize,
    /// The request's score.
    pub score: i32,
    /// How the score was made and the tier chosen, for the header and log.
    pub reason: String,
}

/// Scores `features` and picks one of `tiers` (which must not be empty;
/// with none, index 0 is returned).
pub fn decide<T: TierBound>(features: &Features, weights: &Weights, tiers: &[T]) -> Decision {
    let mut parts: Vec<(String, i32)> = Vec::new();
    let capped = |amount: u64, per_1k: u32, cap: u32| i32::try_from((amount * u64::from(per_1k) / 1000).min(u64::from(cap))).unwrap_or(0);
    let prompt = capped(features.prompt_tokens, weights.per_1k_prompt_tokens, weights.max_prompt_points);
    parts.push((format!("{} prompt tokens", features.prompt_tokens), prompt));
    let turns = features.turns.saturating_sub(1).saturating_mul(weights.per_extra_turn).min(weights.max_turn_points);
    parts.push((format!("{} turns", features.turns), i32::try_from(turns).unwrap_or(0)));
    if features.tools {
        parts.push(("tools".to_owned(), i32::try_from(weights.tools).unwrap_or(0)));
    }
    if features.structured_output {
        parts.push(("JSON output".to_owned(), i32::try_from(weights.structured_output).unwrap_or(0)));
    }
    if features.code_blocks > 0 {
        parts.push(("code".to_owned(), i32::try_from(weights.code).unwrap_or(0)));
    }
    if let Some(max_tokens) = features.max_tokens {
        parts.push((format!("max_tokens {max_tokens}"), capped(u64::from(max_tokens), weights.per_1k_max_tokens, weights.max_length_points)));
    }
    for rule in &weights.keywords {
        if !rule.contains.is_empty() && features.last_user_text.contains(&rule.contains.to_ascii_lowercase()) {
            parts.push((format!("\"{}\"", rule.contains), rule.points));
        }
    }
    let score: i32 = parts.iter().map(|(_, points)| points).sum();
    let index = tiers.iter().position(|t| t.below().is_none_or(|below| score < below)).unwrap_or(tiers.len().saturating_sub(1));
    let shown: Vec<String> = parts.iter().filter(|(_, p)| *p != 0).map(|(what, p)| format!("{what} {p:+}")).collect();
    let tier = tiers.get(index);
    let rule = match tier.and_then(TierBound::below) {
        Some(below) => format!("below {below}"),
        None => "the rest".to_owned(),
    };
    let reason = format!(
        "score {score}{}{} -> {} ({rule})",
        if shown.is_empty() { "" } else { ": " },
        shown.join(", "),
        tier.map_or("", TierBound::name),
    );
    Decision { index, score, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::features::extract;

    struct Tier(&'static str, Option<i32>);

    impl TierBound for Tier {
        fn name(&self) -> &str {
            self.0
        }
        fn below(&self) -> Option<i32> {
            self.1
        }
    }

    const TIERS: [Tier; 3] = [Tier("small", Some(20)), Tier("medium", Some(50)), Tier("large", None)];

    fn decide_for(json: &str) -> Decision {
        decide(&extract(&crate::json::from_str(json).unwrap()), &Weights::default(), &TIERS)
    }

    #[test]
    fn requests_land_in_the_tier_their_score_calls_for() {
        let table = [
            (r#"{"model":"a","messages":[{"role":"user","content":"hello there, thanks!"}]}"#, "small"),
            (r#"{"model":"a","messages":[{"role":"user","content":"Extract the date"}],"response_format":{"type":"json_object"},"tools":[{"type":"function","function":{"name":"f"}}]}"#, "medium"),
            (r#"{"model":"a","messages":[{"role":"user","content":"Prove it step by step, then refactor ```fn main(){}```"}]}"#, "large"),
        ];
        for (json, tier) in table {
            let decision = decide_for(json);
            assert_eq!(TIERS[decision.index].0, tier, "{}", decision.reason);
        }
    }

    #[test]
    fn the_reason_spells_out_the_score() {
        let d = decide_for(r#"{"model":"a","messages":[{"role":"user","content":"Please analyze this"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#);
        assert_eq!(d.score, 35);
        assert_eq!(d.reason, "score 35: tools +20, \"analyze\" +15 -> medium (below 50)");
        let empty = decide(&Features::default(), &Weights::default(), &TIERS);
        assert_eq!(empty.reason, "score 0 -> small (below 20)");
    }

    #[test]
    fn points_are_capped_and_keywords_can_subtract() {
        let features = Features { prompt_tokens: 1_000_000, turns: 100, last_user_text: "thanks".into(), ..Features::default() };
        let weights = Weights::default();
        let d = decide(&features, &weights, &TIERS);
        let max = i32::try_from(weights.max_prompt_points + weights.max_turn_points).unwrap() - 10;
        assert_eq!(d.score, max);
        assert_eq!(TIERS[d.index].0, "medium");
    }

    /// The mixed workload `make bench` prices (bench/workloads/mixed.jsonl)
    /// doubles as a table: each request lands in the tier it names, under
    /// the default weights and the tiers of the `auto` routes.
    #[test]
    fn each_workload_request_lands_in_its_tier() {
        let mut wrong = Vec::new();
        for line in include_str!("../../../bench/workloads/mixed.jsonl").lines() {
            let item: serde_json::Value = crate::json::from_str(line).unwrap();
            let request = serde_json::from_value(item["request"].clone()).unwrap();
            let decision = decide(&extract(&request), &Weights::default(), &TIERS);
            if TIERS[decision.index].0 != item["tier"] {
                wrong.push(format!("{}: expected {}, {}", item["kind"], item["tier"], decision.reason));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
