//! Turning a [`RawConfig`] into a [`Config`], naming every problem's path.

use std::collections::BTreeMap;
use std::fmt;

use super::raw::{RawCache, RawConfig, RawProvider, RawRetry, RawRoute, RawTarget, RawTimeouts};
use super::{Config, Logs, Provider, ProviderKind, Route, Target, Tier, Timeouts, Weighted, DEFAULT_RETENTION_DAYS};
use crate::cache::policy::{self, CachePolicy};
use crate::cache::semantic::policy::SemanticPolicy;
use crate::demo::DemoModel;
use crate::pricing::{Price, PriceTable};
use crate::reliability::attempts::RetryPolicy;
use crate::reliability::backoff::Backoff;
use crate::reliability::breaker::BreakerConfig;
use crate::reliability::outcome::OutcomeRules;

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the field, e.g. `routes.fast.targets[1].provider`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Defaults, chosen to outlast a slow model but not a dead one.
const DEFAULT_MAX_REQUEST_BYTES: u64 = 1024 * 1024;
const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    response_headers_ms: 30_000,
    first_token_ms: 30_000,
    idle_ms: 30_000,
    total_ms: 120_000,
};
/// The demo provider streams a word about every 20 ms, like a fast model.
const DEFAULT_DEMO_WORD_DELAY_MS: u64 = 20;
const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com/v1";
const DEFAULT_GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
/// Azure OpenAI's current GA data-plane version (stream usage included).
const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
/// Two retries with a 250 ms first ceiling: rides out a blip without
/// stacking seconds of waiting in front of a caller (the cap bounds it).
const DEFAULT_RETRY: RawRetry = RawRetry {
    max_retries: Some(2),
    backoff_base_ms: Some(250),
    backoff_cap_ms: Some(2_000),
    fallback: Some(true),
    retry_on: None,
    fallback_on: None,
};
/// More retries than this only multiply load on a struggling upstream.
const MAX_RETRIES: u32 = 10;

struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError { path: path.into(), message: message.into() });
    }
}

