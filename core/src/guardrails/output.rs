//! Output guardrails: the answer, checked before the caller sees it, whole
//! or as it streams.
//!
//! A stream cannot be checked a chunk at a time: a key or a card number
//! may arrive split over several chunks. [`OutputGuard`] keeps the text
//! not yet released and, on each chunk, runs every rule over all of it,
//! then releases only what no later text can change:
//!
//! - never the last `holdback_chars` characters, so any match of at most
//!   that length is whole before its first character could be released;
//! - never from where a candidate the end of the text cut short begins (a
//!   key still arriving, a PEM private key block without its END line, a
//!   denied phrase half written: see [`super::detect::Scan::open_from`]),
//!   however long it grows;
//! - never through the middle of a match, nor between a match and the text
//!   it was recognised by (the `Bearer` before a token).
//!
//! What is released has its matches acted on (redacted, flagged or
//! blocked). [`OutputGuard::finish`] releases the rest, every candidate
//! then decided. After a block nothing more is released.
//!
//! Each chunk rescans the held text, so the held text is bounded: once a
//! candidate has held more than [`MAX_OPEN_BYTES`] beyond the holdback,
//! everything held is decided as if the answer ended there. No real secret
//! is that long (a 4096-bit RSA private key's PEM block is ~3.3 KB); only
//! garbage such as thousands of digits in a row gets there.

use super::apply::{apply, scan_all};
use super::{Blocked, Guardrails, Report, Rule, Stage};
use crate::openai::ChatCompletion;

/// How far an open candidate may grow past the holdback before it is
/// decided anyway. See the module docs.
pub const MAX_OPEN_BYTES: usize = 8 * 1024;

/// Runs the route's output rules over a whole answer: each choice's
/// content and refusal, redacted in place. Tool-call arguments are not
/// checked. The same rules as a stream's, with every candidate decided.
pub fn check_completion(g: &Guardrails, answer: &mut ChatCompletion) -> Result<Report, Blocked> {
    let mut report = Report::ran(Stage::Output, &g.output);
    for choice in &mut answer.choices {
        let message = &mut choice.message;
        for text in [message.content.as_mut(), message.refusal.as_mut()].into_iter().flatten() {
            let scans = scan_all(&g.output, text);
            if scans.iter().any(|s| !s.spans.is_empty()) {
                let checked = apply(Stage::Output, &g.output, &scans, text, text.len(), &mut report)?;
                *text = checked;
            }
        }
    }
    Ok(report)
}

/// What a stream may send now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// Text safe to send, already redacted; often empty.
    pub text: String,
    /// Set once, when a `block` rule fired: send nothing more, end the
    /// stream with this error.
    pub blocked: Option<Blocked>,
}

/// Where a guard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GuardState {
    /// Taking text.
    Open,
    /// [`OutputGuard::finish`] released everything.
    Finished,
    /// A rule blocked: nothing more is released.
    Blocked,
}

/// Guards one streamed answer (one choice). See the module docs.
#[derive(Debug, Clone)]
pub struct OutputGuard {
    rules: Vec<Rule>,
    /// Characters always held back (0 when there are no rules).
    holdback: usize,
    /// Text received and not yet released.
    pending: String,
    /// When each piece of `pending` arrived: (byte where the piece ends, ms).
    arrivals: Vec<(usize, u64)>,
    max_held_ms: u64,
    report: Report,
    state: GuardState,
}

impl OutputGuard {
    /// A guard for the route's output rules.
    pub fn new(g: &Guardrails) -> Self {
        let holdback = if g.output.is_empty() { 0 } else { usize::try_from(g.holdback_chars).unwrap_or(usize::MAX) };
        Self {
            rules: g.output.clone(),
            holdback,
            pending: String::new(),
            arrivals: Vec::new(),
            max_held_ms: 0,
            report: Report::ran(Stage::Output, &g.output),
            state: GuardState::Open,
        }
    }

    /// Takes the next piece of the answer, received at `now_ms`; returns
    /// what may be sent now.
    pub fn push(&mut self, text: &str, now_ms: u64) -> Release {
        if self.state != GuardState::Open {
            return Release::default();
        }
        if !text.is_empty() {
            self.pending.push_str(text);
            self.arrivals.push((self.pending.len(), now_ms));
        }
        self.release(now_ms, false)
    }

