//! `GET /v1/models`: the routes (model aliases) a caller may use, in
//! OpenAI's list shape.

use edgeway_core::GatewayError;
use serde_json::json;

use crate::auth::Caller;
use crate::config;
use crate::http::respond::Reply;

/// Lists the routes the caller may use. `created` is fixed at 0: a route
/// has no creation date.
pub fn handle(caller: &Caller) -> Result<Reply, GatewayError> {
    let config = config::get()?;
    let data: Vec<_> = config
        .routes
        .values()
        .filter(|route| caller.check_route(&route.name).is_ok())
        .map(|route| json!({"id": route.name, "object": "model", "created": 0, "owned_by": "edgeway", "description": route.description}))
        .collect();
    Ok(Reply::json(200, json!({"object": "list", "data": data}).to_string()))
}