pub(super) fn validate(raw: &RawConfig) -> Result<Config, ConfigErrors> {
    let mut problems = Problems(Vec::new());

    let max_request_bytes = raw.gateway.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
    if max_request_bytes == 0 {
        problems.add("gateway.max_request_bytes", "must be greater than 0");
    }
    let timeouts = timeouts(&raw.timeouts, DEFAULT_TIMEOUTS, "timeouts", &mut problems);
    let default_retry = merge_retry(&raw.retry, &DEFAULT_RETRY);
    let defaults = BreakerConfig::default();
    let breaker = BreakerConfig::new(
        raw.breaker.failure_threshold.unwrap_or(defaults.failure_threshold),
        raw.breaker.window_ms.unwrap_or(defaults.window_ms),
        raw.breaker.cooldown_ms.unwrap_or(defaults.cooldown_ms),
    )
    .unwrap_or_else(|e| {
        problems.add("breaker", e.to_string());
        defaults
    });

    let mut providers = BTreeMap::new();
    for (name, provider) in &raw.providers {
        if let Some(p) = validate_provider(name, provider, &mut problems) {
            providers.insert(name.clone(), p);
        }
    }

    let mut routes = BTreeMap::new();
    for (alias, route) in &raw.routes {
        let path = format!("routes.{alias}");
        if !is_valid_alias(alias) {
            problems.add(&path, "a route name may use letters, digits, '.', '-', '_', ':' and '/' only");
        }
        let (mut targets, mut groups) = if route.tiers.is_empty() {
            target_groups(&route.targets, &route.groups, &path, raw, &mut problems)
        } else {
            if !route.targets.is_empty() || !route.groups.is_empty() {
                problems.add(&path, "a route with `tiers` lists its targets in its tiers, not in `targets` or `groups`");
            }
            (Vec::new(), Vec::new())
        };
        let tiers = validate_tiers(route, &path, raw, &mut problems);
        if let Some(first) = tiers.first() {
            // Every tier's targets are the route's (for listing and checks);
            // a request is sent to its tier's own groups.
            targets = tiers.iter().flat_map(|t| t.targets.iter().cloned()).collect();
            groups.clone_from(&first.groups);
        }
        let route_timeouts = self::timeouts(&route.timeouts, timeouts, &format!("{path}.timeouts"), &mut problems);
        let retry_path = if route.retry == RawRetry::default() { "retry".to_owned() } else { format!("{path}.retry") };
        let Some(retry) = retry_policy(&merge_retry(&route.retry, &default_retry), &retry_path, &mut problems) else { continue };
        routes.insert(
            alias.clone(),
            Route { name: alias.clone(), description: route.description.clone(), targets, groups, timeouts: route_timeouts, retry,
                cache: cache_policy(route.cache.as_ref(), &path, &mut problems),
                semantic_cache: semantic_policy(route, &path, raw, &mut problems),
                guardrails: route.guardrails.as_ref().and_then(|raw| match crate::guardrails::Guardrails::from_raw(raw) {
                    Ok(guardrails) => Some(guardrails),
                    Err(errors) => {
                        for error in errors {
                            problems.add(format!("{path}.guardrails"), error);
                        }
                        None
                    }
                }),
                log_bodies: route.log_bodies,
                tiers,
                complexity: (!route.tiers.is_empty()).then(|| route.complexity.clone().unwrap_or_default()),
                classifier: classifier(route, &path, raw, &mut problems),
            },
        );
    }

    let prices = prices(raw, &mut problems);
    let logs = Logs { retention_days: raw.logs.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS) };
    if raw.logs.retention_days == Some(0) {
        problems.add("logs.retention_days", "must be at least 1 (a day)");
    }
    if problems.0.is_empty() {
        Ok(Config { max_request_bytes, timeouts, breaker, providers, routes, prices, logs })
    } else {
        Err(ConfigErrors(problems.0))
    }
}

/// A target list's targets and its groups: a plain list is one group per
/// target (ordered fallback), a list with any weight one load-balanced
/// group, and `groups` explicit groups tried in order.
fn target_groups(
    list: &[RawTarget],
    explicit: &[Vec<RawTarget>],
    path: &str,
    raw: &RawConfig,
    problems: &mut Problems,
) -> (Vec<Target>, Vec<Vec<Weighted>>) {
    let raw_groups: Vec<(String, Vec<RawTarget>)> = match (list.is_empty(), explicit.is_empty()) {
        (false, false) => {
            problems.add(path, "give either `targets` or `groups`, not both");
            Vec::new()
        }
        (true, true) => {
            problems.add(format!("{path}.targets"), "a route needs at least one target");
            Vec::new()
        }
        (false, true) if list.iter().any(|t| matches!(t, RawTarget::Weighted { .. })) => vec![(format!("{path}.targets"), list.to_vec())],
        (false, true) => list.iter().enumerate().map(|(i, t)| (format!("{path}.targets[{i}]"), vec![t.clone()])).collect(),
        (true, false) => explicit.iter().enumerate().map(|(g, group)| (format!("{path}.groups[{g}]"), group.clone())).collect(),
    };
    let single = explicit.is_empty() && !list.iter().any(|t| matches!(t, RawTarget::Weighted { .. }));
    let mut targets = Vec::new();
    let mut groups = Vec::new();
    for (group_path, group) in raw_groups {
        if group.is_empty() {
            problems.add(&group_path, "a group needs at least one target");
        }
        let mut members = Vec::new();
        for (i, entry) in group.iter().enumerate() {
            // Plain ordered targets keep their `targets[i]` path.
            let target_path = if single { group_path.clone() } else { format!("{group_path}[{i}]") };
            let (spec, weight) = match entry {
                RawTarget::Plain(spec) => (spec, 1),
                RawTarget::Weighted { target, weight } => (target, *weight),
            };
            if weight == 0 {
                problems.add(format!("{target_path}.weight"), "must be at least 1");
            }
            let Some(target) = parse_target(spec, &target_path, raw, problems) else { continue };
            targets.push(target.clone());
            members.push(Weighted { target, weight: weight.max(1) });
        }
        groups.push(members);
    }
    (targets, groups)
}

