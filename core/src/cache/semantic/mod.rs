//! The semantic cache's logic: which requests may share an answer (the
//! context hash), vectors kept small (int8), and a namespace's index
//! (nearest question by cosine similarity, with a threshold, expiry and
//! least-recently-used eviction). The worker embeds the question and keeps
//! the index in a Durable Object; everything that decides is here.

pub mod context;
pub mod index;
pub mod policy;
pub mod vector;
