//! Gateway keys. Until key management lands, one key — the secret
//! `EDGEWAY_DEV_KEY` (`make dev` generates it into `.dev.vars`) — opens the
//! API; with no key configured, every API call is refused.

use edgeway_core::GatewayError;
use worker::{Env, Request};

/// Name of the secret holding the dev gateway key.
const DEV_KEY_SECRET: &str = "EDGEWAY_DEV_KEY";

/// Checks the caller's key (`Authorization: Bearer …` or `x-api-key`).
pub fn authenticate(request: &Request, env: &Env) -> Result<(), GatewayError> {
    let presented = presented_key(request).ok_or(GatewayError::InvalidApiKey {
        reason: "no API key: send `Authorization: Bearer <gateway key>`",
    })?;
    let expected = crate::settings::get(env, DEV_KEY_SECRET).ok_or(GatewayError::InvalidApiKey { reason: "this gateway has no keys configured yet" })?;
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(GatewayError::InvalidApiKey { reason: "the API key is not valid for this gateway" })
    }
}

fn presented_key(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(value) = headers.get("authorization").ok().flatten() {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned());
    }
    headers.get("x-api-key").ok().flatten().map(|v| v.trim().to_owned())
}

/// Compares without an early exit, so response time does not reveal how
/// much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
