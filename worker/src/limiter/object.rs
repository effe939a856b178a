//! The limiter Durable Object: one per gateway key.
//!
//! A Durable Object runs one event at a time, so admitting is exact under
//! any concurrency — KV counters, eventually consistent and limited to one
//! write per second per key, would over-admit. State lives in memory and
//! is written through to the object's storage on every change (the
//! runtime holds the response until the write is durable), so an evicted
//! object resumes where it was. End users of publishable keys get their
//! own states in the same object, forgotten once they are idle again.

use std::cell::RefCell;
use std::collections::HashMap;

use edgeway_core::limits::{AdmitRequest, Decision, LimiterState, Limits};
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::wire::{Answer, Ask};

/// Storage key of the key's own state.
const KEY_STATE: &str = "key";
/// Storage key of the revocation flag.
const REVOKED: &str = "revoked";
/// End users kept in memory at most; idle ones are forgotten first.
const MAX_USERS_IN_MEMORY: usize = 10_000;

/// What the object holds in memory.
#[derive(Default)]
struct Memory {
    key: LimiterState,
    users: HashMap<String, LimiterState>,
    revoked: bool,
}

/// One gateway key's limiter.
#[durable_object(fetch)]
pub struct KeyLimiter {
    state: State,
    memory: RefCell<Option<Memory>>,
}

impl DurableObject for KeyLimiter {
    fn new(state: State, _env: Env) -> Self {
        Self { state, memory: RefCell::new(None) }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let ask: Ask = edgeway_core::json::from_str(&request.text().await?).map_err(|e| worker::Error::RustError(format!("bad limiter request: {e}")))?;
        self.load(ask.user.as_deref()).await?;
        let (answer, writes) = {
            let mut memory = self.memory.borrow_mut();
            let memory = memory.get_or_insert_with(Memory::default);
            handle(memory, &ask)
        };
        let storage = self.state.storage();
        for (key, value) in writes {
            match value {
                Some(json) => storage.put_raw(&key, JsValue::from_str(&json)).await?,
                None => {
                    storage.delete(&key).await?;
                }
            }
        }
        let body = serde_json::to_string(&answer).map_err(|e| worker::Error::RustError(e.to_string()))?;
        Response::ok(body)
    }
}

impl KeyLimiter {
    /// Loads what this request needs from storage, once. Storage reads
    /// close the object's input gate, so no other request runs between a
    /// read and its use; a state another request loaded meanwhile is kept.
    async fn load(&self, user: Option<&str>) -> Result<()> {
        if self.memory.borrow().is_none() {
            let key = self.read(KEY_STATE).await?.unwrap_or_default();
            let revoked = self.read_raw(REVOKED).await?.is_some();
            self.memory.borrow_mut().get_or_insert(Memory { key, users: HashMap::new(), revoked });
        }
        if let Some(user) = user {
            let known = self.memory.borrow().as_ref().is_some_and(|m| m.users.contains_key(user));
            if !known {
                let state = self.read(&user_key(user)).await?.unwrap_or_default();
                if let Some(memory) = self.memory.borrow_mut().as_mut() {
                    memory.users.entry(user.to_owned()).or_insert(state);
                }
            }
        }
        Ok(())
    }

    async fn read(&self, key: &str) -> Result<Option<LimiterState>> {
        Ok(self.read_raw(key).await?.and_then(|json| edgeway_core::json::from_str(&json).ok()))
    }

    async fn read_raw(&self, key: &str) -> Result<Option<String>> {
        let value = wasm_bindgen_futures::JsFuture::from(self.state.storage().as_raw().get(key)?).await?;
        Ok(value.as_string())
    }
}

fn user_key(user: &str) -> String {
    format!("user:{user}")
}

