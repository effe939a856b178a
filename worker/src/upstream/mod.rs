//! Talking to upstream models: over the network (`http`) or to the built-in
//! demo model (`demo`). Both give the same thing back — a status and a body
//! byte stream in the provider's wire format — so everything after this
//! point treats the demo exactly like a real provider.

pub mod demo;
pub mod http;

use std::pin::Pin;

use futures_util::Stream;

/// An upstream body as it arrives. An `Err` item means the connection broke.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>>>>;

/// Response headers and the body still to come.
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, streamed.
    pub body: BodyStream,
}

/// Reads a whole body, failing if the connection breaks or the body grows
/// past `limit` bytes (an upstream is not trusted with our memory).
pub async fn read_all(body: &mut BodyStream, limit: usize) -> Result<Vec<u8>, String> {
    use futures_util::StreamExt;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if all.len() + chunk.len() > limit {
            return Err(format!("the upstream answer is larger than {limit} bytes"));
        }
        all.extend_from_slice(&chunk);
    }
    Ok(all)
}
