//! Detectors: where secrets, e-mail addresses, phone and card numbers and
//! denied phrases are in a text.
//!
//! Each detector is a hand-written scanner over the text's bytes (every
//! pattern is anchored on ASCII, so spans always fall on char boundaries;
//! only the deny list compares whole chars). A detector decides each
//! candidate as if the text ended where it does, and also reports, through
//! [`Scan::open_from`], the earliest candidate that the end of the text cut
//! short: a key still arriving, a number whose next digit could change it,
//! a phrase half written. A stream holds text back from there until more
//! text (or the end) decides it; a finished text ignores it.

use super::config::Check;

/// One match: a byte range of the text and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What matched (`openai_key`, `email`, `card`, ...), as in `[REDACTED:<kind>]`.
    pub kind: &'static str,
    /// Where the text the match was recognised by begins: `start`, or
    /// earlier for a bearer token (the word `Bearer`). A stream must not
    /// release that text apart from the match, or the match is lost.
    pub context_start: usize,
}

/// What one detector found in a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The matches, sorted and not overlapping.
    pub spans: Vec<Span>,
    /// Where the earliest candidate that more text could still make into a
    /// match (or change) begins; `None` when the text's end decides nothing.
    pub open_from: Option<usize>,
}

impl Scan {
    fn hit(&mut self, start: usize, end: usize, kind: &'static str) {
        self.spans.push(Span { start, end, kind, context_start: start });
    }

    fn open(&mut self, at: usize) {
        self.open_from = Some(self.open_from.map_or(at, |o| o.min(at)));
    }

    /// Sorts the spans and joins overlapping ones (the first keeps its kind).
    fn merged(mut self) -> Self {
        crate::small_sort::sort_by_key(&mut self.spans, |s| (s.start, std::cmp::Reverse(s.end)));
        let mut out: Vec<Span> = Vec::with_capacity(self.spans.len());
        for span in self.spans {
            match out.last_mut() {
                Some(last) if span.start < last.end => {
                    last.end = last.end.max(span.end);
                    last.context_start = last.context_start.min(span.context_start);
                }
                _ => out.push(span),
            }
        }
        self.spans = out;
        self
    }
}

/// Runs the detector of `check` over `text` (injection has no spans: see
/// [`super::injection`]).
pub fn scan(check: &Check, text: &str) -> Scan {
    match check {
        Check::Secrets => secrets(text),
        Check::Email => emails(text),
        Check::Phone => phones(text),
        Check::Card => cards(text),
        Check::Deny { phrases } => denied(text, phrases),
        Check::Injection { .. } => Scan::default(),
    }
}

fn key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}
fn upper_or_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn slack_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
/// RFC 6750 `b64token`.
fn bearer_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

/// Prefixed keys: prefix, kind, the alphabet of the rest and the fewest
/// characters of it that make a key. The minimums sit below each
/// provider's real key length (OpenAI and Anthropic keys run to 100+,
/// GitHub's classic tokens are 36 after the prefix, AWS ids exactly 16,
/// Google keys 35) so that a key is recognised early in a stream.
/// `sk-ant-` comes before `sk-`: the first prefix that matches wins.
#[allow(clippy::type_complexity)] // a table of literals reads better than a struct
const KEYS: &[(&str, &str, fn(u8) -> bool, usize)] = &[
    ("sk-ant-", "anthropic_key", key_char, 20),
    ("sk-", "openai_key", key_char, 20),
    ("AKIA", "aws_access_key", upper_or_digit, 16),
    ("ASIA", "aws_access_key", upper_or_digit, 16),
    ("github_pat_", "github_token", word_char, 22),
    ("ghp_", "github_token", word_char, 30),
    ("gho_", "github_token", word_char, 30),
    ("ghu_", "github_token", word_char, 30),
    ("ghs_", "github_token", word_char, 30),
    ("ghr_", "github_token", word_char, 30),
    ("xoxa-", "slack_token", slack_char, 10),
    ("xoxb-", "slack_token", slack_char, 10),
    ("xoxp-", "slack_token", slack_char, 10),
    ("xoxr-", "slack_token", slack_char, 10),
    ("AIza", "google_api_key", key_char, 35),
];

/// A `Bearer` token needs this many characters: shorter ones are words.
const MIN_BEARER: usize = 16;

