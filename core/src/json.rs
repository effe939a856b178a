//! JSON parsing through one reader type.
//!
//! serde_json compiles every type's deserializer once per input reader:
//! parsing some documents from `&str` and others from `&[u8]` would build
//! most of them twice into the wasm. Every parse in the gateway goes
//! through [`from_str`] (bytes in) so each type is compiled once.

use serde::de::DeserializeOwned;

/// Parses `text` as JSON into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

/// `text` as a JSON string, quotes and escapes included: how messages and
/// log lines quote a value. (Rust's `{:?}` would do much the same, with
/// Unicode's printable tables in the wasm.)
pub fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The JSON path (`messages[1].role`) of the value a deserialization error
/// is about, read from the error's position in `body`: serde_json reports
/// where in the text it failed, and the path is rebuilt by scanning the
/// text up to there. (A path-tracking deserializer would do the same, at
/// the price of a second copy of every type's deserializer in the wasm.)
/// A `missing field` error is reported at the end of its object; the path
/// then ends with the missing field. Empty when the error is about the
/// whole body, which is expected to be an object: serde reads a struct from
/// an array too, and `[1,2]` is a body of the wrong shape, not an element
/// of the wrong type.
pub fn error_path(body: &[u8], error: &serde_json::Error) -> String {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return String::new();
    }
    let mut offset = 0;
    for _ in 1..error.line() {
        offset += body.get(offset..).and_then(|rest| rest.iter().position(|&b| b == b'\n')).map_or(body.len(), |i| i + 1);
    }
    offset = (offset + error.column()).min(body.len());
    let prefix = body.get(..offset).unwrap_or(body);
    let message = error.to_string();
    if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        let mut path = path_before(prefix);
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(field);
        return path;
    }
    // An error raised after its value was read (an untagged enum's "did not
    // match any variant") is placed where its enclosing object or array
    // ended: the value at fault is that container's last one.
    let end = prefix.iter().rposition(|b| !b.is_ascii_whitespace());
    match end.and_then(|i| Some((i, *prefix.get(i)?))) {
        Some((i, b'}' | b']')) => path_before(prefix.get(..i).unwrap_or(prefix)),
        _ => path_before(prefix),
    }
}

/// Where a scan of JSON text stands inside one container.
enum Frame {
    /// In an object: the key of the member being read, if one has begun.
    Object(Option<String>),
    /// In an array: the index of the element being read.
    Array(usize),
}

/// The path of the value the text `prefix` ends in (or just after).
fn path_before(prefix: &[u8]) -> String {
    let mut frames: Vec<Frame> = Vec::new();
    let mut key_due = false;
    let mut i = 0;
    while let Some(&byte) = prefix.get(i) {
        match byte {
            b'{' => {
                frames.push(Frame::Object(None));
                key_due = true;
            }
            b'[' => frames.push(Frame::Array(0)),
            b'}' | b']' => {
                frames.pop();
            }
            b',' => match frames.last_mut() {
                Some(Frame::Object(key)) => {
                    *key = None;
                    key_due = true;
                }
                Some(Frame::Array(index)) => *index += 1,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i = start;
                while let Some(&b) = prefix.get(i) {
                    match b {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if key_due {
                    if let Some(Frame::Object(key)) = frames.last_mut() {
                        *key = Some(String::from_utf8_lossy(prefix.get(start..i).unwrap_or_default()).into_owned());
                    }
                    key_due = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for frame in &frames {
        match frame {
            Frame::Object(Some(key)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object(None) => break,
            Frame::Array(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        shape: Option<Shape>,
    }

    /// Untagged: its errors are raised after the value was read.
    #[derive(Debug, serde::Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Shape {
        Named(String),
        Sides(Vec<u32>),
    }

    fn path_of(text: &str) -> String {
        let error = from_str::<Doc>(text).unwrap_err();
        error_path(text.as_bytes(), &error)
    }

    #[test]
    fn the_path_of_a_wrongly_typed_value() {
        assert_eq!(path_of(r#"{"name": 5, "items": []}"#), "name");
        assert_eq!(path_of(r#"{"name": "a", "items": [{"size": 1}, {"size": "big"}]}"#), "items[1].size");
        assert_eq!(path_of(r#"{"name": "a", "items": [{"size": 1, "tags": ["x", 7]}]}"#), "items[0].tags[1]");
        assert_eq!(path_of("{\"name\": \"a\",\n \"items\": [\n{\"size\": \"big\"}]}"), "items[0].size", "over several lines");
        assert_eq!(path_of(r#"{"name": "a \"quoted\" [", "items": {"size": 1}}"#), "items", "brackets inside strings do not count");
        assert_eq!(path_of(r#"{"name": "a", "items": [{"size": 1, "shape": 7}]}"#), "items[0].shape", "an error placed after its object closed");
    }

    #[test]
    fn a_missing_field_ends_the_path() {
        assert_eq!(path_of(r#"{"items": []}"#), "name");
        assert_eq!(path_of(r#"{"name": "a", "items": [{"tags": []}]}"#), "items[0].size");
    }

    #[test]
    fn a_body_of_the_wrong_shape_has_an_empty_path() {
        assert_eq!(path_of("[1, 2]"), "");
        assert_eq!(path_of("\"text\""), "");
    }
}
