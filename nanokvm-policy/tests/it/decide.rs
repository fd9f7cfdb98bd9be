//! Decisions: every operator, the evaluation order, special rule ids, shadow mode, risk
//! classes and approvals.

use nanokvm_policy::{Call, Engine, MemoryStore, Policy, RiskClass, Verdict};
use serde_json::{Value, json};

use crate::support::{at, engine, policy, summary};

/// Whether `{path, op, value}` under `deny_if` matches `args`.
fn matches(path: &str, op: &str, value: Value, args: Value) -> bool {
    let doc = json!({"version": "1", "default": "deny", "tools": {"t": {
        "deny_if": [{"path": path, "op": op, "value": value}]}}});
    let e = engine(&doc.to_string());
    let d = e.decide(&Call::new("t", &args), at("2026-01-01T00:00:00Z"));
    match d.verdict {
        Verdict::Deny => {
            assert_eq!(d.rule.as_deref(), Some("/tools/t/deny_if/0"));
            true
        }
        Verdict::Allow => false,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn every_operator_matches_as_documented() {
    let p = "args.v";
    let cases: Vec<(&str, Value, Value, bool)> = vec![
        ("eq", json!("a"), json!({"v": "a"}), true),
        ("eq", json!("a"), json!({"v": "A"}), false),
        ("eq", json!(5), json!({"v": 5.0}), true),
        ("eq", json!(5), json!({"v": "5"}), false),
        (
            "eq",
            json!([1, {"k": 2}]),
            json!({"v": [1.0, {"k": 2}]}),
            true,
        ),
        ("eq", json!(null), json!({"v": null}), true),
        ("eq", json!("a"), json!({}), false),
        ("neq", json!("a"), json!({"v": "b"}), true),
        ("neq", json!("a"), json!({"v": "a"}), false),
        ("neq", json!(1), json!({"v": 1.0}), false),
        ("neq", json!("a"), json!({}), false),
        ("in", json!(["a", 2]), json!({"v": 2.0}), true),
        ("in", json!(["a", 2]), json!({"v": "b"}), false),
        ("in", json!([]), json!({"v": "b"}), false),
        ("in", json!(["a"]), json!({}), false),
        ("not_in", json!(["a", "b"]), json!({"v": "c"}), true),
        ("not_in", json!(["a", "b"]), json!({"v": "a"}), false),
        ("not_in", json!(["a"]), json!({}), false),
        ("lt", json!(10), json!({"v": 9.5}), true),
        ("lt", json!(10), json!({"v": 10}), false),
        ("lt", json!(10), json!({"v": "9"}), false),
        ("lte", json!(10), json!({"v": 10}), true),
        ("lte", json!(10), json!({"v": 11}), false),
        ("gt", json!(10), json!({"v": 11}), true),
        ("gt", json!(10), json!({"v": 10}), false),
        ("gt", json!(-1), json!({"v": true}), false),
        ("gte", json!(10), json!({"v": 10}), true),
        ("gte", json!(10), json!({"v": 9}), false),
        ("gte", json!(10), json!({}), false),
        (
            "regex",
            json!("rm\\s+-rf"),
            json!({"v": "sudo rm  -rf x"}),
            true,
        ),
        (
            "regex",
            json!("^/data/"),
            json!({"v": "/tmp/data/x"}),
            false,
        ),
        ("regex", json!("(?i)MKFS"), json!({"v": "mkfs.ext4"}), true),
        ("regex", json!("1"), json!({"v": 1}), false),
        ("regex", json!("."), json!({}), false),
        ("not_regex", json!("^/data/"), json!({"v": "/tmp/x"}), true),
        (
            "not_regex",
            json!("^/data/"),
            json!({"v": "/data/x"}),
            false,
        ),
        ("not_regex", json!("x"), json!({"v": 5}), false),
        ("not_regex", json!("x"), json!({}), false),
        ("contains", json!("rf"), json!({"v": "rm -rf"}), true),
        ("contains", json!("RF"), json!({"v": "rm -rf"}), false),
        ("contains", json!(2), json!({"v": [1, 2.0]}), true),
        ("contains", json!("a"), json!({"v": ["b"]}), false),
        ("contains", json!("a"), json!({"v": 5}), false),
        ("contains", json!("a"), json!({}), false),
        ("exists", json!(true), json!({"v": null}), true),
        ("exists", json!(true), json!({}), false),
        ("exists", json!(false), json!({}), true),
        ("exists", json!(false), json!({"v": 1}), false),
        (
            "glob",
            json!("/data/*.iso"),
            json!({"v": "/data/a b.iso"}),
            true,
        ),
        (
            "glob",
            json!("/data/*.iso"),
            json!({"v": "/data/a.iso.exe"}),
            false,
        ),
        ("glob", json!("?.iso"), json!({"v": "é.iso"}), true),
        ("glob", json!("?.iso"), json!({"v": "ab.iso"}), false),
        ("glob", json!("a.c"), json!({"v": "abc"}), false),
        ("glob", json!("*"), json!({"v": 1}), false),
        ("glob", json!("*"), json!({}), false),
        ("len_lte", json!(3), json!({"v": "été"}), true),
        ("len_lte", json!(3), json!({"v": "abcd"}), false),
        ("len_lte", json!(3), json!({"v": [1]}), false),
        ("len_lte", json!(3), json!({}), false),
        ("len_gt", json!(3), json!({"v": "abcd"}), true),
        ("len_gt", json!(3), json!({"v": "ééé"}), false),
        ("len_gt", json!(3), json!({}), false),
    ];
    for (op, value, args, expected) in cases {
        assert_eq!(
            matches(p, op, value.clone(), args.clone()),
            expected,
            "{op} {value} on {args}"
        );
    }
}

#[test]
fn paths_reach_into_objects_and_lists() {
    assert!(matches("args.a.b", "eq", json!(1), json!({"a": {"b": 1}})));
    assert!(matches(
        "args.a.1",
        "eq",
        json!("y"),
        json!({"a": ["x", "y"]})
    ));
    assert!(!matches(
        "args.a.2",
        "exists",
        json!(true),
        json!({"a": ["x", "y"]})
    ));
    assert!(!matches(
        "args.a.b",
        "exists",
        json!(true),
        json!({"a": "b"})
    ));
    assert!(!matches(
        "args.a",
        "exists",
        json!(true),
        json!("not an object")
    ));
}

#[test]
fn require_holds_all_and_names_the_first_failure() {
    let e = engine(
        r#"{"version": "1", "default": "deny", "tools": {"m": {
            "require": [
                {"path": "args.file", "op": "exists", "value": true},
                {"path": "args.file", "op": "regex", "value": "^/data/"},
                {"path": "args.n", "op": "lte", "value": 3}
            ],
            "deny_if": [{"path": "args.file", "op": "contains", "value": ".."}],
            "on_deny": "only /data images"}}}"#,
    );
    let now = at("2026-01-01T00:00:00Z");
    let cases = [
        (json!({"file": "/data/a.iso", "n": 3}), Verdict::Allow, None),
        (json!({}), Verdict::Deny, Some("/tools/m/require/0")),
        (
            json!({"file": "/etc/passwd", "n": 1}),
            Verdict::Deny,
            Some("/tools/m/require/1"),
        ),
        (
            json!({"file": "/data/a", "n": 4}),
            Verdict::Deny,
            Some("/tools/m/require/2"),
        ),
        (
            json!({"file": "/data/a"}),
            Verdict::Deny,
            Some("/tools/m/require/2"),
        ),
        (
            json!({"file": "/data/../etc", "n": 1}),
            Verdict::Deny,
            Some("/tools/m/deny_if/0"),
        ),
    ];
    for (args, verdict, rule) in cases {
        let d = e.decide(&Call::new("m", &args), now);
        assert_eq!(summary(&d), (verdict, rule), "{args}");
        if verdict == Verdict::Deny {
            assert_eq!(d.message, "only /data images");
        }
    }
}

