//! Loading: every accepted form, and every mistake rejected with its JSON Pointer.

use nanokvm_policy::{Error, Policy};
use serde_json::{Value, json};

/// A minimal valid document with `tool` under `tools`.
fn with_tool(tool: Value) -> Value {
    json!({"version": "1", "default": "deny", "tools": {"t": tool}})
}

#[test]
fn error_is_send_sync_static() {
    fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
    assert_bounds::<Error>();
}

#[test]
fn mistakes_are_rejected_with_their_pointer() {
    let limit = |field: &str, value: Value| {
        let mut l = json!({"counter": "c", "window": "minute", "max": 1, "scope": "grant"});
        l[field] = value;
        with_tool(json!({"limits": [l]}))
    };
    let pred = |op: &str, value: Value| {
        with_tool(json!({"require": [{"path": "args.x", "op": op, "value": value}]}))
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "", "expected an object"),
        (
            json!({"default": "deny"}),
            "",
            "missing required field `version`",
        ),
        (
            json!({"version": "2", "default": "deny"}),
            "/version",
            "unsupported version",
        ),
        (
            json!({"version": 1, "default": "deny"}),
            "/version",
            "expected the string",
        ),
        (
            json!({"version": "1"}),
            "",
            "missing required field `default`",
        ),
        (
            json!({"version": "1", "default": "maybe"}),
            "/default",
            "unknown default",
        ),
        (
            json!({"version": "1", "default": "deny", "extra": 1}),
            "/extra",
            "unknown field `extra`",
        ),
        (
            json!({"version": "1", "default": "deny", "mode": "loud"}),
            "/mode",
            "unknown mode",
        ),
        (
            json!({"version": "1", "default": "deny", "hide": "x"}),
            "/hide",
            "expected a list",
        ),
        (
            json!({"version": "1", "default": "deny", "hide": ["a", 3]}),
            "/hide/1",
            "expected a string",
        ),
        (
            json!({"version": "1", "default": "deny", "all_tools": {"limit": []}}),
            "/all_tools/limit",
            "unknown field",
        ),
        (
            json!({"version": "1", "default": "deny", "tools": []}),
            "/tools",
            "expected an object",
        ),
        (
            json!({"version": "1", "default": "deny", "tools": {"a/b": 1}}),
            "/tools/a~1b",
            "expected an object",
        ),
        (
            with_tool(json!({"acton": "deny"})),
            "/tools/t/acton",
            "unknown field `acton`",
        ),
        (
            with_tool(json!({"action": "block"})),
            "/tools/t/action",
            "unknown action",
        ),
        (
            with_tool(json!({"reason": "no"})),
            "/tools/t/reason",
            "only applies to `action: deny`",
        ),
        (
            with_tool(json!({"action": "deny", "limits": []})),
            "/tools/t/limits",
            "can never apply",
        ),
        (
            with_tool(json!({"mode": "off"})),
            "/tools/t/mode",
            "unknown mode",
        ),
        (
            with_tool(json!({"on_deny": 5})),
            "/tools/t/on_deny",
            "expected a string",
        ),
        (
            with_tool(json!({"require": {}})),
            "/tools/t/require",
            "expected a list",
        ),
        (
            with_tool(json!({"deny_if": [{"path": "args.x", "op": "eq"}]})),
            "/tools/t/deny_if/0",
            "missing required field `value`",
        ),
        (
            with_tool(json!({"approve_if": [{"path": "x", "op": "eq", "value": 1}]})),
            "/tools/t/approve_if/0/path",
            "must start with `args.`",
        ),
        (
            with_tool(json!({"require": [{"path": "args.a..b", "op": "eq", "value": 1}]})),
            "/tools/t/require/0/path",
            "empty segment",
        ),
        (
            with_tool(json!({"require": [{"path": "args.x", "op": "eq", "value": 1, "why": 2}]})),
            "/tools/t/require/0/why",
            "unknown field",
        ),
        (
            pred("matches", json!("x")),
            "/tools/t/require/0/op",
            "unknown operator `matches`",
        ),
        (
            pred("regex", json!("(")),
            "/tools/t/require/0/value",
            "invalid regex",
        ),
        (
            pred("regex", json!("a(?=b)")),
            "/tools/t/require/0/value",
            "invalid regex",
        ),
        (
            pred("not_regex", json!(r"(a)\1")),
            "/tools/t/require/0/value",
            "invalid regex",
        ),
        (
            pred("regex", json!(5)),
            "/tools/t/require/0/value",
            "expected a string",
        ),
        (
            pred("in", json!("a")),
            "/tools/t/require/0/value",
            "expected a list",
        ),
        (
            pred("not_in", json!(1)),
            "/tools/t/require/0/value",
            "expected a list",
        ),
        (
            pred("lt", json!("5")),
            "/tools/t/require/0/value",
            "expected a number",
        ),
        (
            pred("gte", json!(null)),
            "/tools/t/require/0/value",
            "expected a number",
        ),
        (
            pred("exists", json!("yes")),
            "/tools/t/require/0/value",
            "expected true or false",
        ),
        (
            pred("glob", json!(["*"])),
            "/tools/t/require/0/value",
            "expected a string",
        ),
        (
            pred("len_lte", json!(-1)),
            "/tools/t/require/0/value",
            "non-negative integer",
        ),
        (
            pred("len_gt", json!(1.5)),
            "/tools/t/require/0/value",
            "non-negative integer",
        ),
        (
            limit("window", json!("week")),
            "/tools/t/limits/0/window",
            "unknown window",
        ),
        (
            limit("window", json!("sliding:0s")),
            "/tools/t/limits/0/window",
            "unknown window",
        ),
        (
            limit("window", json!("sliding:60")),
            "/tools/t/limits/0/window",
            "unknown window",
        ),
        (
            limit("window", json!(60)),
            "/tools/t/limits/0/window",
            "expected a string",
        ),
        (
            limit("max", json!(-1)),
            "/tools/t/limits/0/max",
            "non-negative integer",
        ),
        (
            limit("max", json!("10")),
            "/tools/t/limits/0/max",
            "non-negative integer",
        ),
        (
            limit("scope", json!("team")),
            "/tools/t/limits/0/scope",
            "unknown scope",
        ),
        (
            limit("weight", json!("bytes")),
            "/tools/t/limits/0/weight",
            "unknown weight",
        ),
        (
            limit("weight", json!("len(text)")),
            "/tools/t/limits/0/weight",
            "must start with `args.`",
        ),
        (
            limit("counter", json!("")),
            "/tools/t/limits/0/counter",
            "empty",
        ),
        (
            limit("per", json!(1)),
            "/tools/t/limits/0/per",
            "unknown field",
        ),
        (
            with_tool(json!({"limits": [{"window": "minute", "max": 1}]})),
            "/tools/t/limits/0",
            "missing required field `counter`",
        ),
        (
            with_tool(json!({"rate_limit": {"max": 10, "window": "minute"}})),
            "/tools/t/rate_limit/window",
            "non-negative integer",
        ),
        (
            with_tool(json!({"rate_limit": {"max": 10, "window": 0}})),
            "/tools/t/rate_limit/window",
            "from 1",
        ),
        (
            with_tool(json!({"rate_limit": {"max": 10, "window": 60, "scope": "grant"}})),
            "/tools/t/rate_limit/scope",
            "unknown field",
        ),
        (
            json!({"version": "1", "default": "deny", "risk": {"extreme": {}}}),
            "/risk/extreme",
            "unknown field",
        ),
        (
            json!({"version": "1", "default": "deny", "risk": {"high": {"action": "nope"}}}),
            "/risk/high/action",
            "unknown action",
        ),
        (
            json!({"version": "1", "default": "deny", "keystrokes": {}}),
            "/keystrokes",
            "missing required field `deny`",
        ),
        (
            json!({"version": "1", "default": "deny", "keystrokes": {"deny": ["["]}}),
            "/keystrokes/deny/0",
            "invalid regex",
        ),
        (
            json!({"version": "1", "default": "deny", "keystrokes": {"deny": [], "commit_keys": ["entr"]}}),
            "/keystrokes/commit_keys/0",
            "unknown key name",
        ),
        (
            json!({"version": "1", "default": "deny", "keystrokes": {"deny": [], "commit_keys": []}}),
            "/keystrokes/commit_keys",
            "at least one",
        ),
    ];
    for (doc, pointer, message) in cases {
        match Policy::from_value(&doc) {
            Ok(_) => panic!("accepted {doc}"),
            Err(e) => {
                assert_eq!(e.pointer(), Some(pointer), "{doc}: {e}");
                assert!(e.to_string().contains(message), "{doc}: {e}");
                assert!(e.to_string().starts_with("invalid policy"), "{e}");
                assert_eq!(e.to_string().contains(" at /"), !pointer.is_empty(), "{e}");
            }
        }
    }
}

