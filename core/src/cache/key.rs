//! The cache key: which requests are asking the same question.
//!
//! Two requests share a key when a provider would see the same question in
//! them: the same route alias, conversation, tools and sampling parameters,
//! whatever the order of fields or the whitespace in the caller's JSON. The
//! key is the SHA-256 of a namespace (so tenants never read each other's
//! answers) and a canonical JSON form of the request, which is built from the
//! parsed [`ChatRequest`] rather than the raw body: anything that parses to the
//! same request is the same question.

use serde_json::Value;

use crate::keys::crypto::sha256_hex;
use crate::openai::ChatRequest;

/// Fields that never change the answer and are left out of the key.
///
/// `stream` and `stream_options` only change how the answer is delivered (a
/// hit can be replayed either way), and the rest identify the caller or
/// steer the provider's bookkeeping, not the model's output.
pub const IGNORED_FIELDS: &[&str] =
    &["stream", "stream_options", "user", "metadata", "store", "service_tier", "prompt_cache_key", "safety_identifier"];

/// Versions the hashed layout, so that changing the canonical form later
/// makes old entries unreachable instead of wrongly matched.
const KEY_VERSION: &str = "edgeway-cache-v1";

/// The request as compact JSON with object keys sorted at every depth, minus
/// [`IGNORED_FIELDS`], with equivalent spellings normalized:
/// `max_completion_tokens` becomes `max_tokens`, a single `stop` string a
/// one-element array, a content array holding one text part a plain string,
/// and `n: 1` is dropped (it is the default). An absent `temperature` stays
/// absent: providers' defaults differ, so it matches no explicit value.
pub fn canonical_form(request: &ChatRequest) -> Option<String> {
    // Serializing cannot fail (string keys, no fallible `Serialize`); if it
    // ever did, the request is simply not cached rather than given a key
    // another request could share.
    // Through bytes rather than `to_value`: the request's serializer for
    // bytes is in the wasm anyway (it is how requests go upstream), a
    // second one for `Value` would only add size.
    let mut value: Value = crate::json::from_str(&serde_json::to_string(request).ok()?).ok()?;
    if let Value::Object(map) = &mut value {
        for field in IGNORED_FIELDS {
            map.remove(*field);
        }
        // Same limit under its legacy and current names. When both are set
        // and differ, which one a provider honours is its own business, so
        // both stay in the key.
        if let Some(current) = map.get("max_completion_tokens").cloned() {
            match map.get("max_tokens") {
                None => {
                    map.insert("max_tokens".to_owned(), current);
                    map.remove("max_completion_tokens");
                }
                Some(legacy) if *legacy == current => {
                    map.remove("max_completion_tokens");
                }
                Some(_) => {}
            }
        }
        if let Some(Value::String(stop)) = map.get_mut("stop") {
            let one = Value::String(std::mem::take(stop));
            map.insert("stop".to_owned(), Value::Array(vec![one]));
        }
        if map.get("n").and_then(Value::as_u64) == Some(1) {
            map.remove("n");
        }
        if let Some(Value::Array(messages)) = map.get_mut("messages") {
            messages.iter_mut().for_each(normalize_content);
        }
    }
    // serde_json's `preserve_order` is on in this workspace, so maps keep
    // insertion order and must be sorted explicitly.
    value.sort_all_objects();
    Some(value.to_string())
}

/// Replaces `[{"type":"text","text":T}]` with `T`. Only a single part: how
/// several text parts are joined (nothing, a newline, separate blocks)
/// differs between providers, so those are left as they are.
fn normalize_content(message: &mut Value) {
    let Some(content) = message.get_mut("content") else { return };
    let Value::Array(parts) = content else { return };
    let [Value::Object(part)] = parts.as_mut_slice() else { return };
    let is_plain_text = part.len() == 2 && part.get("type").and_then(Value::as_str) == Some("text");
    if let (true, Some(Value::String(text))) = (is_plain_text, part.get_mut("text")) {
        let text = std::mem::take(text);
        *content = Value::String(text);
    }
}

