//! JSON written the way Go's `encoding/json` writes it: fields in struct order and
//! `<`, `>`, `&`, U+2028 and U+2029 escaped, so that bodies match the firmware byte for
//! byte rather than only as values.

use std::fmt::Write as _;

/// A JSON value with ordered object fields.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum J {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

impl J {
    /// An object from `(name, value)` pairs in the order Go's struct declares them.
    pub fn obj<const N: usize>(fields: [(&'static str, J); N]) -> Self {
        Self::Obj(fields.into())
    }

    /// A list of strings, or `null` when there is none, as an unallocated Go slice.
    pub fn str_list_or_null(items: Vec<String>) -> Self {
        if items.is_empty() {
            Self::Null
        } else {
            Self::Arr(items.into_iter().map(Self::Str).collect())
        }
    }

    /// The encoded text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Str(s) => write_str(out, s),
            Self::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Obj(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, name);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<bool> for J {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<&str> for J {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for J {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for J {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<u32> for J {
    fn from(n: u32) -> Self {
        Self::Int(i64::from(n))
    }
}

/// Writes a string literal with Go's escaping rules.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A string encoded as a JSON string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_str(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_keep_field_order_and_escape_like_go() {
        let v = J::obj([
            ("pwr", true.into()),
            ("msg", "a<b & \"c\"\n".into()),
            ("files", J::str_list_or_null(Vec::new())),
            ("n", J::Int(-3)),
        ]);
        assert_eq!(
            v.encode(),
            r#"{"pwr":true,"msg":"a\u003cb \u0026 \"c\"\n","files":null,"n":-3}"#
        );
    }

    #[test]
    fn control_characters_use_lowercase_hex() {
        assert_eq!(string("\u{1}\u{1f}"), r#""\u0001\u001f""#);
    }
}
