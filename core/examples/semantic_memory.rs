//! `make bench`: how much memory a namespace's semantic index takes, and so
//! how many namespaces' Durable Objects fit in one isolate's 128 MB.
//!
//! Fills an index with 1,536-dimension questions (OpenAI's
//! text-embedding-3-small) up to the default cap, counting every byte the
//! allocator hands out, and prints the bytes per entry and per full
//! namespace. What is measured is what the object keeps in memory: the
//! int8 vectors, ids and times (answers stay in the object's SQLite).
//!
//! Usage: cargo run -q --release -p edgeway-core --example semantic_memory

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use edgeway_core::cache::semantic::index::{Entry, Index, DEFAULT_CAPACITY};
use edgeway_core::cache::semantic::vector::Quantized;

/// The system allocator, counting the bytes live at any moment.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DIMENSIONS: usize = 1536;
/// Contexts the questions are spread over (conversations with distinct
/// system prompts and histories).
const CONTEXTS: usize = 50;
const ISOLATE_BYTES: usize = 128 * 1024 * 1024;

fn main() {
    // A deterministic stand-in for real embeddings: what matters here is
    // their size, not their meaning.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 2001) as f32 / 1000.0 - 1.0
    };
    let contexts: Vec<String> = (0..CONTEXTS).map(|i| format!("{:064x}", i * 7919)).collect();
    let mut floats = vec![0f32; DIMENSIONS];

    let before = LIVE.load(Ordering::Relaxed);
    let mut index = Index::new(DEFAULT_CAPACITY);
    for i in 0..DEFAULT_CAPACITY {
        floats.iter_mut().for_each(|x| *x = next());
        // Quantised and filed as the object does; an id as the worker
        // makes it (`e:<generation>:<64 hex digits>`).
        let entry = Entry { id: format!("e:0:0:{i:064x}"), vector: Quantized::from_f32(&floats).unwrap(), expires_ms: u64::MAX, used_ms: i as u64 };
        index.insert(&contexts[i % CONTEXTS], entry);
    }
    let used = LIVE.load(Ordering::Relaxed) - before;
    assert_eq!(index.len(), DEFAULT_CAPACITY);
    let per_entry = used / DEFAULT_CAPACITY;
    println!("semantic index, {DIMENSIONS} dimensions (int8), {DEFAULT_CAPACITY} entries over {CONTEXTS} contexts:");
    println!("  {per_entry} bytes an entry, {:.1} MB a full namespace", used as f64 / 1e6);
    println!("  one isolate's 128 MB holds {} full namespaces' indexes", ISOLATE_BYTES / used);
}