/// An `auto` route's tiers, in order: each names its targets (a plain or
/// weighted list) and, but the last, the score it takes requests below.
fn validate_tiers(route: &RawRoute, path: &str, raw: &RawConfig, problems: &mut Problems) -> Vec<Tier> {
    let mut tiers: Vec<Tier> = Vec::new();
    let count = route.tiers.len();
    for (i, tier) in route.tiers.iter().enumerate() {
        let tier_path = format!("{path}.tiers[{i}]");
        if tier.name.is_empty() || tiers.iter().any(|t| t.name == tier.name) {
            problems.add(format!("{tier_path}.name"), "each tier needs a name of its own");
        }
        match (tier.below, i + 1 == count) {
            (Some(_), true) => problems.add(format!("{tier_path}.below"), "the last tier takes every score left: it has no `below`"),
            (None, false) => problems.add(format!("{tier_path}.below"), "every tier but the last needs `below`, the score it takes requests under"),
            (Some(below), false) if tiers.last().and_then(|t| t.below).is_some_and(|previous| below <= previous) => {
                problems.add(format!("{tier_path}.below"), "must be greater than the tier before's")
            }
            _ => {}
        }
        let (targets, groups) = target_groups(&tier.targets, &[], &tier_path, raw, problems);
        tiers.push(Tier { name: tier.name.clone(), below: tier.below, targets, groups });
    }
    tiers
}

fn validate_provider(name: &str, raw: &RawProvider, problems: &mut Problems) -> Option<Provider> {
    let path = format!("providers.{name}");
    let Some(kind) = ProviderKind::parse(&raw.kind) else {
        problems.add(format!("{path}.kind"), format!("unknown provider kind {:?} (expected one of {})", raw.kind, ProviderKind::NAMES.join(", ")));
        return None;
    };
    if let Some(secret) = &raw.api_key_secret {
        let well_formed = !secret.is_empty()
            && secret.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            problems.add(
                format!("{path}.api_key_secret"),
                "must be the NAME of a secret (upper-case letters, digits, '_'), never the key itself",
            );
        }
    }
    if kind == ProviderKind::Demo && (raw.base_url.is_some() || raw.api_key_secret.is_some()) {
        problems.add(&path, "the demo provider takes no base_url or api_key_secret");
    }
    if kind != ProviderKind::Demo && raw.word_delay_ms.is_some() {
        problems.add(format!("{path}.word_delay_ms"), "only the demo provider has word_delay_ms");
    }
    if kind != ProviderKind::Azure && raw.api_version.is_some() {
        problems.add(format!("{path}.api_version"), "only azure providers have api_version");
    }
    if kind != ProviderKind::WorkersAi && raw.account_id.is_some() {
        problems.add(format!("{path}.account_id"), "only workers-ai providers have account_id");
    }
    let default_url = match kind {
        ProviderKind::Demo => None,
        ProviderKind::OpenAi => Some(DEFAULT_OPENAI_BASE_URL.to_owned()),
        ProviderKind::Anthropic => Some(DEFAULT_ANTHROPIC_BASE_URL.to_owned()),
        ProviderKind::Gemini => Some(DEFAULT_GEMINI_BASE_URL.to_owned()),
        ProviderKind::Azure => {
            if raw.base_url.is_none() {
                problems.add(format!("{path}.base_url"), "azure needs the resource's endpoint, e.g. \"https://my-resource.openai.azure.com\"");
            }
            None
        }
        ProviderKind::WorkersAi => match (&raw.account_id, &raw.base_url) {
            (Some(account), _) if !account.is_empty() && account.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Some(format!("https://api.cloudflare.com/client/v4/accounts/{account}/ai/v1"))
            }
            (Some(_), _) => {
                problems.add(format!("{path}.account_id"), "must be the Cloudflare account id (letters and digits)");
                None
            }
            (None, Some(_)) => None,
            (None, None) => {
                problems.add(format!("{path}.account_id"), "workers-ai needs the Cloudflare account id (or a base_url)");
                None
            }
        },
    };
    let base_url = match (kind, raw.base_url.clone().or(default_url)) {
        (ProviderKind::Demo, _) | (_, None) => String::new(),
        (_, Some(url)) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                problems.add(format!("{path}.base_url"), format!("must start with https:// or http://, got {url:?}"));
            }
            url.trim_end_matches('/').to_owned()
        }
    };
    Some(Provider {
        name: name.to_owned(),
        kind,
        base_url,
        api_key_secret: raw.api_key_secret.clone(),
        word_delay_ms: raw.word_delay_ms.unwrap_or(DEFAULT_DEMO_WORD_DELAY_MS),
        api_version: raw.api_version.clone().unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()),
    })
}