/// API keys and tokens by their prefixes, `Bearer <token>`, and PEM
/// private key blocks (`-----BEGIN … PRIVATE KEY-----` to the matching END
/// line, or to the end of the text while none has come).
pub fn secrets(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    for i in 0..bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let prev = i.checked_sub(1).and_then(|p| bytes.get(p)).copied();
        if rest.starts_with(b"-----BEGIN ") || b"-----BEGIN ".starts_with(rest) {
            private_key(text, i, &mut scan);
        }
        if prev.is_some_and(key_char) {
            continue;
        }
        for &(prefix, kind, alphabet, min) in KEYS {
            let prefix = prefix.as_bytes();
            if rest.len() < prefix.len() {
                if prefix.starts_with(rest) {
                    scan.open(i);
                }
                continue;
            }
            if !rest.starts_with(prefix) {
                continue;
            }
            let body = rest.iter().skip(prefix.len()).take_while(|b| alphabet(**b)).count();
            let end = i + prefix.len() + body;
            if end == bytes.len() {
                scan.open(i);
            }
            if body >= min {
                scan.hit(i, end, kind);
            }
            break;
        }
        if !prev.is_some_and(|p| p.is_ascii_alphanumeric()) {
            bearer(bytes, i, &mut scan);
        }
    }
    scan.merged()
}

/// `Bearer <token>` at `i` (any case): the token is the match.
fn bearer(bytes: &[u8], i: usize, scan: &mut Scan) {
    let rest = bytes.get(i..).unwrap_or_default();
    let word = b"bearer";
    if rest.len() <= word.len() {
        if rest.iter().zip(word).all(|(a, b)| a.to_ascii_lowercase() == *b) && !rest.is_empty() {
            scan.open(i);
        }
        return;
    }
    if !rest.get(..word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word)) {
        return;
    }
    let after = rest.get(word.len()..).unwrap_or_default();
    let spaces = after.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let token = after.iter().skip(spaces).take_while(|b| bearer_char(**b)).count();
    if spaces + token == after.len() {
        scan.open(i);
    }
    let start = i + word.len() + spaces;
    if spaces > 0 && token >= MIN_BEARER {
        scan.spans.push(Span { start, end: start + token, kind: "bearer_token", context_start: i });
    }
}

