//! What the keystroke filter sees is what the target sees: the two bypasses found by
//! hand as regression tests, and a differential property test against the simulated
//! machine, for every typing tool.

use std::sync::OnceLock;
use std::time::Duration;

use nanokvm_client::{Client, SecretString};
use nanokvm_policy::gate::{CallContext, Gate};
use nanokvm_policy::{Error, Layout, MemoryStore, Policy, Verdict};
use nanokvm_sim::{MachineState, Simulator, TimeScale};
use proptest::prelude::*;
use serde_json::{Value, json};

const DEVICE: &str = "nanokvm";

async fn sim(layout: Layout) -> Simulator {
    Simulator::builder()
        .time_scale(TimeScale::fast())
        .resolution(320, 200)
        .layout(layout)
        .start()
        .await
        .expect("the simulator starts")
}

fn gate(sim: &Simulator, layout: Layout, policy: Policy) -> Gate<MemoryStore> {
    let client = Client::builder(sim.url())
        .credentials("admin", SecretString::from("admin".to_owned()))
        .build()
        .expect("a valid client configuration");
    Gate::builder(client, MemoryStore::new())
        .layout(layout)
        .policy(policy)
        .build()
}

/// The shipped recommended policy, with `nanokvm_type_text` allowed when `typing`.
fn recommended(typing: bool) -> Policy {
    let text = include_str!("../../policies/nanokvm-recommended.json");
    let mut doc: Value = serde_json::from_str(text).expect("valid JSON");
    if typing {
        doc["tools"]["nanokvm_type_text"] = json!({});
    }
    Policy::from_value(&doc).expect("the recommended policy loads")
}

fn ctx() -> CallContext {
    CallContext::new("agent", "session")
}

/// The rule that denied a call; panics when the call was not denied.
async fn denied_by(gate: &Gate<MemoryStore>, tool: &str, args: Value) -> Option<String> {
    match gate.call(&ctx(), tool, &args).await {
        Err(Error::Denied(d)) => d.rule,
        other => panic!("expected a denial of {tool} {args}, got {other:?}"),
    }
}

/// Waits until the simulated machine's input line is `line` with the cursor at
/// `cursor`, and returns what it shows (which differs when the wait timed out).
async fn settled(sim: &Simulator, line: &str, cursor: usize) -> (String, usize) {
    let shown = tokio::time::timeout(
        Duration::from_secs(3),
        sim.wait_for(|m| m.input_line() == line && m.cursor() == cursor),
    )
    .await;
    let m: MachineState = shown.unwrap_or_else(|_| sim.machine());
    (m.input_line(), m.cursor())
}

#[tokio::test]
async fn text_the_paste_map_lacks_cannot_hide_a_command() {
    let sim = sim(Layout::Us).await;
    let gate = gate(&sim, Layout::Us, recommended(false));
    let before = sim.hid_reports().len();
    // The firmware skips `→`, so the target would see `rm -rf /`: refused as it stands...
    let err = gate
        .call(&ctx(), "nanokvm_send_text", &json!({"text": "rm -r→f /\n"}))
        .await
        .expect_err("text the paste map lacks is refused");
    match &err {
        Error::InvalidArguments {
            argument, message, ..
        } => {
            assert_eq!(argument, "text");
            assert!(message.contains("'→' at character 5"), "{message}");
        }
        other => panic!("expected invalid arguments, got {other}"),
    }
    // ...and when skipping is asked for, the filter sees the line without it.
    let args = json!({"text": "rm -r→f /\n", "skip_unsupported": true});
    let rule = denied_by(&gate, "nanokvm_send_text", args).await;
    assert_eq!(rule.as_deref(), Some("/keystrokes/deny/0"));
    assert_eq!(sim.hid_reports().len(), before, "nothing was typed");
    assert_eq!(sim.machine().input_line(), "");

    // A harmless text with a skipped character says what was skipped.
    let out = gate
        .call(
            &ctx(),
            "nanokvm_send_text",
            &json!({"text": "echo →ok", "skip_unsupported": true}),
        )
        .await
        .expect("allowed");
    assert_eq!(out.json["skipped"], json!([{"char": "→", "index": 5}]));
    assert_eq!(settled(&sim, "echo ok", 7).await, ("echo ok".to_owned(), 7));
    assert_eq!(gate.engine().typed_line(DEVICE), "echo ok");
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn text_encoded_for_another_layout_is_read_as_the_target_reads_it() {
    let sim = sim(Layout::Us).await;
    let gate = gate(&sim, Layout::Us, recommended(true));
    let before = sim.hid_reports().len();
    // Encoded for German keys, `rm ßrf -` types `rm -rf /` on a US machine.
    let args = json!({"text": "rm ßrf -\n", "layout": "de"});
    let rule = denied_by(&gate, "nanokvm_type_text", args).await;
    assert_eq!(rule.as_deref(), Some("/keystrokes/deny/0"));
    assert_eq!(sim.hid_reports().len(), before, "nothing was typed");

    // Without the Enter it is typed, and both the filter and the machine hold the line
    // the target decoded.
    gate.call(
        &ctx(),
        "nanokvm_type_text",
        &json!({"text": "rm ßrf -", "layout": "de"}),
    )
    .await
    .expect("no commit yet");
    assert_eq!(gate.engine().typed_line(DEVICE), "rm -rf /");
    assert_eq!(
        settled(&sim, "rm -rf /", 8).await,
        ("rm -rf /".to_owned(), 8)
    );
    let rule = denied_by(&gate, "nanokvm_send_key", json!({"key": "enter"})).await;
    assert_eq!(rule.as_deref(), Some("/keystrokes/deny/0"));
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_refused_paste_leaves_the_line_and_a_device_failure_too() {
    let sim = sim(Layout::Us).await;
    let gate = gate(&sim, Layout::Us, recommended(false));
    gate.call(&ctx(), "nanokvm_send_text", &json!({"text": "rm -rf"}))
        .await
        .expect("typed");
    // The device refuses the paste (HID busy): the line stays as the device has it.
    sim.set_hid_busy(true);
    let err = gate
        .call(&ctx(), "nanokvm_send_text", &json!({"text": " /tmp/x"}))
        .await
        .expect_err("the device refuses");
    assert!(matches!(err, Error::Device { .. }), "{err}");
    sim.set_hid_busy(false);
    assert_eq!(gate.engine().typed_line(DEVICE), "rm -rf");
    assert!(gate.engine().typed_line_is_known(DEVICE));
    let rule = denied_by(&gate, "nanokvm_send_text", json!({"text": " /\n"})).await;
    assert_eq!(rule.as_deref(), Some("/keystrokes/deny/0"), "still caught");
    sim.shutdown().await.expect("clean shutdown");
}

/// Characters worth typing: ASCII, letters some layouts have, dead-key accents,
/// control characters, and characters no layout or paste map has.
fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(vec!['é', 'è', 'ü', 'ß', 'ñ', 'ç', 'à', 'ø', 'æ', 'ł', 'å', '€', '£', '§', '°', 'µ', '²']),
        2 => prop::sample::select(vec!['^', '`', '´', '~', '¨', '\'', '"']),
        1 => prop::sample::select(vec!['\n', '\t', '\r', '\u{8}', '\u{1b}', '\u{a0}']),
        1 => prop::sample::select(vec!['→', '中', 'ж', '😀']),
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop::collection::vec(arb_char(), 1..16).prop_map(|c| c.into_iter().collect())
}

fn arb_layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(Layout::ALL.to_vec())
}