    /// The answer is complete: returns the rest, every candidate decided
    /// (a PEM block without an END line runs to the end of the answer).
    pub fn finish(&mut self, now_ms: u64) -> Release {
        if self.state != GuardState::Open {
            return Release::default();
        }
        let release = self.release(now_ms, true);
        if self.state == GuardState::Open {
            self.state = GuardState::Finished;
        }
        release
    }

    /// The longest any released character was held, in ms: the latency the
    /// guard added.
    pub fn max_held_ms(&self) -> u64 {
        self.max_held_ms
    }

    /// The rules that ran and what they found so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Whether a rule blocked the answer.
    pub fn is_blocked(&self) -> bool {
        self.state == GuardState::Blocked
    }

    /// Whether [`Self::finish`] has run (or a block ended the answer).
    pub fn is_done(&self) -> bool {
        self.state != GuardState::Open
    }

    fn release(&mut self, now_ms: u64, finishing: bool) -> Release {
        // A UTF-8 char is at most 4 bytes.
        let finishing = finishing || self.pending.len() > MAX_OPEN_BYTES + 4 * self.holdback;
        let scans = scan_all(&self.rules, &self.pending);
        let mut cut = self.pending.len();
        if !finishing {
            cut = hold_back(&self.pending, self.holdback);
            for open in scans.iter().filter_map(|s| s.open_from) {
                cut = cut.min(open);
            }
        }
        // Never through a match or its context: move the cut to where that
        // begins (and again, if that lands inside another).
        while let Some(start) = scans.iter().flat_map(|s| &s.spans).filter(|m| m.context_start < cut && cut < m.end).map(|m| m.context_start).min() {
            cut = start;
        }
        // Every cut above is a char boundary; this only keeps a slip from panicking.
        while !self.pending.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            return Release::default();
        }
        match apply(Stage::Output, &self.rules, &scans, &self.pending, cut, &mut self.report) {
            Err(blocked) => {
                self.state = GuardState::Blocked;
                self.pending.clear();
                self.arrivals.clear();
                Release { text: String::new(), blocked: Some(blocked) }
            }
            Ok(text) => {
                if let Some(&(_, oldest)) = self.arrivals.first() {
                    self.max_held_ms = self.max_held_ms.max(now_ms.saturating_sub(oldest));
                }
                self.pending.drain(..cut);
                self.arrivals.retain(|&(end, _)| end > cut);
                for arrival in &mut self.arrivals {
                    arrival.0 -= cut;
                }
                Release { text, blocked: None }
            }
        }
    }
}