/// A PEM block starting at `i` if its header names a private key.
fn private_key(text: &str, i: usize, scan: &mut Scan) {
    const BEGIN: &str = "-----BEGIN ";
    let rest = text.get(i..).unwrap_or_default();
    let Some(after) = rest.strip_prefix(BEGIN) else {
        scan.open(i); // the text ends inside `-----BEGIN `
        return;
    };
    let label_len = after.bytes().take_while(|b| b.is_ascii_uppercase() || *b == b' ').count();
    let (label, tail) = after.split_at(label_len);
    if tail.len() < 5 && "-----".starts_with(tail) {
        scan.open(i); // the header line is still arriving
        return;
    }
    if !tail.starts_with("-----") || !label.trim_end().ends_with("PRIVATE KEY") {
        return;
    }
    let body = i + BEGIN.len() + label_len + 5;
    let end_line = format!("-----END {label}-----");
    match text.get(body..).and_then(|t| t.find(&end_line)) {
        Some(at) => scan.hit(i, body + at + end_line.len(), "private_key"),
        None => {
            scan.hit(i, text.len(), "private_key");
            scan.open(i);
        }
    }
}

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}
fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// E-mail addresses: `local@domain.tld`, the domain with at least two
/// labels and an alphabetic top-level label of two or more letters.
pub fn emails(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    for (at, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'@') {
        let local_len = bytes.get(..at).unwrap_or_default().iter().rev().take_while(|b| local_char(**b)).count();
        let dots = bytes.get(at - local_len..at).unwrap_or_default().iter().take_while(|b| **b == b'.').count();
        let start = at - local_len + dots;
        let run = bytes.get(at + 1..).unwrap_or_default().iter().take_while(|b| domain_char(**b)).count();
        let domain = text.get(at + 1..at + 1 + run).unwrap_or_default().trim_end_matches(['.', '-']);
        if start < at && is_domain(domain) {
            scan.hit(start, at + 1 + domain.len(), "email");
        }
    }
    // The last word may still become an address (or a longer one).
    let tail = bytes.iter().rev().take_while(|b| local_char(**b) || **b == b'@').count();
    if tail > 0 {
        scan.open(bytes.len() - tail);
    }
    scan.merged()
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Phone numbers: 10 to 15 digits, either international (`+` then digits,
/// any grouping) or national with separators (space, `-`, `.`, brackets)
/// between 2 to 5 groups. Refused, because they are more often something
/// else: runs with no separator (ids, timestamps), a group longer than 8
/// digits (decimals), a one-digit group after the first (versions, ISBNs;
/// a leading `1-` or `0 ` trunk prefix is fine), groups of exactly 4
/// digits (years, card blocks), thousands grouping (`1 000 000 000`) and
/// dotted quads (IP addresses).
/// Several numbers separated by single spaces read as one long number.
pub fn phones(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes.get(i).copied().unwrap_or_default();
        let international = c == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !(international || c == b'(' || c.is_ascii_digit()) {
            i += 1;
            continue;
        }
        let prev_ok = !i.checked_sub(1).and_then(|p| bytes.get(p)).is_some_and(|p| p.is_ascii_alphanumeric() || b"_/+.-@".contains(p));
        let mut j = i + usize::from(international);
        // Digits per group; whether every separator between digits is a dot.
        let (mut groups, mut only_dots) = (vec![0usize], true);
        let (mut seps_in_row, mut dots_in_row, mut digit_end) = (0, true, i);
        while let Some(&b) = bytes.get(j) {
            if b.is_ascii_digit() {
                if seps_in_row > 0 && digit_end > i {
                    groups.push(0);
                    only_dots &= dots_in_row;
                }
                if let Some(last) = groups.last_mut() {
                    *last += 1;
                }
                (seps_in_row, dots_in_row, digit_end) = (0, true, j + 1);
            } else if b" -.()".contains(&b) && seps_in_row < 2 {
                dots_in_row &= b == b'.';
                seps_in_row += 1;
            } else {
                break;
            }
            j += 1;
        }
        if j == bytes.len() {
            scan.open(i);
        }
        let next_ok = !bytes.get(digit_end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if prev_ok && next_ok && is_phone(&groups, international, only_dots) {
            scan.hit(i, digit_end, "phone");
        }
        i = j.max(i + 1);
    }
    scan.merged()
}

fn is_phone(groups: &[usize], international: bool, only_dots: bool) -> bool {
    let digits: usize = groups.iter().sum();
    if !(10..=15).contains(&digits) {
        return false;
    }
    if international {
        return true;
    }
    let first = groups.first().copied().unwrap_or_default();
    let rest = groups.get(1..).unwrap_or_default();
    (2..=5).contains(&groups.len())
        && groups.iter().all(|&g| g <= 8)
        && rest.iter().all(|&g| g >= 2)
        && !groups.iter().all(|&g| g == 4)
        && !(first <= 3 && rest.iter().all(|&g| g == 3))
        && !(only_dots && groups.len() == 4 && groups.iter().all(|&g| g <= 3))
}

/// Payment card numbers: 13 to 19 digits, optionally split by single
/// spaces or dashes, that pass the Luhn check (ISO/IEC 7812-1). A number
/// joined by a single space or dash to other digits reads as one longer
/// number, and is not a card.
pub fn cards(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let prev_ok = !i.checked_sub(1).and_then(|p| bytes.get(p)).is_some_and(|p| p.is_ascii_alphanumeric() || b"_.-+/,".contains(p));
        let mut digits = Vec::new();
        let mut j = i;
        loop {
            match (bytes.get(j), bytes.get(j + 1)) {
                (Some(d), _) if d.is_ascii_digit() => digits.push(d - b'0'),
                (Some(b' ' | b'-'), Some(d)) if d.is_ascii_digit() => {}
                _ => break,
            }
            j += 1;
        }
        // The run may go on: the text ends on it or on a separator after it.
        if j == bytes.len() || (j + 1 == bytes.len() && matches!(bytes.get(j), Some(b' ' | b'-'))) {
            scan.open(i);
        }
        let next_ok = !bytes.get(j).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if prev_ok && next_ok && (13..=19).contains(&digits.len()) && issuer_digit(&digits) && luhn(&digits) {
            scan.hit(i, j, "card");
        }
        i = j.max(i + 1);
    }
    scan
}

/// Whether the number starts as a payment card does: 2 and 5 (Mastercard),
/// 3 (American Express, Diners, JCB), 4 (Visa), 6 (Discover, UnionPay).
/// The Luhn check alone lets one random number in ten through, and a
/// millisecond timestamp (13 digits, starting with 1) is not a card.
fn issuer_digit(digits: &[u8]) -> bool {
    digits.first().is_some_and(|d| (2..=6).contains(d))
}

/// The Luhn checksum: doubling every second digit from the right, the sum
/// is a multiple of 10.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &d)| {
            let d = u32::from(d);
            if n % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// How a phrase matches at a position.
enum Phrase {
    /// Whole, this many bytes long.
    Whole(usize),
    /// The text ends while it still matches.
    Cut,
    /// Not here.
    No,
}

/// The deny list: each phrase matched whole (not inside a longer word) and
/// case-insensitively, any run of whitespace matching the spaces between
/// its words.
pub fn denied(text: &str, phrases: &[String]) -> Scan {
    let mut scan = Scan::default();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        // Word boundaries by ASCII letters and digits: Unicode's tables
        // would cost the wasm more than they are worth here.
        if !prev.is_some_and(|p| p.is_ascii_alphanumeric()) {
            let rest = text.get(i..).unwrap_or_default();
            for phrase in phrases.iter().filter(|p| !p.trim().is_empty()) {
                match phrase_at(rest, phrase) {
                    Phrase::Whole(len) => match rest.get(len..).and_then(|t| t.chars().next()) {
                        Some(next) if next.is_ascii_alphanumeric() => {}
                        next => {
                            if next.is_none() {
                                scan.open(i); // `…phrase` may go on as `…phrases`
                            }
                            scan.hit(i, i + len, "deny");
                        }
                    },
                    Phrase::Cut => scan.open(i),
                    Phrase::No => {}
                }
            }
        }
        prev = Some(c);
    }
    scan.merged()
}

