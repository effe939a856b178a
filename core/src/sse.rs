//! Incremental Server-Sent Events (`text/event-stream`) parser and encoder.
//!
//! The parser follows the WHATWG HTML Living Standard, §9.2 "Server-sent
//! events" — §9.2.5 "Parsing an event stream" and §9.2.6 "Interpreting an
//! event stream"
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//! It is fed upstream bytes exactly as the network delivers them, so input may
//! be split anywhere — mid-line, mid-code-point, between CR and LF — and it
//! emits each event as soon as its terminating blank line arrives. Memory is
//! bounded by a per-event limit so a hostile or broken upstream cannot make
//! the gateway buffer without end. The encoder writes the same format back out
//! for the client side of the stream.

use std::borrow::Cow;

/// Default bound on one pending line or one pending event: 1 MiB.
///
/// Generous for LLM streams (a chunk is typically a few hundred bytes) while
/// keeping a misbehaving upstream from exhausting a Worker isolate's memory.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;

/// OpenAI's end-of-stream sentinel, already framed as a complete event.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// The UTF-8 byte order mark, which the spec's UTF-8 decode strips once at the
/// start of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
///
/// `id` and `retry` are the fields that appeared in *this* event's block, not
/// the spec's persistent "last event ID" / "reconnection time" (those are on
/// [`SseParser::last_event_id`] and [`SseParser::reconnection_time_ms`]). This
/// keeps re-encoding faithful: forwarding an event does not repeat an `id:`
/// line that upstream sent only once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` type; `None` when absent or empty (the spec's `"message"`).
    pub event: Option<String>,
    /// The `data:` lines joined with `"\n"`.
    pub data: String,
    /// The `id:` set in this block, if any (ids containing NUL are ignored).
    pub id: Option<String>,
    /// The `retry:` (milliseconds) set in this block, if any.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// Whether this is OpenAI's `data: [DONE]` end-of-stream sentinel.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// Why the parser refused a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A single line, or the fields buffered for one event, exceeded the limit.
    #[error("server-sent event exceeds the {limit}-byte limit")]
    EventTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The stream ended with a partial line or an undispatched event pending.
    #[error("event stream ended in the middle of an event")]
    TruncatedEvent,
}

/// Incremental `text/event-stream` parser.
///
/// Feed bytes with [`push`](Self::push) as they arrive and call
/// [`finish`](Self::finish) at end of stream. After an error the parser is
/// poisoned (the stream position is lost) and keeps returning that error.
#[derive(Debug, Clone)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line. Reused across lines so
    /// steady-state parsing does not allocate for line assembly.
    line: Vec<u8>,
    fields: Fields,
    max: usize,
    /// The previous push ended in CR: a leading LF in the next push belongs to
    /// that line end and must be skipped, not read as an empty line.
    after_cr: bool,
    /// Still at stream start, where a BOM (possibly split) may need stripping.
    /// While set, `line` holds only a proper prefix of the BOM.
    at_start: bool,
    poisoned: Option<SseError>,
}

