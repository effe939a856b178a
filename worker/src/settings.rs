//! Vars and secrets, read once per isolate.
//!
//! A deployment's vars and secrets cannot change while an isolate lives (a
//! new value means a new deployment, hence new isolates), so each is read
//! from the environment the first time it is needed and then served from
//! memory: that saves a JS property lookup per name per request.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::Env;

thread_local! {
    static CACHE: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

/// A var or secret by name; `None` when unset or empty.
pub fn get(env: &Env, name: &str) -> Option<String> {
    if let Some(cached) = CACHE.with(|c| c.borrow().get(name).cloned()) {
        return cached;
    }
    // Secrets and plain-text vars are both strings on `env`; `secret` reads either.
    let value = env.secret(name).map(|v| v.to_string()).ok().filter(|v| !v.is_empty());
    CACHE.with(|c| c.borrow_mut().insert(name.to_owned(), value.clone()));
    value
}
