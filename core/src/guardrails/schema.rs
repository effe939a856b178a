//! Checking an answer against the JSON schema its request asked for.
//!
//! A small validator for the subset of JSON Schema that structured-output
//! schemas use (OpenAI's `response_format: {type: "json_schema"}` accepts
//! much the same): `type` (a name or a list; `integer` is any whole
//! number), `properties`, `required`, `additionalProperties` (a bool or a
//! schema), `items` (a schema, or a list for tuples), `enum`, `const`
//! (numbers compare by value: `1` equals `1.0`), `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (numbers, or draft-04's
//! booleans), `minLength` / `maxLength` (in characters), `minItems` /
//! `maxItems`, `anyOf`, `oneOf`, `allOf`, and local `$ref`s to
//! `#/$defs/<name>` or `#/definitions/<name>`. Every other keyword
//! (`pattern`, `format`, `uniqueItems`, …) is ignored: the answer may
//! break it and still pass. The first problem found is reported, with the
//! path of the value at fault.

use serde_json::{Map, Value};

use crate::openai::{ChatRequest, ResponseFormat};

/// How deep `$ref`s may nest: a schema that refers to itself (a tree)
/// recurses once per level of the value, and this bounds the walk even for
/// a schema that refers to itself without consuming the value.
const MAX_DEPTH: usize = 64;

/// Why a value does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// Where in the value: `$`, `$.items[2].name`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// The schema of a request's `response_format: {type: "json_schema",
/// json_schema: {schema: …}}`, if it asked for one.
pub fn requested_schema(request: &ChatRequest) -> Option<&Value> {
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => json_schema.get("schema"),
        _ => None,
    }
}

/// Parses an answer's text as JSON and validates it against `schema`; text
/// that is not JSON fails at `$`.
pub fn check_answer_text(schema: &Value, text: &str) -> Result<(), SchemaError> {
    let value: Value = crate::json::from_str(text).map_err(|e| SchemaError { path: "$".to_owned(), message: format!("the answer is not valid JSON: {e}") })?;
    validate(schema, &value)
}

/// Validates `value` against `schema`. See the module docs for what is checked.
pub fn validate(schema: &Value, value: &Value) -> Result<(), SchemaError> {
    Validator { root: schema }.check(schema, value, &mut String::from("$"), 0)
}

struct Validator<'a> {
    root: &'a Value,
}

