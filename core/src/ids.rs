//! Request ids: the gateway's own, never the caller's.

/// Formats 16 random bytes (from the runtime's CSPRNG) as a request id:
/// `req_` and 32 lowercase hex digits. 128 random bits make collisions
/// practically impossible across every request the gateway will ever see.
pub fn request_id(random: [u8; 16]) -> String {
    let mut id = String::with_capacity(4 + 32);
    id.push_str("req_");
    push_hex(&mut id, &random);
    id
}

/// Formats random bytes as a chat-completion id for answers the gateway
/// writes itself (demo provider, cache replays): `chatcmpl-` and hex.
pub fn completion_id(random: [u8; 12]) -> String {
    let mut id = String::with_capacity(9 + 24);
    id.push_str("chatcmpl-");
    push_hex(&mut id, &random);
    id
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_prefixed_hex() {
        let id = request_id([0xab; 16]);
        assert_eq!(id, format!("req_{}", "ab".repeat(16)));
        assert_eq!(completion_id([1; 12]), format!("chatcmpl-{}", "01".repeat(12)));
    }
}