#[test]
fn syntax_errors_name_the_format() {
    for (result, format) in [
        (Policy::from_json("{"), "JSON"),
        (
            Policy::from_json(r#"{"version": "1", "version": "1", "default": "deny"}"#),
            "JSON",
        ),
        (Policy::from_yaml("version: '1'\ndefault: [\n"), "YAML"),
        (
            Policy::from_yaml("version: '1'\nversion: '1'\ndefault: deny\n"),
            "YAML",
        ),
    ] {
        match result {
            Err(Error::Syntax { format: f, .. }) => assert_eq!(f, format),
            other => panic!("expected a {format} syntax error, got {other:?}"),
        }
    }
}

#[test]
fn every_documented_form_loads() {
    let doc = json!({
        "version": "1",
        "default": "allow",
        "mode": "shadow",
        "hide": ["*", "x"],
        "all_tools": {"limits": [{"counter": "calls", "window": "second", "max": 5}]},
        "tools": {
            "a": {},
            "b": {"action": "deny", "reason": "no"},
            "c": {"action": "require_approval"},
            "d": {"action": "approve", "mode": "enforce"},
            "e": {"action": "allow", "rate_limit": {"max": 10, "window": 60}},
            "f": {
                "require": [{"path": "args.a.b.0", "op": "exists", "value": true}],
                "deny_if": [{"path": "args.n", "op": "gt", "value": 1.5}],
                "approve_if": [{"path": "args.s", "op": "glob", "value": "*.iso"}],
                "limits": [
                    {"counter": "w", "window": "sliding:3600s", "max": 0, "scope": "session", "weight": "len(args.text)"},
                    {"counter": "x", "window": "day", "max": 1, "scope": "device", "weight": "calls"},
                    {"counter": "y", "window": "hour", "max": 1, "scope": "principal"},
                    {"counter": "z", "window": "minute", "max": 1, "scope": "global"}
                ],
                "on_deny": "nope"
            }
        },
        "risk": {"low": {}, "medium": {"limits": []}, "high": {"action": "require_approval"}},
        "keystrokes": {"deny": ["rm"], "commit_keys": ["enter", "Return", "tab"]}
    });
    let policy = Policy::from_value(&doc).unwrap_or_else(|e| panic!("{e}"));
    assert!(policy.is_hidden("anything"));
    assert_eq!(
        policy.tool("e").map(|r| r.limits()[0].pointer()),
        Some("/tools/e/rate_limit")
    );
}

#[test]
fn yaml_and_json_of_the_same_rules_are_the_same_policy() {
    let json = r#"{"version": "1", "default": "deny", "tools": {"nanokvm_tap": {"limits": [
        {"counter": "nanokvm_tap_rate", "window": "minute", "max": 10, "scope": "grant"}]}}}"#;
    let yaml = "
