//! The gate every upstream request passes before any upstream is called:
//! may this caller use this route (and pin targets), and does the key's
//! limiter admit it (`crate::limiter`)?

use edgeway_core::config::Route;
use edgeway_core::headers;
use edgeway_core::GatewayError;
use worker::Env;

use crate::auth::Caller;
use crate::context::RequestContext;
use crate::{limiter, runtime};
use crate::http::incoming::Incoming;

/// Checks permissions and admits the request, which may use about
/// `estimated_tokens`. On success the admission waits in `ctx` to be
/// settled; on a refusal its headers (`Retry-After`, quota) are in `ctx`.
pub async fn pass(request: &Incoming, env: &Env, ctx: &mut RequestContext, caller: &Caller, route: &Route, estimated_tokens: u64) -> Result<(), GatewayError> {
    caller.check_route(&route.name)?;
    if !caller.may_override() {
        for name in [headers::TARGET, headers::FALLBACK, headers::TIER] {
            if request.header(name).is_some() {
                return Err(GatewayError::RouteNotAllowed { message: format!("this key may not send {name}"), param: name.to_owned() });
            }
        }
    }
    let Some(key) = &caller.key else { return Ok(()) };
    // Boxed: only gateway keys have limits (not the dev key), and the
    // limiter's state need not be part of every request's future.
    let admitted = Box::pin(limiter::admit(env, key, caller.end_user.as_deref(), estimated_tokens, runtime::now_ms(), &mut ctx.response_headers)).await?;
    ctx.response_headers.extend(admitted.headers);
    ctx.admission = admitted.admission;
    if let Some(log) = &mut ctx.log {
        log.limiter = admitted.note;
    }
    Ok(())
}