/// Applies one request to the object's memory; returns the answer and the
/// storage writes it needs (`None`: delete).
fn handle(memory: &mut Memory, ask: &Ask) -> (Answer, Vec<(String, Option<String>)>) {
    let mut writes = Vec::new();
    let save = |state: &LimiterState| serde_json::to_string(state).ok();
    match ask.op.as_str() {
        "revoke" => {
            memory.revoked = true;
            writes.push((REVOKED.to_owned(), Some("1".to_owned())));
            (Answer { revoked: true, ..Answer::default() }, writes)
        }
        "admit" if memory.revoked => (Answer { revoked: true, ..Answer::default() }, writes),
        "admit" => {
            let answer = admit(memory, ask);
            if answer.refusal.is_none() {
                writes.push((KEY_STATE.to_owned(), save(&memory.key)));
                if let Some(user) = &ask.user {
                    writes.push((user_key(user), memory.users.get(user).and_then(save)));
                }
            }
            (answer, writes)
        }
        "settle" => {
            let (key_reserved, user_reserved) = ask.reserved;
            memory.key.settle(&ask.limits, key_reserved, ask.actual_tokens, ask.cost_usd, ask.now_ms);
            writes.push((KEY_STATE.to_owned(), save(&memory.key)));
            if let Some(user) = &ask.user {
                if let Some(state) = memory.users.get_mut(user) {
                    state.settle(&ask.user_limits, user_reserved, ask.actual_tokens, ask.cost_usd, ask.now_ms);
                    // An idle end user is the same as a new one: forget it.
                    let idle = state.is_idle(&ask.user_limits, ask.now_ms);
                    writes.push((user_key(user), if idle { None } else { save(state) }));
                    if idle {
                        memory.users.remove(user);
                    }
                }
            }
            forget_idle_users(memory, &ask.user_limits, ask.now_ms);
            (Answer { revoked: memory.revoked, ..Answer::default() }, writes)
        }
        // "peek": what is left, changing nothing.
        _ => {
            let quota = memory.key.quota(&ask.limits, ask.now_ms);
            (Answer { revoked: memory.revoked, quota: Some(quota), ..Answer::default() }, writes)
        }
    }
}

/// Admits against the end user's limits and the key's together: both must
/// agree, and a refusal by either consumes nothing from the other.
fn admit(memory: &mut Memory, ask: &Ask) -> Answer {
    let request = AdmitRequest { estimated_tokens: ask.estimated_tokens };
    let mut user_state = ask.user.as_ref().map(|user| memory.users.get(user).cloned().unwrap_or_default());
    let mut user_reserved = 0;
    let mut user_quota = None;
    if let Some(state) = user_state.as_mut() {
        match state.admit(&ask.user_limits, &request, ask.now_ms) {
            Decision::Admitted { reserved_tokens, quota } => {
                user_reserved = reserved_tokens;
                user_quota = Some(quota).filter(|_| ask.user_limits.has_rate_limits());
            }
            Decision::Refused { refusal, quota } => {
                return Answer { refusal: Some(refusal), refused_for_user: true, quota: Some(quota), ..Answer::default() };
            }
        }
    }
    match memory.key.admit(&ask.limits, &request, ask.now_ms) {
        Decision::Admitted { reserved_tokens, quota } => {
            if let (Some(user), Some(state)) = (&ask.user, user_state) {
                memory.users.insert(user.clone(), state);
            }
            Answer { reserved: (reserved_tokens, user_reserved), quota: Some(user_quota.unwrap_or(quota)), ..Answer::default() }
        }
        Decision::Refused { refusal, quota } => Answer { refusal: Some(refusal), quota: Some(quota), ..Answer::default() },
    }
}

/// Keeps memory bounded: past the cap, idle end users are dropped, and if
/// that is not enough, all of them — every state was written to storage
/// when it changed, so a dropped user is reloaded on its next request.
fn forget_idle_users(memory: &mut Memory, user_limits: &Limits, now_ms: u64) {
    if memory.users.len() > MAX_USERS_IN_MEMORY {
        memory.users.retain(|_, state| !state.is_idle(user_limits, now_ms));
    }
    if memory.users.len() > MAX_USERS_IN_MEMORY {
        memory.users.clear();
    }
}
