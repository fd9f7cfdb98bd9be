//! Parsing text into a JSON value without losing anything, and hashing it canonically.
//!
//! `serde_json::Value` keeps the last of two equal keys without a word; a policy must not,
//! so documents are read through [`Strict`], which rejects duplicate keys in JSON and YAML
//! alike. YAML is read into the same JSON value, so one validator serves both formats.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// A JSON value read with duplicate keys rejected.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("numbers must be finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses JSON text, rejecting duplicate keys.
pub(crate) fn parse_json(text: &str) -> Result<Value, Error> {
    serde_json::from_str::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| Error::Syntax {
            format: "JSON",
            message: e.to_string(),
        })
}

/// Parses YAML text into the JSON value it denotes, rejecting duplicate keys.
pub(crate) fn parse_yaml(text: &str) -> Result<Value, Error> {
    serde_saphyr::from_str::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| Error::Syntax {
            format: "YAML",
            message: e.to_string(),
        })
}

/// The SHA-256 of `value`'s canonical form: object keys sorted, no whitespace.
pub(crate) fn canonical_hash(value: &Value) -> [u8; 32] {
    let mut text = String::new();
    canonical(value, &mut text);
    Sha256::digest(text.as_bytes()).into()
}

/// Writes `value` as canonical JSON: keys sorted by their UTF-8 bytes.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_in_both_formats() {
        assert!(parse_json(r#"{"a": 1, "a": 2}"#).is_err());
        assert!(parse_json(r#"{"a": {"b": 1, "b": 1}}"#).is_err());
        assert!(parse_yaml("a: 1\na: 2\n").is_err());
        assert!(parse_json(r#"{"a": 1, "b": 2}"#).is_ok());
    }

    #[test]
    fn canonical_form_sorts_keys() {
        let a = parse_json(r#"{"b": [1, {"d": 1, "c": 2}], "a": "x"}"#).unwrap_or_default();
        let mut s = String::new();
        canonical(&a, &mut s);
        assert_eq!(s, r#"{"a":"x","b":[1,{"c":2,"d":1}]}"#);
        let y = parse_yaml("a: x\nb: [1, {d: 1, c: 2}]\n").unwrap_or_default();
        assert_eq!(canonical_hash(&a), canonical_hash(&y));
    }
}
