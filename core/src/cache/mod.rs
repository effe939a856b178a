//! The response cache's decisions: which requests are cached and under
//! what key (`policy`, `key`), what an entry holds and how a hit is served
//! (`entry`), and how a streamed answer is assembled for storage while it
//! is relayed (`assemble`). The worker does the KV reads and writes.
//! `semantic` decides for the semantic cache: what must match exactly, and
//! the nearest-question index.

pub mod assemble;
pub mod entry;
pub mod key;
pub mod policy;
pub mod semantic;