/// A route's cache settings, checked: a TTL of at least a second, a
/// maximum no shorter than the TTL and no longer than a day.
fn cache_policy(raw: Option<&RawCache>, path: &str, problems: &mut Problems) -> Option<CachePolicy> {
    let raw = raw?;
    let ttl_ms = raw.ttl_s.map_or(policy::DEFAULT_TTL_MS, |s| s.saturating_mul(1000));
    let max_ttl_ms = raw.max_ttl_s.map_or(ttl_ms, |s| s.saturating_mul(1000));
    if ttl_ms == 0 {
        problems.add(format!("{path}.cache.ttl_s"), "must be at least 1");
    }
    if max_ttl_ms < ttl_ms {
        problems.add(format!("{path}.cache.max_ttl_s"), "must be at least ttl_s");
    }
    if max_ttl_ms > policy::MAX_TTL_MS {
        problems.add(format!("{path}.cache.max_ttl_s"), "must be at most 86400 (a day)");
    }
    Some(CachePolicy { ttl_ms, max_ttl_ms, any_temperature: raw.any_temperature.unwrap_or(false), shared: raw.shared.unwrap_or(false) })
}

/// A tiered route's classifier, checked: only with tiers, a route that
/// exists and has no tiers itself, and a timeout of 10 ms to 10 s.
fn classifier(route: &RawRoute, path: &str, raw: &RawConfig, problems: &mut Problems) -> Option<crate::routing::classify::Classifier> {
    let classifier = route.classifier.as_ref()?;
    let path = format!("{path}.classifier");
    if route.tiers.is_empty() {
        problems.add(&path, "only a route with `tiers` has a classifier");
    }
    match raw.routes.get(&classifier.route) {
        None => problems.add(format!("{path}.route"), format!("there is no route {:?} to classify with", classifier.route)),
        Some(target) if !target.tiers.is_empty() => problems.add(format!("{path}.route"), "the classifier must be an ordinary route, not one with tiers"),
        Some(_) => {}
    }
    if !(10..=10_000).contains(&classifier.timeout_ms) {
        problems.add(format!("{path}.timeout_ms"), "must be between 10 and 10000");
    }
    Some(classifier.clone())
}