/// The spec's per-stream buffers, split out so a line borrowed from
/// `SseParser::line` can be interpreted while the buffers are mutated.
#[derive(Debug, Clone, Default)]
struct Fields {
    /// The spec's data buffer, each line followed by LF (removed on dispatch).
    data: String,
    event_type: String,
    /// `id:` seen in the current block.
    id: Option<String>,
    /// `retry:` seen in the current block.
    retry: Option<u64>,
    last_event_id: String,
    reconnection_time: Option<u64>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the [`DEFAULT_MAX_EVENT_BYTES`] limit.
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that refuses any line, or any event's buffered fields, larger
    /// than `limit` bytes.
    #[must_use]
    pub fn with_max_event_bytes(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            fields: Fields::default(),
            max: limit,
            after_cr: false,
            at_start: true,
            poisoned: None,
        }
    }

    /// The spec's "last event ID string": the most recent valid `id:` value,
    /// persisting across events (and across [`finish`](Self::finish), as a
    /// reconnection would need it for `Last-Event-ID`).
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        &self.fields.last_event_id
    }

    /// The most recent valid `retry:` value in milliseconds, even if it came
    /// in a block that dispatched no event.
    #[must_use]
    pub fn reconnection_time_ms(&self) -> Option<u64> {
        self.fields.reconnection_time
    }

    /// Parse `bytes` and append every event they complete to `out`.
    ///
    /// Events completed before an error are still appended.
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] if a line or an event's buffered fields
    /// exceed the limit; the parser is then poisoned.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        let result = self.push_inner(bytes, out);
        if let Err(err) = &result {
            self.poison(err.clone());
        }
        result
    }

    /// Signal end of stream.
    ///
    /// Per spec, an event not terminated by a blank line is discarded; this
    /// reports it so a truncated upstream can be told from a clean one. The
    /// parser is then ready for a new stream (e.g. a reconnection), keeping
    /// [`last_event_id`](Self::last_event_id) and the reconnection time.
    ///
    /// # Errors
    ///
    /// [`SseError::TruncatedEvent`] if a partial line or undispatched data was
    /// pending; the poisoning error if an earlier [`push`](Self::push) failed.
    pub fn finish(&mut self) -> Result<(), SseError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        let truncated = !self.line.is_empty() || !self.fields.data.is_empty();
        self.line.clear();
        self.after_cr = false;
        self.at_start = true;
        self.fields.reset_block();
        if truncated {
            Err(SseError::TruncatedEvent)
        } else {
            Ok(())
        }
    }

    fn push_inner(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = bytes;
        if self.at_start {
            match self.strip_bom(rest) {
                Some(after) => rest = after,
                // Everything so far could still be a BOM; wait for more.
                None => return Ok(()),
            }
        }
        if self.after_cr {
            if let Some((&first, tail)) = rest.split_first() {
                self.after_cr = false;
                if first == b'\n' {
                    rest = tail;
                }
            }
        }
        // Each byte of `bytes` is examined by this search once; buffered bytes
        // in `self.line` are never rescanned.
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let Some((line, terminator_and_after)) = rest.split_at_checked(end) else {
                break;
            };
            let Some((&terminator, after)) = terminator_and_after.split_first() else {
                break;
            };
            rest = after;
            if terminator == b'\r' {
                match rest {
                    [b'\n', tail @ ..] => rest = tail,
                    [] => self.after_cr = true,
                    _ => {}
                }
            }
            self.complete_line(line, out)?;
        }
        self.append_partial(rest)
    }

    /// Consume a leading BOM, which may arrive split across pushes. Returns
    /// the bytes left to parse, or `None` if all input so far is a proper
    /// prefix of the BOM (buffered in `self.line`).
    fn strip_bom<'a>(&mut self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let wanted = BOM.get(self.line.len()..).unwrap_or_default();
        let (head, tail) = bytes.split_at_checked(wanted.len()).unwrap_or((bytes, &[]));
        if !wanted.starts_with(head) {
            // Not a BOM: any buffered prefix bytes are ordinary line content,
            // and none of them is CR or LF, so `self.line` is a valid partial line.
            self.at_start = false;
            return Some(bytes);
        }
        if head.len() == wanted.len() {
            self.line.clear();
            self.at_start = false;
            Some(tail)
        } else {
            self.line.extend_from_slice(head);
            None
        }
    }

    fn complete_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.line.is_empty() {
            // Fast path: the whole line is in this push; interpret it in place.
            if line.len() > self.max {
                return Err(SseError::EventTooLarge { limit: self.max });
            }
            return self.fields.interpret(line, self.max, out);
        }
        self.append_partial(line)?;
        let result = self.fields.interpret(&self.line, self.max, out);
        self.line.clear();
        result
    }

    fn append_partial(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len().saturating_add(bytes.len()) > self.max {
            return Err(SseError::EventTooLarge { limit: self.max });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn poison(&mut self, err: SseError) {
        // Release the buffers: the stream is being abandoned.
        self.line = Vec::new();
        self.fields = Fields::default();
        self.poisoned = Some(err);
    }
}

impl Fields {
    /// Interpret one complete line (without its terminator), per §9.2.6.
    fn interpret(
        &mut self,
        line: &[u8],
        max: usize,
        out: &mut Vec<SseEvent>,
    ) -> Result<(), SseError> {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            None if line.is_empty() => {
                self.dispatch(out);
                return Ok(());
            }
            // A line with no colon is a field name with an empty value.
            None => (line, &[][..]),
            // A leading colon marks a comment.
            Some(0) => return Ok(()),
            Some(colon) => {
                let (name, colon_and_value) = line.split_at_checked(colon).unwrap_or((line, &[]));
                let value = colon_and_value.get(1..).unwrap_or_default();
                (name, value.strip_prefix(b" ").unwrap_or(value))
            }
        };
        match name {
            b"data" => {
                self.data.push_str(&decode(value));
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&decode(value));
            }
            // Spec: an id containing NUL is ignored entirely.
            b"id" if !value.contains(&0) => {
                let id = decode(value).into_owned();
                self.last_event_id.clone_from(&id);
                self.id = Some(id);
            }
            // The digits check matters: `u64::from_str` alone would also
            // accept a leading '+'.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits-only but too large for u64: ignored like any other
                // unusable value.
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    self.retry = Some(ms);
                    self.reconnection_time = Some(ms);
                }
            }
            _ => {}
        }
        let pending = self
            .data
            .len()
            .saturating_add(self.event_type.len())
            .saturating_add(self.id.as_ref().map_or(0, String::len));
        if pending > max {
            return Err(SseError::EventTooLarge { limit: max });
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let id = self.id.take();
        let retry = self.retry.take();
        if self.data.is_empty() {
            // Spec: no data, no event; the event type still resets.
            self.event_type.clear();
            return;
        }
        let data = self.data.strip_suffix('\n').unwrap_or(&self.data);
        let event = (!self.event_type.is_empty()).then(|| std::mem::take(&mut self.event_type));
        // Copy rather than take, so the data buffer keeps its capacity for
        // the next event: one exact-size allocation per event.
        out.push(SseEvent {
            event,
            data: data.to_owned(),
            id,
            retry,
        });
        self.data.clear();
    }

    /// Forget the current block (end of stream), keeping the persistent
    /// last event ID and reconnection time.
    fn reset_block(&mut self) {
        self.data.clear();
        self.event_type.clear();
        self.id = None;
        self.retry = None;
    }
}

