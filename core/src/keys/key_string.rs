//! Gateway key strings: `ew_sk_<id>_<secret>` and `ew_pk_<id>_<secret>`.
//!
//! The id (16 hex digits) is public: it names the key in logs, the admin API
//! and token headers. The 32-character tail carries 192 random bits and is
//! what makes the string a credential. Only [`hash`] of the whole string is
//! stored, so the string is shown once, at creation, and never again.

use serde::{Deserialize, Serialize};

use super::base64url;
use super::crypto::{push_hex, sha256_hex};

/// Prefix of server keys.
const SERVER_PREFIX: &str = "ew_sk_";
/// Prefix of publishable keys.
const PUBLISHABLE_PREFIX: &str = "ew_pk_";
/// Prefix of key ids as the rest of the gateway spells them.
const ID_PREFIX: &str = "key_";
/// Hex digits in a key id (8 random bytes).
const ID_HEX_LEN: usize = 16;
/// base64url characters in the secret tail (24 random bytes).
const SECRET_LEN: usize = 32;

/// What a key may be trusted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Secret: for application backends, which can keep it out of sight.
    Server,
    /// Public by design: embedded in web pages, so the gateway restricts it
    /// to the origins the operator lists.
    Publishable,
}

impl KeyKind {
    /// The key string prefix that announces this kind; it lets secret
    /// scanners and people tell a leaked server key from a harmless one.
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Server => SERVER_PREFIX,
            KeyKind::Publishable => PUBLISHABLE_PREFIX,
        }
    }
}

/// A freshly generated key: its public id and the key string to hand over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// `key_` and 16 lowercase hex digits.
    pub id: String,
    /// The whole key string the caller will send; shown once, never stored.
    pub secret: String,
}

/// Makes a key from 32 bytes of the runtime's CSPRNG: the first 8 become the
/// id, the other 24 the secret tail. The id is embedded in the string so a
/// presented key names itself, and random so ids reveal no key count.
pub fn generate(kind: KeyKind, random: [u8; 32]) -> NewKey {
    let [i0, i1, i2, i3, i4, i5, i6, i7, tail @ ..] = random;
    let mut id_hex = String::with_capacity(ID_HEX_LEN);
    push_hex(&mut id_hex, &[i0, i1, i2, i3, i4, i5, i6, i7]);
    let tail = base64url::encode(&tail);

    let prefix = kind.prefix();
    let mut secret = String::with_capacity(prefix.len() + ID_HEX_LEN + 1 + SECRET_LEN);
    secret.push_str(prefix);
    secret.push_str(&id_hex);
    secret.push('_');
    secret.push_str(&tail);
    NewKey { id: format!("{ID_PREFIX}{id_hex}"), secret }
}

/// What a key string says about itself, before any lookup confirms it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// Server or publishable, from the prefix.
    pub kind: KeyKind,
    /// The id with its `key_` prefix, as stored.
    pub id: String,
}

/// Reads a key string's kind and id, or `None` if it is not exactly the
/// shape [`generate`] makes. Strict so that a typo or a truncated paste is
/// answered as "not a key" without a KV read, and so each key has one
/// spelling (uppercase hex, say, would hash differently).
pub fn parse(secret: &str) -> Option<ParsedKey> {
    let (kind, rest) = if let Some(rest) = secret.strip_prefix(SERVER_PREFIX) {
        (KeyKind::Server, rest)
    } else {
        (KeyKind::Publishable, secret.strip_prefix(PUBLISHABLE_PREFIX)?)
    };
    let (id_hex, rest) = rest.split_at_checked(ID_HEX_LEN)?;
    let tail = rest.strip_prefix('_')?;
    let id_ok = id_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    // 32 symbols are exactly 24 bytes, so there are no spare bits to check.
    let tail_ok = tail.len() == SECRET_LEN && tail.bytes().all(base64url::is_symbol);
    (id_ok && tail_ok).then(|| ParsedKey { kind, id: format!("{ID_PREFIX}{id_hex}") })
}

