//! The semantic index Durable Object: one per cache namespace (and purge
//! generation), holding that namespace's questions and answers.
//!
//! Storage is the object's SQLite database: one row per entry with its
//! context hash, int8 vector, times and the cache entry. The index itself
//! (`edgeway_core::cache::semantic::index`) lives in memory, loaded from
//! the rows on first use, and every change is written through, so an
//! evicted object comes back whole. Answers stay on disk until served.
//!
//! Memory: a 1,536-dimension entry is about 1.7 KB in the index, so the
//! default cap of 2,000 entries is about 3.5 MB a namespace, and some 38
//! full namespaces' objects fit in the 128 MB an isolate shares among them
//! (`edgeway_core::cache::semantic::index` has the measurement).
//!
//! A large deployment would put the vectors in Cloudflare Vectorize
//! instead (one index, a namespace per cache namespace, metadata filter on
//! the context hash, the answer in KV by id) behind these same two calls,
//! `lookup` and `insert`; README.md, "The semantic cache", says how.

use std::cell::RefCell;

use edgeway_core::cache::semantic::index::{Entry, Index};
use edgeway_core::cache::semantic::vector::Quantized;
use edgeway_core::keys::base64url;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State};

use super::wire::{Ask, Found};

/// One namespace's index.
#[durable_object(fetch)]
pub struct SemanticIndex {
    state: State,
    index: RefCell<Option<Index>>,
}

impl DurableObject for SemanticIndex {
    fn new(state: State, _env: Env) -> Self {
        Self { state, index: RefCell::new(None) }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let ask: Ask = edgeway_core::json::from_str(&request.text().await?).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let vector = base64url::decode(&ask.vector).map(|bytes| Quantized::from_bytes(&bytes)).filter(|v| !v.is_empty());
        let Some(vector) = vector else { return Response::error("a vector is required", 400) };
        let sql = self.state.storage().sql();
        self.load(&sql, ask.capacity)?;
        let found = match ask.op.as_str() {
            "insert" => {
                self.insert(&sql, ask, vector)?;
                Found::default()
            }
            _ => self.lookup(&sql, &ask, &vector)?,
        };
        Response::ok(serde_json::to_string(&found).map_err(|e| worker::Error::RustError(e.to_string()))?)
    }
}

const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, context TEXT NOT NULL, vector BLOB NOT NULL, expires_ms INTEGER NOT NULL, used_ms INTEGER NOT NULL, entry TEXT NOT NULL)";

impl SemanticIndex {
    /// Builds the in-memory index from storage, once per object lifetime.
    fn load(&self, sql: &SqlStorage, capacity: usize) -> Result<()> {
        if self.index.borrow().is_some() {
            return Ok(());
        }
        sql.exec(CREATE_TABLE, None)?;
        let mut index = Index::new(capacity);
        for row in sql.exec("SELECT id, context, vector, expires_ms, used_ms FROM entries", None)?.raw() {
            if let [SqlStorageValue::String(id), SqlStorageValue::String(context), SqlStorageValue::Blob(vector), expires, used] = row?.as_slice() {
                let entry = Entry { id: id.clone(), vector: Quantized::from_bytes(vector), expires_ms: as_ms(expires), used_ms: as_ms(used) };
                index.insert(context, entry);
            }
        }
        *self.index.borrow_mut() = Some(index);
        Ok(())
    }

    fn lookup(&self, sql: &SqlStorage, ask: &Ask, vector: &Quantized) -> Result<Found> {
        let mut expired = Vec::new();
        let hit = self.index.borrow_mut().as_mut().and_then(|index| index.nearest(&ask.context, vector, ask.threshold, ask.now_ms, &mut expired));
        delete(sql, &expired)?;
        let Some(hit) = hit else { return Ok(Found::default()) };
        sql.exec("UPDATE entries SET used_ms = ? WHERE id = ?", vec![ms_value(ask.now_ms), hit.id.clone().into()])?;
        let entry = sql.exec("SELECT entry FROM entries WHERE id = ?", vec![hit.id.into()])?.raw().next().and_then(|row| match row.ok()?.first() {
            Some(SqlStorageValue::String(entry)) => Some(entry.clone()),
            _ => None,
        });
        Ok(Found { entry, similarity: hit.similarity })
    }

    fn insert(&self, sql: &SqlStorage, ask: Ask, vector: Quantized) -> Result<()> {
        let Some(entry) = ask.entry else { return Ok(()) };
        // Expired rows are never served, and each insert also clears them
        // from storage (the index drops its own as lookups meet them).
        sql.exec("DELETE FROM entries WHERE expires_ms <= ?", vec![ms_value(ask.now_ms)])?;
        let expires_ms = ask.now_ms.saturating_add(ask.ttl_ms);
        sql.exec(
            "INSERT OR REPLACE INTO entries (id, context, vector, expires_ms, used_ms, entry) VALUES (?, ?, ?, ?, ?, ?)",
            vec![ask.id.clone().into(), ask.context.clone().into(), vector.to_bytes().into(), ms_value(expires_ms), ms_value(ask.now_ms), entry.into()],
        )?;
        let evicted = self.index.borrow_mut().as_mut().map(|index| index.insert(&ask.context, Entry { id: ask.id, vector, expires_ms, used_ms: ask.now_ms })).unwrap_or_default();
        delete(sql, &evicted)
    }
}

fn delete(sql: &SqlStorage, ids: &[String]) -> Result<()> {
    for id in ids {
        sql.exec("DELETE FROM entries WHERE id = ?", vec![id.clone().into()])?;
    }
    Ok(())
}

/// A time as SQLite stores it (ms since epoch fit an i64 for millennia).
fn ms_value(ms: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(i64::try_from(ms).unwrap_or(i64::MAX))
}

fn as_ms(value: &SqlStorageValue) -> u64 {
    match value {
        SqlStorageValue::Integer(n) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    }
}
