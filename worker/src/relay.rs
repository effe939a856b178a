//! Streaming an upstream answer to the caller as it arrives.
//!
//! `edgeway_core::relay::StreamRelay` decides what each upstream event
//! becomes; this module feeds it bytes under the route's timeouts (first
//! token, idle, total deadline), hands its output to the response body at
//! once, and writes the log record when the stream ends — or when the caller
//! goes away, which drops the stream and, with it, the upstream call.

use edgeway_core::config::Timeouts;
use edgeway_core::log::{Outcome, RequestLog};
use edgeway_core::openai::Usage;
use edgeway_core::pricing::Price;
use edgeway_core::providers::StreamTranslator;
use edgeway_core::relay::{RelayState, StreamRelay};
use edgeway_core::{tokens, GatewayError};
use futures_util::StreamExt;

use crate::cancel::AbortOnDrop;
use crate::runtime;
use crate::upstream::BodyStream;

/// A stream in flight. Dropping it cancels the upstream call.
pub struct LiveStream {
    upstream: BodyStream,
    relay: StreamRelay,
    pending: Vec<u8>,
    provider: String,
    request_id: String,
    idle_ms: u64,
    first_token_ms: u64,
    deadline_ms: u64,
    last_activity_ms: u64,
    watchdog: runtime::Watchdog,
    upstream_ended: bool,
    /// The upstream body was read to its end (so its connection can go
    /// back to the pool, and there is nothing to cancel).
    upstream_complete: bool,
    /// Attached when the stream is handed to the caller; taken when written.
    log: Option<RequestLog>,
    log_sink: Option<futures_channel::oneshot::Sender<RequestLog>>,
    abort: AbortOnDrop,
    costing: Costing,
    /// Receives the relayed events as they come, for requests following
    /// this stream (coalescing).
    publish_sink: Option<futures_channel::mpsc::UnboundedSender<Vec<String>>>,
    /// Receives the assembled answer if the stream completes (for the cache).
    answer_sink: Option<futures_channel::oneshot::Sender<edgeway_core::openai::ChatCompletion>>,
    /// Put the assembled answer (redacted) in the log record.
    answer_to_log: bool,
}

/// What else a stream is relayed for, besides its caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sharing {
    /// Assemble the whole answer for the cache.
    pub assemble: bool,
    /// Keep the events for requests that follow this one (coalescing).
    pub tap: bool,
}

/// What pricing a stream needs once it has ended.
pub struct Costing {
    /// The target's price, if known.
    pub price: Option<Price>,
    /// The prompt's estimated tokens, for providers whose streams report no usage.
    pub prompt_estimate: u64,
}

/// What the answer is checked against as it streams: the output
/// guardrails, and the JSON schema the caller asked for.
#[derive(Default)]
pub struct OutputChecks {
    /// The route's output rules.
    pub guard: Option<edgeway_core::guardrails::OutputGuard>,
    /// The requested schema.
    pub schema: Option<serde_json::Value>,
}

/// How long the stream may take.
pub struct StreamLimits {
    /// Timeouts of the route.
    pub timeouts: Timeouts,
    /// When the whole request must be over (ms since epoch).
    pub deadline_ms: u64,
    /// The request's timer, carried over from waiting for the headers.
    pub watchdog: runtime::Watchdog,
}

