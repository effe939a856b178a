//! Header names shared by the gateway, the SDK and the tests (CONVENTIONS.md).

/// The gateway's unique id for the request.
pub const REQUEST_ID: &str = "x-request-id";
/// Provider that answered.
pub const PROVIDER: &str = "x-edgeway-provider";
/// Upstream model that answered.
pub const MODEL: &str = "x-edgeway-model";
/// Route (model alias) used.
pub const ROUTE: &str = "x-edgeway-route";
/// Number of upstream attempts.
pub const ATTEMPTS: &str = "x-edgeway-attempts";
/// Prompt tokens, when known before the headers are sent.
pub const TOKENS_IN: &str = "x-edgeway-tokens-in";
/// What the request cost in USD, when known before the headers are sent.
pub const COST_USD: &str = "x-edgeway-cost-usd";
/// Completion tokens, when known before the headers are sent.
pub const TOKENS_OUT: &str = "x-edgeway-tokens-out";
/// `false` when a client retry cannot help.
pub const SHOULD_RETRY: &str = "x-should-retry";
/// A harmless request field the target could not honour.
pub const WARNING: &str = "x-edgeway-warning";
/// Same logical request across client retries.
pub const IDEMPOTENCY_KEY: &str = "x-edgeway-idempotency-key";
/// Pin a target: `provider/model`, where the key allows it.
pub const TARGET: &str = "x-edgeway-target";
/// `off` disables fallback to other targets for this request.
pub const FALLBACK: &str = "x-edgeway-fallback";
/// When a spent budget resets (RFC 3339, UTC), on `insufficient_quota` errors.
pub const BUDGET_RESET: &str = "x-edgeway-budget-reset";
/// Cache status of an answer (`HIT`, `SEMANTIC`, `MISS`, `BYPASS`, `REFRESH`); on a
/// request, `skip` or `refresh`.
pub const CACHE: &str = "x-edgeway-cache";
/// The guardrails that ran on a request and what they did:
/// `ran=input:injection,output:secrets; redacted=input:secrets; flagged=input:email`.
pub const GUARDRAILS: &str = "x-edgeway-guardrails";
/// A semantic hit's cosine similarity to the cached question (`0.9731`).
pub const CACHE_SIMILARITY: &str = "x-edgeway-cache-similarity";
/// Age in seconds of a cached answer.
pub const CACHE_AGE: &str = "x-edgeway-cache-age";
/// A caller's TTL for the entry its answer creates, in seconds.
pub const CACHE_TTL: &str = "x-edgeway-cache-ttl";
/// A sub-namespace within the caller's own cache namespace.
pub const CACHE_NAMESPACE: &str = "x-edgeway-cache-namespace";
/// A small JSON object the caller wants stored with the request's log record.
pub const METADATA: &str = "x-edgeway-metadata";
/// `true`: store no prompt or answer for this request, whatever the route says.
pub const ZERO_RETENTION: &str = "x-edgeway-zero-retention";
/// The complexity tier that served a request; on a request, a tier to pin
/// (where the key allows overrides).
pub const TIER: &str = "x-edgeway-tier";
/// How the tier was chosen: the score and what made it.
pub const TIER_REASON: &str = "x-edgeway-tier-reason";
