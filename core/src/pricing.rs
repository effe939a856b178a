//! What a request cost: a price table per model, and cost from usage.
//!
//! Prices are in US dollars per million tokens, for input, cached input
//! (prompt tokens served from the provider's prompt cache) and output. The
//! table starts from the vendors' published list prices for common models
//! ([`PriceTable::with_defaults`]); the config file's `[prices]` overrides
//! or extends it. A model is found by `provider/model`, then by its id,
//! then by the longest listed id it starts with followed by `-` (dated
//! snapshots such as `gpt-4o-mini-2024-07-18` price as `gpt-4o-mini`), then
//! by `provider/*`.

use std::collections::BTreeMap;

use crate::openai::Usage;

/// One model's prices, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    /// Prompt tokens.
    pub input: f64,
    /// Prompt tokens read from the provider's cache.
    pub cached_input: f64,
    /// Generated tokens.
    pub output: f64,
}

impl Price {
    /// A price whose cached input costs `cached_input`.
    pub const fn new(input: f64, cached_input: f64, output: f64) -> Self {
        Self { input, cached_input, output }
    }

    /// The cost of `usage` at this price, to ten decimal places: what the
    /// cost header shows, and what the log keeps. Unrounded, the sum of its
    /// parts carries float noise into every log line (`2.6999999999999996e-6`
    /// for 2 tokens in and 4 out of gpt-4o-mini).
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        const SCALE: f64 = 1e10;
        let cached = usage.cached_tokens().min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        let cost = (uncached as f64 * self.input + cached as f64 * self.cached_input + usage.completion_tokens as f64 * self.output) / 1_000_000.0;
        (cost * SCALE).round() / SCALE
    }
}

/// List prices of common models (USD per million tokens: input, cached
/// input, output), as their vendors publish them. Operators override any of
/// them, or add their own, under `[prices]` in the config.
const DEFAULT_PRICES: &[(&str, Price)] = &[
    // OpenAI
    ("gpt-5", Price::new(1.25, 0.125, 10.0)),
    ("gpt-5-mini", Price::new(0.25, 0.025, 2.0)),
    ("gpt-5-nano", Price::new(0.05, 0.005, 0.40)),
    ("gpt-4.1", Price::new(2.0, 0.50, 8.0)),
    ("gpt-4.1-mini", Price::new(0.40, 0.10, 1.60)),
    ("gpt-4.1-nano", Price::new(0.10, 0.025, 0.40)),
    ("gpt-4o", Price::new(2.50, 1.25, 10.0)),
    ("gpt-4o-mini", Price::new(0.15, 0.075, 0.60)),
    ("o3", Price::new(2.0, 0.50, 8.0)),
    ("o4-mini", Price::new(1.10, 0.275, 4.40)),
    ("text-embedding-3-small", Price::new(0.02, 0.02, 0.0)),
    ("text-embedding-3-large", Price::new(0.13, 0.13, 0.0)),
    // Anthropic (cached input: cache reads)
    ("claude-opus-4-1", Price::new(15.0, 1.50, 75.0)),
    ("claude-opus-4", Price::new(15.0, 1.50, 75.0)),
    ("claude-sonnet-4-5", Price::new(3.0, 0.30, 15.0)),
    ("claude-sonnet-4", Price::new(3.0, 0.30, 15.0)),
    ("claude-haiku-4-5", Price::new(1.0, 0.10, 5.0)),
    ("claude-3-5-haiku", Price::new(0.80, 0.08, 4.0)),
    // Google (prompts up to 200k tokens)
    ("gemini-2.5-pro", Price::new(1.25, 0.31, 10.0)),
    ("gemini-2.5-flash", Price::new(0.30, 0.075, 2.50)),
    ("gemini-2.5-flash-lite", Price::new(0.10, 0.025, 0.40)),
    ("gemini-2.0-flash", Price::new(0.10, 0.025, 0.40)),
    ("text-embedding-004", Price::new(0.0, 0.0, 0.0)),
    ("gemini-embedding-001", Price::new(0.15, 0.15, 0.0)),
];

