//! A namespace's semantic index: for each context hash, the cached
//! questions' vectors, searched exhaustively for the nearest one (exact
//! cosine; a namespace holds at most a few thousand questions, which a scan
//! of int8 vectors answers in a millisecond or two). Entries expire after
//! their TTL, and past the capacity the least recently used one goes.
//!
//! Memory, measured by `make bench` (core/examples/semantic_memory.rs): a
//! 1,536-dimension entry takes about 1.7 KB (int8 vector, id, times), so
//! the default capacity of 2,000 entries is about 3.5 MB a namespace, and
//! one isolate's 128 MB holds some 38 full namespaces' objects (with room
//! left for everything else an isolate does, plan on half that).

use std::collections::HashMap;

use super::vector::Quantized;

/// Entries a namespace keeps unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 2_000;

/// One cached question.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Where the answer is stored.
    pub id: String,
    /// The question's vector.
    pub vector: Quantized,
    /// When it stops being served (ms since epoch).
    pub expires_ms: u64,
    /// When it was last served or stored, for eviction.
    pub used_ms: u64,
}

/// A nearest question close enough to serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The entry's id.
    pub id: String,
    /// Its cosine similarity to the question asked.
    pub similarity: f32,
}

/// The entries of one namespace, by context hash.
#[derive(Debug, Default)]
pub struct Index {
    capacity: usize,
    contexts: HashMap<String, Vec<Entry>>,
    len: usize,
}

impl Index {
    /// An empty index holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), contexts: HashMap::new(), len: 0 }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The nearest live question in `context` with a similarity of at least
    /// `threshold`; it counts as used at `now_ms`. Expired entries met on
    /// the way are dropped (their ids returned in `expired`, for storage).
    pub fn nearest(&mut self, context: &str, query: &Quantized, threshold: f32, now_ms: u64, expired: &mut Vec<String>) -> Option<Hit> {
        let entries = self.contexts.get_mut(context)?;
        let before = entries.len();
        entries.retain(|e| {
            let live = e.expires_ms > now_ms;
            if !live {
                expired.push(e.id.clone());
            }
            live
        });
        self.len -= before - entries.len();
        let best = entries
            .iter_mut()
            .map(|e| (e.vector.cosine(query), e))
            .filter(|(similarity, _)| *similarity >= threshold)
            .max_by(|(a, _), (b, _)| a.total_cmp(b))?;
        best.1.used_ms = now_ms;
        Some(Hit { id: best.1.id.clone(), similarity: best.0 })
    }

    /// Adds (or replaces, by id) an entry; returns the ids evicted to stay
    /// within capacity, least recently used first.
    pub fn insert(&mut self, context: &str, entry: Entry) -> Vec<String> {
        let entries = self.contexts.entry(context.to_owned()).or_default();
        if let Some(existing) = entries.iter_mut().find(|e| e.id == entry.id) {
            *existing = entry;
            return Vec::new();
        }
        entries.push(entry);
        self.len += 1;
        let mut evicted = Vec::new();
        while self.len > self.capacity {
            let Some(id) = self.least_recently_used() else { break };
            self.remove(&id);
            evicted.push(id);
        }
        evicted
    }

    /// Drops an entry by id (its answer expired or was purged).
    pub fn remove(&mut self, id: &str) {
        for entries in self.contexts.values_mut() {
            let before = entries.len();
            entries.retain(|e| e.id != id);
            self.len -= before - entries.len();
        }
        self.contexts.retain(|_, entries| !entries.is_empty());
    }

    fn least_recently_used(&self) -> Option<String> {
        self.contexts.values().flatten().min_by_key(|e| e.used_ms).map(|e| e.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(values: &[f32]) -> Quantized {
        Quantized::from_f32(values).unwrap()
    }

    fn entry(id: &str, values: &[f32], used_ms: u64) -> Entry {
        Entry { id: id.into(), vector: v(values), expires_ms: 10_000, used_ms }
    }

    #[test]
    fn the_nearest_question_above_the_threshold_is_served() {
        let mut index = Index::new(10);
        index.insert("ctx", entry("capital", &[1.0, 0.1, 0.0], 0));
        index.insert("ctx", entry("weather", &[0.0, 1.0, 0.2], 0));
        let mut expired = Vec::new();
        let hit = index.nearest("ctx", &v(&[0.98, 0.12, 0.01]), 0.95, 5, &mut expired).unwrap();
        assert_eq!(hit.id, "capital");
        assert!(hit.similarity > 0.99);
        assert_eq!(index.nearest("ctx", &v(&[0.5, 0.5, 0.7]), 0.95, 5, &mut expired), None, "nothing close enough");
        assert_eq!(index.nearest("other", &v(&[1.0, 0.1, 0.0]), 0.95, 5, &mut expired), None, "another context never matches");
    }

    #[test]
    fn expired_entries_are_not_served_and_are_reported() {
        let mut index = Index::new(10);
        index.insert("ctx", Entry { expires_ms: 100, ..entry("old", &[1.0, 0.0], 0) });
        let mut expired = Vec::new();
        assert_eq!(index.nearest("ctx", &v(&[1.0, 0.0]), 0.9, 100, &mut expired), None);
        assert_eq!(expired, ["old"]);
        assert!(index.is_empty());
    }

    #[test]
    fn past_capacity_the_least_recently_used_goes() {
        let mut index = Index::new(2);
        index.insert("a", entry("one", &[1.0, 0.0], 1));
        index.insert("b", entry("two", &[0.0, 1.0], 2));
        // Serving "one" makes "two" the least recently used.
        assert!(index.nearest("a", &v(&[1.0, 0.0]), 0.9, 3, &mut Vec::new()).is_some());
        assert_eq!(index.insert("a", entry("three", &[0.7, 0.7], 4)), ["two"]);
        assert_eq!(index.len(), 2);
        assert_eq!(index.insert("a", entry("three", &[0.6, 0.8], 5)), Vec::<String>::new(), "same id: replaced, not added");
        assert_eq!(index.len(), 2);
    }
}
