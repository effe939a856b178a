//! `POST /v1/chat/completions`: the request path of DESIGN.md, step by step.
//!
//! Parse → route → gate (permissions, limits) → cache lookup → attempts
//! (`crate::retries`: retries with backoff, fallback to the next target,
//! open circuits skipped; `crate::attempt::chat` calls one target through
//! its provider's adapter) → answer with the gateway's headers, and the
//! answer queued for the cache.

use edgeway_core::cache::entry::CacheEntry;
use edgeway_core::cache::policy::{self, CacheHeaders, CacheMode, CachePlan};
use edgeway_core::config::{Route, Target};
use edgeway_core::guardrails::{self, Guardrails, Report};
use edgeway_core::headers;
use edgeway_core::log::RequestLog;
use edgeway_core::openai::parse_chat_request;
use edgeway_core::openai::ChatRequest;
use edgeway_core::pricing::format_usd;
use edgeway_core::reliability::outcome::AttemptFailure;
use edgeway_core::routing::classify::Classifier;
use edgeway_core::routing::{features, tiers};
use edgeway_core::{tokens, GatewayError};
use worker::Env;

use crate::attempt::chat::{self, Answer, Answered, ChatCall};
use crate::auth::Caller;
use crate::context::RequestContext;
use crate::http::body;
use crate::http::respond::{self, Reply};
use crate::cache::{PendingAnswer, PendingWrite};
use crate::cancel::AbortOnDrop;
use crate::relay::{Costing, LiveStream, OutputChecks, Sharing, StreamLimits};
use crate::retries::{self, Plan};
use crate::coalescer::{self, Role};
use crate::{cache, config, gate, runtime, semantic};
use crate::http::incoming::Incoming;

/// Output tokens reserved from a tokens-per-minute limit when the request
/// sets no `max_tokens`; the real count replaces it when the answer is done.
const DEFAULT_OUTPUT_RESERVATION: u64 = 256;

/// Handles one chat completion.
pub async fn handle(request: &Incoming, env: &Env, ctx: &mut RequestContext, caller: &Caller) -> Result<Reply, GatewayError> {
    let config = config::get()?;
    let body = body::read_limited(request, config.max_request_bytes).await?;
    let mut chat = parse_chat_request(&body)?;
    let route = config.route_for(&chat.model)?;
    // Boxed, as are the other steps most routes skip: their state would
    // otherwise sit in every request's future (kilobytes, copied as it
    // moves), and their code in the middle of the common path's.
    let tiered = if route.tiers.is_empty() { None } else { Box::pin(choose_tier(request, env, route, &chat, ctx)).await? };
    let route = tiered.as_ref().unwrap_or(route);
    if let Some(log) = &mut ctx.log {
        log.route = Some(route.name.clone());
        log.stream = chat.is_stream();
        // A token's `sub` names the end user; otherwise OpenAI's `user` field does.
        if log.user_id.is_none() {
            log.user_id = chat.user.as_ref().map(|u| u.chars().take(256).collect());
        }
    }
    gate::pass(request, env, ctx, caller, route, estimated_tokens(&chat)).await?;
    // Before anything else sees the prompt (the cache key, the log, the
    // upstream): a redacted secret is gone from all of them.
    if let Some(rules) = &route.guardrails {
        guard_input(rules, &mut chat, ctx)?;
    }
    if stores_bodies(request, route, caller) {
        if let Some(log) = &mut ctx.log {
            log.prompt = Some(edgeway_core::log::prompt_body(&chat));
        }
    }
    let cache_plan = cache_plan(request, route, &chat, caller)?;
    let cache_key = match cache_plan.mode {
        CacheMode::Bypass => None,
        _ => match Box::pin(consult_cache(request, env, route, &chat, &cache_plan, ctx)).await? {
            Consulted::Answered(reply) => return Ok(reply),
            Consulted::Miss(key) => key,
        },
    };
    // A streaming leader shares its events live with those who follow it.
    let publish_to = ctx.coalesce_lead.clone().filter(|_| chat.is_stream());
    let deadline_ms = ctx.started_ms + route.timeouts.total_ms;
    let plan = Plan::for_request(request, config, route, deadline_ms)?;
    let request_id = ctx.request_id.clone();
    // A stream is put back together for the cache, and for the log when it
    // stores the answer.
    let stores_answer = ctx.log.as_ref().is_some_and(|l| l.prompt.is_some());
    let sharing = Sharing { assemble: cache_key.is_some() || stores_answer, tap: publish_to.is_some() };
    let call = ChatCall { request, env, chat: &chat, route, request_id: &request_id, deadline_ms, sharing };
    let (answered, target) = retries::run(ctx, plan, async |target, attempt| chat::run(&call, target, attempt).await).await?;
    let status = match cache_plan.mode {
        CacheMode::Bypass => "BYPASS",
        CacheMode::Lookup => "MISS",
        CacheMode::Refresh => "REFRESH",
    };
    if let Some(log) = &mut ctx.log {
        log.cache = Some(match cache_plan.mode {
            CacheMode::Bypass => "bypass",
            CacheMode::Lookup => "miss",
            CacheMode::Refresh => "refresh",
        });
    }
    let pending = cache_key.map(|key| (key, cache_plan.ttl_ms));
    let mut response = answer_response(answered, route, &target, ctx, pending, env, publish_to)?;
    response.set(headers::CACHE, status);
    Ok(response)
}

