//! The response cache's decisions: which requests are cached and under
//! what key (`policy`, `key`), what an entry holds and how a hit is served
//! (`entry`), and how a streamed answer is assembled for storage while it
//! is relayed (`assemble`). The worker does the KV reads and writes.

pub mod assemble;
pub mod entry;
pub mod key;
pub mod policy;
