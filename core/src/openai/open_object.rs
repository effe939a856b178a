//! Deserializers for the request objects that keep unknown fields.
//!
//! serde's `#[serde(flatten)]` would keep them too, but it buffers the whole
//! object before reading any field, so an error inside it loses its
//! position, and with it the path that `invalid_request` names in `param`
//! (see `crate::json::error_path`). These read the object field by field,
//! as the derived code does, and put the fields they do not know into
//! `extra`.

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