impl LiveStream {
    /// Reads the upstream until its first event is ready for the caller, so
    /// that a failure before anything was sent can still be a plain HTTP
    /// error (and, later, a retry). On success the stream is ready to serve.
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    pub async fn start(
        upstream: BodyStream,
        caller_wants_usage: bool,
        translator: Option<StreamTranslator>,
        provider: &str,
        request_id: &str,
        limits: StreamLimits,
        costing: Costing,
        sharing: Sharing,
        checks: OutputChecks,
        abort: AbortOnDrop,
    ) -> Result<Self, GatewayError> {
        let mut relay = StreamRelay::new(caller_wants_usage).with_translator(translator);
        if let Some(guard) = checks.guard {
            relay = relay.with_guard(guard, request_id);
        }
        if let Some(schema) = checks.schema {
            relay = relay.with_schema(schema);
        }
        if sharing.assemble {
            relay = relay.with_assembler();
        }
        if sharing.tap {
            relay = relay.with_tap();
        }
        let mut live = Self {
            upstream,
            relay,
            pending: Vec::new(),
            provider: provider.to_owned(),
            request_id: request_id.to_owned(),
            idle_ms: limits.timeouts.idle_ms,
            first_token_ms: limits.timeouts.first_token_ms,
            deadline_ms: limits.deadline_ms,
            last_activity_ms: runtime::now_ms(),
            watchdog: limits.watchdog,
            upstream_ended: false,
            upstream_complete: false,
            log: None,
            log_sink: None,
            abort,
            costing,
            answer_sink: None,
            publish_sink: None,
            answer_to_log: false,
        };
        while live.relay.state() == RelayState::ExpectFirstEvent {
            // Nothing reached the caller yet: the failure is a plain error
            // (or a retry), and the request's own log record tells of it.
            live.pump().await?;
            if live.upstream_ended {
                break;
            }
        }
        Ok(live)
    }

    /// Reads one upstream piece and relays it. An error before the first
    /// event is returned; after it, it becomes the stream's final event.
    async fn pump(&mut self) -> Result<(), GatewayError> {
        let (phase, wait) = match self.relay.state() {
            RelayState::ExpectFirstEvent => ("first token", self.first_token_ms),
            _ => ("idle", self.idle_ms),
        };
        let phase_due = self.last_activity_ms + wait;
        let (phase, due) = if self.deadline_ms < phase_due { ("total deadline", self.deadline_ms) } else { (phase, phase_due) };
        let failure = match self.watchdog.race(due, self.upstream.next()).await {
            None => GatewayError::UpstreamTimeout {
                provider: self.provider.clone(),
                phase,
                waited_ms: due.saturating_sub(self.last_activity_ms),
            },
            Some(Some(Ok(bytes))) => {
                let now = runtime::now_ms();
                self.last_activity_ms = now;
                match self.relay.on_upstream_bytes(&bytes, now, &mut self.pending) {
                    Ok(()) => return Ok(()),
                    Err(reason) => self.upstream_error(reason),
                }
            }
            Some(Some(Err(reason))) => self.upstream_error(reason),
            Some(None) => {
                self.upstream_ended = true;
                self.upstream_complete = true;
                match self.relay.on_upstream_end(&mut self.pending) {
                    Ok(()) => return Ok(()),
                    Err(reason) => self.upstream_error(reason),
                }
            }
        };
        if self.relay.state() == RelayState::ExpectFirstEvent {
            return Err(failure);
        }
        self.upstream_ended = true;
        self.relay.fail(&failure.to_string(), &self.request_id, &mut self.pending);
        Ok(())
    }

    /// After the final event: reads what is left of the upstream body
    /// (normally only its end) instead of cancelling it, which would close
    /// a connection the runtime could reuse for the next request. An
    /// upstream still sending after the idle timeout is cut off then.
    async fn read_to_end(&mut self) {
        let due = runtime::now_ms().saturating_add(self.idle_ms).min(self.deadline_ms);
        self.upstream_complete = loop {
            match self.watchdog.race(due, self.upstream.next()).await {
                Some(Some(Ok(_))) => {}
                Some(None) => break true,
                Some(Some(Err(_))) | None => break false,
            }
        };
        self.upstream_ended = true;
    }

    fn upstream_error(&self, message: String) -> GatewayError {
        GatewayError::UpstreamError { provider: self.provider.clone(), status: Some(200), message }
    }

