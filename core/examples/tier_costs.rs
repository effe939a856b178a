//! `make bench`: what complexity routing saves. Runs the mixed workload in
//! bench/workloads/mixed.jsonl (chit-chat, extraction, multi-step
//! reasoning, code; each with the answer length it would get) through the
//! `auto` route of config/edgeway.toml, and prices each request at the
//! tier it lands in and, for comparison, at the route's largest tier —
//! with the gateway's own price table. No network: the scoring and the
//! prices are the gateway's, and nothing else decides.
//!
//! Usage: cargo run -q --release -p edgeway-core --example tier_costs

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::collections::BTreeMap;

use edgeway_core::config::{Config, RawConfig};
use edgeway_core::openai::{ChatRequest, Usage};
use edgeway_core::routing::{features, tiers};

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let raw: RawConfig = toml::from_str(&std::fs::read_to_string(format!("{root}/config/edgeway.toml")).unwrap()).unwrap();
    let config = Config::from_raw(&raw).expect("config/edgeway.toml is valid");
    let route = config.route("auto").expect("config/edgeway.toml has an `auto` route with tiers");
    let largest = route.tiers.len() - 1;
    let price_of = |tier: usize, usage: &Usage| {
        let target = &route.tiers[tier].targets[0];
        config.prices.cost_usd(&target.provider, &target.model, usage).unwrap_or(0.0)
    };
    let workload = std::fs::read_to_string(format!("{root}/bench/workloads/mixed.jsonl")).unwrap();
    let mut per_tier: BTreeMap<usize, (u32, f64)> = BTreeMap::new();
    let (mut routed, mut all_large, mut count) = (0.0, 0.0, 0u32);
    for line in workload.lines() {
        let item: serde_json::Value = serde_json::from_str(line).unwrap();
        let request: ChatRequest = serde_json::from_value(item["request"].clone()).unwrap();
        let decision = tiers::decide(&features::extract(&request), route.complexity.as_ref().unwrap(), &route.tiers);
        let usage = Usage::new(edgeway_core::tokens::estimate_prompt(&request), item["answer_tokens"].as_u64().unwrap());
        let cost = price_of(decision.index, &usage);
        let entry = per_tier.entry(decision.index).or_default();
        entry.0 += 1;
        entry.1 += cost;
        routed += cost;
        all_large += price_of(largest, &usage);
        count += 1;
    }
    println!("\nComplexity routing: {count} requests of bench/workloads/mixed.jsonl through the `auto` route");
    for (index, tier) in route.tiers.iter().enumerate() {
        let (n, cost) = per_tier.get(&index).copied().unwrap_or_default();
        let target = &tier.targets[0];
        println!(
            "  {:<7} {:<24} {:>3} requests ({:>3.0}%)  ${:.5}",
            tier.name,
            format!("{}/{}", target.provider, target.model),
            n,
            f64::from(n) * 100.0 / f64::from(count),
            cost
        );
    }
    println!("  cost routed ${routed:.5} vs every request on the largest tier ${all_large:.5}: ×{:.2} ({:.0}% saved)", routed / all_large, (1.0 - routed / all_large) * 100.0);
}