/// What the cache made of a request, on a route that has one.
enum Consulted {
    /// Answered from the cache, or from an identical request in flight.
    Answered(Reply),
    /// Not answered: the request goes upstream, and its answer is stored
    /// under this key (none when the key could not be made).
    Miss(Option<String>),
}

/// Looks the request up in the cache (then the semantic cache), or joins
/// an identical request in flight; a refresh only prepares the semantic
/// cache's entry. A miss leaves the request to lead its own answer.
async fn consult_cache(request: &Incoming, env: &Env, route: &Route, chat: &ChatRequest, plan: &CachePlan, ctx: &mut RequestContext) -> Result<Consulted, GatewayError> {
    let Some(key) = cache::entry_key(env, &plan.namespace, chat, runtime::now_ms()).await else { return Ok(Consulted::Miss(None)) };
    match plan.mode {
        CacheMode::Lookup => {
            if let Some(entry) = cache::lookup(env, &key, runtime::now_ms()).await {
                return Ok(Consulted::Answered(hit_response(&entry, chat, route, ctx, "hit")));
            }
            if let Some(hit) = semantic_lookup(request, env, route, chat, plan, &key, ctx).await {
                return Ok(Consulted::Answered(semantic_response(hit, chat, route, ctx)));
            }
            // A miss: unless an identical request is already being answered,
            // this one makes the answer and shares it when it is stored.
            match coalescer::join(env, &key, runtime::now_ms(), route.timeouts.total_ms).await {
                Role::Follow(entry) => return Ok(Consulted::Answered(hit_response(&entry, chat, route, ctx, "coalesced"))),
                Role::Live { events, provider, model } => {
                    let target = Target { provider, model };
                    return follow_live(request, env, events, &target, chat, route, ctx).await.map(Consulted::Answered);
                }
                Role::Lead => ctx.coalesce_lead = Some(key.clone()),
            }
        }
        CacheMode::Refresh => {
            semantic_lookup(request, env, route, chat, plan, &key, ctx).await;
        }
        CacheMode::Bypass => {}
    }
    Ok(Consulted::Miss(Some(key)))
}

