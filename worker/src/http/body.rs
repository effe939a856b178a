//! Reading a request body without ever holding more than the limit.

use edgeway_core::GatewayError;
use futures_util::StreamExt;
use worker::Request;

/// Reads the whole body, refusing it with 413 as soon as it is known to be
/// over `limit`: from `Content-Length` before reading anything, or while
/// reading a body sent without one.
pub async fn read_limited(request: &mut Request, limit: u64) -> Result<Vec<u8>, GatewayError> {
    let too_large = GatewayError::PayloadTooLarge { limit };
    let unreadable = |e: worker::Error| GatewayError::InvalidRequest {
        param: String::new(),
        message: format!("the request body could not be read: {e}"),
    };
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(too_large),
        // The runtime enforces the declared length, so a native read of the
        // whole body (one call, far cheaper than a stream reader) is bounded.
        Some(_) => request.bytes().await.map_err(unreadable),
        None => {
            let Ok(mut stream) = request.stream() else { return Ok(Vec::new()) };
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(unreadable)?;
                if (body.len() + chunk.len()) as u64 > limit {
                    // Stop the upload: tell the runtime we will read no more.
                    drop(stream);
                    if let Some(rest) = request.inner().body() {
                        let _ = rest.cancel();
                    }
                    return Err(too_large);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        }
    }
}