version: '1'
default: deny
tools:
  nanokvm_tap:
    limits:
      - counter: nanokvm_tap_rate
        window: minute
        max: 10
        scope: grant
";
    let (j, y) = match (Policy::from_json(json), Policy::from_yaml(yaml)) {
        (Ok(j), Ok(y)) => (j, y),
        other => panic!("{other:?}"),
    };
    assert_eq!(j.hash(), y.hash());
    assert_eq!(j.hash_hex().len(), 64);
    // YAML mistakes carry the same pointers as JSON ones.
    let bad = yaml.replace("window: minute", "window: fortnight");
    let err = Policy::from_yaml(&bad).err();
    assert_eq!(
        err.as_ref().and_then(Error::pointer),
        Some("/tools/nanokvm_tap/limits/0/window")
    );
    // An unquoted YAML version is a number, and refused with a hint.
    let err = Policy::from_yaml("version: 1\ndefault: deny\n")
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("quote it in YAML")));
}

#[test]
fn different_documents_hash_differently() {
    let a = Policy::from_value(&json!({"version": "1", "default": "deny"}));
    let b = Policy::from_value(&json!({"version": "1", "default": "allow"}));
    match (a, b) {
        (Ok(a), Ok(b)) => assert_ne!(a.hash(), b.hash()),
        other => panic!("{other:?}"),
    }
}