impl Validator<'_> {
    fn check(&self, schema: &Value, value: &Value, path: &mut String, depth: usize) -> Result<(), SchemaError> {
        let fail = |path: &str, message: String| Err(SchemaError { path: path.to_owned(), message });
        let schema = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail(path, "no value is allowed here".to_owned()),
            Value::Object(schema) => schema,
            _ => return Ok(()),
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if depth >= MAX_DEPTH {
                return fail(path, format!("the schema's $ref nesting is deeper than {MAX_DEPTH}"));
            }
            let Some(target) = self.resolve(reference) else {
                return fail(path, format!("the schema's $ref `{reference}` cannot be resolved"));
            };
            self.check(target, value, path, depth + 1)?;
        }
        if let Some(types) = schema.get("type") {
            let names: Vec<&str> = match types {
                Value::String(name) => vec![name.as_str()],
                Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !names.is_empty() && !names.iter().any(|name| has_type(value, name)) {
                return fail(path, format!("expected {}, got {}", names.join(" or "), type_name(value)));
            }
        }
        if let Some(Value::Array(allowed)) = schema.get("enum") {
            if !allowed.iter().any(|a| same(a, value)) {
                return fail(path, "is not one of the allowed values (enum)".to_owned());
            }
        }
        if let Some(constant) = schema.get("const") {
            if !same(constant, value) {
                return fail(path, "is not the required constant value".to_owned());
            }
        }
        if let Some(n) = value.as_f64() {
            bounds(schema, n).or_else(|message| fail(path, message))?;
        }
        if let Some(s) = value.as_str() {
            let chars = s.chars().count() as f64;
            if let Some(min) = schema.get("minLength").and_then(Value::as_f64).filter(|min| chars < *min) {
                return fail(path, format!("is shorter than {min} characters"));
            }
            if let Some(max) = schema.get("maxLength").and_then(Value::as_f64).filter(|max| chars > *max) {
                return fail(path, format!("is longer than {max} characters"));
            }
        }
        if let Value::Array(items) = value {
            self.array(schema, items, path, depth)?;
        }
        if let Value::Object(object) = value {
            self.object(schema, object, path, depth)?;
        }
        for (key, need) in [("allOf", Need::All), ("anyOf", Need::Any), ("oneOf", Need::One)] {
            if let Some(Value::Array(branches)) = schema.get(key) {
                self.combine(need, branches, value, path, depth)?;
            }
        }
        Ok(())
    }

    fn array(&self, schema: &Map<String, Value>, items: &[Value], path: &mut String, depth: usize) -> Result<(), SchemaError> {
        let len = items.len() as f64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_f64).filter(|min| len < *min) {
            return Err(SchemaError { path: path.clone(), message: format!("has fewer than {min} items") });
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_f64).filter(|max| len > *max) {
            return Err(SchemaError { path: path.clone(), message: format!("has more than {max} items") });
        }
        for (i, item) in items.iter().enumerate() {
            let item_schema = match schema.get("items") {
                Some(Value::Array(tuple)) => tuple.get(i),
                other => other,
            };
            if let Some(item_schema) = item_schema {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                self.check(item_schema, item, path, depth)?;
                path.truncate(len);
            }
        }
        Ok(())
    }

    fn object(&self, schema: &Map<String, Value>, object: &Map<String, Value>, path: &mut String, depth: usize) -> Result<(), SchemaError> {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            if let Some(missing) = required.iter().filter_map(Value::as_str).find(|name| !object.contains_key(*name)) {
                return Err(SchemaError { path: path.clone(), message: format!("the required property `{missing}` is missing") });
            }
        }
        for (key, member) in object {
            let declared = properties.and_then(|p| p.get(key));
            let member_schema = match (declared, schema.get("additionalProperties")) {
                (Some(declared), _) => declared,
                (None, Some(Value::Bool(false))) => {
                    return Err(SchemaError { path: path.clone(), message: format!("the property `{key}` is not allowed") });
                }
                (None, Some(additional)) => additional,
                (None, None) => continue,
            };
            let len = path.len();
            push_key(path, key);
            self.check(member_schema, member, path, depth)?;
            path.truncate(len);
        }
        Ok(())
    }

    fn combine(&self, need: Need, branches: &[Value], value: &Value, path: &str, depth: usize) -> Result<(), SchemaError> {
        let mut matched = 0;
        for branch in branches {
            match self.check(branch, value, &mut path.to_owned(), depth) {
                Ok(()) => matched += 1,
                Err(error) if need == Need::All => return Err(error),
                Err(_) => {}
            }
        }
        let message = match need {
            Need::Any if matched == 0 => "matches none of the schemas in anyOf".to_owned(),
            Need::One if matched != 1 => format!("matches {matched} of the schemas in oneOf, not exactly one"),
            _ => return Ok(()),
        };
        Err(SchemaError { path: path.to_owned(), message })
    }

    /// The schema a local `$ref` points at.
    fn resolve(&self, reference: &str) -> Option<&Value> {
        if reference == "#" {
            return Some(self.root);
        }
        let (section, name) = reference.strip_prefix("#/")?.split_once('/')?;
        if !matches!(section, "$defs" | "definitions") {
            return None;
        }
        self.root.get(section)?.get(name.replace("~1", "/").replace("~0", "~"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    All,
    Any,
    One,
}

/// `minimum`, `maximum` and their exclusive forms. Bounds are quoted as
/// the schema wrote them (JSON's number formatting, not f64's `Display`,
/// which would add its own code to the wasm).
fn bounds(schema: &Map<String, Value>, n: f64) -> Result<(), String> {
    let number = |key: &str| schema.get(key).and_then(|v| Some((v.as_f64()?, v)));
    let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
    if let Some((min, shown)) = number("minimum") {
        if n < min || (flag("exclusiveMinimum") && n <= min) {
            return Err(format!("is less than the minimum {shown}"));
        }
    }
    if let Some((max, shown)) = number("maximum") {
        if n > max || (flag("exclusiveMaximum") && n >= max) {
            return Err(format!("is more than the maximum {shown}"));
        }
    }
    if let Some((_, shown)) = number("exclusiveMinimum").filter(|(min, _)| n <= *min) {
        return Err(format!("must be more than {shown}"));
    }
    if let Some((_, shown)) = number("exclusiveMaximum").filter(|(max, _)| n >= *max) {
        return Err(format!("must be less than {shown}"));
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON equality, numbers by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

/// Appends `.key`, or `["key"]` for a key that is not a plain identifier.
fn push_key(path: &mut String, key: &str) {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", Value::String(key.to_owned())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 5},
                "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
                "kind": {"const": "person"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
                "score": {"type": ["number", "null"], "exclusiveMinimum": 0},
                "contact": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["email"]}]},
                "id": {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 3}]},
            },
            "required": ["name", "kind"],
            "additionalProperties": false,
            "$defs": {"item": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": {"type": "number"}}},
        })
    }

    #[test]
    fn valid_values_pass() {
        for value in [
            json!({"name": "Ada", "kind": "person"}),
            json!({"name": "Ada", "kind": "person", "age": 36.0, "tags": ["a", "b"], "score": null}),
            json!({"name": "Ada", "kind": "person", "items": [{"name": "x"}, {"name": "y", "qty": 2}], "score": 0.5}),
            json!({"name": "Ada", "kind": "person", "contact": "ada@x", "id": 7}),
            json!({"name": "Ada", "kind": "person", "contact": {"email": "a"}, "id": "abc"}),
        ] {
            assert_eq!(validate(&schema(), &value), Ok(()), "{value}");
        }
    }

    #[test]
    fn invalid_values_fail_at_the_right_path() {
        let cases = [
            (json!([]), "$", "expected object, got array"),
            (json!({"kind": "person"}), "$", "the required property `name` is missing"),
            (json!({"name": "", "kind": "person"}), "$.name", "is shorter than 1 characters"),
            (json!({"name": "Adalbert", "kind": "person"}), "$.name", "is longer than 5 characters"),
            (json!({"name": "Ada", "kind": "robot"}), "$.kind", "is not the required constant value"),
            (json!({"name": "Ada", "kind": "person", "age": 1.5}), "$.age", "expected integer, got number"),
            (json!({"name": "Ada", "kind": "person", "age": -1}), "$.age", "is less than the minimum 0"),
            (json!({"name": "Ada", "kind": "person", "age": 150}), "$.age", "must be less than 150"),
            (json!({"name": "Ada", "kind": "person", "tags": ["a", "c"]}), "$.tags[1]", "is not one of the allowed values (enum)"),
            (json!({"name": "Ada", "kind": "person", "tags": ["a", "b", "a"]}), "$.tags", "has more than 2 items"),
            (json!({"name": "Ada", "kind": "person", "items": [{"name": "x"}, {"name": "y"}, {"qty": 1}]}), "$.items[2]", "the required property `name` is missing"),
            (json!({"name": "Ada", "kind": "person", "items": [{"name": "x", "qty": "many"}]}), "$.items[0].qty", "expected number, got string"),
            (json!({"name": "Ada", "kind": "person", "extra": 1}), "$", "the property `extra` is not allowed"),
            (json!({"name": "Ada", "kind": "person", "score": 0}), "$.score", "must be more than 0"),
            (json!({"name": "Ada", "kind": "person", "contact": 5}), "$.contact", "matches 0 of the schemas in oneOf, not exactly one"),
            (json!({"name": "Ada", "kind": "person", "id": "ab"}), "$.id", "matches none of the schemas in anyOf"),
        ];
        for (value, path, message) in cases {
            let error = validate(&schema(), &value).unwrap_err();
            assert_eq!((error.path.as_str(), error.message.as_str()), (path, message), "{value}");
        }
    }

    #[test]
    fn combinators_refs_and_odd_keys() {
        let one_of = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert_eq!(validate(&one_of, &json!(3)).unwrap_err().message, "matches 2 of the schemas in oneOf, not exactly one");
        let all_of = json!({"allOf": [{"type": "object"}, {"properties": {"a b": {"type": "string"}}}]});
        assert_eq!(validate(&all_of, &json!({"a b": 1})).unwrap_err().path, r#"$["a b"]"#);
        let legacy = json!({"definitions": {"n": {"type": "number", "minimum": 1, "exclusiveMinimum": true}}, "items": [{"$ref": "#/definitions/n"}, {"type": "string"}]});
        assert_eq!(validate(&legacy, &json!([2, "x", null])), Ok(()));
        assert_eq!(validate(&legacy, &json!([1])).unwrap_err().path, "$[0]");
        assert_eq!(validate(&json!({"$ref": "#/$defs/nope"}), &json!(1)).unwrap_err().message, "the schema's $ref `#/$defs/nope` cannot be resolved");
        assert_eq!(validate(&json!({"enum": [1, "x"]}), &json!(1.0)), Ok(()));
        assert_eq!(validate(&json!({"type": "string", "pattern": "^a", "format": "email"}), &json!("zzz")), Ok(()), "unknown keywords are ignored");
        assert_eq!(validate(&json!(false), &json!(1)).unwrap_err().message, "no value is allowed here");
        assert_eq!(validate(&json!({"maxLength": 2}), &json!("éé")), Ok(()), "lengths count characters");
    }

    #[test]
    fn a_self_referencing_schema_cannot_loop_forever() {
        let loops = json!({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"});
        assert!(validate(&loops, &json!(1)).unwrap_err().message.contains("deeper than"));
        let tree = json!({"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}, "$ref": "#/$defs/node"});
        assert_eq!(validate(&tree, &json!({"children": [{"children": [{}]}]})), Ok(()));
        let deep = (0..100).fold(json!({}), |inner, _| json!({"children": [inner]}));
        assert!(validate(&tree, &deep).is_err(), "depth is bounded");
    }

    #[test]
    fn answer_text_is_parsed_first_and_the_request_names_its_schema() {
        assert_eq!(check_answer_text(&json!({"type": "object"}), "not json").unwrap_err().path, "$");
        assert_eq!(check_answer_text(&json!({"type": "object"}), r#"{"a":1}"#), Ok(()));
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}});
        let request = crate::openai::parse_chat_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(requested_schema(&request), Some(&json!({"type": "object"})));
        let plain = crate::openai::parse_chat_request(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(requested_schema(&plain), None);
    }
}
