//! Hand-written deserializers for the wire types whose derived ones would
//! buffer their input.
//!
//! serde's `#[serde(flatten)]`, `#[serde(untagged)]` and
//! `#[serde(tag = "...")]` read the whole value into a `Content` tree before
//! deciding what it is, which costs a copy of serde's `Content` machinery in
//! the wasm and, worse, loses the error's position, and with it the path that
//! `invalid_request` names in `param` (see `crate::json::error_path`). These
//! read straight from the deserializer, so an error is raised while reading
//! the offending value.

use std::marker::PhantomData;

use serde::de::value::SeqAccessDeserializer;
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// Implements `Deserialize` for a struct with `extra: Map<String, Value>`:
/// the `required` fields must be present, the `optional` ones are
/// `Option`s, and any other field goes to `extra`.
macro_rules! open_object {
    ($ty:ident, $what:literal, required: [$($req:ident),*], optional: [$($opt:ident),*]) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Fields;
                impl<'de> serde::de::Visitor<'de> for Fields {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($what)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $req = None;)*
                        $(let mut $opt = None;)*
                        let mut extra = serde_json::Map::new();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $(stringify!($req) => $req = Some(map.next_value()?),)*
                                $(stringify!($opt) => $opt = map.next_value()?,)*
                                _ => {
                                    extra.insert(key, map.next_value()?);
                                }
                            }
                        }
                        Ok($ty {
                            $($req: $req.ok_or_else(|| <A::Error as serde::de::Error>::missing_field(stringify!($req)))?,)*
                            $($opt,)*
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(Fields)
            }
        }
    };
}

pub(crate) use open_object;

/// What a value that is a string or an array of `T`s turned out to be.
pub(crate) enum StrOrSeq<T> {
    /// A string.
    Str(String),
    /// An array.
    Seq(Vec<T>),
}

/// Reads a string or an array of `T`s (an untagged `String | Vec<T>`);
/// anything else is refused as `expected {what}`.
pub(crate) fn str_or_seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D, what: &'static str) -> Result<StrOrSeq<T>, D::Error> {
    struct V<T>(&'static str, PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = StrOrSeq<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(StrOrSeq::Str(text.to_owned()))
        }

        fn visit_string<E: Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(StrOrSeq::Str(text))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            // Through `Vec`'s own visitor, the code serde_json already has.
            Vec::deserialize(SeqAccessDeserializer::new(seq)).map(StrOrSeq::Seq)
        }
    }
    deserializer.deserialize_any(V(what, PhantomData))
}

/// An enum tagged by a `"type"` member (serde's `#[serde(tag = "type")]`)
/// whose variants carry at most one field, named like the variant's tag.
pub(crate) trait TypeTagged: Sized {
    /// What a value of the type is, for `invalid type` errors.
    const EXPECTING: &'static str;
    /// The variants' tags, in order.
    const TAGS: &'static [&'static str];
    /// How many leading variants carry no field.
    const UNITS: usize = 0;
    /// The variant at `tag` (one of the first `UNITS`), which has no field.
    fn unit(_tag: usize) -> Option<Self> {
        None
    }
    /// The variant at `tag` (past the first `UNITS`), its field read from `field`.
    fn build<'de, D: Deserializer<'de>>(tag: usize, field: D) -> Result<Self, D::Error>;
}

/// Deserializes a [`TypeTagged`] enum from an object in one pass, the
/// variant's field read straight from the input once `"type"` is known;
/// members that are not the variant's field are skipped, as serde does. The
/// rare field that comes before `"type"` is kept as a `Value` until the tag
/// tells whether it is the variant's.
pub(crate) fn type_tagged<'de, D: Deserializer<'de>, T: TypeTagged>(deserializer: D) -> Result<T, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: TypeTagged> Visitor<'de> for V<T> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut tag = None;
            // The variant, read from its field once the tag is known.
            let mut read = None;
            // Fields met before the tag, which could be any variant's.
            let mut early: Vec<(usize, Value)> = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "type" {
                    if tag.is_some() {
                        return Err(A::Error::duplicate_field("type"));
                    }
                    tag = Some(tag_of::<T, A::Error>(&map.next_value::<String>()?)?);
                    continue;
                }
                match T::TAGS.iter().enumerate().skip(T::UNITS).find(|&(i, t)| *t == key && tag.is_none_or(|tag| tag == i)) {
                    Some((i, name)) if tag.is_some() => {
                        if read.is_some() || early.iter().any(|(j, _)| *j == i) {
                            return Err(A::Error::duplicate_field(name));
                        }
                        read = Some(map.next_value_seed(Field(i, PhantomData))?);
                    }
                    Some((i, _)) => early.push((i, map.next_value()?)),
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let tag = tag.ok_or_else(|| A::Error::missing_field("type"))?;
            let name = T::TAGS.get(tag).copied().unwrap_or_default();
            if let Some(value) = read {
                return Ok(value);
            }
            let mut early = early.into_iter().filter(|(i, _)| *i == tag);
            match (early.next(), early.next()) {
                (Some(_), Some(_)) => Err(A::Error::duplicate_field(name)),
                (Some((_, field)), None) => rebuild(tag, &field).map_err(A::Error::custom),
                (None, _) => T::unit(tag).ok_or_else(|| A::Error::missing_field(name)),
            }
        }

        // serde's tagged enums also read `[tag, field]` (`[tag]` for a variant without field).
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
            let tag = tag_of::<T, A::Error>(&seq.next_element::<String>()?.ok_or_else(|| A::Error::missing_field("type"))?)?;
            let (value, len) = match T::unit(tag) {
                Some(unit) => (unit, 1),
                None => (seq.next_element_seed(Field(tag, PhantomData))?.ok_or_else(|| A::Error::invalid_length(1, &self))?, 2),
            };
            match seq.next_element::<IgnoredAny>()? {
                Some(_) => Err(A::Error::invalid_length(len + 1, &self)),
                None => Ok(value),
            }
        }
    }

    fn tag_of<T: TypeTagged, E: Error>(name: &str) -> Result<usize, E> {
        T::TAGS.iter().position(|t| *t == name).ok_or_else(|| E::unknown_variant(name, T::TAGS))
    }

    /// Reads the variant at `tag` from its field met before the tag: written
    /// back to JSON text and read as a field met after it, through the same
    /// code (the gateway reads all JSON from bytes), rather than through a
    /// `Value` deserializer of its own. The message drops the position in
    /// that text, which means nothing to the caller.
    fn rebuild<T: TypeTagged>(tag: usize, field: &Value) -> Result<T, String> {
        let text = serde_json::to_vec(field).map_err(|e| e.to_string())?;
        T::build(tag, &mut serde_json::Deserializer::from_slice(&text)).map_err(|e| {
            let mut message = e.to_string();
            let place = format!(" at line {} column {}", e.line(), e.column());
            if message.ends_with(&place) {
                message.truncate(message.len() - place.len());
            }
            message
        })
    }

    /// Reads the field of the variant at `.0`.
    struct Field<T>(usize, PhantomData<T>);
    impl<'de, T: TypeTagged> DeserializeSeed<'de> for Field<T> {
        type Value = T;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
            T::build(self.0, deserializer)
        }
    }

    deserializer.deserialize_any(V(PhantomData))
}