#[test]
fn special_ids_and_order() {
    let e = engine(
        r#"{"version": "1", "default": "deny", "hide": ["h"],
            "tools": {
                "h": {},
                "tap": {"action": "deny", "reason": "No touch input on this host."},
                "both": {"deny_if": [{"path": "args.x", "op": "eq", "value": 1}],
                         "approve_if": [{"path": "args.x", "op": "exists", "value": true}]},
                "ask": {"action": "require_approval",
                        "require": [{"path": "args.ok", "op": "eq", "value": true}]},
                "Case": {}
            }}"#,
    );
    let now = at("2026-01-01T00:00:00Z");
    let cases = [
        ("h", json!({}), Verdict::Deny, Some("(hidden)")),
        ("nope", json!({}), Verdict::Deny, Some("(default deny)")),
        ("case", json!({}), Verdict::Deny, Some("(default deny)")),
        ("Case", json!({}), Verdict::Allow, None),
        ("tap", json!({}), Verdict::Deny, Some("/tools/tap/action")),
        (
            "both",
            json!({"x": 1}),
            Verdict::Deny,
            Some("/tools/both/deny_if/0"),
        ),
        (
            "both",
            json!({"x": 2}),
            Verdict::ApprovalRequired,
            Some("/tools/both/approve_if/0"),
        ),
        ("both", json!({}), Verdict::Allow, None),
        (
            "ask",
            json!({"ok": false}),
            Verdict::Deny,
            Some("/tools/ask/require/0"),
        ),
        (
            "ask",
            json!({"ok": true}),
            Verdict::ApprovalRequired,
            Some("/tools/ask/action"),
        ),
    ];
    for (tool, args, verdict, rule) in cases {
        let d = e.decide(&Call::new(tool, &args), now);
        assert_eq!(summary(&d), (verdict, rule), "{tool} {args}");
    }
    let d = e.decide(&Call::new("tap", &json!({})), now);
    assert!(d.message.contains("No touch input on this host."));
    // An approved call passes step 7 but not the steps before it.
    let ok = json!({"ok": true});
    let d = e.decide(&Call::new("ask", &ok).approved(true), now);
    assert_eq!(summary(&d), (Verdict::Allow, None));
    let d = e.decide(&Call::new("both", &json!({"x": 1})).approved(true), now);
    assert_eq!(summary(&d), (Verdict::Deny, Some("/tools/both/deny_if/0")));
}

