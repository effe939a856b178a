//! Gateway configuration: providers, routes (model aliases) and defaults.
//!
//! A human edits one TOML file in the repo (`config/edgeway.toml`). The
//! worker's build script parses it into [`RawConfig`] and runs
//! [`Config::from_raw`], so a bad config fails the build, never a request.
//! Validation reports every problem at once, each with the field's path.

mod raw;
mod validate;

use std::collections::BTreeMap;

pub use raw::{RawBreaker, RawCache, RawConfig, RawGateway, RawPrice, RawProvider, RawRetry, RawRoute, RawTarget, RawTier, RawTimeouts};

use crate::reliability::attempts::RetryPolicy;
pub use validate::{ConfigError, ConfigErrors};

/// A validated configuration, ready to route requests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: u64,
    /// Upstream timeouts used where a route sets none.
    pub timeouts: Timeouts,
    /// Circuit-breaker settings for every target.
    pub breaker: crate::reliability::breaker::BreakerConfig,
    /// Providers by name.
    pub providers: BTreeMap<String, Provider>,
    /// Routes by alias, the names callers put in `model`.
    pub routes: BTreeMap<String, Route>,
    /// Prices per model, for cost.
    pub prices: crate::pricing::PriceTable,
    /// Request logs.
    #[serde(default)]
    pub logs: Logs,
}

/// Days a request record is kept unless `[logs] retention_days` says otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// `[logs]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Logs {
    /// Days a request record is kept.
    pub retention_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Self { retention_days: DEFAULT_RETENTION_DAYS }
    }
}

/// How long the gateway waits on an upstream, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timeouts {
    /// Until the upstream's response headers arrive.
    pub response_headers_ms: u64,
    /// Until a stream's first event arrives, after the headers.
    pub first_token_ms: u64,
    /// Longest silence between two events of a stream.
    pub idle_ms: u64,
    /// The whole request, every attempt included.
    pub total_ms: u64,
}

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProviderKind {
    /// Built in, deterministic, no network (see [`crate::demo`]).
    Demo,
    /// Any OpenAI-compatible chat-completions API.
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
    /// Azure OpenAI: OpenAI's format at deployment URLs.
    Azure,
    /// Cloudflare Workers AI through its OpenAI-compatible REST API.
    WorkersAi,
}

impl ProviderKind {
    /// The names the config file uses.
    pub const NAMES: [&'static str; 6] = ["demo", "openai", "anthropic", "gemini", "azure", "workers-ai"];

    /// The kind a config name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "demo" => Self::Demo,
            "openai" => Self::OpenAi,
            "anthropic" => Self::Anthropic,
            "gemini" => Self::Gemini,
            "azure" => Self::Azure,
            "workers-ai" => Self::WorkersAi,
            _ => return None,
        })
    }
}

/// An upstream provider.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Provider {
    /// Name from config (`openai`, `demo`, ...), shown in headers and logs.
    pub name: String,
    /// Protocol.
    pub kind: ProviderKind,
    /// Base URL, e.g. `https://api.openai.com/v1` (no trailing slash).
    pub base_url: String,
    /// Name of the secret that holds the API key, if the provider needs one.
    pub api_key_secret: Option<String>,
    /// Demo provider only: pause between streamed words.
    pub word_delay_ms: u64,
    /// Azure only: the `api-version` query parameter.
    pub api_version: String,
}

impl Provider {
    /// Name of the wrangler var that overrides this provider's base URL:
    /// the provider name upper-cased, non-alphanumerics as `_`, plus
    /// `_BASE_URL` (`openai` → `OPENAI_BASE_URL`). Tests use it to point a
    /// provider at the mock upstream.
    pub fn base_url_var(&self) -> String {
        let mut name: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect();
        name.push_str("_BASE_URL");
        name
    }
}

/// A model alias and where it sends requests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Route {
    /// The alias callers put in `model`.
    pub name: String,
    /// One line for `/v1/models` and the dashboard.
    pub description: String,
    /// Every target, in config order.
    pub targets: Vec<Target>,
    /// Groups tried in order; within a group, targets share traffic by
    /// weight. A plain ordered list is one group per target.
    pub groups: Vec<Vec<Weighted>>,
    /// Timeouts for this route.
    pub timeouts: Timeouts,
    /// Retries and fallback for this route.
    pub retry: RetryPolicy,
    /// The response cache, when the route turns it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::cache::policy::CachePolicy>,
    /// The route's guardrails, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrails: Option<crate::guardrails::Guardrails>,
    /// The semantic cache, when the route turns it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_cache: Option<crate::cache::semantic::policy::SemanticPolicy>,
    /// Store prompts and answers (redacted) with the logs.
    #[serde(default)]
    pub log_bodies: bool,
    /// Complexity tiers, in order; empty for an ordinary route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Tier>,
    /// The route a tiered route asks for the tier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<crate::routing::classify::Classifier>,
    /// How a tiered route scores requests (`None` on an ordinary route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<crate::routing::tiers::Weights>,
}