fn arb_key() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "enter",
        "backspace",
        "delete",
        "left",
        "right",
        "home",
        "end",
        "up",
        "tab",
        "space",
        "ctrl+u",
        "ctrl+c",
        "ctrl+w",
        "ctrl+k",
        "ctrl+a",
        "ctrl+e",
        "ctrl+b",
        "ctrl+f",
        "ctrl+h",
        "ctrl+d",
        "ctrl+m",
        "ctrl+shift+u",
        "ctrl+alt+u",
        "shift+home",
        "a",
        "/",
        "-",
        "é",
        "ß",
        "^",
        "numpad_enter",
        "f2",
        "esc",
    ]);
    (names, any::<bool>(), any::<bool>()).prop_map(|(key, ctrl, shift)| {
        json!({"key": key, "ctrl": ctrl && key.chars().count() == 1, "shift": shift && key.chars().count() == 1})
    })
}

/// One typing call: a tool and its arguments.
fn arb_call() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        1 => (arb_text(), prop::sample::select(vec!["us", "de", "fr"])).prop_map(|(text, language)| {
            ("nanokvm_send_text", json!({"text": text, "language": language, "skip_unsupported": true}))
        }),
        1 => (arb_text(), arb_layout()).prop_map(|(text, layout)| {
            ("nanokvm_type_text", json!({"text": text, "layout": layout.name()}))
        }),
        1 => arb_text().prop_map(|text| ("nanokvm_type_text", json!({"text": text}))),
        3 => arb_key().prop_map(|key| ("nanokvm_send_key", key)),
    ]
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// For random calls of every typing tool, random layouts in the call and on the
    /// target, the line the filter builds is the line the simulated machine shows after
    /// the calls actually ran (or were refused).
    #[test]
    fn the_filter_line_is_the_line_the_target_shows(
        target in arb_layout(),
        calls in prop::collection::vec(arb_call(), 1..10),
    ) {
        runtime().block_on(async {
            let sim = sim(target).await;
            let policy = Policy::from_value(&json!({
                "version": "1",
                "default": "allow",
                "keystrokes": {"deny": ["rm\\s+-rf\\s+/"]}
            }))
            .expect("a valid policy");
            let gate = gate(&sim, target, policy);
            for (i, (tool, args)) in calls.iter().enumerate() {
                let outcome = gate.call(&ctx(), tool, args).await;
                if let Err(e) = &outcome {
                    prop_assert!(
                        matches!(e, Error::InvalidArguments { .. } | Error::Denied(_)),
                        "call {i} {tool} {args}: {e}"
                    );
                }
                if let Ok(out) = &outcome {
                    prop_assert_eq!(out.verdict, Verdict::Allow);
                }
                let line = gate.engine().typed_line(DEVICE);
                let cursor = gate.engine().typed_cursor(DEVICE);
                let shown = settled(&sim, &line, cursor).await;
                prop_assert_eq!(
                    shown,
                    (line, cursor),
                    "target {} after call {} {} {}", target.name(), i, tool, args
                );
            }
            sim.shutdown().await.expect("clean shutdown");
            Ok(())
        })?;
    }
}
