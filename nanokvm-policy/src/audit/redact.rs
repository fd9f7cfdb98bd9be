//! Redaction: argument values that may hold typed secrets are written as their length
//! and a keyed digest, never in clear (see the module documentation of `audit`).

use serde_json::Value;

use super::key::AuditKey;

/// Argument names redacted for every tool (compared without letter case). `content` is
/// what paste tools of other MCP servers call their text, for the gateway.
pub(super) const SECRET_NAMES: [&str; 5] = ["text", "content", "password", "secret", "token"];

/// The arguments of `tool` as they may be written: see the module documentation.
pub(super) fn redact(tool: &str, args: &Value, key: &AuditKey) -> Value {
    redact_value(args, crate::catalogue::types(tool), key)
}

fn redact_value(value: &Value, typing: bool, key: &AuditKey) -> Value {
    match value {
        Value::String(s) if typing => key.redacted(s),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_value(v, typing, key)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let secret = SECRET_NAMES.iter().any(|s| name.eq_ignore_ascii_case(s));
                    let v = match v {
                        Value::String(s) if secret => key.redacted(s),
                        // A secret that is not a string is redacted as its JSON text.
                        _ if secret => key.redacted(&v.to_string()),
                        _ => redact_value(v, typing, key),
                    };
                    (name.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_follows_the_tool_and_the_argument_names() {
        let key = AuditKey::from_bytes([1; 32]);
        let r = |text: &str| key.redacted(text);
        let cases = [
            (
                "nanokvm_send_key",
                json!({"key": "enter", "ctrl": true, "keys": ["a", 1]}),
                json!({"key": r("enter"), "ctrl": true, "keys": [r("a"), 1]}),
            ),
            (
                "nanokvm_mount_iso",
                json!({"file": "/data/a.iso", "Token": "t0k", "auth": {"password": 1234}}),
                json!({"file": "/data/a.iso", "Token": r("t0k"), "auth": {"password": r("1234")}}),
            ),
            ("nanokvm_info", json!(null), json!(null)),
            ("nanokvm_type_text", json!("raw"), r("raw")),
        ];
        for (tool, args, expected) in cases {
            assert_eq!(redact(tool, &args, &key), expected, "{tool}");
        }
        assert_eq!(r("héllo")["chars"], json!(5));
    }
}
