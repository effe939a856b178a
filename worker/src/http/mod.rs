//! HTTP plumbing: the incoming request, reading bodies within limits,
//! writing JSON responses, and calling Durable Objects.

pub mod body;
pub mod incoming;
pub mod object;
pub mod respond;

/// A JS error's message (or a thrown string), for error messages.
pub fn error_text(value: wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    value
        .as_string()
        .or_else(|| value.dyn_ref::<js_sys::Error>().map(|e| String::from(e.to_string())))
        .unwrap_or_else(|| "unknown error".to_owned())
}

/// Headers as one string for JS, `name\nvalue\n…`: every string crossing
/// into JS is decoded on its own, and a request or response carries a
/// dozen headers. `Err` names a header whose value holds a line break,
/// which HTTP forbids and which would split the packing.
pub fn pack_headers<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Result<String, &'a str> {
    let mut packed = String::with_capacity(pairs.clone().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (name, value) in pairs {
        if value.contains(['\n', '\r']) {
            return Err(name);
        }
        packed.push_str(name);
        packed.push('\n');
        packed.push_str(value);
        packed.push('\n');
    }
    Ok(packed)
}
