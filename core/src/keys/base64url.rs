//! base64url (RFC 4648 §5) without padding, as JWTs (RFC 7515 §2) and key
//! strings spell bytes.
//!
//! Written here rather than taken from a crate: it is a few dozen lines, and
//! the Worker's wasm has a size budget. Decoding is strict — every byte
//! string has exactly one accepted spelling — because tokens are split,
//! compared and signed as text: a lenient decoder would let one signature be
//! written several ways, which makes tokens malleable and caches keyed on
//! them unreliable.

/// Encodes `bytes` as base64url without `=` padding: 4 characters per 3
/// bytes, and 2 or 3 for a final 1 or 2 bytes.
pub fn encode(bytes: &[u8]) -> String {
    encode_with(bytes, symbol)
}

/// Encodes `bytes` as standard base64 (RFC 4648 §4: `+` and `/`, padded
/// with `=`), the spelling OpenAI's `base64` embeddings use.
pub fn encode_standard(bytes: &[u8]) -> String {
    let mut out = encode_with(bytes, |six_bits| match symbol(six_bits) {
        '-' => '+',
        '_' => '/',
        other => other,
    });
    while out.len() % 4 != 0 {
        out.push('=');
    }
    out
}

fn encode_with(bytes: &[u8], symbol: impl Fn(u8) -> char) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // The chunk's bytes, most significant first, in the top 24 bits.
        let mut group = 0u32;
        for (i, byte) in chunk.iter().enumerate() {
            group |= u32::from(*byte) << (16 - 8 * i);
        }
        // n bytes carry 8n bits, which need n + 1 six-bit symbols.
        for i in 0..=chunk.len() {
            out.push(symbol(((group >> (18 - 6 * i)) & 0x3f) as u8));
        }
    }
    out
}

/// Decodes unpadded base64url, or `None` if `text` is not the one canonical
/// spelling of some bytes: any `=`, whitespace or other byte outside the URL
/// alphabet, a length that no byte count encodes to (`len % 4 == 1`), or
/// set bits after the last whole byte (`"Zh"` where only `"Zg"` is valid).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let symbols = text.as_bytes();
    if symbols.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3 + 2);
    for chunk in symbols.chunks(4) {
        let mut group = 0u32;
        for (i, symbol) in chunk.iter().enumerate() {
            group |= value(*symbol)? << (18 - 6 * i);
        }
        // 4 symbols carry 3 bytes, 3 carry 2, 2 carry 1 (1 was refused above).
        let byte_count = chunk.len().saturating_sub(1);
        // The bits below the last whole byte are padding and must be zero,
        // else several texts would decode to the same bytes.
        let spare_bits = 24 - 8 * byte_count;
        if group & ((1u32 << spare_bits) - 1) != 0 {
            return None;
        }
        for i in 0..byte_count {
            out.push((group >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Whether `byte` is one of the 64 base64url symbols; for shape checks that
/// need no decoding.
pub(crate) fn is_symbol(byte: u8) -> bool {
    value(byte).is_some()
}

/// The symbol for a six-bit value. Arithmetic rather than a table lookup so
/// that no index can be out of bounds.
fn symbol(six_bits: u8) -> char {
    char::from(match six_bits {
        0..=25 => b'A' + six_bits,
        26..=51 => b'a' + (six_bits - 26),
        52..=61 => b'0' + (six_bits - 52),
        62 => b'-',
        _ => b'_',
    })
}

/// The six-bit value of a symbol, `None` for anything outside the URL
/// alphabet (including the standard alphabet's `+` and `/`, and `=`).
fn value(byte: u8) -> Option<u32> {
    let six_bits = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(six_bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 §10's vectors; none of them contains a symbol that differs
    /// between the standard and URL alphabets, so they hold unchanged.
    const RFC_4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn standard_base64_uses_plus_slash_and_padding() {
        // RFC 4648 §10 vectors, and the two symbols where the alphabets differ.
        for (bytes, text) in [(&b""[..], ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"foob", "Zm9vYg=="), (&[0xfb, 0xff][..], "+/8=")] {
            assert_eq!(encode_standard(bytes), text);
        }
    }

    #[test]
    fn rfc_4648_vectors_encode_unpadded() {
        for (plain, encoded) in RFC_4648 {
            assert_eq!(encode(plain.as_bytes()), encoded, "{plain:?}");
            assert_eq!(decode(encoded).as_deref(), Some(plain.as_bytes()), "{encoded:?}");
        }
    }

    #[test]
    fn url_alphabet_replaces_plus_and_slash() {
        // Standard base64: "+/8=" and "+/+/".
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(decode("-_-_"), Some(vec![0xfb, 0xff, 0xbf]));
    }

    #[test]
    fn every_symbol_maps_to_its_value() {
        // The whole alphabet in order is the 48 bytes below (checked against
        // Python's base64.urlsafe_b64decode).
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = [
            0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55, 0x97,
            0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
            0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf,
        ];
        assert_eq!(encode(&bytes), alphabet);
        assert_eq!(decode(alphabet).as_deref(), Some(&bytes[..]));
        for byte in 0..=255u8 {
            assert_eq!(is_symbol(byte), alphabet.as_bytes().contains(&byte), "{byte:#x}");
        }
    }

    #[test]
    fn padding_is_rejected() {
        for padded in ["Zg==", "Zm8=", "Zg=", "Zm9vYg==", "====", "=", "Zm9v===="] {
            assert_eq!(decode(padded), None, "{padded:?}");
        }
    }

    #[test]
    fn bytes_outside_the_url_alphabet_are_rejected() {
        for bad in ["Zm9v+A", "Zm9v/A", "Zm 9v", " Zm9v", "Zm9v\n", "Zm9v.A", "Zé", "Zm9\0", "*g"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn impossible_lengths_are_rejected() {
        for bad in ["Z", "Zm9vY", "Zm9vYmFyZ"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_rejected() {
        // "Zg" is 0x66; "Zh".."Zv" differ only in the 4 bits after the byte.
        assert_eq!(decode("Zg"), Some(vec![0x66]));
        for bad in ["Zh", "Zi", "Zp", "Zv"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        // "Zm8" is "fo"; its last symbol has 2 spare bits.
        assert_eq!(decode("Zm8"), Some(b"fo".to_vec()));
        for bad in ["Zm9", "Zm-", "Zm_"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        // Full groups have no spare bits, so every last symbol is fine.
        assert_eq!(decode("Zm9_"), Some(vec![0x66, 0x6f, 0x7f]));
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = encode(&bytes);
            prop_assert_eq!(text.len(), (bytes.len() * 4).div_ceil(3));
            prop_assert!(text.bytes().all(is_symbol));
            prop_assert_eq!(decode(&text), Some(bytes));
        }

        #[test]
        fn decoding_is_canonical(text in "[A-Za-z0-9_=+/-]{0,40}") {
            // Whatever decodes has exactly one spelling: re-encoding gives it back.
            if let Some(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decode(&text);
        }
    }
}