/// A route's semantic cache settings, checked: in range, after an exact
/// cache, and embedding through a route that exists.
fn semantic_policy(route: &RawRoute, path: &str, raw: &RawConfig, problems: &mut Problems) -> Option<SemanticPolicy> {
    let settings = route.semantic_cache.as_ref()?;
    let path = format!("{path}.semantic_cache");
    if route.cache.is_none() {
        problems.add(&path, "needs the exact cache too (`cache = {}`): the semantic cache is looked up after it misses");
    }
    if !raw.routes.contains_key(&settings.embeddings) {
        problems.add(format!("{path}.embeddings"), format!("there is no route {:?} to embed with", settings.embeddings));
    }
    match SemanticPolicy::from_raw(settings) {
        Ok(policy) => Some(policy),
        Err(errors) => {
            for (field, message) in errors {
                problems.add(format!("{path}.{field}"), message);
            }
            None
        }
    }
}

/// The built-in price table with the file's `[prices]` over it.
fn prices(raw: &RawConfig, problems: &mut Problems) -> PriceTable {
    let mut table = PriceTable::with_defaults();
    for (key, price) in &raw.prices {
        let path = format!("prices.{key}");
        let cached_input = price.cached_input.unwrap_or(price.input);
        for (field, value) in [("input", price.input), ("cached_input", cached_input), ("output", price.output)] {
            if !value.is_finite() || value < 0.0 {
                problems.add(format!("{path}.{field}"), format!("must be a price in USD per million tokens (0 or more), got {value}"));
            }
        }
        match key.split_once('/') {
            Some((provider, _)) if !raw.providers.contains_key(provider) => {
                problems.add(&path, format!("unknown provider {provider:?}"));
            }
            _ => table.set(key, Price::new(price.input, cached_input, price.output)),
        }
    }
    table
}

fn timeouts(raw: &RawTimeouts, base: Timeouts, path: &str, problems: &mut Problems) -> Timeouts {
    let t = Timeouts {
        response_headers_ms: raw.response_headers_ms.unwrap_or(base.response_headers_ms),
        first_token_ms: raw.first_token_ms.unwrap_or(base.first_token_ms),
        idle_ms: raw.idle_ms.unwrap_or(base.idle_ms),
        total_ms: raw.total_ms.unwrap_or(base.total_ms),
    };
    for (field, value) in [
        ("response_headers_ms", t.response_headers_ms),
        ("first_token_ms", t.first_token_ms),
        ("idle_ms", t.idle_ms),
        ("total_ms", t.total_ms),
    ] {
        if value == 0 {
            problems.add(format!("{path}.{field}"), "must be greater than 0");
        } else if field != "total_ms" && value > t.total_ms {
            problems.add(format!("{path}.{field}"), format!("{value} ms is longer than total_ms ({} ms)", t.total_ms));
        }
    }
    t
}

/// Parses `"provider/model"`, checking the provider exists and, for the
/// demo, that the model names a demo behaviour.
fn parse_target(spec: &str, path: &str, raw: &RawConfig, problems: &mut Problems) -> Option<Target> {
    let Some((provider_name, model)) = spec.split_once('/').filter(|(p, m)| !p.is_empty() && !m.is_empty()) else {
        problems.add(path, format!("expected \"provider/model\", got {spec:?}"));
        return None;
    };
    match raw.providers.get(provider_name) {
        None => problems.add(format!("{path}.provider"), format!("unknown provider {provider_name:?}")),
        Some(p) if p.kind == "demo" => {
            if let Err(message) = DemoModel::parse(model) {
                problems.add(format!("{path}.model"), message);
            }
        }
        Some(_) => {}
    }
    Some(Target { provider: provider_name.to_owned(), model: model.to_owned() })
}

fn merge_retry(over: &RawRetry, base: &RawRetry) -> RawRetry {
    RawRetry {
        max_retries: over.max_retries.or(base.max_retries),
        backoff_base_ms: over.backoff_base_ms.or(base.backoff_base_ms),
        backoff_cap_ms: over.backoff_cap_ms.or(base.backoff_cap_ms),
        fallback: over.fallback.or(base.fallback),
        retry_on: over.retry_on.clone().or_else(|| base.retry_on.clone()),
        fallback_on: over.fallback_on.clone().or_else(|| base.fallback_on.clone()),
    }
}