/// On a route with tiers, the route as the request's tier serves it: the
/// tier the caller pinned (`x-edgeway-tier`; the gate checks the key may),
/// the one the route's classifier names, or the one its complexity score
/// calls for. The choice and its reason go in the response headers and the
/// log. `None` for an ordinary route.
async fn choose_tier(request: &Incoming, env: &Env, route: &Route, chat: &ChatRequest, ctx: &mut RequestContext) -> Result<Option<Route>, GatewayError> {
    if route.tiers.is_empty() {
        return Ok(None);
    }
    let pinned = request.header(headers::TIER);
    let (index, reason) = match pinned {
        Some(name) => {
            let index = route.tiers.iter().position(|t| t.name == name.trim()).ok_or_else(|| GatewayError::InvalidRequest {
                param: headers::TIER.to_owned(),
                message: format!("route {} has no tier {} (it has {})", route.name, edgeway_core::json::quote(name), route.tiers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")),
            })?;
            (index, "pinned by the caller".to_owned())
        }
        None => {
            // Validation gives every route with tiers its weights.
            let defaults;
            let weights = match &route.complexity {
                Some(weights) => weights,
                None => {
                    defaults = tiers::Weights::default();
                    &defaults
                }
            };
            let decision = tiers::decide(&features::extract(chat), weights, &route.tiers);
            match &route.classifier {
                Some(classifier) => match classify(request, env, route, classifier, chat, &ctx.request_id).await {
                    Ok(index) => (index, format!("classified by {}", classifier.route)),
                    Err(why) => (decision.index, format!("{} (the classifier {why})", decision.reason)),
                },
                None => (decision.index, decision.reason),
            }
        }
    };
    let tiered = route.for_tier(index).ok_or_else(|| GatewayError::Internal { message: "a tier out of range".to_owned() })?;
    let name = route.tiers.get(index).map(|t| t.name.clone()).unwrap_or_default();
    // Header values are visible ASCII; a keyword from the config may not be.
    let header_reason: String = reason.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    ctx.response_headers.push((headers::TIER, name.clone()));
    ctx.response_headers.push((headers::TIER_REASON, header_reason));
    if let Some(log) = &mut ctx.log {
        log.tier = Some(name);
        log.tier_reason = Some(reason);
    }
    Ok(Some(tiered))
}

/// Asks the route's classifier for the request's tier: one call to the
/// first target of the classifier route, within its timeout. `Err` says
/// why the score decides instead.
async fn classify(request: &Incoming, env: &Env, route: &Route, classifier: &Classifier, chat: &ChatRequest, request_id: &str) -> Result<usize, &'static str> {
    let names: Vec<&str> = route.tiers.iter().map(|t| t.name.as_str()).collect();
    let config = config::get().map_err(|_| "is not configured")?;
    let by = config.route_for(&classifier.route).map_err(|_| "is not configured")?;
    let target = by.targets.first().ok_or("has no target")?;
    let asked = edgeway_core::routing::classify::request(chat, &names, &by.name).ok_or("had no question to classify")?;
    let deadline_ms = runtime::now_ms().saturating_add(classifier.timeout_ms);
    let call = ChatCall { request, env, chat: &asked, route: by, request_id, deadline_ms, sharing: Sharing::default() };
    // The attempt's own timers share the deadline: whichever fires first,
    // the classifier ran out of time.
    let answered = match runtime::Watchdog::default().race(deadline_ms, chat::run(&call, target, 0)).await {
        None => return Err("timed out"),
        Some(Err(failure)) if matches!(failure.kind, AttemptFailure::Timeout { .. }) => return Err("timed out"),
        Some(Err(_)) => return Err("failed"),
        Some(Ok(answered)) => answered,
    };
    let Answer::Json { bytes, .. } = answered.answer else { return Err("streamed") };
    let answer: edgeway_core::openai::ChatCompletion = serde_json::from_slice(&bytes).map_err(|_| "answered something unreadable")?;
    let text = answer.choices.first().and_then(|c| c.message.content.as_deref()).unwrap_or_default();
    edgeway_core::routing::classify::tier_in(text, &names).ok_or("named no tier")
}

