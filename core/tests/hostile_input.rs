//! Hostile input never panics: arbitrary bytes into every parser a caller or
//! an upstream can reach. A panic in the worker aborts the whole isolate, so
//! these properties matter more than any single fixture.

use edgeway_core::config::{Provider, ProviderKind};
use edgeway_core::openai::{parse_chat_request, parse_embeddings_request};
use edgeway_core::providers::{self, error_from_status, KeyInfo, ReplyContext, StreamTranslator};
use edgeway_core::relay::StreamRelay;
use edgeway_core::sse::SseParser;
use proptest::prelude::*;

const KINDS: [ProviderKind; 5] = [ProviderKind::OpenAi, ProviderKind::Anthropic, ProviderKind::Gemini, ProviderKind::Azure, ProviderKind::WorkersAi];

fn provider(kind: ProviderKind) -> Provider {
    Provider { name: "p".into(), kind, base_url: "http://x".into(), api_key_secret: None, word_delay_ms: 0, api_version: "v".into() }
}

fn reply() -> ReplyContext {
    ReplyContext { created: 1, model: "m".into() }
}

/// Bytes that look like JSON often enough to reach deep into the parsers.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        proptest::collection::vec(
            prop_oneof![
                Just("{\"model\":\"m\",\"messages\":[".to_owned()),
                Just("{\"role\":\"user\",\"content\":".to_owned()),
                Just("\"x\"".to_owned()),
                Just("[{\"type\":\"text\",\"text\":\"a\"}]".to_owned()),
                Just("]}".to_owned()),
                Just("{\"type\":\"content_block_delta\",\"index\":0,\"delta\":".to_owned()),
                Just("{\"candidates\":[{\"content\":{\"parts\":".to_owned()),
                Just("{\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}".to_owned()),
                Just(",".to_owned()),
                Just("null".to_owned()),
                Just("1e999".to_owned()),
                Just("\"\\ud800\"".to_owned()),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat().into_bytes()),
    ]
}

proptest! {
    #[test]
    fn request_parsing_never_panics(body in jsonish()) {
        let _ = parse_chat_request(&body);
        let _ = parse_embeddings_request(&body);
    }

    #[test]
    fn upstream_answers_and_errors_never_panic(body in jsonish(), status in 100u16..600) {
        let key = KeyInfo { secret_name: Some("KEY"), value: Some("sk-secret-value") };
        for kind in KINDS {
            let provider = provider(kind);
            let _ = providers::completion(&provider, body.clone(), &reply());
            let failure = error_from_status(kind, "p", key, status, &body);
            prop_assert!(!failure.error.to_string().contains("sk-secret-value"));
        }
    }

    #[test]
    fn stream_translators_never_panic(events in proptest::collection::vec(jsonish(), 0..8)) {
        for kind in [ProviderKind::Anthropic, ProviderKind::Gemini] {
            let Some(mut translator) = StreamTranslator::for_provider(kind, reply()) else { continue };
            let mut out = Vec::new();
            for event in &events {
                let _ = translator.on_event(&String::from_utf8_lossy(event), &mut out);
            }
            translator.on_end(&mut out);
        }
    }

    #[test]
    fn stream_relay_never_panics_and_always_ends(chunks in proptest::collection::vec(jsonish(), 0..8)) {
        let mut relay = StreamRelay::new(true);
        let mut out = Vec::new();
        let mut failed = None;
        for chunk in &chunks {
            let mut framed = b"data: ".to_vec();
            framed.extend_from_slice(chunk);
            framed.extend_from_slice(b"\n\n");
            if let Err(reason) = relay.on_upstream_bytes(&framed, 1, &mut out) {
                failed = Some(reason);
                break;
            }
        }
        if failed.is_none() {
            failed = relay.on_upstream_end(&mut out).err();
        }
        if let Some(reason) = failed {
            relay.fail(&reason, "req_x", &mut out);
        }
        // Whatever came in, the caller's stream ends in [DONE] or an error event.
        let text = String::from_utf8_lossy(&out);
        prop_assert!(text.ends_with("data: [DONE]\n\n") || text.contains("\"stream_interrupted\""));
    }

    #[test]
    fn keys_tokens_and_stored_state_never_panic(text in "[ -~]{0,300}", body in jsonish()) {
        use edgeway_core::keys::{base64url, key_string, token};
        let _ = key_string::parse(&text);
        let _ = key_string::looks_like_jwt(&text);
        let _ = base64url::decode(&text);
        let _ = token::key_id(&text);
        let _ = token::verify(&text, b"secret", 1_700_000_000_000);
        // What KV and Durable Object storage hand back is read with the same care.
        let raw = String::from_utf8_lossy(&body);
        let _ = edgeway_core::json::from_str::<edgeway_core::limits::LimiterState>(&raw);
        let _ = edgeway_core::json::from_str::<edgeway_core::keys::record::KeyRecord>(&raw);
        let _ = edgeway_core::json::from_str::<edgeway_core::cache::entry::CacheEntry>(&raw);
    }

    #[test]
    fn the_cache_assembler_never_panics_and_never_yields_a_partial_answer(events in proptest::collection::vec(jsonish(), 0..8)) {
        let mut assembler = edgeway_core::cache::assemble::StreamAssembler::new();
        for event in &events {
            assembler.on_event(&String::from_utf8_lossy(event));
        }
        if let Some(answer) = assembler.finish() {
            prop_assert!(answer.choices.iter().all(|c| c.finish_reason.is_some()));
        }
    }

    #[test]
    fn sse_parser_never_panics_on_raw_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut parser = SseParser::with_max_event_bytes(64);
        let mut events = Vec::new();
        let _ = parser.push(&bytes, &mut events);
        let _ = parser.finish();
    }
}