/// The byte where the last `chars` characters of `text` begin (0 if it is
/// shorter), always a char boundary.
fn hold_back(text: &str, chars: usize) -> usize {
    match chars.checked_sub(1) {
        None => text.len(),
        Some(n) => text.char_indices().rev().nth(n).map_or(0, |(i, _)| i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::{Action, RawGuardrails, Report};

    fn guardrails(output: &str, holdback: u32) -> Guardrails {
        let raw: RawGuardrails = toml::from_str(&format!("output = [{output}]\nholdback_chars = {holdback}")).unwrap();
        Guardrails::from_raw(&raw).unwrap()
    }

    fn redacting(holdback: u32) -> Guardrails {
        guardrails(r#"{ rule = "secrets", action = "redact" }, { rule = "email", action = "redact" }, { rule = "card", action = "redact" }"#, holdback)
    }

    /// Streams `pieces` through a fresh guard; returns what was released.
    fn stream(g: &Guardrails, pieces: &[&str]) -> (String, OutputGuard) {
        let mut guard = OutputGuard::new(g);
        let mut out = String::new();
        for (t, piece) in pieces.iter().enumerate() {
            out.push_str(&guard.push(piece, t as u64 * 10).text);
        }
        out.push_str(&guard.finish(pieces.len() as u64 * 10).text);
        (out, guard)
    }

    #[test]
    fn a_match_split_at_any_point_is_never_released() {
        let secrets = [
            ("sk-proj-Zq3xT9vLm2Wp8Rk4Jd6Hs1Fg", "[REDACTED:openai_key]"),
            ("ada.lovelace@example.org", "[REDACTED:email]"),
            ("4111 1111 1111 1111", "[REDACTED:card]"),
            ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws_access_key]"),
        ];
        for holdback in [16, 64] {
            let g = redacting(holdback);
            for (secret, marker) in secrets {
                let text = format!("Here it is: {secret}. And some more words after it to flush the holdback out.");
                for a in 1..text.len() {
                    for b in [a + 1, a + 3, text.len()] {
                        let b = b.min(text.len());
                        let pieces = [&text[..a], &text[a..b], &text[b..]];
                        let mut guard = OutputGuard::new(&g);
                        let mut out = String::new();
                        for piece in pieces {
                            out.push_str(&guard.push(piece, 0).text);
                            // No prefix of the secret longer than 3 chars is ever out.
                            assert!(!out.contains(&secret[..4]), "{secret} leaked at {a}/{b} (holdback {holdback}): {out}");
                        }
                        out.push_str(&guard.finish(0).text);
                        assert_eq!(out, text.replace(secret, marker), "split {a}/{b}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_long_key_is_held_whole_however_long_it_grows() {
        let g = redacting(16);
        let key: String = std::iter::once("sk-proj-".to_owned()).chain((0..40).map(|i| format!("Ab{i}x"))).collect();
        let pieces: Vec<&str> = key.as_bytes().chunks(5).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let mut all = vec!["Key: "];
        all.extend(pieces);
        all.push(" done, and now a long tail of harmless words.");
        let (out, guard) = stream(&g, &all);
        assert_eq!(out, "Key: [REDACTED:openai_key] done, and now a long tail of harmless words.");
        assert_eq!(guard.report().findings[0].count, 1);
    }

    /// Found by the property test below: the holdback cut fell between
    /// `Bearer ` and its token, and the token, no longer after `Bearer`,
    /// went out unrecognised.
    #[test]
    fn regression_a_bearer_token_cut_off_from_its_bearer_word_leaked() {
        let g = redacting(35);
        let text = "the plan, the plan, Bearer abcdefghijklmnop123456, sk-proj-Zq3xT9vLm2Wp8Rk4Jd6Hs1Fg";
        let (out, _) = stream(&g, &[text]);
        assert_eq!(out, "the plan, the plan, Bearer [REDACTED:bearer_token], [REDACTED:openai_key]");
    }

    #[test]
    fn a_private_key_block_is_held_until_it_ends_or_the_stream_does() {
        let g = redacting(16);
        let block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4\nabcdefghijklmnopqrstuvwxyz0123456789\n-----END RSA PRIVATE KEY-----";
        let text = format!("Sure:\n{block}\nKeep it safe, and do not share it with anyone at all.");
        let pieces: Vec<String> = text.chars().collect::<Vec<_>>().chunks(7).map(|c| c.iter().collect()).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(stream(&g, &refs).0, "Sure:\n[REDACTED:private_key]\nKeep it safe, and do not share it with anyone at all.");
        // No END line: everything from the header on is redacted at the end.
        let cut = "Sure: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC and on and on and on";
        let mut guard = OutputGuard::new(&g);
        let mut out = guard.push(cut, 0).text;
        assert_eq!(out, "Sure: ");
        out.push_str(&guard.finish(5).text);
        assert_eq!(out, "Sure: [REDACTED:private_key]");
    }

    #[test]
    fn a_block_stops_all_later_output() {
        let g = guardrails(r#"{ rule = "deny", action = "block", phrases = ["project nightingale"] }"#, 16);
        let mut guard = OutputGuard::new(&g);
        let mut out = String::new();
        let mut blocked = None;
        for piece in ["The plan is fine and all of it can be shared. But Proj", "ect NIGHT", "INGALE is secret", " and more text that must never be released to anyone at all"] {
            let release = guard.push(piece, 0);
            out.push_str(&release.text);
            if release.blocked.is_some() {
                blocked = release.blocked;
            }
        }
        let last = guard.finish(0);
        assert_eq!(last, Release::default());
        let blocked = blocked.unwrap();
        assert_eq!((blocked.rule.as_str(), blocked.kind.as_str()), ("deny", "deny"));
        assert!(!blocked.message.to_lowercase().contains("nightingale"));
        assert!(!out.to_lowercase().contains("proj"), "{out}");
        assert!(guard.is_blocked());
        assert_eq!(guard.push("anything", 1).text, "");
        assert_eq!(guard.report().header_value(), "ran=output:deny; blocked=output:deny");
    }

    #[test]
    fn the_hold_delay_and_flags_are_recorded() {
        let g = guardrails(r#"{ rule = "email", action = "flag" }"#, 16);
        let mut guard = OutputGuard::new(&g);
        // The last 16 characters stay behind.
        assert_eq!(guard.push("write to ada@example.com ", 100).text, "write to ");
        assert_eq!(guard.max_held_ms(), 0);
        assert_eq!(guard.push("for the details of the plan, today.", 130).text, "ada@example.com for the details of ");
        assert_eq!(guard.max_held_ms(), 30);
        assert_eq!(guard.finish(500).text, "the plan, today.");
        assert_eq!(guard.max_held_ms(), 370);
        assert_eq!(guard.report().findings[0].action, Action::Flag);
        assert_eq!(guard.report().header_value(), "ran=output:email; flagged=output:email");
    }

    #[test]
    fn multibyte_text_is_never_split_inside_a_char() {
        let g = redacting(16);
        let text = "Grüße aus Köln — ünïcödé everywhere, naïve café déjà vu ☕☕☕ and more ✓✓✓ text.";
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(stream(&g, &refs).0, text);
    }

    #[test]
    fn a_candidate_that_never_ends_is_decided_at_the_cap() {
        let g = guardrails(r#"{ rule = "card", action = "redact" }"#, 16);
        let mut guard = OutputGuard::new(&g);
        let mut released = 0;
        for _ in 0..(MAX_OPEN_BYTES / 100 + 2) {
            released += guard.push(&"1".repeat(100), 0).text.len();
        }
        assert!(released > MAX_OPEN_BYTES, "released {released}");
    }

    #[test]
    fn a_guard_without_rules_holds_nothing() {
        let g = guardrails("", 64);
        let mut guard = OutputGuard::new(&g);
        assert_eq!(guard.push("hello", 0).text, "hello");
    }

    /// Words and secrets the property below builds answers from. Joined
    /// with ", " so that no two numbers run together into a longer one.
    const VOCABULARY: [&str; 14] = [
        "the plan", "is ready", "café ☕", "ask", "mail", "card", "4111 1111 1111 1111", "ada@example.com",
        "sk-proj-Zq3xT9vLm2Wp8Rk4Jd6Hs1Fg", "AKIAIOSFODNN7EXAMPLE", "Bearer abcdefghijklmnop123456",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----", "call (415) 555-2671", "Project Nightingale",
    ];

    proptest::proptest! {
        #[test]
        fn a_streamed_answer_is_checked_exactly_like_the_whole_answer(
            words in proptest::collection::vec(proptest::sample::select(VOCABULARY.to_vec()), 1..25),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
            holdback in 16u32..100,
        ) {
            let g = guardrails(
                r#"{ rule = "secrets", action = "redact" }, { rule = "email", action = "redact" }, { rule = "card", action = "redact" }, { rule = "phone", action = "redact" }, { rule = "deny", action = "flag", phrases = ["project nightingale"] }"#,
                holdback,
            );
            let text = words.join(", ");
            let mut whole = Report::default();
            let expected = apply(Stage::Output, &g.output, &scan_all(&g.output, &text), &text, text.len(), &mut whole).unwrap();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).filter(|&c| text.is_char_boundary(c)).collect();
            points.sort_unstable();
            points.push(text.len());
            let mut pieces = Vec::new();
            let mut start = 0;
            for p in points {
                pieces.push(&text[start..p]);
                start = p;
            }
            let (out, guard) = stream(&g, &pieces);
            proptest::prop_assert_eq!(out, expected);
            let counts = |r: &Report| r.findings.iter().map(|f| (f.kind.clone(), f.count)).collect::<std::collections::BTreeMap<_, _>>();
            proptest::prop_assert_eq!(counts(guard.report()), counts(&whole));
        }
    }

    #[test]
    fn a_whole_answer_is_redacted_in_place() {
        let g = redacting(64);
        let mut answer: ChatCompletion = crate::json::from_str(
            r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"key sk-ant-api03-Zq3xT9vLm2Wp8Rk4Jd6Hs1Fg, mail ada@example.com"},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        let report = check_completion(&g, &mut answer).unwrap();
        let json = serde_json::to_string(&answer).unwrap();
        assert!(!json.contains("Zq3xT9") && !json.contains("ada@"), "{json}");
        assert_eq!(answer.choices[0].message.content.as_deref(), Some("key [REDACTED:anthropic_key], mail [REDACTED:email]"));
        assert_eq!(report.header_value(), "ran=output:secrets,output:email,output:card; redacted=output:secrets,output:email");
        let g = guardrails(r#"{ rule = "deny", action = "block", phrases = ["project nightingale"] }"#, 64);
        let mut answer: ChatCompletion = crate::json::from_str(
            r#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"About Project Nightingale."},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        assert_eq!(check_completion(&g, &mut answer).unwrap_err().rule, "deny");
    }
}
