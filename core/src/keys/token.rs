//! End-user tokens: JWTs (RFC 7519) in JWS compact serialization (RFC 7515),
//! signed with HS256 and nothing else.
//!
//! An application backend mints them for its own users with the per-key
//! signing secret ([`super::crypto::derive_signing_secret`]); the browser
//! sends them in place of a key. The gateway reads the unverified `kid`
//! ([`key_id`]), derives that key's secret, and [`verify`]s. Accepting a
//! single algorithm, named exactly, closes the classic confusions: `none`
//! (no signature at all) and public-key algorithms whose "key" an attacker
//! could pass off as an HMAC secret.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::base64url;
use super::crypto::{constant_time_eq, hmac_sha256};

/// The only `alg` accepted, compared exactly (RFC 7515 names are
/// case-sensitive).
const ALGORITHM: &str = "HS256";
/// Longest token accepted, in bytes. Far above any honest token (a few
/// hundred bytes), low enough that a hostile one costs little to reject.
const MAX_TOKEN_LEN: usize = 4096;
/// Longest `kid` accepted; key ids are 20 bytes, this leaves room to change.
const MAX_KID_LEN: usize = 64;
/// Longest `sub`, in characters: end-user ids end up in logs and usage rows.
const MAX_SUB_CHARS: usize = 256;
/// Claims whose name may appear in an error message; anything else a
/// token carries stays out of messages.
const CLAIM_NAMES: [&str; 5] = ["sub", "exp", "iat", "nbf", "routes"];

/// What a token asserts about its bearer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The application's id for the end user: what usage, limits and logs
    /// are attributed to. Required, non-empty, at most 256 characters.
    pub sub: String,
    /// Expiry in Unix seconds (JWT convention, not milliseconds). Required:
    /// a token that never expires would be as dangerous as a leaked key.
    pub exp: u64,
    /// When the token was issued, in Unix seconds. Informational only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not valid before this instant, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Routes the token may use, narrower than the key's own list; absent
    /// means everything the key allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
}

/// Why a token was refused. Messages never quote the token, its claims or a
/// secret, so they are safe to return to the caller and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed HS256 JWT, or claims missing or of the wrong type.
    /// The text says which part, in the gateway's own words.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The signature does not match the key's signing secret: forged,
    /// tampered with, or signed for another key.
    #[error("the token signature is not valid for this key")]
    BadSignature,
    /// The token's `exp` has passed.
    #[error("the token expired at {expired_at_s} (Unix seconds)")]
    Expired {
        /// The token's `exp`, in Unix seconds.
        expired_at_s: u64,
    },
    /// The token's `nbf` is still in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The header names an algorithm other than HS256; carries that name,
    /// trimmed to a short printable form.
    #[error("the token algorithm `{0}` is not supported; use HS256")]
    UnsupportedAlgorithm(String),
}

/// The JOSE header [`mint`] writes. A struct rather than a JSON map so the
/// member order (and so the exact token text) does not depend on
/// serde_json's map features.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// Mints a token for `claims`, signed with `signing_secret` and naming the
/// key in the header's `kid`. It does not validate the claims: [`verify`]
/// is where rules are enforced, and tests need to mint bad tokens.
pub fn mint(claims: &Claims, key_id: &str, signing_secret: &[u8]) -> String {
    let header = Header { alg: ALGORITHM, typ: "JWT", kid: key_id };
    // Serializing these types cannot fail (strings, integers, no maps). Were
    // it to, the empty JSON would give a token every verifier rejects.
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let payload = serde_json::to_vec(claims).unwrap_or_default();

    let mut token = base64url::encode(&header);
    token.push('.');
    token.push_str(&base64url::encode(&payload));
    let signature = hmac_sha256(signing_secret, token.as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(&signature));
    token
}

