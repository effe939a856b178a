//! Talking to upstream models: over the network (`http`) or to the built-in
//! demo model (`demo`). Both give the same thing back — a status and a body
//! in the provider's wire format — so everything after this point treats the
//! demo exactly like a real provider.

pub mod demo;
pub mod http;

use std::pin::Pin;

use futures_util::{Stream, StreamExt};

/// An upstream body as it arrives. An `Err` item means the connection broke.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>>>>;

/// Response headers and the body still to come.
pub struct UpstreamResponse {
    /// HTTP status.
    pub status: u16,
    /// On a failure status: how long the upstream asked us to wait.
    pub wait_hint_ms: Option<u64>,
    /// The body.
    pub body: UpstreamBody,
}

/// Where an upstream body comes from.
pub enum UpstreamBody {
    /// A network response, read natively: one call for a whole body is far
    /// cheaper than pulling it chunk by chunk through a stream reader.
    Http(web_sys::Response),
    /// Bytes produced in the worker (the demo model).
    Stream(BodyStream),
}

impl UpstreamBody {
    /// The body as a stream of chunks, for relaying.
    pub fn into_stream(self) -> BodyStream {
        match self {
            Self::Stream(stream) => stream,
            Self::Http(response) => http::stream(&response),
        }
    }

    /// Reads the whole body, failing if the connection breaks or the body is
    /// larger than `limit` bytes (an upstream is not trusted with our memory:
    /// a declared length is checked first, the real one after).
    pub async fn read_all(self, limit: usize) -> Result<Vec<u8>, String> {
        let too_large = || format!("the upstream answer is larger than {limit} bytes");
        match self {
            Self::Http(response) => {
                let bytes = http::read_whole(&response, limit).await?.ok_or_else(too_large)?;
                if bytes.len() > limit {
                    return Err(too_large());
                }
                Ok(bytes)
            }
            Self::Stream(mut stream) => {
                let mut all = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    if all.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    all.extend_from_slice(&chunk);
                }
                Ok(all)
            }
        }
    }
}

/// The runtime's error text, shortened: enough to tell refused from reset.
pub fn short(text: &str) -> String {
    text.chars().take(200).collect()
}
