//! Property tests: arbitrary documents and arguments never panic, and an invalid
//! document never yields a policy.

use nanokvm_policy::{Call, Engine, MemoryStore, Policy, RiskClass, Timestamp};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "1",
            "deny",
            "allow",
            "shadow",
            "minute",
            "sliding:60s",
            "grant",
            "regex",
            "eq",
            "args.text",
            "rm -rf /",
            "(",
            "len(args.text)",
            "enter",
            "*",
            "high",
        ])
        .prop_map(|s| json!(s)),
        "[ -~]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "version",
            "default",
            "mode",
            "hide",
            "all_tools",
            "tools",
            "risk",
            "keystrokes",
            "limits",
            "require",
            "deny_if",
            "approve_if",
            "action",
            "reason",
            "rate_limit",
            "counter",
            "window",
            "max",
            "scope",
            "weight",
            "path",
            "op",
            "value",
            "deny",
            "commit_keys",
            "nanokvm_send_text",
            "text",
            "key",
            "ctrl",
            "low",
            "high",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            )),
        ]
    })
}

/// A valid document with random rules plugged in, to reach deep into the evaluator.
fn arb_policy_value() -> impl Strategy<Value = Value> {
    (arb_json(), arb_json(), any::<bool>()).prop_map(|(rule, args_rule, shadow)| {
        json!({
            "version": "1",
            "default": if shadow { "allow" } else { "deny" },
            "mode": if shadow { "shadow" } else { "enforce" },
            "tools": {"nanokvm_send_text": rule, "t": {"deny_if": [args_rule]}},
            "keystrokes": {"deny": ["rm\\s+-rf"]}
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_documents_never_panic(doc in arb_json()) {
        let _ = Policy::from_value(&doc);
        let _ = Policy::from_json(&doc.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::from_json(&text);
        let _ = Policy::from_yaml(&text);
        let _ = Timestamp::parse_rfc3339(&text);
    }

    #[test]
    fn arbitrary_calls_never_panic(
        doc in arb_policy_value(),
        args in arb_json(),
        text in "\\PC{0,40}",
        key in prop::sample::select(vec!["enter", "backspace", "u", "ctrl+u", "/", "é", "left", "F13", "0x28", ""]),
        ctrl in any::<bool>(),
        ms in -10_000_000_000_000i64..10_000_000_000_000,
    ) {
        let Ok(policy) = Policy::from_value(&doc) else { return Ok(()); };
        let engine = Engine::with_policy(policy, MemoryStore::new());
        let now = Timestamp::from_unix_millis(ms);
        let typed = json!({"text": text});
        let pressed = json!({"key": key, "ctrl": ctrl});
        for (tool, args) in [("nanokvm_send_text", &typed), ("nanokvm_send_key", &pressed), ("t", &args), ("nanokvm_send_text", &args)] {
            let d = engine.decide(&Call::new(tool, args).risk(RiskClass::High), now);
            if let Some(r) = d.reservation {
                prop_assert!(engine.rollback(r).is_ok());
            }
        }
        prop_assert_eq!(engine.store().in_flight(), 0);
    }

    #[test]
    fn shadow_mode_never_blocks(doc in arb_policy_value(), args in arb_json()) {
        let Ok(policy) = Policy::from_value(&doc) else { return Ok(()); };
        let shadow = policy.mode() == nanokvm_policy::Mode::Shadow;
        let engine = Engine::with_policy(policy, MemoryStore::new());
        let d = engine.decide(&Call::new("t", &args), Timestamp::from_unix_secs(0));
        if shadow {
            prop_assert!(d.verdict != nanokvm_policy::Verdict::Deny, "{:?}", d);
        }
    }
}

fn arb_tool_args() -> impl Strategy<Value = Value> {
    let field = prop::sample::select(vec![
        "text",
        "language",
        "layout",
        "delay_ms",
        "key",
        "ctrl",
        "shift",
        "x",
        "y",
        "dx",
        "dy",
        "button",
        "double",
        "from",
        "to",
        "amount",
        "file",
        "as_cdrom",
        "mac",
        "action",
        "off_duration_ms",
    ]);
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-2.0f64..2.0).prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
        ((-1.0f64..2.0), (-1.0f64..2.0)).prop_map(|(x, y)| json!({"x": x, "y": y})),
        Just(json!("power_long")),
        Just(json!("/data/a.iso")),
        Just(json!("ctrl+alt+delete")),
    ];
    prop::collection::vec((field, value), 0..5).prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Parsing any arguments for any tool never panics, and what parses has canonical
    /// arguments that parse to the same action.
    #[test]
    fn arbitrary_tool_arguments_never_panic(
        tool in prop::sample::select(nanokvm_policy::gate::TOOLS.iter().map(|t| t.name).collect::<Vec<_>>()),
        args in arb_tool_args(),
    ) {
        use nanokvm_policy::gate::DeviceAction;
        if let Ok(action) = DeviceAction::parse(tool, &args, nanokvm_policy::Layout::De) {
            let again = DeviceAction::parse(tool, &action.args(), nanokvm_policy::Layout::De);
            prop_assert_eq!(again.ok(), Some(action));
        }
    }
}