    /// The bytes relayed so far and not yet handed on.
    pub fn take_ready(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// The assembled answer, delivered when the stream completes properly
    /// (never for a failed or cut stream). Needs `assemble` at start.
    pub fn answer(&mut self) -> futures_channel::oneshot::Receiver<edgeway_core::openai::ChatCompletion> {
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.answer_sink = Some(sender);
        receiver
    }

    /// Keeps the answer, redacted, in the log record when the stream
    /// completes (a route that stores bodies). Needs `assemble` at start.
    pub fn store_answer_in_log(&mut self) {
        self.answer_to_log = true;
    }

    /// The relayed events, in batches as they come, for requests following
    /// this stream; the channel closes when the stream ends. Needs `tap`.
    pub fn publish(&mut self) -> futures_channel::mpsc::UnboundedReceiver<Vec<String>> {
        let (sender, receiver) = futures_channel::mpsc::unbounded();
        self.publish_sink = Some(sender);
        self.flush_published();
        receiver
    }

    fn flush_published(&mut self) {
        if let Some(sink) = &self.publish_sink {
            let mut batch = Vec::new();
            self.relay.drain_tapped(&mut batch);
            if !batch.is_empty() {
                let _ = sink.unbounded_send(batch);
            }
        }
    }

    /// The caller's body: relayed bytes as soon as they exist. The log
    /// record goes to the returned receiver when the stream ends, however it
    /// ends; the router awaits it in `wait_until`, which also keeps the
    /// runtime from discarding the record when the caller disconnects.
    pub fn into_body(mut self, log: RequestLog) -> (impl futures_util::Stream<Item = Vec<u8>>, futures_channel::oneshot::Receiver<RequestLog>) {
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.log = Some(log);
        self.log_sink = Some(sender);
        (self.body(), receiver)
    }

    fn body(self) -> impl futures_util::Stream<Item = Vec<u8>> {
        futures_util::stream::unfold(self, |mut live| async move {
            loop {
                if !live.pending.is_empty() {
                    let bytes = std::mem::take(&mut live.pending);
                    return Some((bytes, live));
                }
                if live.relay.state() == RelayState::Done && !live.upstream_ended {
                    live.read_to_end().await;
                }
                if live.upstream_ended || matches!(live.relay.state(), RelayState::Done | RelayState::Failed) {
                    live.finish();
                    return None;
                }
                // pump() only returns Err before the first event, which
                // start() has already passed.
                let _ = live.pump().await;
                live.flush_published();
            }
        })
    }

    /// Writes the log record once the stream is over.
    fn finish(&mut self) {
        let Some(mut log) = self.log.take() else { return };
        let summary = self.relay.summary();
        let now = runtime::now_ms();
        log.latency_ms = now.saturating_sub(log.time_ms);
        log.ttft_ms = summary.first_token_at.map(|t| t.saturating_sub(log.time_ms));
        // A provider that reports no usage in streams is counted here.
        let (usage, estimated) = match summary.usage {
            Some(usage) => (usage, false),
            None => (Usage::new(self.costing.prompt_estimate, tokens::estimate_chars(summary.streamed_chars)), true),
        };
        log.record_usage(&usage, estimated, self.costing.price.map(|p| p.cost_usd(&usage)));
        log.outcome = match self.relay.state() {
            RelayState::Done => Outcome::Ok,
            RelayState::Failed if self.relay.guard_blocked().is_some() => {
                log.error_code = Some("guardrail_blocked".to_owned());
                Outcome::Error
            }
            RelayState::Failed => {
                log.error_code = Some("stream_interrupted".to_owned());
                Outcome::Interrupted
            }
            _ => Outcome::ClientClosed,
        };
        if let Some(report) = self.relay.guard_report() {
            log.guardrails.get_or_insert_with(Default::default).merge(report);
            log.guardrail_held_ms = Some(self.relay.guard_held_ms());
        }
        if let Some(Err(mismatch)) = self.relay.schema_result() {
            log.schema_error = Some(format!("the answer does not match the requested JSON schema at {}: {}", mismatch.path, mismatch.message));
        }
        // An upstream read that failed because the caller left (the request
        // signal aborted it) is the caller's doing, not an interruption.
        if self.abort.caller_gone() {
            log.outcome = Outcome::ClientClosed;
            log.error_code = None;
        }
        if self.upstream_complete {
            self.abort.disarm(); // nothing left to cancel
        }
        self.flush_published();
        self.publish_sink = None;
        let answer = self.relay.take_answer();
        if self.answer_to_log {
            log.answer = answer.as_ref().map(edgeway_core::log::answer_body);
        }
        if let (Some(sink), Some(answer)) = (self.answer_sink.take(), answer) {
            let _ = sink.send(answer);
        }
        if let Some(sink) = self.log_sink.take() {
            let _ = sink.send(log);
        }
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        // A log still held means the caller left before the end; the
        // abort guard drops next and cancels the upstream call.
        self.finish();
    }
}