/// Prices by model, with the lookup rules of the module docs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PriceTable {
    prices: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The built-in list prices.
    pub fn with_defaults() -> Self {
        Self { prices: DEFAULT_PRICES.iter().map(|(model, price)| ((*model).to_owned(), *price)).collect() }
    }

    /// Sets the price of `key`: a model id, `provider/model` or `provider/*`.
    pub fn set(&mut self, key: &str, price: Price) {
        self.prices.insert(key.to_owned(), price);
    }

    /// The price of `model` at `provider`, if the table knows one.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&Price> {
        if let Some(price) = self.prices.get(&format!("{provider}/{model}")).or_else(|| self.prices.get(model)) {
            return Some(price);
        }
        let snapshot = self
            .prices
            .iter()
            .filter(|(key, _)| model.strip_prefix(key.as_str()).is_some_and(|rest| rest.starts_with('-')))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, price)| price);
        snapshot.or_else(|| self.prices.get(&format!("{provider}/*")))
    }

    /// The cost of `usage` on `provider/model`, if its price is known.
    pub fn cost_usd(&self, provider: &str, model: &str, usage: &Usage) -> Option<f64> {
        self.lookup(provider, model).map(|price| price.cost_usd(usage))
    }
}

/// Formats a cost for a header: dollars with up to ten decimals, trailing
/// zeros trimmed (`0.00042`, `0`).
pub fn format_usd(cost: f64) -> String {
    format_decimal(cost)
}

/// A non-negative number as short decimal text (`0.00042`, `1.5`, `2`),
/// to ten places: integer arithmetic, since float formatting would bring
/// its tables into the wasm. Negative numbers read as 0, NaN as 0.
pub fn format_decimal(value: f64) -> String {
    // In units of 10^-10, formatted as integers. `as` saturates.
    const SCALE: u64 = 10_000_000_000;
    let units = (value.max(0.0) * SCALE as f64).round() as u64;
    let (whole, fraction) = (units / SCALE, units % SCALE);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:010}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_kept_to_ten_decimals_without_float_noise() {
        let cost = Price::new(0.15, 0.075, 0.60).cost_usd(&Usage::new(2, 4));
        assert_eq!(serde_json::to_string(&cost).unwrap(), "2.7e-6");
        assert_eq!(format_usd(cost), "0.0000027");
        // Below a ten-billionth of a dollar rounds away.
        assert_eq!(Price::new(0.00001, 0.0, 0.0).cost_usd(&Usage::new(1, 0)), 0.0);
    }

    #[test]
    fn cost_counts_cached_input_at_its_own_price() {
        let price = Price::new(2.0, 0.5, 8.0);
        let usage = Usage::new(1_000_000, 500_000).with_cached(400_000);
        // 600k × $2 + 400k × $0.5 + 500k × $8, per million.
        assert!((price.cost_usd(&usage) - (1.2 + 0.2 + 4.0)).abs() < 1e-9);
        // A cached count above the prompt (a confused upstream) cannot make it negative.
        let odd = Usage::new(10, 0).with_cached(50);
        assert!(price.cost_usd(&odd) >= 0.0);
    }

    #[test]
    fn lookup_prefers_exact_then_snapshot_then_provider_wildcard() {
        let mut table = PriceTable::with_defaults();
        assert_eq!(table.lookup("openai", "gpt-4o-mini"), Some(&Price::new(0.15, 0.075, 0.60)));
        assert_eq!(table.lookup("openai", "gpt-4o-mini-2024-07-18"), Some(&Price::new(0.15, 0.075, 0.60)));
        assert_eq!(table.lookup("anthropic", "claude-sonnet-4-5-20250929").map(|p| p.input), Some(3.0));
        assert_eq!(table.lookup("openai", "gpt-4o-2024-08-06").map(|p| p.input), Some(2.50));
        assert_eq!(table.lookup("local", "llama3"), None);
        table.set("local/*", Price::new(0.0, 0.0, 0.0));
        table.set("openrouter/gpt-4o", Price::new(3.0, 3.0, 12.0));
        assert_eq!(table.lookup("local", "llama3").map(|p| p.output), Some(0.0));
        assert_eq!(table.lookup("openrouter", "gpt-4o").map(|p| p.input), Some(3.0));
        assert_eq!(table.lookup("openai", "gpt-4o").map(|p| p.input), Some(2.50));
    }

    #[test]
    fn costs_format_without_trailing_zeros() {
        assert_eq!(format_usd(0.00042), "0.00042");
        assert_eq!(format_usd(0.0), "0");
        assert_eq!(format_usd(1.5), "1.5");
        assert_eq!(format_usd(0.000_000_000_01), "0");
    }
}