/// Runs the route's input guardrails: redacts in place, or refuses the
/// request (`guardrail_blocked`). What ran and what it found goes to the
/// log, and to the caller in `x-edgeway-guardrails`.
fn guard_input(rules: &Guardrails, chat: &mut ChatRequest, ctx: &mut RequestContext) -> Result<(), GatewayError> {
    let (report, result) = match guardrails::check_input(rules, chat) {
        Ok(report) => (report, Ok(())),
        Err(blocked) => (Report::of_block(rules, &blocked), Err(blocked.to_error())),
    };
    if result.is_err() {
        ctx.response_headers.push((headers::GUARDRAILS, report.header_value()));
    }
    if let Some(log) = &mut ctx.log {
        log.guardrails = Some(report);
    }
    result
}

/// Whether the log keeps this request's prompt and answer: the route says
/// so, and neither the key nor the caller asked for zero retention.
fn stores_bodies(request: &Incoming, route: &Route, caller: &Caller) -> bool {
    let zero_retention = |v: &str| matches!(v.trim(), "true" | "1");
    route.log_bodies
        && !caller.key.as_ref().is_some_and(|k| k.zero_retention)
        && !request.header(headers::ZERO_RETENTION).is_some_and(zero_retention)
}

/// The request's cache plan. A caller who pins a target gets that target's
/// answer, which is not the route's: such requests bypass the cache.
fn cache_plan(request: &Incoming, route: &Route, chat: &ChatRequest, caller: &Caller) -> Result<CachePlan, GatewayError> {
    // Most routes have no cache: no header is even read for them.
    if route.cache.is_none() {
        return Ok(CachePlan { mode: CacheMode::Bypass, ttl_ms: 0, namespace: String::new() });
    }
    let header = |name: &str| request.header(name).map(str::to_owned);
    let given = CacheHeaders { control: header(headers::CACHE), ttl: header(headers::CACHE_TTL), namespace: header(headers::CACHE_NAMESPACE) };
    let mut plan = policy::plan(route.cache.as_ref(), chat, &given, caller.key_id())?;
    if request.header(headers::TARGET).is_some() || request.header(headers::TIER).is_some() {
        plan.mode = CacheMode::Bypass;
    }
    Ok(plan)
}

/// On a route with a semantic cache, embeds the question and, unless the
/// caller asked for a refresh, returns the answer to the nearest cached
/// one if it is close enough. The question is kept in `ctx`, so that the
/// answer this request makes is filed under it once stored. A failure or
/// a timeout is a miss.
async fn semantic_lookup(request: &Incoming, env: &Env, route: &Route, chat: &ChatRequest, plan: &CachePlan, key: &str, ctx: &mut RequestContext) -> Option<semantic::SemanticHit> {
    let policy = route.semantic_cache.as_ref()?;
    let look_up = plan.mode == CacheMode::Lookup;
    let (question, hit) = semantic::look_up(request, env, policy, chat, &plan.namespace, key, look_up).await?;
    if hit.is_none() {
        ctx.semantic_write = Some(question);
    }
    hit
}

/// A semantic hit: the cached answer to a question close enough, marked
/// `SEMANTIC` with its similarity.
fn semantic_response(hit: semantic::SemanticHit, chat: &ChatRequest, route: &Route, ctx: &mut RequestContext) -> Reply {
    let mut response = hit_response(&hit.entry, chat, route, ctx, "semantic");
    response.set(headers::CACHE, "SEMANTIC");
    response.set(headers::CACHE_SIMILARITY, semantic::format_similarity(hit.similarity));
    if let Some(log) = &mut ctx.log {
        log.similarity = Some(hit.similarity);
    }
    response
}

