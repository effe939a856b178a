//! The few primitives keys and tokens are built from: SHA-256, HMAC-SHA256,
//! HKDF-SHA256 (all RustCrypto) and a constant-time comparison.

use hkdf::{Hkdf, HmacImpl};
use hmac::Hmac;
use sha2::{Digest, Sha256};

/// HKDF salt for token signing secrets. Versioned so that a future scheme
/// can derive unrelated secrets from the same master secret.
const SIGNING_SALT: &[u8] = b"edgeway token signing v1";

/// SHA-256 of `data` as 64 lowercase hex digits: how KV names a key without
/// holding anything that would let a reader use it.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(data).into();
    let mut hex = String::with_capacity(64);
    push_hex(&mut hex, &digest);
    hex
}

/// HMAC-SHA256 (RFC 2104) of `data` under `key`, which may be any length.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // `HmacImpl::new_from_slice` is the infallible constructor: HMAC accepts
    // keys of every length, and `hmac`'s own `KeyInit::new_from_slice`
    // returns a `Result` only because the trait is shared with ciphers.
    let mut mac = <Hmac<Sha256> as HmacImpl>::new_from_slice(key);
    HmacImpl::update(&mut mac, data);
    HmacImpl::finalize(mac).into()
}

/// Whether `a` and `b` are equal, taking the same time wherever they differ.
/// For comparing MACs: an early exit on the first differing byte would let
/// an attacker find a valid signature one byte at a time by timing. A length
/// mismatch returns at once, since lengths are public.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Hide the accumulator from the optimiser so it cannot turn the fold
    // back into a short-circuiting comparison.
    core::hint::black_box(difference) == 0
}

/// The secret an application signs its end-user tokens with for the key
/// `key_id`: HKDF-SHA256 (RFC 5869) with the master secret as input keying
/// material, a fixed salt, and the key id as info. Deriving instead of
/// storing means the gateway verifies a token without any KV read, and
/// each key's secret is independent of every other's.
pub fn derive_signing_secret(master: &[u8], key_id: &str) -> [u8; 32] {
    let (prk, hkdf) = Hkdf::<Sha256>::extract(Some(SIGNING_SALT), master);
    let mut okm = [0u8; 32];
    match hkdf.expand(key_id.as_bytes(), &mut okm) {
        Ok(()) => okm,
        // Unreachable: HKDF-Expand only refuses more than 255 × 32 bytes of
        // output. Should it ever fail anyway, answer with the PRK, which is
        // as secret as the master, rather than with a guessable zero key
        // (and rather than panic, which would abort the whole isolate).
        Err(_) => prk.into(),
    }
}

/// Appends `bytes` as lowercase hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(match nibble {
                0..=9 => b'0' + nibble,
                _ => b'a' + (nibble - 10),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        let mut out = String::new();
        push_hex(&mut out, bytes);
        out
    }

    #[test]
    fn sha256_of_abc() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn hmac_sha256_rfc_4231() {
        // Test case 2: a key shorter than the block.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, which HMAC hashes first.
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signing_secret_matches_an_independent_hkdf() {
        // Computed with Python's hmac module: PRK = HMAC(salt, master),
        // OKM = HMAC(PRK, key_id || 0x01).
        assert_eq!(
            hex(&derive_signing_secret(b"master-secret-for-tests", "key_0123456789abcdef")),
            "731b31b205445710ce1ea93d79f357ef1d36ecb90578609cbcfb74ceadc95edd"
        );
    }

    #[test]
    fn signing_secrets_are_deterministic_and_separated_by_key_id() {
        let master = [7u8; 32];
        let a = derive_signing_secret(&master, "key_0000000000000001");
        assert_eq!(a, derive_signing_secret(&master, "key_0000000000000001"));
        assert_ne!(a, derive_signing_secret(&master, "key_0000000000000002"));
        assert_ne!(a, derive_signing_secret(&[8u8; 32], "key_0000000000000001"));
        assert_ne!(a, derive_signing_secret(&master, ""));
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"same bytes", b"same bytes"));
        assert!(!constant_time_eq(b"same bytes", b"same bytez"));
        assert!(!constant_time_eq(b"xame bytes", b"same bytes"));
        assert!(!constant_time_eq(b"short", b"shorter"));
        assert!(!constant_time_eq(b"", b"a"));
        let mac = hmac_sha256(b"k", b"m");
        let mut flipped = mac;
        flipped[31] ^= 1;
        assert!(constant_time_eq(&mac, &hmac_sha256(b"k", b"m")));
        assert!(!constant_time_eq(&mac, &flipped));
    }
}