/// One tier of a complexity-routed route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tier {
    /// Its name (`x-edgeway-tier`).
    pub name: String,
    /// Requests scoring below this come here; `None` on the last tier.
    pub below: Option<i32>,
    /// Its targets.
    pub targets: Vec<Target>,
    /// Its groups, as a route's.
    pub groups: Vec<Vec<Weighted>>,
}

impl crate::routing::tiers::TierBound for Tier {
    fn name(&self) -> &str {
        &self.name
    }

    fn below(&self) -> Option<i32> {
        self.below
    }
}

impl Route {
    /// This route as tier `index` serves it: the tier's targets and groups.
    pub fn for_tier(&self, index: usize) -> Option<Self> {
        let tier = self.tiers.get(index)?;
        Some(Self { targets: tier.targets.clone(), groups: tier.groups.clone(), ..self.clone() })
    }
}

/// A target with its share of its group's traffic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Weighted {
    /// The target.
    pub target: Target,
    /// Relative weight within its group (at least 1).
    pub weight: u32,
}

impl Route {
    /// The order in which this request will try the targets: the groups in
    /// order, each group's targets in a weighted random order (so traffic
    /// splits by weight, and a failed pick falls back to its group's others
    /// before the next group).
    pub fn attempt_order(&self, rng: &mut impl crate::reliability::rng::Rng) -> Vec<Target> {
        self.groups.iter().flat_map(|group| crate::reliability::balance::weighted_order(group, rng)).collect()
    }
}

/// One provider + upstream model pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// Provider name.
    pub provider: String,
    /// The provider's model id.
    pub model: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

impl Config {
    /// Validates a parsed file. Every problem is reported, each with its path.
    pub fn from_raw(raw: &RawConfig) -> Result<Config, ConfigErrors> {
        validate::validate(raw)
    }

    /// Parses the JSON form the worker embeds, then validates it.
    pub fn from_json(json: &str) -> Result<Config, ConfigErrors> {
        let raw: RawConfig = crate::json::from_str(json).map_err(|e| {
            ConfigErrors(vec![ConfigError { path: String::new(), message: e.to_string() }])
        })?;
        Self::from_raw(&raw)
    }

    /// The route a caller's `model` names.
    pub fn route(&self, alias: &str) -> Option<&Route> {
        self.routes.get(alias)
    }

    /// The route a caller's `model` names, or the caller's 404.
    pub fn route_for(&self, model: &str) -> Result<&Route, crate::GatewayError> {
        self.route(model).ok_or_else(|| crate::GatewayError::ModelNotFound { model: model.to_owned() })
    }

    /// A provider by name.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.get(name)
    }

    /// Parses a caller's pinned target (`x-edgeway-target: provider/model`),
    /// checking that the provider exists and, for the demo, that the model
    /// names a demo behaviour.
    pub fn pinned_target(&self, spec: &str) -> Result<Target, String> {
        let (provider, model) = spec
            .trim()
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
            .ok_or_else(|| format!("expected \"provider/model\", got {}", crate::json::quote(spec)))?;
        let known = self.provider(provider).ok_or_else(|| format!("unknown provider {}", crate::json::quote(provider)))?;
        if known.kind == ProviderKind::Demo {
            crate::demo::DemoModel::parse(model)?;
        }
        Ok(Target { provider: provider.to_owned(), model: model.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config the repo ships must always compile: this is the same check
    /// the worker's build script makes.
    #[test]
    fn the_shipped_config_is_valid() {
        let text = include_str!("../../../config/edgeway.toml");
        let raw: RawConfig = toml::from_str(text).unwrap();
        let config = Config::from_raw(&raw).unwrap_or_else(|e| panic!("{e}"));
        for route in ["demo", "demo-story", "gpt-4o-mini"] {
            assert!(config.route(route).is_some(), "route {route} missing");
        }
        let json = serde_json::to_string(&raw).unwrap();
        assert_eq!(Config::from_json(&json).unwrap(), config);
        // The worker embeds the validated config as JSON and reads it back.
        let validated: Config = crate::json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(validated, config);
    }

    #[test]
    fn a_pinned_target_must_name_a_known_provider() {
        let raw: RawConfig = toml::from_str(include_str!("../../../config/edgeway.toml")).unwrap();
        let config = Config::from_raw(&raw).unwrap();
        assert_eq!(config.pinned_target("openai/gpt-x").unwrap(), Target { provider: "openai".into(), model: "gpt-x".into() });
        assert!(config.pinned_target("nope/x").unwrap_err().contains("unknown provider"));
        assert!(config.pinned_target("demo/teleport").is_err());
        assert!(config.pinned_target("no-slash").is_err());
    }
}