/// Follows another request's answer as it streams: streamed to a
/// streaming caller through a relay of its own (timeouts, usage as asked),
/// or assembled into JSON for the others.
async fn follow_live(request: &Incoming, env: &Env, events: worker::Response, target: &Target, chat: &ChatRequest, route: &Route, ctx: &mut RequestContext) -> Result<Reply, GatewayError> {
    let events = web_sys::Response::from(events);
    if !chat.is_stream() {
        let whole = crate::upstream::UpstreamBody::Http(events).read_all(edgeway_core::cache::entry::MAX_ENTRY_BYTES).await;
        let answer = whole.ok().and_then(|bytes| assemble(&bytes)).ok_or_else(|| GatewayError::UpstreamError {
            provider: target.provider.clone(),
            status: None,
            message: "the identical request this one waited for failed".to_owned(),
        })?;
        let entry = CacheEntry { created_ms: runtime::now_ms(), ttl_ms: 0, provider: target.provider.clone(), model: target.model.clone(), answer, cost_usd: None };
        return Ok(hit_response(&entry, chat, route, ctx, "coalesced"));
    }
    let limits = StreamLimits { timeouts: route.timeouts, deadline_ms: ctx.started_ms + route.timeouts.total_ms, watchdog: runtime::Watchdog::default() };
    let costing = Costing { price: None, prompt_estimate: tokens::estimate_prompt(chat) };
    let abort = AbortOnDrop::for_request(request, true);
    let body = crate::upstream::http::stream(&events);
    // The stream it follows was checked by its own guardrails already.
    let live = LiveStream::start(body, chat.wants_stream_usage(), None, &target.provider, &ctx.request_id.clone(), limits, costing, Sharing::default(), OutputChecks::default(), abort).await?;
    if let Some(log) = &mut ctx.log {
        log.cache = Some("coalesced");
    }
    let mut response = answer_response(Answered { answer: Answer::Stream(Box::new(live)), warnings: Vec::new(), guard: None, schema_error: None }, route, target, ctx, None, env, None)?;
    response.set(headers::CACHE, "HIT");
    Ok(response)
}

/// A whole answer from a followed stream's SSE bytes.
fn assemble(bytes: &[u8]) -> Option<edgeway_core::openai::ChatCompletion> {
    let mut parser = edgeway_core::sse::SseParser::new();
    let mut events = Vec::new();
    parser.push(bytes, &mut events).ok()?;
    let mut assembler = edgeway_core::cache::assemble::StreamAssembler::new();
    for event in &events {
        assembler.on_event(&event.data);
    }
    assembler.finish()
}

/// A cached answer, served as the caller asked: JSON, or replayed as SSE.
/// `how` is `hit` (from KV), `semantic` (a question close enough) or
/// `coalesced` (from an identical request that was in flight), for the log.
fn hit_response(entry: &CacheEntry, chat: &ChatRequest, route: &Route, ctx: &mut RequestContext, how: &'static str) -> Reply {
    let now = runtime::now_ms();
    let id = edgeway_core::ids::completion_id(runtime::random_bytes());
    let mut response = if chat.is_stream() {
        let mut response = Reply::json(200, entry.sse_body(&id, now / 1000, chat.wants_stream_usage()));
        response.set("content-type", "text/event-stream; charset=utf-8");
        response.set("cache-control", "no-cache");
        response
    } else {
        Reply::json(200, entry.json_body(&id, now / 1000))
    };
    response.set(headers::CACHE, "HIT");
    response.set(headers::CACHE_AGE, entry.age_s(now).to_string());
    response.set(headers::PROVIDER, entry.provider.clone());
    response.set(headers::MODEL, entry.model.clone());
    response.set(headers::ROUTE, route.name.clone());
    response.set(headers::ATTEMPTS, "0");
    response.set(headers::COST_USD, "0");
    if let Some(value) = ctx.log.as_ref().and_then(|l| l.guardrails.as_ref()).map(Report::header_value) {
        response.set(headers::GUARDRAILS, value);
    }
    if let Some(log) = &mut ctx.log {
        log.cache = Some(how);
        log.provider = Some(entry.provider.clone());
        log.model = Some(entry.model.clone());
        log.cost_usd = Some(0.0);
        log.cost_saved_usd = entry.cost_usd;
    }
    response
}