/// What KV stores for a key: the SHA-256 hex of the whole string. A plain
/// hash suffices (no salt or stretching) because the string carries 192
/// random bits; there is no dictionary to precompute.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// Whether a presented credential has the shape of a JWT — three
/// base64url segments joined by two dots, the header and payload
/// non-empty — so the caller can route it to token verification rather
/// than to a key lookup. The signature may be empty: an unsigned
/// (`alg: none`) token must reach verification and be refused there as a
/// bad token, not as an unknown key. A key string never contains a dot.
pub fn looks_like_jwt(credential: &str) -> bool {
    let mut segments = 0;
    for segment in credential.split('.') {
        segments += 1;
        let may_be_empty = segments == 3;
        if segments > 3 || (segment.is_empty() && !may_be_empty) || !segment.bytes().all(base64url::is_symbol) {
            return false;
        }
    }
    segments == 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn random() -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        bytes
    }

    #[test]
    fn generate_lays_out_id_and_secret() {
        let mut bytes = [0xffu8; 32];
        bytes[..8].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        let key = generate(KeyKind::Server, bytes);
        assert_eq!(key.id, "key_0123456789abcdef");
        assert_eq!(key.secret, format!("ew_sk_0123456789abcdef_{}", "_".repeat(32)));

        let key = generate(KeyKind::Publishable, [0; 32]);
        assert_eq!(key.id, "key_0000000000000000");
        assert_eq!(key.secret, format!("ew_pk_0000000000000000_{}", "A".repeat(32)));
    }

    #[test]
    fn generate_then_parse_round_trips() {
        for kind in [KeyKind::Server, KeyKind::Publishable] {
            let key = generate(kind, random());
            assert_eq!(key.secret.len(), 55);
            assert_eq!(parse(&key.secret), Some(ParsedKey { kind, id: key.id.clone() }));
        }
    }

    #[test]
    fn parse_rejects_every_other_shape() {
        let good = generate(KeyKind::Server, random()).secret;
        assert!(parse(&good).is_some());
        let tail = &good[6..];
        let bad = [
            String::new(),
            "ew_sk_".to_owned(),
            format!("ew_xk_{tail}"),
            format!("EW_SK_{tail}"),
            format!("sk_{tail}"),
            format!(" {good}"),
            format!("{good} "),
            format!("{good}A"),
            good[..good.len() - 1].to_owned(),
            // Id: uppercase, non-hex, too short.
            good.replacen("ew_sk_", "ew_sk_A", 1)[..55].to_owned(),
            format!("ew_sk_0123456789abcdeg_{}", "A".repeat(32)),
            format!("ew_sk_0123456789ABCDEF_{}", "A".repeat(32)),
            format!("ew_sk_0123456789abcde_{}A", "A".repeat(32)),
            // Separator missing or different.
            format!("ew_sk_0123456789abcdef-{}", "A".repeat(32)),
            format!("ew_sk_0123456789abcdef{}", "A".repeat(33)),
            // Tail: padding, standard alphabet, non-ASCII.
            format!("ew_sk_0123456789abcdef_{}=", "A".repeat(31)),
            format!("ew_sk_0123456789abcdef_{}+", "A".repeat(31)),
            format!("ew_sk_0123456789abcdef_{}/", "A".repeat(31)),
            format!("ew_sk_0123456789abcdef_{}é", "A".repeat(30)),
            format!("ew_sk_0123456789abcdef_{}.", "A".repeat(31)),
        ];
        for secret in &bad {
            assert_eq!(parse(secret), None, "{secret:?}");
        }
    }

    #[test]
    fn hash_is_stable_and_differs_per_key() {
        // The SHA-256 of the string, as computed independently (Python hashlib).
        assert_eq!(
            hash(&format!("ew_sk_0123456789abcdef_{}", "A".repeat(32))),
            "5cb4cfa751edf470bf3c8201325aad866453a0250f792611f58ebf78f2204691"
        );
        let a = generate(KeyKind::Server, random()).secret;
        let mut other = random();
        other[31] ^= 1;
        let b = generate(KeyKind::Server, other).secret;
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        // Same random bytes, other kind: a different key.
        assert_ne!(hash(&a), hash(&generate(KeyKind::Publishable, random()).secret));
    }

    #[test]
    fn kinds_serialize_in_lowercase() {
        assert_eq!(serde_json::to_string(&KeyKind::Server).unwrap(), "\"server\"");
        assert_eq!(serde_json::to_string(&KeyKind::Publishable).unwrap(), "\"publishable\"");
        assert_eq!(crate::json::from_str::<KeyKind>("\"publishable\"").unwrap(), KeyKind::Publishable);
        assert!(crate::json::from_str::<KeyKind>("\"Server\"").is_err());
    }

    #[test]
    fn jwt_shape_is_three_base64url_segments() {
        assert!(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"));
        assert!(looks_like_jwt("a.b.c"));
        assert!(looks_like_jwt("a.b."), "an unsigned token still goes to verification");
        for not in ["", "a", "a.b", "a.b.c.d", "a..c", ".b.c", "..", "a.b+.c", "a.b=.c", "a.b.c ", "é.b.c"] {
            assert!(!looks_like_jwt(not), "{not:?}");
        }
        assert!(!looks_like_jwt(&generate(KeyKind::Server, random()).secret));
    }

    proptest! {
        #[test]
        fn any_random_bytes_make_a_parseable_key(bytes in any::<[u8; 32]>(), server in any::<bool>()) {
            let kind = if server { KeyKind::Server } else { KeyKind::Publishable };
            let key = generate(kind, bytes);
            prop_assert!(!looks_like_jwt(&key.secret));
            prop_assert_eq!(parse(&key.secret), Some(ParsedKey { kind, id: key.id }));
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
            let _ = looks_like_jwt(&text);
        }
    }
}
