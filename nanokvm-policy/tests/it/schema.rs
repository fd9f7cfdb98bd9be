//! The policy document's JSON Schema (`policy.schema.json`), which editors use to
//! complete and check policy files: every shipped policy matches it, it refuses the
//! mistakes the loader refuses, and it names exactly the fields, operators, scopes and
//! actions the loader knows (read from the loader's own error messages, so a field added
//! to one and not the other fails here).
//!
//! The schema is checked by a small validator below that knows only the keywords the
//! schema uses and rejects any other, so a keyword it would silently skip cannot creep in.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nanokvm_policy::Policy;
use serde_json::{Map, Value, json};

fn schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The mistakes `value` has against `schema` (the whole schema is `root`, for `$ref`).
fn errors(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(s) = schema.as_object() else {
        panic!("schema at {at} is not an object");
    };
    for (keyword, rule) in s {
        let mut fail = |what: String| out.push(format!("{at}: {what}"));
        match keyword.as_str() {
            // Annotations: they change nothing about what is valid.
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = rule.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
                let target = &root["$defs"][name];
                assert!(!target.is_null(), "unknown $ref {name}");
                out.extend(errors(root, target, value, at));
            }
            "type" => {
                let ok = match rule.as_str().unwrap() {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "boolean" => value.is_boolean(),
                    "number" => value.is_number(),
                    "integer" => value.is_i64() || value.is_u64(),
                    other => panic!("unknown type {other}"),
                };
                if !ok {
                    fail(format!("not of type {rule}"));
                }
            }
            "const" => {
                if value != rule {
                    fail(format!("not {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    fail(format!("{value} not in {rule}"));
                }
            }
            "pattern" => {
                let pattern = regex::Regex::new(rule.as_str().unwrap()).unwrap();
                if let Some(text) = value.as_str()
                    && !pattern.is_match(text)
                {
                    fail(format!("{text:?} does not match {rule}"));
                }
            }
            "minLength" => {
                if value
                    .as_str()
                    .is_some_and(|t| (t.chars().count() as u64) < rule.as_u64().unwrap())
                {
                    fail(format!("shorter than {rule}"));
                }
            }
            "minimum" | "maximum" => {
                if let Some(n) = value.as_f64() {
                    let bound = rule.as_f64().unwrap();
                    if (keyword == "minimum" && n < bound) || (keyword == "maximum" && n > bound) {
                        fail(format!("{n} outside {keyword} {bound}"));
                    }
                }
            }
            "minItems" => {
                if value
                    .as_array()
                    .is_some_and(|a| (a.len() as u64) < rule.as_u64().unwrap())
                {
                    fail(format!("fewer than {rule} items"));
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    out.extend(errors(root, rule, item, &format!("{at}/{i}")));
                }
            }
            "required" => {
                if let Some(map) = value.as_object() {
                    for field in rule.as_array().unwrap() {
                        if !map.contains_key(field.as_str().unwrap()) {
                            fail(format!("missing {field}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(map) = value.as_object() {
                    for (name, sub) in rule.as_object().unwrap() {
                        if let Some(v) = map.get(name) {
                            out.extend(errors(root, sub, v, &format!("{at}/{name}")));
                        }
                    }
                }
            }
            "propertyNames" => {
                for name in value.as_object().into_iter().flat_map(Map::keys) {
                    out.extend(errors(root, rule, &json!(name), &format!("{at}/{name}")));
                }
            }
            "additionalProperties" => {
                let known = s.get("properties").and_then(Value::as_object);
                for (name, v) in value.as_object().into_iter().flatten() {
                    if known.is_some_and(|k| k.contains_key(name)) {
                        continue;
                    }
                    match rule {
                        Value::Bool(false) => {
                            out.push(format!("{at}: unknown field {name}"));
                        }
                        sub => out.extend(errors(root, sub, v, &format!("{at}/{name}"))),
                    }
                }
            }
            "anyOf" => {
                let branches = rule.as_array().unwrap();
                if !branches
                    .iter()
                    .any(|b| errors(root, b, value, at).is_empty())
                {
                    fail("matches none of anyOf".to_owned());
                }
            }
            other => panic!("the schema uses `{other}`, which this validator does not know"),
        }
    }
    out
}

fn validate(value: &Value) -> Vec<String> {
    let root = schema();
    errors(&root, &root, value, "")
}

/// Every JSON policy under `dir`, recursively.
fn policy_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            policy_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_shipped_policy_matches_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    policy_files(&root.join("policies"), &mut files);
    // The CLI's demo policy is shipped with the repository too.
    let demo = root.join("../nanokvm-cli/examples/demo-policy.json");
    if demo.is_file() {
        files.push(demo);
    }
    assert!(files.len() >= 7, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        Policy::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let problems = validate(&serde_json::from_str(&text).unwrap());
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
    }
}

#[test]
fn the_schema_refuses_what_the_loader_refuses() {
    let ok = json!({
        "version": "1",
        "default": "deny",
        "tools": {
            "t": {
                "require": [{"path": "args.a.b", "op": "lte", "value": 3}],
                "limits": [{"counter": "c", "window": "sliding:60s", "max": 1,
                            "scope": "device", "weight": "len(args.text)"}],
                "rate_limit": {"max": 2, "window": 60}
            }
        },
        "risk": {"high": {"action": "approve"}},
        "tool_risk": {"t": "high"},
        "drift": "approve",
        "keystrokes": {"deny": ["rm"], "commit_keys": ["enter"]}
    });
    assert!(Policy::from_value(&ok).is_ok());
    assert_eq!(validate(&ok), Vec::<String>::new());

    let broken: [(&str, Value); 17] = [
        ("/version", json!("2")),
        ("/default", json!("maybe")),
        ("/extra", json!(1)),
        ("/tools/t/extra", json!(1)),
        ("/tools/t/require/0/op", json!("matches")),
        ("/tools/t/require/0/value", json!("3")),
        ("/tools/t/require/0/path", json!("a.b")),
        ("/tools/t/limits/0/window", json!("fortnight")),
        ("/tools/t/limits/0/scope", json!("team")),
        ("/tools/t/limits/0/weight", json!("bytes")),
        ("/tools/t/limits/0/max", json!(-1)),
        ("/tools/t/rate_limit/window", json!(0)),
        ("/risk/critical", json!({})),
        ("/tool_risk/t", json!("critical")),
        ("/tool_risk/t", json!(2)),
        ("/drift", json!("ignore")),
        ("/keystrokes/commit_keys", json!([])),
    ];
    for (pointer, value) in broken {
        let mut doc = ok.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        doc.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(field.to_owned(), value);
        assert!(
            Policy::from_value(&doc).is_err(),
            "the loader takes {pointer}"
        );
        assert!(!validate(&doc).is_empty(), "the schema takes {pointer}");
    }
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("version");
    assert!(Policy::from_value(&missing).is_err());
    assert!(!validate(&missing).is_empty());
}

/// The names a loader error lists after `expected` (`one of: a, b, c` or `a, b or c`).
fn listed(message: &str) -> BTreeSet<String> {
    let list = message
        .split("expected ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    let list = list.strip_prefix("one of: ").unwrap_or(list);
    list.split(", ")
        .flat_map(|part| part.split(" or "))
        .map(str::to_owned)
        .collect()
}

fn loader_message(doc: &Value) -> String {
    Policy::from_value(doc).unwrap_err().to_string()
}

fn keys(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn strings(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_schema_names_what_the_loader_knows() {
    let s = schema();
    let defs = &s["$defs"];
    let base = |tool: Value| json!({"version": "1", "default": "deny", "tools": {"t": tool}});
    let cases = [
        (
            json!({"version": "1", "default": "deny", "bogus": 1}),
            keys(&s),
        ),
        (base(json!({"bogus": 1})), keys(&defs["rule"])),
        (
            base(json!({"limits": [{"bogus": 1}]})),
            keys(&defs["limit"]),
        ),
        (
            base(json!({"require": [{"bogus": 1}]})),
            keys(&defs["predicate"]),
        ),
        (
            base(json!({"rate_limit": {"bogus": 1}})),
            keys(&defs["rule"]["properties"]["rate_limit"]),
        ),
        (
            json!({"version": "1", "default": "deny", "all_tools": {"bogus": 1}}),
            keys(&s["properties"]["all_tools"]),
        ),
        (
            json!({"version": "1", "default": "deny", "keystrokes": {"deny": [], "bogus": 1}}),
            keys(&s["properties"]["keystrokes"]),
        ),
        (
            json!({"version": "1", "default": "deny", "risk": {"bogus": {}}}),
            keys(&s["properties"]["risk"]),
        ),
        (
            base(json!({"require": [{"path": "args.a", "op": "bogus", "value": 1}]})),
            strings(&defs["predicate"]["properties"]["op"]["enum"]),
        ),
        (
            base(
                json!({"limits": [{"counter": "c", "window": "day", "max": 1, "scope": "bogus"}]}),
            ),
            strings(&defs["limit"]["properties"]["scope"]["enum"]),
        ),
        (
            base(json!({"action": "bogus"})),
            strings(&defs["rule"]["properties"]["action"]["enum"]),
        ),
        (
            base(json!({"mode": "bogus"})),
            strings(&defs["mode"]["enum"]),
        ),
        (
            json!({"version": "1", "default": "bogus"}),
            strings(&s["properties"]["default"]["enum"]),
        ),
    ];
    for (doc, schema_names) in cases {
        let message = loader_message(&doc);
        assert_eq!(listed(&message), schema_names, "{message}");
    }
}
