//! Reading a request body without ever holding more than the limit.

use edgeway_core::GatewayError;
use futures_util::StreamExt;
use worker::Request;

/// Reads the whole body, refusing it with 413 as soon as it is known to be
/// over `limit`: from `Content-Length` before reading anything, or while
/// reading a body sent without one.
pub async fn read_limited(request: &mut Request, limit: u64) -> Result<Vec<u8>, GatewayError> {
    let too_large = GatewayError::PayloadTooLarge { limit };
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large);
    }
    let mut stream = match request.stream() {
        Ok(stream) => stream,
        // No body at all.
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::with_capacity(declared.map_or(4096, |d| d as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| GatewayError::InvalidRequest {
            param: String::new(),
            message: format!("the request body could not be read: {e}"),
        })?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