fn retry_policy(raw: &RawRetry, path: &str, problems: &mut Problems) -> Option<RetryPolicy> {
    let max_retries = raw.max_retries.unwrap_or(0);
    if max_retries > MAX_RETRIES {
        problems.add(format!("{path}.max_retries"), format!("at most {MAX_RETRIES}, got {max_retries}"));
    }
    let mut rules = OutcomeRules::default();
    for (field, given, into) in [
        ("retry_on", &raw.retry_on, &mut rules.retry_statuses),
        ("fallback_on", &raw.fallback_on, &mut rules.fallback_statuses),
    ] {
        if let Some(statuses) = given {
            if let Some(bad) = statuses.iter().find(|s| !(400..=599).contains(*s)) {
                problems.add(format!("{path}.{field}"), format!("{bad} is not an error status (400-599)"));
            }
            into.clone_from(statuses);
        }
    }
    let base = raw.backoff_base_ms.unwrap_or(1);
    let cap = raw.backoff_cap_ms.unwrap_or(base);
    match Backoff::new(base, cap) {
        Ok(backoff) => Some(RetryPolicy { max_retries, backoff, fallback: raw.fallback.unwrap_or(true), rules }),
        Err(e) => {
            problems.add(path, e.to_string());
            None
        }
    }
}