fn phrase_at(text: &str, phrase: &str) -> Phrase {
    let mut chars = text.char_indices().peekable();
    for (n, word) in phrase.split_whitespace().enumerate() {
        if n > 0 {
            let mut spaces = 0;
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {
                spaces += 1;
            }
            if chars.peek().is_none() {
                return Phrase::Cut;
            }
            if spaces == 0 {
                return Phrase::No;
            }
        }
        for want in word.chars() {
            match chars.next() {
                None => return Phrase::Cut,
                // Any case for ASCII letters; other letters as written
                // (Unicode's case tables would cost the wasm ~10 KB).
                Some((_, got)) if got.eq_ignore_ascii_case(&want) => {}
                Some(_) => return Phrase::No,
            }
        }
    }
    Phrase::Whole(chars.peek().map_or(text.len(), |&(i, _)| i))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matched texts.
    fn found(scan: Scan, text: &str) -> Vec<String> {
        scan.spans.iter().map(|s| text[s.start..s.end].to_owned()).collect()
    }

    #[test]
    fn prefixed_keys_are_found_with_their_kind() {
        let cases = [
            ("key sk-proj-abcDEF1234567890_xyz-QRS ok", "sk-proj-abcDEF1234567890_xyz-QRS", "openai_key"),
            ("sk-abcdefghijklmnopqrstuvwxyz012345", "sk-abcdefghijklmnopqrstuvwxyz012345", "openai_key"),
            ("x=sk-ant-api03-abcdefghijklmnopqrstuv;", "sk-ant-api03-abcdefghijklmnopqrstuv", "anthropic_key"),
            ("id AKIAIOSFODNN7EXAMPLE.", "AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
            ("gho_abcdefghijklmnopqrstuvwxyz0123456789", "gho_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghij", "github_pat_11ABCDEFG0123456789_abcdefghij", "github_token"),
            ("t: xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF", "slack_token"),
            ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "google_api_key"),
            ("Authorization: Bearer abc.DEF-123456_789~x", "abc.DEF-123456_789~x", "bearer_token"),
        ];
        for (text, secret, kind) in cases {
            let scan = secrets(text);
            assert_eq!(scan.spans.len(), 1, "{text}");
            assert_eq!(scan.spans[0].kind, kind, "{text}");
            assert_eq!(found(scan, text), [secret], "{text}");
        }
    }

    #[test]
    fn words_that_only_look_like_keys_are_not_secrets() {
        for text in [
            "ask-me-anything-about-this-long-hyphenated-phrase",
            "sk-short",
            "the bearer of this letter is a friend",
            "Bearer short-token",
            "AKIA1234",
            "task_sk-abcdefghijklmnopqrstuvwxyz",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        ] {
            assert_eq!(secrets(text).spans, [], "{text}");
        }
    }

    #[test]
    fn a_private_key_block_runs_to_its_end_line_or_to_the_end_of_the_text() {
        let block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n-----END RSA PRIVATE KEY-----";
        let text = format!("here: {block}\nthanks");
        assert_eq!(found(secrets(&text), &text), [block]);
        let open = "key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA";
        let scan = secrets(open);
        assert_eq!(scan.spans, [Span { start: 5, end: open.len(), kind: "private_key", context_start: 5 }]);
        assert_eq!(scan.open_from, Some(5));
    }

    #[test]
    fn a_candidate_cut_by_the_end_of_the_text_is_open() {
        for (text, from) in [("my key sk-pr", 7), ("key: sk-abcdefghijklmnopqrstuvwxyz", 5), ("x -----BEG", 2), ("Authorization: Bear", 15), ("a b -----BEGIN RSA PRIV", 4)] {
            assert_eq!(secrets(text).open_from, Some(from), "{text}");
        }
        assert_eq!(secrets("nothing to see here. ").open_from, None);
    }

    #[test]
    fn emails_are_found_and_trailing_punctuation_left_out() {
        let text = "Mail ada.l+x@mail.example.org, or (bob@example.com). Not me@localhost, a@b.c or @handle.";
        assert_eq!(found(emails(text), text), ["ada.l+x@mail.example.org", "bob@example.com"]);
        assert_eq!(emails("write to ada@exa").open_from, Some(9));
    }

    #[test]
    fn phone_numbers_in_common_formats_are_found() {
        for phone in ["+44 20 7946 0958", "(415) 555-2671", "415-555-2671", "415.555.2671", "+14155552671", "020 7946 0958", "+33 1 23 45 67 89", "+1 (415) 555-2671", "1-800-555-0199"] {
            let text = format!("Call {phone}. Thanks");
            assert_eq!(found(phones(&text), &text), [phone], "{phone}");
        }
    }

    #[test]
    fn years_decimals_and_short_numbers_are_not_phones() {
        for text in ["in 1999", "2019-2024", "pi is 3.14159265358979", "1999 2000 2001", "host 192.168.1.100 is up", "id 4155552671", "1 000 000 000 dollars", "order 12345", "v1.415.555.2671", "call 415-555-2671x", "version 10.0.19045.2965", "ISBN 978-3-16-148410-0"] {
            assert_eq!(phones(text).spans, [], "{text}");
        }
    }

    #[test]
    fn only_luhn_valid_card_numbers_are_cards() {
        for card in ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "378282246310005", "5555 5555 5555 4444"] {
            let text = format!("pay with {card}, thanks");
            assert_eq!(found(cards(&text), &text), [card], "{card}");
        }
        // 1795672570896 passes the Luhn check, but is a millisecond timestamp.
        for text in ["4111 1111 1111 1112", "1234567890123", "4111  1111 1111 1111", "41111111111111111111111", "4111111111111111abc", "order 2024-01-15", "sent at 1795672570896"] {
            assert_eq!(cards(text).spans, [], "{text}");
        }
        assert_eq!(cards("card 4111 1111 1111 1111").open_from, Some(5));
    }

    #[test]
    fn deny_phrases_match_whole_and_in_any_case() {
        let phrases = vec!["project nightingale".to_owned(), "Größe".to_owned()];
        let text = "About PROJECT   Nightingale: and project\nnightingale; not project nightingales, grösse";
        assert_eq!(found(denied(text, &phrases), text), ["PROJECT   Nightingale", "project\nnightingale"]);
        let text = "ÜBER GRÖSSE? größe!";
        assert_eq!(found(denied(text, &phrases), text), ["größe"]);
        assert_eq!(denied("we discussed Project Night", &phrases).open_from, Some(13));
        assert_eq!(denied("nightingale project", &phrases).spans, []);
    }

    #[test]
    fn overlapping_matches_are_joined() {
        let text = "Bearer sk-abcdefghijklmnopqrstuvwxyz";
        let scan = secrets(text);
        assert_eq!(scan.spans, [Span { start: 7, end: text.len(), kind: "bearer_token", context_start: 0 }]);
    }
}
