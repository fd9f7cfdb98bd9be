//! Keystroke filters: the line rebuilt across typing calls, per device.

use nanokvm_policy::{Call, Engine, Layout, Verdict};
use serde_json::{Value, json};

use crate::support::{at, engine};

const DOC: &str = r#"{"version": "1", "default": "deny",
    "tools": {"nanokvm_send_text": {}, "nanokvm_send_key": {}, "nanokvm_type_text": {}},
    "keystrokes": {"deny": ["rm\\s+-rf\\s+/", "mkfs\\."]}}"#;

/// A call's verdict and rule.
type Outcome = (Verdict, Option<String>);

enum Step {
    Text(&'static str),
    Key(Value),
}

fn text(s: &'static str) -> Step {
    Step::Text(s)
}

fn key(k: &str) -> Step {
    Step::Key(json!({"key": k}))
}

fn ctrl(k: &str) -> Step {
    Step::Key(json!({"key": k, "ctrl": true}))
}

/// Runs the steps on device `d` and returns each call's verdict and rule.
fn play(e: &Engine, device: &str, steps: &[Step]) -> Vec<Outcome> {
    let now = at("2026-03-03T10:00:00Z");
    steps
        .iter()
        .map(|step| {
            let (tool, args) = match step {
                Step::Text(t) => ("nanokvm_send_text", json!({"text": t})),
                Step::Key(k) => ("nanokvm_send_key", k.clone()),
            };
            let mut d = e.decide(&Call::new(tool, &args).device(device), now);
            // The device accepted the call: its line becomes the device's line.
            if let Some(r) = d.reservation.take() {
                e.commit(r).expect("commit");
            }
            (d.verdict, d.rule)
        })
        .collect()
}

fn last(e: &Engine, steps: &[Step]) -> Outcome {
    play(e, "d", steps).pop().unwrap_or((Verdict::Allow, None))
}

fn denied(i: usize) -> Outcome {
    (Verdict::Deny, Some(format!("/keystrokes/deny/{i}")))
}

const ALLOWED: Outcome = (Verdict::Allow, None);

#[test]
fn lines_are_rebuilt_across_calls() {
    let cases: Vec<(&str, Vec<Step>, Outcome)> = vec![
        ("one call", vec![text("rm -rf /\n")], denied(0)),
        (
            "split text",
            vec![text("rm "), text("-rf"), text(" /"), key("enter")],
            denied(0),
        ),
        (
            "text then return",
            vec![text("rm -rf /"), key("Return")],
            denied(0),
        ),
        (
            "typed key by key",
            vec![
                key("r"),
                key("m"),
                key("space"),
                key("minus"),
                key("r"),
                key("f"),
                key("space"),
                key("/"),
                key("enter"),
            ],
            denied(0),
        ),
        (
            "shifted key",
            vec![text("mkfs"), key("period"), text(" /dev/sda"), key("ENTER")],
            denied(1),
        ),
        ("no commit yet", vec![text("rm -rf /")], ALLOWED),
        ("harmless", vec![text("rm -rf ./build\n")], ALLOWED),
        (
            "backspace fixes it",
            vec![text("rm -rf /"), key("backspace"), text("tmp/x\n")],
            ALLOWED,
        ),
        (
            "backspace builds it",
            vec![
                text("rm -rf x/"),
                key("left"),
                key("backspace"),
                key("end"),
                key("enter"),
            ],
            denied(0),
        ),
        (
            "backspace in a call",
            vec![text("rm -rf x"), key("backspace"), text("/\n")],
            denied(0),
        ),
        (
            "ctrl-u clears",
            vec![text("rm -rf /"), ctrl("u"), text("ls\n")],
            ALLOWED,
        ),
        (
            "ctrl-c clears",
            vec![text("rm -rf /"), ctrl("c"), key("enter")],
            ALLOWED,
        ),
        (
            "ctrl-u via chord name",
            vec![text("rm -rf /"), key("ctrl+u"), key("enter")],
            ALLOWED,
        ),
        (
            "home then prefix",
            vec![text(" /"), key("home"), text("rm -rf"), key("enter")],
            denied(0),
        ),
        (
            "ctrl-a then prefix",
            vec![text(" /"), ctrl("a"), text("rm -rf"), key("enter")],
            denied(0),
        ),
        (
            "ctrl-m is enter",
            vec![text("rm -rf /"), ctrl("m")],
            denied(0),
        ),
        (
            "ctrl-j is enter",
            vec![text("rm -rf /"), ctrl("j")],
            denied(0),
        ),
        (
            "numpad enter",
            vec![text("rm -rf /"), key("NumpadEnter")],
            denied(0),
        ),
        ("crlf", vec![text("rm -rf /\r\n")], denied(0)),
        (
            "a key the filter cannot interpret is refused",
            vec![text("ls"), key("launch_rockets")],
            (Verdict::Deny, Some("/keystrokes".to_owned())),
        ),
        (
            "cleared after a clean commit",
            vec![text("rm -rf"), key("enter"), text(" /"), key("enter")],
            ALLOWED,
        ),
        (
            "second line of one call",
            vec![text("ls\nrm -rf /\n")],
            denied(0),
        ),
    ];
    for (name, steps, expected) in cases {
        let e = engine(DOC);
        assert_eq!(last(&e, &steps), expected, "{name}");
    }
}

#[test]
fn a_refused_call_types_nothing_and_an_allowed_commit_clears_the_line() {
    let e = engine(DOC);
    let verdicts = play(&e, "d", &[text("rm -rf /"), key("enter")]);
    assert_eq!(verdicts[1], denied(0));
    // The line stays as it was; Ctrl-U then clears it and a new line goes through.
    assert_eq!(e.typed_line("d"), "rm -rf /");
    assert_eq!(last(&e, &[key("enter")]), denied(0));
    assert_eq!(last(&e, &[ctrl("u"), text("ls -l\n")]), ALLOWED);
    assert_eq!(e.typed_line("d"), "");
    // A call denied before step 6 does not type either.
    let e = engine(
        r#"{"version": "1", "default": "deny",
            "tools": {"nanokvm_send_text": {"deny_if": [{"path": "args.text", "op": "contains", "value": "x"}]}},
            "keystrokes": {"deny": ["rm\\s+-rf\\s+/"]}}"#,
    );
    play(&e, "d", &[text("rm -rf "), text("x")]);
    assert_eq!(e.typed_line("d"), "rm -rf ");
}

