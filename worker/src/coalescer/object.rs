//! The coalescer Durable Object: one per cache entry key, alive only while
//! that answer is being made.
//!
//! The first caller of a cacheable miss becomes the leader and calls the
//! upstream as usual; identical requests that arrive meanwhile wait here
//! instead of calling the upstream again. A streaming leader publishes its
//! events as they come, and every follower gets its own stream that
//! replays what was published and then follows live; otherwise followers
//! get the leader's stored answer. If the leader failed, one waiter is
//! promoted to leader and the rest keep waiting. A Durable Object runs one
//! event at a time and all its requests share one I/O context, which is
//! what lets one request's stream reach the others.

use std::cell::RefCell;

use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::wire::{Join, Verdict};

/// Most bytes of events kept for requests that join late; past it, late
/// joiners wait for the stored answer instead of a replay.
const MAX_REPLAY_BYTES: usize = 4 * 1024 * 1024;

/// Header of a live answer: the leader's provider and model.
pub const LIVE_PROVIDER: &str = "x-coalescer-provider";
/// Header of a live answer: the leader's upstream model.
pub const LIVE_MODEL: &str = "x-coalescer-model";

/// What a waiting request is woken with.
enum Wake {
    Lead,
    Entry(String),
    Live,
}

/// Who leads, what it has published, and who waits or follows.
#[derive(Default)]
struct Flight {
    /// When the current leader took over (ms, the worker's clock); `None`:
    /// nobody is making the answer.
    leader_since: Option<u64>,
    waiters: Vec<oneshot::Sender<Wake>>,
    /// The leader is streaming: `events` so far, `ended` once it stopped.
    live: bool,
    ended: bool,
    events: Vec<String>,
    /// Bytes in `events`; past [`MAX_REPLAY_BYTES`] they are dropped.
    buffered: usize,
    overflowed: bool,
    provider: String,
    model: String,
    followers: Vec<mpsc::UnboundedSender<String>>,
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
        let join: Join = edgeway_core::json::from_str(&request.text().await?).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let verdict = match join.op.as_str() {
            "join" => match self.join(&join).await {
                Ok(verdict) => verdict,
                Err(live) => return live,
            },
            "publish" => {
                self.publish(join);
                Verdict::default()
            }
            // The leader is done: hand the answer to everyone, or, on a
            // failure, the lead to one waiter.
            _ => {
                self.finish(join.entry, join.now_ms);
                Verdict::default()
            }
        };
        Response::ok(serde_json::to_string(&verdict).map_err(|e| worker::Error::RustError(e.to_string()))?)
    }
}

impl Coalescer {
    /// A verdict, or (as `Err`) a live stream to follow.
    async fn join(&self, join: &Join) -> std::result::Result<Verdict, Result<Response>> {
        let receiver = {
            let mut flight = self.flight.borrow_mut();
            // A leader that has been silent longer than its deadline is gone.
            let leading = flight.leader_since.is_some_and(|since| join.now_ms < since.saturating_add(join.lease_ms));
            if !leading {
                *flight = Flight { leader_since: Some(join.now_ms), ..Flight::default() };
                return Ok(Verdict { lead: true, entry: None });
            }
            if flight.live && !flight.overflowed {
                None
            } else {
                let (sender, receiver) = oneshot::channel();
                flight.waiters.push(sender);
                Some(receiver)
            }
            // The borrow ends here: `follow` takes its own.
        };
        let Some(receiver) = receiver else { return Err(self.follow()) };
        // A dropped sender (the object was reset) means: lead yourself.
        match receiver.await.unwrap_or(Wake::Lead) {
            Wake::Lead => Ok(Verdict { lead: true, entry: None }),
            Wake::Entry(entry) => Ok(Verdict { lead: false, entry: Some(entry) }),
            Wake::Live => Err(self.follow()),
        }
    }

    /// A stream of the leader's events: what was published, then live.
    fn follow(&self) -> Result<Response> {
        let mut flight = self.flight.borrow_mut();
        let (sender, receiver) = mpsc::unbounded();
        for event in &flight.events {
            let _ = sender.unbounded_send(event.clone());
        }
        if !flight.ended {
            flight.followers.push(sender);
        }
        let body = receiver.map(|data| {
            let mut bytes = Vec::with_capacity(data.len() + 8);
            edgeway_core::sse::encode_data(&data, &mut bytes);
            Ok::<Vec<u8>, worker::Error>(bytes)
        });
        let response = Response::from_stream(body)?;
        let headers = response.headers();
        let _ = headers.set("content-type", "text/event-stream");
        let _ = headers.set(LIVE_PROVIDER, &flight.provider);
        let _ = headers.set(LIVE_MODEL, &flight.model);
        Ok(response)
    }

    fn publish(&self, join: Join) {
        let mut flight = self.flight.borrow_mut();
        if !flight.live {
            flight.live = true;
            flight.provider = join.provider;
            flight.model = join.model;
            for waiter in std::mem::take(&mut flight.waiters) {
                let _ = waiter.send(Wake::Live);
            }
        }
        for event in join.events {
            flight.followers.retain(|f| f.unbounded_send(event.clone()).is_ok());
            flight.buffered += event.len();
            if flight.buffered > MAX_REPLAY_BYTES {
                // Too much to replay: those already following keep going,
                // later ones wait for the stored answer.
                flight.overflowed = true;
                flight.events.clear();
            } else if !flight.overflowed {
                flight.events.push(event);
            }
        }
        if join.end {
            // Dropping the senders ends every follower's stream.
            flight.ended = true;
            flight.followers.clear();
        }
    }

    fn finish(&self, entry: Option<String>, now_ms: u64) {
        let mut flight = self.flight.borrow_mut();
        match entry {
            Some(entry) => {
                for waiter in flight.waiters.drain(..) {
                    let _ = waiter.send(Wake::Entry(entry.clone()));
                }
                *flight = Flight::default();
            }
            None => {
                // One waiter takes over; if none is left, nobody leads.
                let waiters = std::mem::take(&mut flight.waiters);
                *flight = Flight::default();
                let mut waiters = waiters.into_iter();
                for next in waiters.by_ref() {
                    if next.send(Wake::Lead).is_ok() {
                        flight.leader_since = Some(now_ms);
                        break;
                    }
                }
                flight.waiters = waiters.collect();
            }
        }
    }
}
