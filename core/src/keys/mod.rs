//! Gateway keys and end-user tokens: how they are made, stored and checked.
//!
//! Operators create keys through the admin API. A key string
//! (`ew_sk_…` for servers, `ew_pk_…` for browsers) is shown once; KV keeps
//! only its SHA-256 ([`key_string::hash`]), so a leaked KV dump grants
//! nothing. An application backend mints short-lived HS256 JWTs
//! ([`token`]) for its own users with a per-key signing secret. That secret
//! is derived from a master secret and the key id
//! ([`crypto::derive_signing_secret`]) rather than stored, so the gateway
//! verifies a token with no lookup at all: read `kid`, derive, verify.
//!
//! Like the rest of the crate, nothing here reads a clock or draws random
//! bytes: `now_ms` and randomness come from the caller. The hash, MAC and
//! KDF are RustCrypto's; only base64url is written here, because it is
//! small and a general-purpose crate would cost more wasm than it saves.

pub mod base64url;
pub mod crypto;
pub mod key_string;
pub mod record;
pub mod token;
