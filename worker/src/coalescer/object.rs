//! The coalescer Durable Object: one per cache entry key, alive only while
//! that answer is being made.
//!
//! The first caller of a cacheable miss becomes the leader and calls the
//! upstream as usual; identical requests that arrive meanwhile wait here
//! instead of calling the upstream again. When the leader's answer is
//! stored, every waiter gets it (and serves it as a hit: a stream is
//! replayed from the start); if the leader failed, one waiter is promoted
//! to leader and the rest keep waiting. A Durable Object runs one event at
//! a time and all its requests share one I/O context, which is what lets
//! one request's result reach the others.

use std::cell::RefCell;

use futures_channel::oneshot;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::wire::{Join, Verdict};

/// Who leads, and who waits for the answer.
#[derive(Default)]
struct Flight {
    /// When the current leader took over (ms, the worker's clock); `None`:
    /// nobody is making the answer.
    leader_since: Option<u64>,
    waiters: Vec<oneshot::Sender<Verdict>>,
}

/// One cache entry's coalescer.
#[durable_object(fetch)]
pub struct Coalescer {
    flight: RefCell<Flight>,
}

impl DurableObject for Coalescer {
    fn new(_state: State, _env: Env) -> Self {
        Self { flight: RefCell::new(Flight::default()) }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let join: Join = serde_json::from_str(&request.text().await?).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let verdict = match join.op.as_str() {
            "join" => self.join(&join).await,
            // The leader is done: hand the answer to everyone, or, on a
            // failure, the lead to one waiter.
            _ => {
                self.finish(join.entry);
                Verdict::default()
            }
        };
        Response::ok(serde_json::to_string(&verdict).map_err(|e| worker::Error::RustError(e.to_string()))?)
    }
}

impl Coalescer {
    async fn join(&self, join: &Join) -> Verdict {
        let receiver = {
            let mut flight = self.flight.borrow_mut();
            // A leader that has been silent longer than its deadline is gone.
            let leading = flight.leader_since.is_some_and(|since| join.now_ms < since.saturating_add(join.lease_ms));
            if !leading {
                flight.leader_since = Some(join.now_ms);
                return Verdict { lead: true, entry: None };
            }
            let (sender, receiver) = oneshot::channel();
            flight.waiters.push(sender);
            receiver
        };
        // A dropped sender (the object was reset) means: lead yourself.
        receiver.await.unwrap_or(Verdict { lead: true, entry: None })
    }

    fn finish(&self, entry: Option<String>) {
        let mut flight = self.flight.borrow_mut();
        match entry {
            Some(entry) => {
                flight.leader_since = None;
                for waiter in flight.waiters.drain(..) {
                    let _ = waiter.send(Verdict { lead: false, entry: Some(entry.clone()) });
                }
            }
            None => {
                // One waiter takes over; if none is left, nobody leads.
                while let Some(next) = (!flight.waiters.is_empty()).then(|| flight.waiters.remove(0)) {
                    if next.send(Verdict { lead: true, entry: None }).is_ok() {
                        return;
                    }
                }
                flight.leader_since = None;
            }
        }
    }
}