/// The key an answer to `request` is stored under within `namespace`: 64
/// lowercase hex digits of SHA-256 over the version, the namespace's length,
/// the namespace and the canonical form. The length prefix makes the
/// encoding injective, so no namespace/request pair hashes the same input as
/// another whatever characters the namespace holds.
pub fn cache_key(request: &ChatRequest, namespace: &str) -> Option<String> {
    let canonical = canonical_form(request)?;
    let input = format!("{KEY_VERSION}\n{}\n{namespace}\n{canonical}", namespace.len());
    Some(sha256_hex(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::parse_chat_request;
    use proptest::prelude::*;

    fn req(json: &str) -> ChatRequest {
        parse_chat_request(json.as_bytes()).unwrap()
    }

    fn key(json: &str) -> String {
        cache_key(&req(json), "ns").unwrap()
    }

    const BASE: &str = r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],
        "temperature":0.5,"top_p":0.9,"max_tokens":10,"stop":["x"],"seed":7,"n":2,
        "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
        "tool_choice":"auto","response_format":{"type":"json_object"},"logit_bias":{"50256":-100}}"#;

    fn base_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
        let mut value: Value = crate::json::from_str(BASE).unwrap();
        edit(value.as_object_mut().unwrap());
        key(&value.to_string())
    }

    #[test]
    fn field_order_and_whitespace_do_not_matter() {
        let a = r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi","name":"bo"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"b":1,"a":2}}}}"#;
        let b = r#"{
            "response_format": {"json_schema": {"schema": {"a": 2, "b": 1}, "name": "s"}, "type": "json_schema"},
            "messages": [ {"name": "bo", "content": "hi", "role": "user"} ],
            "temperature": 0.0,
            "model": "m"
        }"#;
        assert_eq!(key(a), key(b));
        assert_eq!(canonical_form(&req(a)), canonical_form(&req(b)));
        assert!(!canonical_form(&req(a)).unwrap().contains(' '));
    }

    #[test]
    fn the_key_is_lowercase_sha256_hex() {
        let k = key(BASE);
        assert_eq!(k.len(), 64);
        assert!(k.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn every_answer_changing_field_changes_the_key() {
        let base = key(BASE);
        type Edit = Box<dyn FnOnce(&mut serde_json::Map<String, Value>)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("model", Box::new(|m| drop(m.insert("model".into(), "other".into())))),
            ("text", Box::new(|m| m["messages"][1]["content"] = "hello".into())),
            ("role", Box::new(|m| m["messages"][0]["role"] = "developer".into())),
            ("tools", Box::new(|m| m["tools"][0]["function"]["name"] = "g".into())),
            ("tool_choice", Box::new(|m| drop(m.insert("tool_choice".into(), "required".into())))),
            ("temperature", Box::new(|m| drop(m.insert("temperature".into(), 0.6.into())))),
            ("no temperature", Box::new(|m| drop(m.remove("temperature")))),
            ("top_p", Box::new(|m| drop(m.insert("top_p".into(), 1.into())))),
            ("max_tokens", Box::new(|m| drop(m.insert("max_tokens".into(), 11.into())))),
            ("stop", Box::new(|m| drop(m.insert("stop".into(), serde_json::json!(["y"]))))),
            ("seed", Box::new(|m| drop(m.insert("seed".into(), 8.into())))),
            ("n", Box::new(|m| drop(m.insert("n".into(), 3.into())))),
            ("response_format", Box::new(|m| drop(m.insert("response_format".into(), serde_json::json!({"type":"text"}))))),
            ("logit_bias", Box::new(|m| m["logit_bias"]["50256"] = (-99).into())),
            ("unknown field", Box::new(|m| drop(m.insert("reasoning_effort".into(), "low".into())))),
        ];
        let mut seen = std::collections::HashSet::new();
        for (name, edit) in edits {
            let k = base_with(edit);
            assert_ne!(k, base, "{name}");
            assert!(seen.insert(k), "{name} collides with another edit");
        }
    }

    #[test]
    fn delivery_and_caller_fields_do_not_change_the_key() {
        let base = key(BASE);
        let same = base_with(|m| {
            m.insert("stream".into(), true.into());
            m.insert("stream_options".into(), serde_json::json!({"include_usage": true}));
            m.insert("user".into(), "u-42".into());
            m.insert("metadata".into(), serde_json::json!({"trace": "t"}));
            m.insert("store".into(), false.into());
            m.insert("service_tier".into(), "flex".into());
            m.insert("prompt_cache_key".into(), "p".into());
            m.insert("safety_identifier".into(), "s".into());
        });
        assert_eq!(same, base);
    }

    #[test]
    fn namespaces_separate_keys() {
        let r = req(BASE);
        assert_ne!(cache_key(&r, "a"), cache_key(&r, "b"));
        assert_ne!(cache_key(&r, ""), cache_key(&r, "a"));
    }

    #[test]
    fn equivalent_spellings_share_a_key() {
        let msg = r#""messages":[{"role":"user","content":"hi"}]"#;
        let k = |rest: &str| key(&format!(r#"{{"model":"m",{msg}{rest}}}"#));
        assert_eq!(k(r#","max_tokens":5"#), k(r#","max_completion_tokens":5"#));
        assert_eq!(k(r#","max_tokens":5"#), k(r#","max_tokens":5,"max_completion_tokens":5"#));
        assert_ne!(k(r#","max_tokens":5"#), k(r#","max_tokens":5,"max_completion_tokens":6"#));
        assert_eq!(k(r#","stop":"END""#), k(r#","stop":["END"]"#));
        assert_eq!(k(""), k(r#","n":1"#));
        assert_ne!(k(""), k(r#","n":2"#));
        assert_ne!(k(""), k(r#","temperature":1"#));
        assert_eq!(
            key(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#),
            key(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#),
        );
        // Several parts are not joined: providers disagree on how.
        assert_ne!(
            key(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#),
            key(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"h"},{"type":"text","text":"i"}]}]}"#),
        );
    }

    /// A request JSON with objects at several depths and some values drawn.
    fn request_value() -> impl Strategy<Value = Value> {
        (
            "[a-z]{1,8}",
            proptest::collection::vec(("[ -~]{0,20}", prop_oneof![Just("user"), Just("system"), Just("assistant")]), 1..4),
            proptest::option::of(0.0f64..2.0),
            proptest::option::of(1u32..500),
            any::<bool>(),
            proptest::collection::btree_map("[a-z]{1,6}", any::<i32>(), 0..5),
        )
            .prop_map(|(model, messages, temperature, max_tokens, tools, extra)| {
                let mut v = serde_json::json!({
                    "model": model,
                    "messages": messages.into_iter().map(|(text, role)| serde_json::json!({"role": role, "content": text, "name": "n"})).collect::<Vec<_>>(),
                    "response_format": {"type": "json_schema", "json_schema": {"name": "s", "strict": true, "schema": {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "integer"}}}}},
                    "logit_bias": extra,
                    "stream": true,
                });
                let map = v.as_object_mut().unwrap();
                if let Some(t) = temperature {
                    map.insert("temperature".into(), t.into());
                }
                if let Some(m) = max_tokens {
                    map.insert("max_tokens".into(), m.into());
                }
                if tools {
                    map.insert("tools".into(), serde_json::json!([{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "required": ["a"]}}}]));
                }
                v
            })
    }

    /// Reorders every object's keys by a hash of `seed` and the key: an
    /// arbitrary permutation per seed.
    fn permute(value: &Value, seed: u64) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by_key(|(k, _)| {
                    k.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
                });
                Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), permute(v, seed))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|v| permute(v, seed)).collect()),
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn any_key_order_gives_the_same_key(value in request_value(), seed in any::<u64>()) {
            let original = value.to_string();
            let shuffled = serde_json::to_string_pretty(&permute(&value, seed)).unwrap();
            prop_assert_eq!(key(&original), key(&shuffled));
        }
    }
}