/// Decode a field value as UTF-8, replacing invalid sequences with U+FFFD as
/// the spec's decoder does. Borrows (no allocation) when the bytes are valid.
/// Lines end only at ASCII CR/LF, so a code point split across pushes is whole
/// again by the time its line is decoded.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Write `data` as a complete event: one `data: ` field per line, then the
/// blank line that dispatches it.
///
/// `data` is split on `"\r\n"`, `"\n"` and `"\r"`, since the wire format
/// cannot carry a bare line break inside a field. A parser rejoins the lines
/// with `"\n"`, so the round trip is exact for data without CR, while CR and
/// CRLF come back normalised to LF. Empty `data` is written as `data: ` and
/// still dispatches an event with empty data.
pub fn encode_data(data: &str, out: &mut Vec<u8>) {
    write_field_lines(b"data: ", data, out);
    out.push(b'\n');
}

/// Write `event` as a complete event: `event:`, `id:` and `retry:` fields as
/// present, then its data as [`encode_data`] does.
///
/// An empty `event` type is omitted (the spec treats it as absent). A line
/// break cannot be represented in the single-line `event` or `id` fields, so
/// those are cut at their first CR or LF — writing the rest would let it be
/// read as a separate, injected field. An `id` containing NUL is written, but
/// receivers ignore it per spec.
pub fn encode_event(event: &SseEvent, out: &mut Vec<u8>) {
    if let Some(kind) = event
        .event
        .as_deref()
        .map(first_line)
        .filter(|k| !k.is_empty())
    {
        write_field(b"event: ", kind.as_bytes(), out);
    }
    if let Some(id) = event.id.as_deref() {
        write_field(b"id: ", first_line(id).as_bytes(), out);
    }
    if let Some(retry) = event.retry {
        write_field(b"retry: ", retry.to_string().as_bytes(), out);
    }
    encode_data(&event.data, out);
}

