//! The demo `embed` model: deterministic text embeddings in which
//! paraphrases land close together and unrelated texts far apart, so the
//! semantic cache can be shown and tested with no upstream.
//!
//! Not a language model: a bag of *concepts*. Words are lower-cased,
//! filler words dropped, a small synonym table folds paraphrases onto one
//! concept ("cost", "price" and "pricing" are one), plurals and common
//! suffixes are stripped, and each concept is hashed to a signed position of
//! the vector. Texts that say the same thing with these words share most
//! concepts (cosine near 1); texts about different things share few (cosine
//! near 0).

/// Vector length when the caller asks for none.
pub const DEFAULT_DIMENSIONS: usize = 256;
/// Longest vector the demo makes.
pub const MAX_DIMENSIONS: usize = 3072;

/// Words that carry no topic.
const FILLER: &[&str] = &[
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "do", "does", "did", "i", "me", "my", "you", "your", "we", "our", "it", "its",
    "of", "to", "in", "on", "for", "with", "at", "by", "from", "and", "or", "but", "so", "that", "this", "these", "those", "what", "whats",
    "which", "who", "how", "can", "could", "would", "should", "will", "please", "tell", "about", "there", "here", "some", "any", "much",
    "many", "just", "get", "give", "show", "know", "want", "need", "like", "if", "as", "into", "up",
];

/// Paraphrase groups: every word in a group stands for its first word.
const SYNONYMS: &[&[&str]] = &[
    &["cost", "price", "pricing", "expensive", "charge", "fee", "pay"],
    &["cancel", "terminate", "stop", "end", "quit", "unsubscribe"],
    &["subscription", "plan", "membership", "account"],
    &["reset", "change", "recover", "forgot", "forgotten", "lost"],
    &["password", "passcode", "passphrase", "login", "credentials"],
    &["refund", "reimburse", "money", "back", "return"],
    &["ship", "shipping", "delivery", "deliver", "arrive", "arrival"],
    &["order", "purchase", "package", "parcel"],
    &["long", "time", "take", "when", "soon", "days"],
    &["capital", "capitol"],
    &["france", "french", "paris"],
    &["weather", "forecast", "temperature", "rain", "sunny"],
    &["today", "tonight", "now", "current"],
    &["hours", "open", "opening", "close", "closing"],
    &["contact", "reach", "call", "email", "phone", "support", "help"],
    &["explain", "describe", "define", "meaning", "mean"],
    &["big", "large", "huge", "size"],
];

/// Embeds `text` as a unit vector of `dimensions` floats (the default when
/// `None`, at most [`MAX_DIMENSIONS`]). A text with no concepts at all
/// embeds as a fixed unit vector.
pub fn embed(text: &str, dimensions: Option<usize>) -> Vec<f32> {
    let dims = dimensions.unwrap_or(DEFAULT_DIMENSIONS).clamp(1, MAX_DIMENSIONS);
    let mut vector = vec![0f32; dims];
    for concept in concepts(text) {
        let hash = super::fnv1a(concept.as_bytes());
        let index = usize::try_from(hash % dims as u64).unwrap_or(0);
        let sign = if hash & (1 << 63) == 0 { 1.0 } else { -1.0 };
        if let Some(slot) = vector.get_mut(index) {
            *slot += sign;
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        if let Some(first) = vector.first_mut() {
            *first = 1.0;
        }
        return vector;
    }
    vector.iter_mut().for_each(|x| *x /= norm);
    vector
}

/// The distinct concepts of a text, in order of first appearance.
fn concepts(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_ascii_lowercase();
        if FILLER.contains(&word.as_str()) {
            continue;
        }
        let concept = canonical(&word).unwrap_or_else(|| canonical(&stem(&word)).unwrap_or_else(|| stem(&word)));
        if !seen.contains(&concept) {
            seen.push(concept);
        }
    }
    seen
}

fn canonical(word: &str) -> Option<String> {
    SYNONYMS.iter().find(|group| group.contains(&word)).and_then(|group| group.first()).map(|w| (*w).to_owned())
}

/// Strips the commonest English suffixes, enough to fold "ships",
/// "shipped" and "shipping" together.
fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(root) = word.strip_suffix(suffix).filter(|r| r.chars().count() >= 3) {
            // "shipped" → "shipp" → "ship"
            let bytes = root.as_bytes();
            let doubled = bytes.len() >= 2 && bytes.last() == bytes.get(bytes.len() - 2);
            return if doubled { root.get(..root.len() - 1).unwrap_or(root).to_owned() } else { root.to_owned() };
        }
    }
    word.to_owned()
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture set the end-to-end tests of the semantic cache use
    /// (pairs of paraphrases, and pairs of unrelated questions).
    fn fixture(list: &str) -> Vec<(String, String)> {
        let fixture: serde_json::Value = serde_json::from_str(include_str!("../../../tests/fixtures/paraphrases.json")).unwrap();
        serde_json::from_value(fixture[list].clone()).unwrap()
    }

    #[test]
    fn vectors_are_deterministic_unit_length() {
        let a = embed("hello world", None);
        assert_eq!(a, embed("hello world", None));
        assert_eq!(a.len(), DEFAULT_DIMENSIONS);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(embed("x", Some(8)).len(), 8);
        let empty = embed("the of a", Some(4));
        assert!((cosine(&empty, &empty) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn paraphrases_are_close_and_unrelated_texts_far() {
        // 0.9: the threshold of the route the end-to-end tests use.
        let paraphrases = fixture("paraphrases");
        for (a, b) in &paraphrases {
            let similarity = cosine(&embed(a, None), &embed(b, None));
            assert!(similarity >= 0.9, "{a:?} ~ {b:?}: {similarity}");
        }
        for (a, b) in fixture("unrelated") {
            let similarity = cosine(&embed(&a, None), &embed(&b, None));
            assert!(similarity < 0.5, "{a:?} vs {b:?}: {similarity}");
        }
        for (i, (a, _)) in paraphrases.iter().enumerate() {
            for (b, _) in paraphrases.iter().skip(i + 1) {
                let similarity = cosine(&embed(a, None), &embed(b, None));
                assert!(similarity < 0.5, "{a:?} vs {b:?}: {similarity}");
            }
        }
    }
}