/// The header's `kid`, read **without** verifying anything: the caller needs
/// it to derive the secret that [`verify`] then checks. Nothing else may be
/// trusted from an unverified token.
///
/// # Errors
/// [`TokenError::Malformed`] if the token is not three segments, the header
/// is not a base64url JSON object, or `kid` is absent, not a string, empty
/// or longer than 64 bytes.
pub fn key_id(token: &str) -> Result<String, TokenError> {
    let segments = split(token)?;
    let header = read_header(segments.header)?;
    match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => Ok(kid.clone()),
        Some(Value::String(_)) => Err(malformed("the `kid` header is empty or longer than 64 bytes")),
        Some(_) => Err(malformed("the `kid` header is not a string")),
        None => Err(malformed("the header has no `kid`")),
    }
}

/// Checks a token against the key's signing secret at `now_ms` and returns
/// its claims.
///
/// In order: size and shape; header `alg` exactly `HS256`; the HMAC-SHA256
/// signature, compared in constant time **before** the payload is parsed, so
/// unauthenticated input never reaches the claim parser; then the claims
/// (`sub`, `exp` required), expiry (`now < exp`) and `nbf` (`nbf <= now`),
/// with no leeway: tokens are short-lived and callers pass an exact clock.
///
/// # Errors
/// Every way a token can fail, as a [`TokenError`].
pub fn verify(token: &str, signing_secret: &[u8], now_ms: u64) -> Result<Claims, TokenError> {
    let segments = split(token)?;
    let header = read_header(segments.header)?;
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALGORITHM => {}
        Some(Value::String(alg)) => return Err(TokenError::UnsupportedAlgorithm(printable_algorithm(alg))),
        Some(_) => return Err(malformed("the `alg` header is not a string")),
        None => return Err(malformed("the header has no `alg`")),
    }
    // RFC 7515 §4.1.11: extensions listed in `crit` must be understood or
    // the token rejected. This verifier understands none.
    if header.contains_key("crit") {
        return Err(malformed("the `crit` header is not supported"));
    }

    let signature = base64url::decode(segments.signature).ok_or_else(|| malformed("the signature is not base64url"))?;
    let expected = hmac_sha256(signing_secret, segments.signing_input.as_bytes());
    if !constant_time_eq(&expected, &signature) {
        return Err(TokenError::BadSignature);
    }

    let payload = base64url::decode(segments.payload).ok_or_else(|| malformed("the payload is not base64url"))?;
    let claims = parse_claims(&payload)?;

    if claims.sub.is_empty() {
        return Err(malformed("the `sub` claim is empty"));
    }
    if claims.sub.chars().count() > MAX_SUB_CHARS {
        return Err(malformed("the `sub` claim is longer than 256 characters"));
    }
    // Saturating: an absurd `exp` means "far future", never a wrap-around
    // into the past (and likewise for `nbf`).
    if now_ms >= claims.exp.saturating_mul(1000) {
        return Err(TokenError::Expired { expired_at_s: claims.exp });
    }
    if let Some(nbf) = claims.nbf {
        if nbf.saturating_mul(1000) > now_ms {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(claims)
}

/// A compact JWS cut at its two dots. `signing_input` is the header and
/// payload with the dot between them: exactly the bytes the MAC covers.
struct Segments<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

/// Splits a token, refusing oversized ones before doing any work on them.
fn split(token: &str) -> Result<Segments<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("the token is longer than 4096 bytes"));
    }
    let three_segments = || malformed("a token has three dot-separated segments");
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(three_segments)?;
    let (header, payload) = signing_input.split_once('.').ok_or_else(three_segments)?;
    if payload.contains('.') {
        return Err(three_segments());
    }
    Ok(Segments { header, payload, signature, signing_input })
}

/// Decodes the header segment into its JSON object.
fn read_header(segment: &str) -> Result<serde_json::Map<String, Value>, TokenError> {
    let bytes = base64url::decode(segment).ok_or_else(|| malformed("the header is not base64url"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(header)) => Ok(header),
        _ => Err(malformed("the header is not a JSON object")),
    }
}

/// [`Claims`] as a payload may spell them, with the required claims
/// optional so that their absence gets its own message.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    routes: Option<Vec<String>>,
}