/// Write a comment block, `: text` then a blank line, which receivers ignore.
///
/// Used as a keep-alive so idle connections are not closed by intermediaries.
/// A multi-line `text` becomes one comment line per line, so it can never
/// inject fields. Write it only between events: the blank line resets the
/// receiver's pending event type.
pub fn encode_comment(text: &str, out: &mut Vec<u8>) {
    write_field_lines(b": ", text, out);
    out.push(b'\n');
}

fn write_field(prefix: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.reserve(prefix.len() + value.len() + 1);
    out.extend_from_slice(prefix);
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Write `prefix line\n` for every line of `text` (split on CRLF, LF, CR).
fn write_field_lines(prefix: &[u8], text: &str, out: &mut Vec<u8>) {
    out.reserve(prefix.len() + text.len() + 2);
    let mut rest = text.as_bytes();
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') else {
            write_field(prefix, rest, out);
            return;
        };
        let Some((line, terminator_and_after)) = rest.split_at_checked(end) else {
            return;
        };
        write_field(prefix, line, out);
        rest = match terminator_and_after {
            [b'\r', b'\n', after @ ..] | [_, after @ ..] => after,
            [] => return,
        };
    }
}

fn first_line(s: &str) -> &str {
    s.split(['\r', '\n']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(bytes: &[u8]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(bytes, &mut out).unwrap();
        out
    }

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out).unwrap();
        }
        out
    }

    fn data_event(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
            id: None,
            retry: None,
        }
    }

    /// Everything observable about parsing `bytes` split at `cuts`.
    fn run_split(
        bytes: &[u8],
        cuts: &[usize],
        limit: usize,
    ) -> (Vec<SseEvent>, Result<(), SseError>) {
        let mut parser = SseParser::with_max_event_bytes(limit);
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            if let Err(err) = parser.push(&bytes[start..cut], &mut out) {
                return (out, Err(err));
            }
            start = cut;
        }
        let finished = parser.finish();
        (out, finished)
    }

    #[test]
    fn single_data_event_is_dispatched_on_blank_line() {
        assert_eq!(parse_all(b"data: hello\n\n"), vec![data_event("hello")]);
    }

    #[test]
    fn nothing_is_dispatched_before_the_blank_line() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(b"data: hello\n", &mut out).unwrap();
        assert!(out.is_empty());
        parser.push(b"\n", &mut out).unwrap();
        assert_eq!(out, vec![data_event("hello")]);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        let events = parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(events, vec![data_event("a\nb")]);
    }

    #[test]
    fn cr_alone_ends_lines() {
        assert_eq!(parse_all(b"data: a\rdata: b\r\r"), vec![data_event("a\nb")]);
    }

    #[test]
    fn cr_at_end_of_push_is_a_line_end_immediately() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(b"data: a\r\r", &mut out).unwrap();
        assert_eq!(out, vec![data_event("a")]);
        // The next byte is not an LF, so nothing is skipped.
        parser.push(b"data: b\n\n", &mut out).unwrap();
        assert_eq!(out, vec![data_event("a"), data_event("b")]);
    }

    #[test]
    fn lf_after_lf_is_not_swallowed_as_crlf() {
        assert_eq!(parse_chunks(&[b"data: a\n", b"\n"]), vec![data_event("a")]);
    }

    #[test]
    fn empty_push_keeps_pending_cr() {
        let events = parse_chunks(&[b"data: a\r", b"", b"\n", b"\n"]);
        assert_eq!(events, vec![data_event("a")]);
    }

    #[test]
    fn multi_byte_char_split_across_pushes_decodes_exactly() {
        let bytes = "data: h€llo 😀\n\n".as_bytes();
        for cut in 0..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(
                parse_chunks(&[a, b]),
                vec![data_event("h€llo 😀")],
                "cut at {cut}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_chunks(&singles), vec![data_event("h€llo 😀")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(
            parse_all(b"data: a\xFFb\n\n"),
            vec![data_event("a\u{FFFD}b")]
        );
    }

    #[test]
    fn comment_lines_are_ignored() {
        let events = parse_all(b": keep-alive\ndata: a\n:another\n\n: trailing\n\n");
        assert_eq!(events, vec![data_event("a")]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines() {
        assert_eq!(
            parse_all(b"data: a\ndata: b\ndata: c\n\n"),
            vec![data_event("a\nb\nc")]
        );
    }

    #[test]
    fn empty_data_field_dispatches_an_empty_event() {
        assert_eq!(parse_all(b"data:\n\n"), vec![data_event("")]);
        assert_eq!(parse_all(b"data\n\n"), vec![data_event("")]);
        assert_eq!(parse_all(b"data\ndata\n\n"), vec![data_event("\n")]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_stripped() {
        assert_eq!(parse_all(b"data:x\n\n"), vec![data_event("x")]);
        assert_eq!(parse_all(b"data:  x \n\n"), vec![data_event(" x ")]);
        assert_eq!(parse_all(b"data: a:b\n\n"), vec![data_event("a:b")]);
    }

    #[test]
    fn field_names_are_case_sensitive_and_unknown_fields_ignored() {
        assert_eq!(
            parse_all(b"Data: x\nfoo: y\ndata : z\ndata: w\n\n"),
            vec![data_event("w")]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        assert!(parse_all(b"event: ping\n\n").is_empty());
        assert!(parse_all(b"id: 7\nretry: 5\n\n").is_empty());
    }

    #[test]
    fn event_type_resets_after_each_block() {
        let events = parse_all(b"event: add\ndata: 1\n\ndata: 2\n\nevent: lost\n\ndata: 3\n\n");
        let kinds: Vec<_> = events.iter().map(|e| e.event.as_deref()).collect();
        assert_eq!(kinds, vec![Some("add"), None, None]);
    }

    #[test]
    fn empty_event_type_is_none() {
        assert_eq!(parse_all(b"event:\ndata: x\n\n"), vec![data_event("x")]);
    }

    #[test]
    fn id_and_retry_are_reported_per_event_and_persist_on_the_parser() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .push(
                b"id: 1\nretry: 3000\ndata: a\n\ndata: b\n\nid: 9\nretry: 10\n\n",
                &mut out,
            )
            .unwrap();
        assert_eq!(
            out,
            vec![
                SseEvent {
                    event: None,
                    data: "a".into(),
                    id: Some("1".into()),
                    retry: Some(3000)
                },
                data_event("b"),
            ]
        );
        // The undispatched block still updated the persistent values.
        assert_eq!(parser.last_event_id(), "9");
        assert_eq!(parser.reconnection_time_ms(), Some(10));
        parser.finish().unwrap();
        assert_eq!(parser.last_event_id(), "9");
    }

    #[test]
    fn id_containing_nul_is_ignored() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .push(b"id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n", &mut out)
            .unwrap();
        assert_eq!(out.get(1).unwrap().id, None);
        assert_eq!(parser.last_event_id(), "1");
    }

    #[test]
    fn empty_id_resets_last_event_id() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .push(b"id: 1\ndata: a\n\nid\ndata: b\n\n", &mut out)
            .unwrap();
        assert_eq!(out.get(1).unwrap().id.as_deref(), Some(""));
        assert_eq!(parser.last_event_id(), "");
    }

    #[test]
    fn retry_accepts_only_ascii_digits() {
        for bad in [
            "retry: +5",
            "retry: -5",
            "retry: 5s",
            "retry: ",
            "retry: 1 0",
            "retry: 99999999999999999999999",
        ] {
            let events = parse_all(format!("{bad}\ndata: x\n\n").as_bytes());
            assert_eq!(events, vec![data_event("x")], "{bad:?}");
        }
        let events = parse_all(b"retry: 0042\ndata: x\n\n");
        assert_eq!(events.first().unwrap().retry, Some(42));
    }

    #[test]
    fn bom_is_stripped_only_at_stream_start() {
        assert_eq!(parse_all(b"\xEF\xBB\xBFdata: a\n\n"), vec![data_event("a")]);
        // A second BOM is part of the first line's field name, which is then unknown.
        assert!(parse_all(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n").is_empty());
        assert_eq!(
            parse_all(b"data: \xEF\xBB\xBFa\n\n"),
            vec![data_event("\u{FEFF}a")]
        );
    }

    #[test]
    fn bom_split_across_pushes_is_stripped() {
        let events = parse_chunks(&[b"\xEF", b"", b"\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(events, vec![data_event("a")]);
    }

    #[test]
    fn partial_bom_that_diverges_is_kept_as_line_content() {
        let events = parse_chunks(&[b"\xEF\xBB", b"x\ndata: a\n\n"]);
        assert_eq!(events, vec![data_event("a")]);
        let events = parse_chunks(&[b"\xEF", b"\n\ndata: a\n\n"]);
        assert_eq!(events, vec![data_event("a")]);
    }

    #[test]
    fn done_sentinel_is_recognised() {
        let events = parse_all(DONE);
        assert_eq!(events.len(), 1);
        assert!(events.first().unwrap().is_done());
        assert!(!data_event("[DONE] ").is_done());
        assert!(!data_event("{}").is_done());
    }

    #[test]
    fn oversized_event_is_refused() {
        let mut parser = SseParser::with_max_event_bytes(16);
        let mut out = Vec::new();
        let err = parser
            .push(b"data: 0123456789\ndata: 0123456789\n\n", &mut out)
            .unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
        assert!(out.is_empty());
    }

    #[test]
    fn oversized_line_is_refused_before_its_end_arrives() {
        let mut parser = SseParser::with_max_event_bytes(16);
        let mut out = Vec::new();
        parser.push(b"data: 0123456789", &mut out).unwrap();
        let err = parser.push(b"ABCDEF", &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
    }

    #[test]
    fn event_exactly_at_the_limit_is_accepted() {
        // "data: " + 10 bytes is a 16-byte line; buffered data is 10 + LF.
        let mut parser = SseParser::with_max_event_bytes(16);
        let mut out = Vec::new();
        parser.push(b"data: 0123456789\n\n", &mut out).unwrap();
        assert_eq!(out, vec![data_event("0123456789")]);
    }

    #[test]
    fn events_before_an_error_are_kept_and_the_parser_stays_poisoned() {
        let mut parser = SseParser::with_max_event_bytes(16);
        let mut out = Vec::new();
        let err = parser
            .push(b"data: a\n\ndata: far too long for the limit\n\n", &mut out)
            .unwrap_err();
        assert_eq!(out, vec![data_event("a")]);
        assert_eq!(parser.push(b"data: b\n\n", &mut out), Err(err.clone()));
        assert_eq!(parser.finish(), Err(err));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn truncated_event_is_reported_at_finish() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(b"data: a\n\ndata: b\n", &mut out).unwrap();
        assert_eq!(parser.finish(), Err(SseError::TruncatedEvent));
        // The unterminated event is discarded, per spec.
        assert_eq!(out, vec![data_event("a")]);

        let mut parser = SseParser::new();
        parser.push(b"data: a\n\ndata: par", &mut out).unwrap();
        assert_eq!(parser.finish(), Err(SseError::TruncatedEvent));
    }

    #[test]
    fn clean_end_of_stream_finishes_ok() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .push(b"data: a\r\n\r\n: bye\r\nevent: unused\r\n", &mut out)
            .unwrap();
        assert_eq!(parser.finish(), Ok(()));
        assert_eq!(SseParser::default().finish(), Ok(()));
    }

    #[test]
    fn parser_is_reusable_after_finish() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.push(b"event: x\ndata: partial", &mut out).unwrap();
        assert!(parser.finish().is_err());
        parser
            .push(b"\xEF\xBB\xBFdata: fresh\n\n", &mut out)
            .unwrap();
        assert_eq!(out, vec![data_event("fresh")]);
    }

    #[test]
    fn openai_chat_completion_chunk_stream_parses() {
        let stream = concat!(
            "data: {\"id\":\"chatcmpl-9x1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
            "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":",
            "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"chatcmpl-9x1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
            "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":",
            "[{\"index\":0,\"delta\":{\"content\":\"Bonjour\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            ": OPENROUTER PROCESSING\n\n",
            "data: {\"id\":\"chatcmpl-9x1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
            "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":",
            "[{\"index\":0,\"delta\":{\"content\":\" à vous 👋\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"chatcmpl-9x1\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
            "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":",
            "[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],",
            "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n",
            "data: [DONE]\n\n",
        )
        .as_bytes();
        // Odd-sized chunks split JSON, multi-byte characters and terminators.
        for size in [1, 7, 64, stream.len()] {
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            for chunk in stream.chunks(size) {
                parser.push(chunk, &mut events).unwrap();
            }
            parser.finish().unwrap();

            assert_eq!(events.len(), 5, "chunk size {size}");
            let (done, chunks) = events.split_last().unwrap();
            assert!(done.is_done());
            let mut text = String::new();
            for event in chunks {
                assert!(!event.is_done() && event.event.is_none());
                let json: serde_json::Value = crate::json::from_str(&event.data).unwrap();
                assert_eq!(json["object"], "chat.completion.chunk");
                if let Some(content) = json["choices"][0]["delta"]["content"].as_str() {
                    text.push_str(content);
                }
            }
            assert_eq!(text, "Bonjour à vous 👋");
        }
    }

    #[test]
    fn anthropic_style_typed_events_parse() {
        let stream = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n\
                       event: ping\ndata: {\"type\": \"ping\"}\n\n\
                       event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"Hi\"}}\n\n\
                       event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let kinds: Vec<_> = parse_all(stream)
            .into_iter()
            .map(|e| e.event.unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "message_start",
                "ping",
                "content_block_delta",
                "message_stop"
            ]
        );
    }

    #[test]
    fn encode_data_writes_one_field_per_line() {
        let mut out = Vec::new();
        encode_data("a\nb", &mut out);
        encode_data("", &mut out);
        assert_eq!(out, b"data: a\ndata: b\n\ndata: \n\n");
    }

    #[test]
    fn encode_data_normalises_cr_and_crlf_to_lf() {
        let mut out = Vec::new();
        encode_data("a\r\nb\rc\n", &mut out);
        assert_eq!(out, b"data: a\ndata: b\ndata: c\ndata: \n\n");
        assert_eq!(parse_all(&out), vec![data_event("a\nb\nc\n")]);
    }

    #[test]
    fn encode_event_writes_all_fields() {
        let event = SseEvent {
            event: Some("delta".into()),
            data: "x\ny".into(),
            id: Some("42".into()),
            retry: Some(1500),
        };
        let mut out = Vec::new();
        encode_event(&event, &mut out);
        assert_eq!(
            out,
            b"event: delta\nid: 42\nretry: 1500\ndata: x\ndata: y\n\n"
        );
        assert_eq!(parse_all(&out), vec![event]);
    }

    #[test]
    fn encode_event_cannot_be_made_to_inject_fields() {
        let event = SseEvent {
            event: Some("a\ndata: injected".into()),
            data: "real".into(),
            id: Some("1\r\nretry: 1".into()),
            retry: None,
        };
        let mut out = Vec::new();
        encode_event(&event, &mut out);
        let parsed = parse_all(&out);
        assert_eq!(
            parsed,
            vec![SseEvent {
                event: Some("a".into()),
                data: "real".into(),
                id: Some("1".into()),
                retry: None
            }]
        );
    }

    #[test]
    fn encode_comment_is_ignored_by_parsers() {
        let mut out = Vec::new();
        encode_comment("keep-alive", &mut out);
        assert_eq!(out, b": keep-alive\n\n");
        encode_comment("two\nlines", &mut out);
        assert!(parse_all(&out).is_empty());
        let mut parser = SseParser::new();
        parser.push(&out, &mut Vec::new()).unwrap();
        assert_eq!(parser.finish(), Ok(()));
    }

    /// Byte streams built from SSE fragments, so that events, comments, all
    /// three terminators, BOMs, NULs and multi-byte characters actually occur.
    fn sse_like_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"data:".to_vec()),
            Just(b"data".to_vec()),
            Just(b"event: ".to_vec()),
            Just(b"id: ".to_vec()),
            Just(b"retry: ".to_vec()),
            Just(b":".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(BOM.to_vec()),
            Just(vec![0]),
            Just("é€😀".as_bytes().to_vec()),
            "[a-z0-9]{0,6}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..4),
        ];
        proptest::collection::vec(token, 0..48).prop_map(|tokens| tokens.concat())
    }

    fn line_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "(data|event|id|retry)(:|: )?[a-zé0-9 :]{0,6}",
            ":[a-z ]{0,4}",
            "[a-z]{0,4}",
        ]
    }

    proptest! {
        #[test]
        fn any_split_yields_the_same_events_as_one_push(
            bytes in sse_like_bytes(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            limit in prop_oneof![Just(DEFAULT_MAX_EVENT_BYTES), 0usize..48],
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            prop_assert_eq!(run_split(&bytes, &cuts, limit), run_split(&bytes, &[], limit));
        }

        #[test]
        fn lf_crlf_and_cr_line_endings_yield_the_same_events(
            lines in proptest::collection::vec(line_strategy(), 0..24),
        ) {
            let with = |terminator: &str| {
                let text: String = lines.iter().flat_map(|line| [line.as_str(), terminator]).collect();
                run_split(text.as_bytes(), &[], DEFAULT_MAX_EVENT_BYTES)
            };
            let lf = with("\n");
            prop_assert_eq!(&with("\r\n"), &lf);
            prop_assert_eq!(&with("\r"), &lf);
        }

        #[test]
        fn encode_data_round_trips_strings_without_cr(
            data in prop_oneof![
                any::<String>(),
                "[a\n é😀]{0,12}",
                Just(String::new()),
                Just("\n".to_owned()),
            ].prop_map(|s| s.replace('\r', "")),
        ) {
            let mut wire = Vec::new();
            encode_data(&data, &mut wire);
            prop_assert_eq!(run_split(&wire, &[], DEFAULT_MAX_EVENT_BYTES), (vec![data_event(&data)], Ok(())));
        }

        #[test]
        fn encode_event_round_trips_representable_events(
            kind in proptest::option::of("[a-z_]{1,12}"),
            id in proptest::option::of("[a-z0-9 é]{0,8}"),
            retry in proptest::option::of(any::<u64>()),
            data in "[a\n é😀:]{0,12}",
        ) {
            let event = SseEvent { event: kind, data, id, retry };
            let mut wire = Vec::new();
            encode_event(&event, &mut wire);
            prop_assert_eq!(run_split(&wire, &[], DEFAULT_MAX_EVENT_BYTES), (vec![event], Ok(())));
        }
    }
}