/// Tokens the request may use: its prompt's estimate and its output limit.
fn estimated_tokens(chat: &ChatRequest) -> u64 {
    let output = chat.max_completion_tokens.or(chat.max_tokens).map_or(DEFAULT_OUTPUT_RESERVATION, u64::from);
    tokens::estimate_prompt(chat) + output
}

/// The caller's response for a successful attempt.
fn answer_response(
    answered: Answered,
    route: &Route,
    target: &Target,
    ctx: &mut RequestContext,
    cache_to: Option<(String, u64)>,
    env: &Env,
    publish_to: Option<String>,
) -> Result<Reply, GatewayError> {
    let pending = |answer| cache_to.clone().map(|(key, ttl_ms)| PendingWrite { key, ttl_ms, provider: target.provider.clone(), model: target.model.clone(), answer });
    let calls = ctx.log.as_ref().map_or(1, RequestLog::upstream_calls);
    let mut guard_header = None;
    if let Some(log) = &mut ctx.log {
        log.warnings.clone_from(&answered.warnings);
        if let Some(output) = answered.guard {
            log.guardrails.get_or_insert_with(Report::default).merge(output);
        }
        log.schema_error = answered.schema_error;
        guard_header = log.guardrails.as_ref().map(Report::header_value);
    }
    let mut response = match answered.answer {
        Answer::Stream(mut live) => {
            let log = ctx.log.take().ok_or_else(|| GatewayError::Internal { message: "log record missing".into() })?;
            if log.prompt.is_some() {
                live.store_answer_in_log();
            }
            if cache_to.is_some() {
                ctx.cache_write = pending(PendingAnswer::Stream(live.answer()));
            }
            if let Some(key) = publish_to {
                let events = live.publish();
                ctx.background.push(Box::pin(coalescer::publish(env.clone(), key, target.provider.clone(), target.model.clone(), events)));
            }
            // What is relayed already (the first event) is in the body from
            // the start, so the runtime can send it with the headers.
            let ready = live.take_ready();
            let (body, stream_log) = (*live).into_body(log);
            ctx.stream_log = Some(stream_log);
            Reply::event_stream(respond::readable(ready, body))
        }
        Answer::Json { bytes, usage, usage_estimated, cost_usd } => {
            if cache_to.is_some() {
                ctx.cache_write = pending(PendingAnswer::Json(bytes.clone()));
            }
            if let Some(log) = ctx.log.as_mut().filter(|l| l.prompt.is_some()) {
                log.answer = std::str::from_utf8(&bytes).ok().and_then(|text| edgeway_core::json::from_str::<edgeway_core::openai::ChatCompletion>(text).ok()).map(|a| edgeway_core::log::answer_body(&a));
            }
            let mut response = Reply::json(200, bytes);
            if let Some(usage) = usage {
                // Headers tell what is known; an estimate goes to the log only.
                if !usage_estimated {
                    response.set(headers::TOKENS_IN, usage.prompt_tokens.to_string());
                    response.set(headers::TOKENS_OUT, usage.completion_tokens.to_string());
                    if let Some(cost) = cost_usd {
                        response.set(headers::COST_USD, format_usd(cost));
                    }
                }
                if let Some(log) = &mut ctx.log {
                    log.record_usage(&usage, usage_estimated, cost_usd);
                }
            }
            response
        }
    };
    response.set(headers::PROVIDER, target.provider.clone());
    response.set(headers::MODEL, target.model.clone());
    response.set(headers::ROUTE, route.name.clone());
    response.set(headers::ATTEMPTS, calls.to_string());
    if !answered.warnings.is_empty() {
        response.set(headers::WARNING, answered.warnings.join("; "));
    }
    if let Some(value) = guard_header {
        response.set(headers::GUARDRAILS, value);
    }
    Ok(response)
}