/// Parses the (already authenticated) payload. Errors name the claim at
/// fault but never quote serde's text, which can echo the token's values.
/// Parsing streams into a struct (no intermediate `Value`); the claim at
/// fault is found from the error's position, as for request bodies.
fn parse_claims(payload: &[u8]) -> Result<Claims, TokenError> {
    use serde_json::error::Category;
    let raw: RawClaims = serde_json::from_slice(payload).map_err(|error| {
        let path = crate::json::error_path(payload, &error);
        let claim = CLAIM_NAMES.iter().find(|name| path.split(['.', '[']).next() == Some(**name));
        // A claim twice: RFC 7519 §4 allows rejecting duplicates, and it is the safe choice.
        let duplicate = error.to_string().starts_with("duplicate field");
        match (error.classify(), claim) {
            (Category::Data, Some(name)) if !duplicate => TokenError::Malformed(format!("the `{name}` claim has the wrong type")),
            (Category::Data, _) => malformed("the payload is not a JSON object with each claim at most once"),
            _ => malformed("the payload is not JSON"),
        }
    })?;
    let sub = raw.sub.ok_or_else(|| malformed("the `sub` claim is missing"))?;
    let exp = raw.exp.ok_or_else(|| malformed("the `exp` claim is missing"))?;
    Ok(Claims { sub, exp, iat: raw.iat, nbf: raw.nbf, routes: raw.routes })
}

/// An algorithm name as the error may carry it: at most 16 characters, any
/// outside the set JOSE names use shown as `?`, so a hostile header cannot
/// put arbitrary text in a log line (yet `"HS256 "` does not read as HS256).
fn printable_algorithm(alg: &str) -> String {
    alg.chars()
        .take(16)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.') { c } else { '?' })
        .collect()
}

