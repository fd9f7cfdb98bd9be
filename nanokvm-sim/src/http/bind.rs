//! Request binding as gin's `ShouldBind` does it.
//!
//! JSON bodies bind by Go field name, matched case-insensitively (the request structs
//! have no json tags); a value of the wrong type fails the whole bind; `null` leaves the
//! zero value; unknown fields are ignored; an empty body fails (EOF). Other content types
//! bind as URL-encoded forms by exact `form` tag or Go field name.

use serde_json::Value;

/// A bound request body.
#[derive(Debug)]
pub(crate) enum Form {
    Json(serde_json::Map<String, Value>),
    Urlencoded(Vec<(String, String)>),
    /// The body could not be decoded at all: every field fails.
    Invalid,
}

/// A bind failure; handlers answer their "invalid arguments" error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BindError;

impl Form {
    pub(crate) fn parse(content_type: &str, body: &[u8], too_large: bool) -> Self {
        if too_large {
            return Self::Invalid;
        }
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime == "application/json" {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => Self::Json(map),
                // `null` decodes into a struct as "nothing set".
                Ok(Value::Null) => Self::Json(serde_json::Map::new()),
                _ => Self::Invalid,
            }
        } else {
            Self::Urlencoded(parse_urlencoded(body))
        }
    }

    fn raw(&self, go: &str, form: &str) -> Result<Option<Raw<'_>>, BindError> {
        match self {
            Self::Invalid => Err(BindError),
            Self::Json(map) => Ok(map
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(go))
                .map(|(_, v)| v)
                .next_back()
                .filter(|v| !v.is_null())
                .map(Raw::Json)),
            Self::Urlencoded(pairs) => Ok(pairs
                .iter()
                .find(|(k, _)| k == form || k == go)
                .map(|(_, v)| Raw::Text(v.as_str()))),
        }
    }

    /// A string field.
    pub(crate) fn string(&self, go: &str, form: &str) -> Result<String, BindError> {
        match self.raw(go, form)? {
            None => Ok(String::new()),
            Some(Raw::Json(Value::String(s))) => Ok(s.clone()),
            Some(Raw::Text(s)) => Ok(s.to_owned()),
            Some(Raw::Json(_)) => Err(BindError),
        }
    }

    /// A bool field.
    pub(crate) fn boolean(&self, go: &str, form: &str) -> Result<Option<bool>, BindError> {
        match self.raw(go, form)? {
            None => Ok(None),
            Some(Raw::Json(Value::Bool(b))) => Ok(Some(*b)),
            Some(Raw::Text(s)) => match s {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Ok(Some(false)),
                _ => Err(BindError),
            },
            Some(Raw::Json(_)) => Err(BindError),
        }
    }

    /// An integer field (Go `int` or `uint` when `unsigned`).
    pub(crate) fn integer(
        &self,
        go: &str,
        form: &str,
        unsigned: bool,
    ) -> Result<Option<i64>, BindError> {
        let n = match self.raw(go, form)? {
            None => return Ok(None),
            Some(Raw::Json(Value::Number(n))) => n.as_i64().ok_or(BindError)?,
            Some(Raw::Text("")) => 0,
            Some(Raw::Text(s)) => s.parse::<i64>().map_err(|_| BindError)?,
            Some(Raw::Json(_)) => return Err(BindError),
        };
        if unsigned && n < 0 {
            return Err(BindError);
        }
        Ok(Some(n))
    }

    /// A raw JSON field, for nested structures.
    pub(crate) fn value(&self, go: &str) -> Result<Option<Value>, BindError> {
        match self.raw(go, go)? {
            Some(Raw::Json(v)) => Ok(Some(v.clone())),
            Some(Raw::Text(_)) => Err(BindError),
            None => Ok(None),
        }
    }
}

enum Raw<'a> {
    Json(&'a Value),
    Text(&'a str),
}

fn parse_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = crate::crypto::query_unescape(k)?;
            let v = crate::crypto::query_unescape(v)?;
            Some((
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = "application/json";

    #[test]
    fn json_fields_match_case_insensitively_and_check_types() {
        let f = Form::parse(JSON, br#"{"TYPE":"power","Duration":5,"x":1}"#, false);
        assert_eq!(f.string("Type", "type").unwrap(), "power");
        assert_eq!(f.integer("Duration", "duration", true).unwrap(), Some(5));
        let f = Form::parse(JSON, br#"{"type":1}"#, false);
        assert_eq!(f.string("Type", "type"), Err(BindError));
        let f = Form::parse(JSON, br#"{"duration":-1}"#, false);
        assert_eq!(f.integer("Duration", "duration", true), Err(BindError));
        let f = Form::parse(JSON, br#"{"duration":1.5}"#, false);
        assert_eq!(f.integer("Duration", "duration", true), Err(BindError));
    }

    #[test]
    fn empty_and_malformed_json_bodies_fail_and_null_is_zero() {
        assert!(matches!(Form::parse(JSON, b"", false), Form::Invalid));
        assert!(matches!(Form::parse(JSON, b"[1]", false), Form::Invalid));
        assert!(matches!(Form::parse(JSON, b"{", false), Form::Invalid));
        let f = Form::parse(JSON, br#"{"type":null}"#, false);
        assert_eq!(f.string("Type", "type").unwrap(), "");
    }

    #[test]
    fn forms_bind_by_tag_or_exact_go_name() {
        let f = Form::parse("", b"Type=power&duration=7", false);
        assert_eq!(f.string("Type", "type").unwrap(), "power");
        assert_eq!(f.integer("Duration", "duration", true).unwrap(), Some(7));
        let f = Form::parse("", br#"{"type":"power"}"#, false);
        assert_eq!(f.string("Type", "type").unwrap(), "");
    }
}