#[test]
fn hide_star_hides_everything_and_default_allow_allows_the_rest() {
    let e = engine(r#"{"version": "1", "default": "allow", "hide": ["*"], "tools": {"a": {}}}"#);
    let d = e.decide(&Call::new("a", &json!({})), at("2026-01-01T00:00:00Z"));
    assert_eq!(summary(&d), (Verdict::Deny, Some("(hidden)")));
    let e = engine(r#"{"version": "1", "default": "allow", "hide": ["x"]}"#);
    let d = e.decide(
        &Call::new("anything", &json!({})),
        at("2026-01-01T00:00:00Z"),
    );
    assert_eq!(summary(&d), (Verdict::Allow, None));
}

#[test]
fn no_policy_denies() {
    let e: Engine = Engine::new(MemoryStore::new());
    let d = e.decide(
        &Call::new("nanokvm_info", &json!({})),
        at("2026-01-01T00:00:00Z"),
    );
    assert_eq!(summary(&d), (Verdict::Deny, Some("(no policy)")));
    e.set_policy(policy(r#"{"version": "1", "default": "allow"}"#));
    let d = e.decide(
        &Call::new("nanokvm_info", &json!({})),
        at("2026-01-01T00:00:00Z"),
    );
    assert_eq!(d.verdict, Verdict::Allow);
    e.clear_policy();
    let d = e.decide(
        &Call::new("nanokvm_info", &json!({})),
        at("2026-01-01T00:00:00Z"),
    );
    assert_eq!(summary(&d), (Verdict::Deny, Some("(no policy)")));
}

#[test]
fn shadow_mode_reports_every_deny_but_blocks_nothing() {
    let doc = r#"{"version": "1", "default": "deny", "mode": "shadow", "hide": ["h"],
        "tools": {
            "tap": {"action": "deny", "reason": "no"},
            "m": {"require": [{"path": "args.f", "op": "exists", "value": true}],
                  "limits": [{"counter": "c", "window": "minute", "max": 1}]},
            "strict": {"mode": "enforce", "action": "deny"},
            "ask": {"action": "require_approval"}
        }}"#;
    let e = engine(doc);
    let now = at("2026-01-01T00:00:00Z");
    let f = json!({"f": 1});
    let cases = [
        ("h", json!({}), Verdict::ShadowDeny, Some("(hidden)")),
        ("x", json!({}), Verdict::ShadowDeny, Some("(default deny)")),
        (
            "tap",
            json!({}),
            Verdict::ShadowDeny,
            Some("/tools/tap/action"),
        ),
        (
            "m",
            json!({}),
            Verdict::ShadowDeny,
            Some("/tools/m/require/0"),
        ),
        ("m", f.clone(), Verdict::Allow, None),
        (
            "m",
            f.clone(),
            Verdict::ShadowDeny,
            Some("/tools/m/limits/0"),
        ),
        (
            "strict",
            json!({}),
            Verdict::Deny,
            Some("/tools/strict/action"),
        ),
        (
            "ask",
            json!({}),
            Verdict::ApprovalRequired,
            Some("/tools/ask/action"),
        ),
    ];
    for (tool, args, verdict, rule) in cases {
        let d = crate::support::run(&e, tool, &args, now);
        assert_eq!(summary(&d), (verdict, rule), "{tool} {args}");
        assert_eq!(
            d.proceeds(),
            matches!(verdict, Verdict::Allow | Verdict::ShadowDeny)
        );
    }
    let d = e.decide(&Call::new("m", &f).principal("p"), now);
    assert_eq!(d.retry_after_s, Some(60));
    assert!(
        d.reservation.is_none(),
        "a shadow-denied call reserves nothing"
    );
}

#[test]
fn tool_risk_reclassifies_a_tool_for_the_risk_rules_whatever_it_declares() {
    let e = engine(
        r#"{"version": "1", "default": "deny",
            "tool_risk": {"wipe": "high", "list": "low", "unknown_elsewhere": "medium"},
            "risk": {
                "low": {},
                "high": {"action": "require_approval"}
            }}"#,
    );
    let now = at("2026-01-01T00:00:00Z");
    let args = json!({});
    let decide = |tool, risk: Option<RiskClass>| {
        let mut call = Call::new(tool, &args).principal("p");
        call.risk = risk;
        let d = e.decide(&call, now);
        (d.verdict, d.rule)
    };
    // Declared low (a read-only hint, say), classified high by the document.
    assert_eq!(
        decide("wipe", Some(RiskClass::Low)),
        (Verdict::ApprovalRequired, Some("/risk/high/action".into()))
    );
    // A tool that declares nothing gets the document's class.
    assert_eq!(decide("list", None), (Verdict::Allow, None));
    assert_eq!(
        decide("list", Some(RiskClass::High)),
        (Verdict::Allow, None)
    );
    // Other tools keep what they declare.
    assert_eq!(
        decide("other", Some(RiskClass::High)),
        (Verdict::ApprovalRequired, Some("/risk/high/action".into()))
    );
    // medium has no rule: the default applies.
    assert_eq!(
        decide("unknown_elsewhere", Some(RiskClass::Low)),
        (Verdict::Deny, Some("(default deny)".into()))
    );
    let policy =
        Policy::from_json(r#"{"version": "1", "default": "deny", "tool_risk": {"wipe": "high"}}"#)
            .unwrap();
    assert_eq!(
        policy.risk_of("wipe", Some(RiskClass::Low)),
        Some(RiskClass::High)
    );
    assert_eq!(policy.risk_of("other", None), None);
    assert_eq!(
        policy.drift(),
        nanokvm_policy::Drift::Deny,
        "deny unless said"
    );
    for (text, pointer) in [
        (
            r#"{"version": "1", "default": "deny", "tool_risk": {"t": "severe"}}"#,
            "/tool_risk/t",
        ),
        (
            r#"{"version": "1", "default": "deny", "tool_risk": []}"#,
            "/tool_risk",
        ),
        (
            r#"{"version": "1", "default": "deny", "drift": "ignore"}"#,
            "/drift",
        ),
    ] {
        let error = Policy::from_json(text).unwrap_err().to_string();
        assert!(error.contains(pointer), "{error}");
    }
    for (name, drift) in [
        ("deny", nanokvm_policy::Drift::Deny),
        ("approve", nanokvm_policy::Drift::Approve),
        ("warn", nanokvm_policy::Drift::Warn),
    ] {
        let text = format!(r#"{{"version": "1", "default": "deny", "drift": "{name}"}}"#);
        assert_eq!(Policy::from_json(&text).unwrap().drift(), drift);
    }
}

#[test]
fn risk_rules_apply_to_unnamed_tools_only() {
    let e = engine(
        r#"{"version": "1", "default": "deny",
            "tools": {"named": {}},
            "risk": {
                "low": {},
                "medium": {"limits": [{"counter": "medium", "window": "minute", "max": 1}]},
                "high": {"action": "require_approval"}
            }}"#,
    );
    let now = at("2026-01-01T00:00:00Z");
    let args = json!({});
    let decide = |tool, risk: Option<RiskClass>| {
        let mut call = Call::new(tool, &args).principal("p");
        call.risk = risk;
        let mut d = e.decide(&call, now);
        if let Some(r) = d.reservation.take() {
            assert!(e.commit(r).is_ok());
        }
        (d.verdict, d.rule)
    };
    assert_eq!(
        decide("named", Some(RiskClass::High)),
        (Verdict::Allow, None)
    );
    assert_eq!(decide("x", Some(RiskClass::Low)), (Verdict::Allow, None));
    assert_eq!(
        decide("x", Some(RiskClass::High)),
        (Verdict::ApprovalRequired, Some("/risk/high/action".into()))
    );
    assert_eq!(decide("x", Some(RiskClass::Medium)), (Verdict::Allow, None));
    assert_eq!(
        decide("y", Some(RiskClass::Medium)),
        (Verdict::Deny, Some("/risk/medium/limits/0".into()))
    );
    assert_eq!(
        decide("x", None),
        (Verdict::Deny, Some("(default deny)".into()))
    );

    // Under default allow, a class with no rule falls back to allow, and hide still wins.
    let e = engine(
        r#"{"version": "1", "default": "allow", "hide": ["h"],
            "risk": {"high": {"action": "deny", "reason": "high risk"}}}"#,
    );
    let d = e.decide(&Call::new("x", &args).risk(RiskClass::High), now);
    assert_eq!(summary(&d), (Verdict::Deny, Some("/risk/high/action")));
    let d = e.decide(&Call::new("x", &args).risk(RiskClass::Low), now);
    assert_eq!(summary(&d), (Verdict::Allow, None));
    let d = e.decide(&Call::new("h", &args).risk(RiskClass::Low), now);
    assert_eq!(summary(&d), (Verdict::Deny, Some("(hidden)")));
}

#[test]
fn decision_json_has_the_documented_shape() {
    let e = engine(r#"{"version": "1", "default": "deny"}"#);
    let d = e.decide(&Call::new("x", &json!({})), at("2026-01-01T00:00:00Z"));
    assert_eq!(
        d.to_json(),
        json!({"verdict": "deny", "rule": "(default deny)", "message": d.message, "retry_after_s": null})
    );
}