/// A [`TokenError::Malformed`] with a fixed explanation.
fn malformed(reason: &str) -> TokenError {
    TokenError::Malformed(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KID: &str = "key_0123456789abcdef";
    /// 2023-11-14T22:13:20Z, in seconds.
    const NOW_S: u64 = 1_700_000_000;
    const NOW_MS: u64 = NOW_S * 1000;

    fn secret() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn claims() -> Claims {
        Claims {
            sub: "user-42".to_owned(),
            exp: NOW_S + 60,
            iat: Some(NOW_S),
            nbf: None,
            routes: Some(vec!["chat".to_owned(), "embeddings".to_owned()]),
        }
    }

    /// Builds a token from literal JSON, signed correctly: for tokens
    /// `mint` would never write.
    fn forge(header: &str, payload: &str, secret: &[u8]) -> String {
        let input = format!("{}.{}", base64url::encode(header.as_bytes()), base64url::encode(payload.as_bytes()));
        format!("{input}.{}", base64url::encode(&hmac_sha256(secret, input.as_bytes())))
    }

    fn forge_claims(payload: &str) -> String {
        forge(r#"{"alg":"HS256","typ":"JWT","kid":"key_0123456789abcdef"}"#, payload, &secret())
    }

    fn segments(token: &str) -> Vec<&str> {
        token.split('.').collect()
    }

    #[test]
    fn mint_then_verify_round_trips() {
        let token = mint(&claims(), KID, &secret());
        assert_eq!(verify(&token, &secret(), NOW_MS), Ok(claims()));
        assert_eq!(key_id(&token).as_deref(), Ok(KID));

        let minimal = Claims { sub: "u".to_owned(), exp: NOW_S + 1, iat: None, nbf: None, routes: None };
        let token = mint(&minimal, KID, &secret());
        // Absent optional claims are left out, not written as null.
        assert_eq!(base64url::decode(segments(&token)[1]).unwrap(), br#"{"sub":"u","exp":1700000001}"#);
        assert_eq!(verify(&token, &secret(), NOW_MS), Ok(minimal));
    }

    #[test]
    fn mint_matches_an_independent_implementation() {
        // Computed with Python's json, base64 and hmac modules for these
        // claims, kid and secret (bytes 0..32).
        let expected = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImtleV8wMTIzNDU2Nzg5YWJjZGVmIn0\
            .eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxNzAwMDAwMDYwLCJpYXQiOjE3MDAwMDAwMDAsInJvdXRlcyI6WyJjaGF0IiwiZW1iZWRkaW5ncyJdfQ\
            .24_jDUwxoxBPczrMIYJFH_e16n12KD5OEeuWHitGsd8";
        assert_eq!(mint(&claims(), KID, &secret()), expected);
        assert_eq!(verify(expected, &secret(), NOW_MS), Ok(claims()));
    }

    /// The example token on jwt.io, signed by another library.
    const JWT_IO: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\
        .eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ\
        .SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    #[test]
    fn a_standard_token_passes_the_signature_check() {
        // Its claims have no `exp`, so the first failure after a valid
        // signature is the missing claim; a bad signature would fail first.
        assert_eq!(
            verify(JWT_IO, b"your-256-bit-secret", NOW_MS),
            Err(TokenError::Malformed("the `exp` claim is missing".to_owned()))
        );
        assert_eq!(verify(JWT_IO, b"not-the-256-bit-secret", NOW_MS), Err(TokenError::BadSignature));
        // And it has no `kid`.
        assert!(matches!(key_id(JWT_IO), Err(TokenError::Malformed(m)) if m.contains("kid")));
    }

    #[test]
    fn expiry_is_exact() {
        let token = mint(&claims(), KID, &secret());
        let exp_ms = claims().exp * 1000;
        assert!(verify(&token, &secret(), exp_ms - 1).is_ok());
        assert_eq!(verify(&token, &secret(), exp_ms), Err(TokenError::Expired { expired_at_s: claims().exp }));
        assert_eq!(verify(&token, &secret(), u64::MAX), Err(TokenError::Expired { expired_at_s: claims().exp }));

        let far = Claims { exp: u64::MAX, ..claims() };
        assert!(verify(&mint(&far, KID, &secret()), &secret(), NOW_MS).is_ok());
    }

    #[test]
    fn not_before_is_exact() {
        let later = Claims { nbf: Some(NOW_S + 1), ..claims() };
        let token = mint(&later, KID, &secret());
        assert_eq!(verify(&token, &secret(), NOW_MS), Err(TokenError::NotYetValid));
        assert_eq!(verify(&token, &secret(), NOW_MS + 999), Err(TokenError::NotYetValid));
        assert_eq!(verify(&token, &secret(), NOW_MS + 1000), Ok(later));

        let absurd = Claims { nbf: Some(u64::MAX), exp: u64::MAX, ..claims() };
        assert_eq!(verify(&mint(&absurd, KID, &secret()), &secret(), NOW_MS), Err(TokenError::NotYetValid));
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let token = mint(&claims(), KID, &secret());
        let parts = segments(&token);

        // Another user's payload under the original signature.
        let other = Claims { sub: "admin".to_owned(), ..claims() };
        let other_token = mint(&other, KID, &secret());
        let swapped = format!("{}.{}.{}", parts[0], segments(&other_token)[1], parts[2]);
        assert_eq!(verify(&swapped, &secret(), NOW_MS), Err(TokenError::BadSignature));

        // One payload character changed.
        let mut payload = parts[1].to_owned().into_bytes();
        payload[5] = if payload[5] == b'A' { b'B' } else { b'A' };
        let edited = format!("{}.{}.{}", parts[0], String::from_utf8(payload).unwrap(), parts[2]);
        assert_eq!(verify(&edited, &secret(), NOW_MS), Err(TokenError::BadSignature));

        // A different kid in the header (the secret is derived from it).
        let relabelled = mint(&claims(), "key_fedcba9876543210", &secret());
        let moved = format!("{}.{}.{}", segments(&relabelled)[0], parts[1], parts[2]);
        assert_eq!(verify(&moved, &secret(), NOW_MS), Err(TokenError::BadSignature));

        // Truncated or missing signature.
        let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..40]);
        assert_eq!(verify(&short, &secret(), NOW_MS), Err(TokenError::BadSignature));
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(verify(&unsigned, &secret(), NOW_MS), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_wrong_secret_is_a_bad_signature() {
        let token = mint(&claims(), KID, &secret());
        assert_eq!(verify(&token, &[0u8; 32], NOW_MS), Err(TokenError::BadSignature));
        assert_eq!(verify(&token, b"", NOW_MS), Err(TokenError::BadSignature));
    }

    #[test]
    fn the_signature_has_one_spelling() {
        // 32 bytes take 43 symbols, the last with 2 spare bits; flipping one
        // would still decode under a lax decoder to the same MAC.
        let token = mint(&claims(), KID, &secret());
        assert!(token.ends_with('8'));
        let respelled = format!("{}9", &token[..token.len() - 1]);
        assert!(matches!(verify(&respelled, &secret(), NOW_MS), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn only_hs256_is_accepted() {
        let token = mint(&claims(), KID, &secret());
        let parts = segments(&token);
        let payload = r#"{"sub":"user-42","exp":1700000060}"#;
        for (alg, name) in [
            ("none", "none"),
            ("None", "None"),
            ("HS512", "HS512"),
            ("RS256", "RS256"),
            ("hs256", "hs256"),
            ("HS256 ", "HS256?"),
            ("", ""),
        ] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{KID}"}}"#);
            let expected = Err(TokenError::UnsupportedAlgorithm(name.to_owned()));
            // Correctly signed, or with the original signature, or with none:
            // the algorithm is refused before any of that matters.
            assert_eq!(verify(&forge(&header, payload, &secret()), &secret(), NOW_MS), expected, "{alg:?}");
            let header = base64url::encode(header.as_bytes());
            assert_eq!(verify(&format!("{header}.{}.{}", parts[1], parts[2]), &secret(), NOW_MS), expected);
            assert_eq!(verify(&format!("{header}.{}.", parts[1]), &secret(), NOW_MS), expected);
        }
        // A hostile algorithm name is trimmed before it reaches a message.
        let header = format!(r#"{{"alg":"{}\n<script>"}}"#, "X".repeat(100));
        let error = verify(&forge(&header, payload, &secret()), &secret(), NOW_MS).unwrap_err();
        assert_eq!(error, TokenError::UnsupportedAlgorithm("X".repeat(16)));

        for header in [r#"{"typ":"JWT"}"#, r#"{"alg":256}"#, r#"{"alg":null}"#, r#"{"alg":["HS256"]}"#] {
            assert!(
                matches!(verify(&forge(header, payload, &secret()), &secret(), NOW_MS), Err(TokenError::Malformed(m)) if m.contains("alg")),
                "{header}"
            );
        }
        let critical = r#"{"alg":"HS256","crit":["exp"],"exp":1}"#;
        assert!(
            matches!(verify(&forge(critical, payload, &secret()), &secret(), NOW_MS), Err(TokenError::Malformed(m)) if m.contains("crit"))
        );
    }

    #[test]
    fn claims_are_checked_after_the_signature() {
        // Not JSON, but unsigned: refused as a bad signature, unparsed.
        let bad_payload = format!("{}.{}.{}", segments(&mint(&claims(), KID, &secret()))[0], "bm90IGpzb24", "c2ln");
        assert_eq!(verify(&bad_payload, &secret(), NOW_MS), Err(TokenError::BadSignature));
        // Properly signed, it reaches the parser.
        assert_eq!(
            verify(&forge_claims("not json"), &secret(), NOW_MS),
            Err(TokenError::Malformed("the payload is not JSON".to_owned()))
        );
    }

    #[test]
    fn claims_must_be_present_and_well_typed() {
        let cases = [
            (r#"[1,2]"#, "the payload is not a JSON object with each claim at most once"),
            (r#""claims""#, "the payload is not a JSON object with each claim at most once"),
            (r#"{"sub":"u","exp":1,"exp":2}"#, "the payload is not a JSON object with each claim at most once"),
            (r#"{"sub":"u","exp":1700000060} {}"#, "the payload is not JSON"),
            (r#"{"sub":"u","exp":1700000060"#, "the payload is not JSON"),
            (r#"{"sub":"u","exp":1700000060,"x":[}"#, "the payload is not JSON"),
            (r#"{"exp":1700000060}"#, "the `sub` claim is missing"),
            (r#"{"sub":"u"}"#, "the `exp` claim is missing"),
            (r#"{"sub":"u","exp":"1700000060"}"#, "the `exp` claim has the wrong type"),
            (r#"{"sub":"u","exp":1700000060.5}"#, "the `exp` claim has the wrong type"),
            (r#"{"sub":"u","exp":-1}"#, "the `exp` claim has the wrong type"),
            // A null claim is an absent one (so a null `exp` is no expiry at all).
            (r#"{"sub":"u","exp":null}"#, "the `exp` claim is missing"),
            (r#"{"sub":null,"exp":1700000060}"#, "the `sub` claim is missing"),
            (r#"{"sub":7,"exp":1700000060}"#, "the `sub` claim has the wrong type"),
            (r#"{"sub":"u","exp":1700000060,"nbf":"soon"}"#, "the `nbf` claim has the wrong type"),
            (r#"{"sub":"u","exp":1700000060,"routes":["chat",1]}"#, "the `routes` claim has the wrong type"),
            (r#"{"sub":"","exp":1700000060}"#, "the `sub` claim is empty"),
        ];
        for (payload, message) in cases {
            assert_eq!(
                verify(&forge_claims(payload), &secret(), NOW_MS),
                Err(TokenError::Malformed(message.to_owned())),
                "{payload}"
            );
        }
        // Unknown claims are ignored; null optional claims are absent.
        let extra = r#"{"sub":"u","exp":1700000060,"name":"John","nbf":null,"aud":["x"]}"#;
        let claims = verify(&forge_claims(extra), &secret(), NOW_MS).unwrap();
        assert_eq!((claims.sub.as_str(), claims.nbf), ("u", None));
    }

    #[test]
    fn sub_is_at_most_256_characters() {
        // Characters, not bytes: 256 two-byte characters are fine.
        let ok = Claims { sub: "é".repeat(256), ..claims() };
        assert_eq!(verify(&mint(&ok, KID, &secret()), &secret(), NOW_MS), Ok(ok));
        let long = Claims { sub: "a".repeat(257), ..claims() };
        assert_eq!(
            verify(&mint(&long, KID, &secret()), &secret(), NOW_MS),
            Err(TokenError::Malformed("the `sub` claim is longer than 256 characters".to_owned()))
        );
    }

    #[test]
    fn oversized_tokens_are_refused_unread() {
        let routes = (0..400).map(|i| format!("route-{i}")).collect();
        let big = Claims { routes: Some(routes), ..claims() };
        let token = mint(&big, KID, &secret());
        assert!(token.len() > MAX_TOKEN_LEN);
        let too_long = TokenError::Malformed("the token is longer than 4096 bytes".to_owned());
        assert_eq!(verify(&token, &secret(), NOW_MS), Err(too_long.clone()));
        assert_eq!(key_id(&token), Err(too_long.clone()));

        // Up to the limit is fine: find the longest route that still fits.
        let padded = |n: usize| Claims { routes: Some(vec!["r".repeat(n)]), ..claims() };
        let (mut fits, mut too_big) = (0, MAX_TOKEN_LEN);
        while too_big - fits > 1 {
            let middle = (fits + too_big) / 2;
            if mint(&padded(middle), KID, &secret()).len() <= MAX_TOKEN_LEN {
                fits = middle;
            } else {
                too_big = middle;
            }
        }
        let token = mint(&padded(fits), KID, &secret());
        assert!(token.len() > MAX_TOKEN_LEN - 4, "{}", token.len());
        assert_eq!(verify(&token, &secret(), NOW_MS), Ok(padded(fits)));
        assert_eq!(verify(&mint(&padded(too_big), KID, &secret()), &secret(), NOW_MS), Err(too_long));
    }

    #[test]
    fn key_id_reads_the_unverified_header() {
        let token = mint(&claims(), KID, &secret());
        // Unverified: a broken signature does not matter here.
        let parts = segments(&token);
        assert_eq!(key_id(&format!("{}.{}.x", parts[0], parts[1])).as_deref(), Ok(KID));

        let longest = "k".repeat(64);
        assert_eq!(key_id(&mint(&claims(), &longest, &secret())), Ok(longest));
        for (header, about) in [
            (r#"{"alg":"HS256"}"#, "kid"),
            (r#"{"kid":7}"#, "kid"),
            (r#"{"kid":null}"#, "kid"),
            (r#"{"kid":""}"#, "kid"),
            (r#"["key_0123456789abcdef"]"#, "object"),
            ("not json", "object"),
        ] {
            let error = key_id(&forge(header, "{}", &secret())).unwrap_err();
            assert!(matches!(&error, TokenError::Malformed(m) if m.contains(about)), "{header}: {error}");
        }
        let too_long = mint(&claims(), &"k".repeat(65), &secret());
        assert!(matches!(key_id(&too_long), Err(TokenError::Malformed(m)) if m.contains("64")));
    }

    #[test]
    fn garbage_is_malformed() {
        for garbage in [
            "",
            ".",
            "..",
            "...",
            "a",
            "a.b",
            "a.b.c.d",
            "ew_sk_0123456789abcdef_AAAA",
            "!.b.c",
            "e30=.e30.c2ln",
            "bm90IGpzb24.e30.c2ln",
            "W10.e30.c2ln",
        ] {
            assert!(matches!(verify(garbage, &secret(), NOW_MS), Err(TokenError::Malformed(_))), "{garbage:?}");
            assert!(matches!(key_id(garbage), Err(TokenError::Malformed(_))), "{garbage:?}");
        }
    }

    #[test]
    fn messages_never_quote_the_token_or_the_secret() {
        let token = mint(&claims(), KID, &secret());
        let parts = segments(&token);
        let tokens = [
            token.clone(),
            format!("{}.{}.{}", parts[0], parts[1], "AAAA"),
            forge_claims(r#"{"sub":"secret-user","exp":"secret-exp"}"#),
            forge_claims(r#"{"sub":"secret-user","exp":1,"routes":[{"secret-route":1}]}"#),
            forge(r#"{"alg":"secret-alg-name-that-is-long"}"#, "{}", &secret()),
            forge(r#"{"kid":"secret-kid-that-is-much-too-long-to-be-accepted-by-the-gateway-ever"}"#, "{}", &secret()),
        ];
        for token in &tokens {
            for error in [verify(token, &secret(), u64::MAX).err(), key_id(token).err()].into_iter().flatten() {
                let message = error.to_string();
                for needle in token.split('.').filter(|s| s.len() > 3).chain([
                    "secret-user",
                    "secret-exp",
                    "secret-route",
                    "secret-kid",
                ]) {
                    assert!(!message.contains(needle), "{message}");
                }
                assert!(!message.contains("AAECAwQF"), "{message}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), now in any::<u64>()) {
            prop_assert!(verify(&text, &secret(), now).is_err());
            let _ = key_id(&text);
        }

        #[test]
        fn token_shaped_text_never_panics(
            header in "[A-Za-z0-9_-]{0,60}",
            payload in "[A-Za-z0-9_-]{0,60}",
            signature in "[A-Za-z0-9_=-]{0,50}",
        ) {
            let text = format!("{header}.{payload}.{signature}");
            prop_assert!(verify(&text, &secret(), NOW_MS).is_err());
            let _ = key_id(&text);
        }

        #[test]
        fn signed_arbitrary_payloads_never_panic(payload in any::<String>(), now in any::<u64>()) {
            let _ = verify(&forge_claims(&payload), &secret(), now);
        }

        #[test]
        fn any_claims_round_trip_before_expiry(sub in "[^\u{0}]{1,40}", ttl in 1u64..100_000, iat in proptest::option::of(any::<u64>())) {
            let claims = Claims { sub, exp: NOW_S + ttl, iat, nbf: Some(NOW_S), routes: None };
            prop_assert_eq!(verify(&mint(&claims, KID, &secret()), &secret(), NOW_MS), Ok(claims));
        }
    }
}