#[test]
fn lines_are_kept_per_device() {
    let e = engine(DOC);
    play(&e, "kvm1", &[text("rm -rf ")]);
    play(&e, "kvm2", &[text("/")]);
    assert_eq!(play(&e, "kvm2", &[key("enter")]).pop(), Some(ALLOWED));
    assert_eq!(
        play(&e, "kvm1", &[text("/"), key("enter")]).pop(),
        Some(denied(0))
    );
}

#[test]
fn the_device_layout_decides_which_characters_keys_type() {
    let e = engine(DOC);
    // On a French (AZERTY) machine the US `q` position types `a`, and `m` is on `;`.
    e.set_layout("fr", Layout::Fr);
    let steps = [text("r"), key("semicolon"), text(" -rf /"), key("enter")];
    assert_eq!(play(&e, "fr", &steps).pop(), Some(denied(0)));
    // The same keys on a US machine type `r; -rf /`, which is harmless.
    assert_eq!(play(&e, "us", &steps).pop(), Some(ALLOWED));
}

#[test]
fn custom_commit_keys_and_shadow_mode() {
    let e = engine(
        r#"{"version": "1", "default": "allow", "mode": "shadow",
            "keystrokes": {"deny": ["^danger$"], "commit_keys": ["tab"]}}"#,
    );
    let v = play(&e, "d", &[text("danger"), key("tab")]);
    assert_eq!(
        v[1],
        (Verdict::ShadowDeny, Some("/keystrokes/deny/0".into()))
    );
    // In shadow mode the call went ahead, so the line was submitted and is empty.
    assert_eq!(e.typed_line("d"), "");
    // Enter is not a commit key here: it ends the line without a check.
    assert_eq!(play(&e, "d", &[text("danger\n")]).pop(), Some(ALLOWED));
}

#[test]
fn non_typing_tools_and_malformed_arguments_leave_the_line_alone() {
    let e = engine(DOC);
    play(&e, "d", &[text("abc")]);
    let now = at("2026-03-03T10:00:00Z");
    for (tool, args) in [
        ("nanokvm_send_text", json!({"text": 5})),
        ("nanokvm_send_key", json!({})),
        ("nanokvm_send_key", json!({"key": ["enter"]})),
        ("nanokvm_info", json!({"text": "\n"})),
    ] {
        let _ = e.decide(&Call::new(tool, &args).device("d"), now);
    }
    assert_eq!(e.typed_line("d"), "abc");
    let mut d = e.decide(
        &Call::new("nanokvm_type_text", &json!({"text": "d"})).device("d"),
        now,
    );
    // The line advances only when the device accepted the call.
    assert_eq!(e.typed_line("d"), "abc");
    e.commit(d.reservation.take().expect("a typing call holds its line"))
        .expect("commit");
    assert_eq!(e.typed_line("d"), "abcd");
}

#[test]
fn a_call_that_may_have_run_in_part_leaves_the_line_unknown_until_ctrl_c() {
    let e = engine(DOC);
    let now = at("2026-03-03T10:00:00Z");
    play(&e, "d", &[text("echo ")]);
    // The connection dropped half-way through typing: any prefix may have arrived.
    let args = json!({"text": "rm -rf /tmp/scratch"});
    let mut d = e.decide(&Call::new("nanokvm_send_text", &args).device("d"), now);
    assert_eq!(d.verdict, Verdict::Allow);
    e.commit_uncertain(d.reservation.take().expect("a typing call holds its line"))
        .expect("settled");
    assert!(!e.typed_line_is_known("d"));
    // Enter on an unknown line is refused; typing more is not.
    assert_eq!(
        last(&e, &[text("x"), key("enter")]),
        (Verdict::Deny, Some("/keystrokes".to_owned()))
    );
    // Ctrl-C starts a known, empty line.
    assert_eq!(last(&e, &[ctrl("c"), text("ls\n")]), ALLOWED);
    assert!(e.typed_line_is_known("d"));
    // A call that certainly did nothing leaves the line as it was.
    play(&e, "d", &[text("abc")]);
    let mut d = e.decide(&Call::new("nanokvm_send_text", &args).device("d"), now);
    e.rollback(d.reservation.take().expect("held"))
        .expect("rolled back");
    assert_eq!(e.typed_line("d"), "abc");
}

#[test]
fn ctrl_u_deletes_only_what_is_before_the_cursor() {
    let e = engine(DOC);
    // Home then Ctrl-U deletes nothing: the command is still on the line.
    assert_eq!(
        last(
            &e,
            &[text("rm -rf /"), key("home"), ctrl("u"), key("enter")]
        ),
        denied(0)
    );
    let e = engine(DOC);
    play(
        &e,
        "d",
        &[
            text("xx rm -rf /"),
            key("home"),
            key("right"),
            key("right"),
            key("right"),
        ],
    );
    assert_eq!(last(&e, &[ctrl("u"), key("enter")]), denied(0));
}
