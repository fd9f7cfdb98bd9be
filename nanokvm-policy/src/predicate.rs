//! Evaluating predicates against a call's arguments.
//!
//! The rules (language document, section 6): a missing path makes every operator except
//! `exists` false, so `require` fails and `deny_if` / `approve_if` do not match; numbers
//! compare numerically (`5` equals `5.0`); order operators are numeric only; string
//! operators (`regex`, `not_regex`, `glob`, `len_*`) are false on anything but a string.

use serde_json::Value;

use crate::policy::{Op, Predicate};

/// Follows `path` into `args`: object keys by name, list elements by decimal index.
pub(crate) fn lookup<'a>(args: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(args, |value, segment| match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// JSON equality with numbers compared by value, recursively.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(i), Some(j), _, _) => i == j,
                (_, _, Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

impl Predicate {
    /// Whether the predicate holds for `args`.
    pub(crate) fn holds(&self, args: &Value) -> bool {
        let found = lookup(args, &self.path);
        let Some(value) = found else {
            return matches!(self.op, Op::Exists(false));
        };
        let number = value.as_f64().filter(|_| value.is_number());
        let text = value.as_str();
        match &self.op {
            Op::Exists(expected) => *expected,
            Op::Eq(operand) => json_eq(value, operand),
            Op::Neq(operand) => !json_eq(value, operand),
            Op::In(items) => items.iter().any(|i| json_eq(value, i)),
            Op::NotIn(items) => !items.iter().any(|i| json_eq(value, i)),
            Op::Lt(n) => number.is_some_and(|v| v < *n),
            Op::Lte(n) => number.is_some_and(|v| v <= *n),
            Op::Gt(n) => number.is_some_and(|v| v > *n),
            Op::Gte(n) => number.is_some_and(|v| v >= *n),
            Op::Regex(re) => text.is_some_and(|t| re.is_match(t)),
            Op::NotRegex(re) => text.is_some_and(|t| !re.is_match(t)),
            Op::Glob(re) => text.is_some_and(|t| re.is_match(t)),
            Op::Contains(needle) => match (value, needle) {
                (Value::String(hay), Value::String(n)) => hay.contains(n.as_str()),
                (Value::Array(items), needle) => items.iter().any(|i| json_eq(i, needle)),
                _ => false,
            },
            Op::LenLte(n) => text.is_some_and(|t| t.chars().count() as u64 <= *n),
            Op::LenGt(n) => text.is_some_and(|t| t.chars().count() as u64 > *n),
        }
    }

    /// A short description for messages: `args.file regex`.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.path_text, self.op.name())
    }
}