fn is_valid_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias.len() <= 128
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawRoute;

    fn provider(kind: &str) -> RawProvider {
        RawProvider { kind: kind.into(), ..Default::default() }
    }

    fn route(targets: &[&str]) -> RawRoute {
        RawRoute { targets: targets.iter().map(|t| RawTarget::from(*t)).collect(), ..Default::default() }
    }

    fn base() -> RawConfig {
        let mut raw = RawConfig::default();
        raw.providers.insert("demo".into(), provider("demo"));
        raw.providers.insert("openai".into(), RawProvider { api_key_secret: Some("OPENAI_API_KEY".into()), ..provider("openai") });
        raw
    }

    fn messages(raw: &RawConfig) -> Vec<String> {
        Config::from_raw(raw).unwrap_err().0.iter().map(ToString::to_string).collect()
    }

    fn tier(name: &str, targets: &[&str], below: Option<i32>) -> super::super::raw::RawTier {
        super::super::raw::RawTier { name: name.into(), targets: targets.iter().map(|t| RawTarget::from(*t)).collect(), below }
    }

    #[test]
    fn a_route_with_tiers_serves_each_tier_from_its_own_targets() {
        let mut raw = base();
        let tiers = vec![tier("small", &["demo/echo"], Some(20)), tier("large", &["openai/gpt-4o", "demo/echo"], None)];
        raw.routes.insert("auto".into(), RawRoute { tiers, ..Default::default() });
        let config = Config::from_raw(&raw).unwrap();
        let auto = config.route("auto").unwrap();
        assert_eq!(auto.targets.len(), 3, "every tier's targets are the route's");
        let large = auto.for_tier(1).unwrap();
        assert_eq!(large.targets, vec![Target { provider: "openai".into(), model: "gpt-4o".into() }, Target { provider: "demo".into(), model: "echo".into() }]);
        assert_eq!(large.groups.len(), 2, "an ordered fallback list");
        assert!(auto.for_tier(2).is_none());
    }

    #[test]
    fn tiers_are_checked() {
        let cases: [(Vec<super::super::raw::RawTier>, &str); 5] = [
            (vec![tier("a", &["demo/echo"], None), tier("b", &["demo/echo"], None)], "routes.auto.tiers[0].below"),
            (vec![tier("a", &["demo/echo"], Some(10)), tier("b", &["demo/echo"], Some(20))], "routes.auto.tiers[1].below"),
            (vec![tier("a", &["demo/echo"], Some(30)), tier("b", &["demo/echo"], Some(20)), tier("c", &["demo/echo"], None)], "routes.auto.tiers[1].below"),
            (vec![tier("a", &["demo/echo"], Some(10)), tier("a", &["demo/echo"], None)], "routes.auto.tiers[1].name"),
            (vec![tier("a", &[], None)], "routes.auto.tiers[0].targets"),
        ];
        for (tiers, path) in cases {
            let mut raw = base();
            raw.routes.insert("auto".into(), RawRoute { tiers, ..Default::default() });
            let problems = messages(&raw);
            assert!(problems.iter().any(|m| m.starts_with(path)), "{path}: {problems:?}");
        }
        let mut both = base();
        both.routes.insert("auto".into(), RawRoute { tiers: vec![tier("a", &["demo/echo"], None)], ..route(&["demo/echo"]) });
        assert!(messages(&both).iter().any(|m| m.contains("lists its targets in its tiers")));
    }

    #[test]
    fn a_good_config_compiles_with_defaults() {
        let mut raw = base();
        raw.routes.insert("fast".into(), route(&["openai/gpt-4o-mini", "demo/echo"]));
        let config = Config::from_raw(&raw).unwrap();
        let fast = config.route("fast").unwrap();
        assert_eq!(fast.targets[0], Target { provider: "openai".into(), model: "gpt-4o-mini".into() });
        assert_eq!(config.provider("openai").unwrap().base_url, "https://api.openai.com/v1");
        assert_eq!(fast.timeouts, DEFAULT_TIMEOUTS);
    }

    #[test]
    fn unknown_provider_is_reported_with_its_path() {
        let mut raw = base();
        raw.routes.insert("fast".into(), route(&["openai/gpt-4o", "opanai/gpt-4o"]));
        assert_eq!(messages(&raw), ["routes.fast.targets[1].provider: unknown provider \"opanai\""]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut raw = base();
        raw.providers.insert("weird".into(), provider("carrier-pigeon"));
        raw.providers.insert("leaky".into(), RawProvider { api_key_secret: Some("sk-live-123".into()), ..provider("openai") });
        raw.routes.insert("a".into(), route(&[]));
        raw.routes.insert("b".into(), route(&["no-slash", "demo/teleport"]));
        let all = messages(&raw);
        assert_eq!(all.len(), 5, "{all:#?}");
        assert!(all.iter().any(|m| m.starts_with("providers.weird.kind:")));
        assert!(all.iter().any(|m| m.starts_with("providers.leaky.api_key_secret:") && !m.contains("sk-live")));
        assert!(all.iter().any(|m| m.starts_with("routes.a.targets:")));
        assert!(all.iter().any(|m| m.starts_with("routes.b.targets[0]:")));
        assert!(all.iter().any(|m| m.starts_with("routes.b.targets[1].model:")));
    }

    #[test]
    fn weighted_targets_form_one_group_and_groups_fall_back_in_order() {
        let mut raw = base();
        let weighted = |t: &str, w: u32| RawTarget::Weighted { target: t.into(), weight: w };
        raw.routes.insert("lb".into(), RawRoute { targets: vec![weighted("openai/a", 3), weighted("demo/echo", 1)], ..Default::default() });
        raw.routes.insert(
            "tiers".into(),
            RawRoute { groups: vec![vec![weighted("openai/a", 1), weighted("openai/b", 1)], vec!["demo/echo".into()]], ..Default::default() },
        );
        let config = Config::from_raw(&raw).unwrap();
        let lb = config.route("lb").unwrap();
        assert_eq!(lb.groups.len(), 1);
        assert_eq!(lb.groups[0].iter().map(|w| w.weight).collect::<Vec<_>>(), [3, 1]);
        let tiers = config.route("tiers").unwrap();
        assert_eq!(tiers.groups.len(), 2);
        let mut rng = crate::reliability::rng::SplitMix64::new(3);
        assert_eq!(tiers.attempt_order(&mut rng).last().unwrap().model, "echo");
        let plain = { let mut r = base(); r.routes.insert("p".into(), route(&["openai/a", "demo/echo"])); Config::from_raw(&r).unwrap() };
        assert_eq!(plain.route("p").unwrap().groups.len(), 2, "a plain list is ordered fallback");
    }

    #[test]
    fn bad_weights_and_mixed_forms_are_reported() {
        let mut raw = base();
        raw.routes.insert("z".into(), RawRoute { targets: vec![RawTarget::Weighted { target: "openai/a".into(), weight: 0 }], ..Default::default() });
        raw.routes.insert("both".into(), RawRoute { targets: vec!["openai/a".into()], groups: vec![vec!["openai/b".into()]], ..Default::default() });
        let all = messages(&raw);
        assert!(all.iter().any(|m| m == "routes.z.targets[0].weight: must be at least 1"), "{all:#?}");
        assert!(all.iter().any(|m| m.starts_with("routes.both: give either")), "{all:#?}");
    }

    #[test]
    fn a_route_names_which_statuses_retry_and_which_fall_back() {
        let mut raw = base();
        let mut r = route(&["openai/a", "demo/echo"]);
        r.retry.retry_on = Some(vec![503]);
        r.retry.fallback_on = Some(vec![404, 429]);
        raw.routes.insert("picky".into(), r);
        let config = Config::from_raw(&raw).unwrap();
        let rules = &config.route("picky").unwrap().retry.rules;
        assert_eq!((rules.retry_statuses.as_slice(), rules.fallback_statuses.as_slice()), (&[503][..], &[404, 429][..]));
        let mut r = route(&["openai/a"]);
        r.retry.retry_on = Some(vec![200]);
        raw.routes.insert("picky".into(), r);
        assert_eq!(messages(&raw), ["routes.picky.retry.retry_on: 200 is not an error status (400-599)"]);
    }

    #[test]
    fn breaker_settings_are_checked() {
        let mut raw = base();
        raw.breaker.failure_threshold = Some(0);
        let all = messages(&raw);
        assert!(all.len() == 1 && all[0].starts_with("breaker:") && all[0].contains("failure_threshold"), "{all:#?}");
        raw.breaker.failure_threshold = Some(3);
        assert_eq!(Config::from_raw(&raw).unwrap().breaker.failure_threshold, 3);
    }

    #[test]
    fn model_ids_with_slashes_split_at_the_first() {
        let mut raw = base();
        raw.routes.insert("llama".into(), route(&["openai/meta-llama/llama-3.1-8b"]));
        let config = Config::from_raw(&raw).unwrap();
        assert_eq!(config.route("llama").unwrap().targets[0].model, "meta-llama/llama-3.1-8b");
    }

    #[test]
    fn route_timeouts_override_defaults_and_must_fit_the_total() {
        let mut raw = base();
        let mut r = route(&["demo/echo"]);
        r.timeouts.first_token_ms = Some(500);
        raw.routes.insert("quick".into(), r);
        let config = Config::from_raw(&raw).unwrap();
        assert_eq!(config.route("quick").unwrap().timeouts.first_token_ms, 500);

        let mut r = route(&["demo/echo"]);
        r.timeouts.total_ms = Some(100);
        raw.routes.insert("quick".into(), r);
        assert!(messages(&raw).iter().any(|m| m.starts_with("routes.quick.timeouts.response_headers_ms:")));
    }

    #[test]
    fn base_url_var_is_derived_from_the_provider_name() {
        let mut raw = base();
        raw.providers.insert("my-vllm".into(), RawProvider { base_url: Some("http://127.0.0.1:8000/v1/".into()), ..provider("openai") });
        let config = Config::from_raw(&raw).unwrap();
        let p = config.provider("my-vllm").unwrap();
        assert_eq!(p.base_url_var(), "MY_VLLM_BASE_URL");
        assert_eq!(p.base_url, "http://127.0.0.1:8000/v1");
    }
}
