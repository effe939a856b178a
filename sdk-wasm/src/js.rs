//! Reading plain JS objects: the options an app passes and the JSON the
//! gateway sends, without a serde round trip (which would cost wasm size).

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

/// `object[name]`, or None when it is missing, `undefined` or `null`.
pub fn field(object: &JsValue, name: &str) -> Option<JsValue> {
    if !object.is_object() {
        return None;
    }
    Reflect::get(object, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

/// `object[name]` when it is a string.
pub fn string(object: &JsValue, name: &str) -> Option<String> {
    field(object, name).and_then(|v| v.as_string())
}

/// `object[name]` when it is a number.
pub fn number(object: &JsValue, name: &str) -> Option<f64> {
    field(object, name).and_then(|v| v.as_f64())
}

/// Sets `object[name] = value` on an object the SDK made itself.
pub fn set(object: &Object, name: &str, value: impl Into<JsValue>) {
    // Cannot fail on a plain object the SDK created.
    let _ = Reflect::set(object, &JsValue::from_str(name), &value.into());
}

/// A string's own enumerable `[name, value]` pairs (for `headers` options).
pub fn string_pairs(object: &JsValue) -> Vec<(String, String)> {
    if !object.is_object() {
        return Vec::new();
    }
    Object::entries(&Object::from(object.clone()))
        .iter()
        .filter_map(|entry| {
            let pair = js_sys::Array::from(&entry);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Jitter and idempotency keys from `Math.random`: neither needs to be
/// unpredictable, only spread out.
pub struct MathRandom;

impl edgeway_core::reliability::rng::Rng for MathRandom {
    fn next_u64(&mut self) -> u64 {
        let half = || (js_sys::Math::random() * 4_294_967_296.0) as u64;
        (half() << 32) | half()
    }
}
