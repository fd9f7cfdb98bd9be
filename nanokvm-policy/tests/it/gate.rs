//! The gate against a simulated NanoKVM: parsing, decisions on the device, approvals,
//! limits with commit and rollback, keystroke filters, the audit log and hot reload.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nanokvm_client::{Client, SecretString};
use nanokvm_policy::gate::{
    ApprovalAnswer, ApprovalRequest, Approver, BoxFuture, CallContext, DeviceAction, Gate, TOOLS,
};
use nanokvm_policy::{Error, Layout, MemoryStore, Policy, Timestamp, Verdict};
use nanokvm_sim::{PowerState, Simulator, TimeScale};
use serde_json::{Value, json};

async fn sim() -> Simulator {
    Simulator::builder()
        .time_scale(TimeScale::fast())
        .resolution(320, 200)
        .start()
        .await
        .expect("the simulator starts")
}

fn client(sim: &Simulator) -> Client {
    Client::builder(sim.url())
        .credentials("admin", SecretString::from("admin".to_owned()))
        .build()
        .expect("a valid client configuration")
}

fn policy(doc: Value) -> Policy {
    Policy::from_value(&doc).expect("a valid policy")
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a valid timestamp")
}

fn ctx() -> CallContext {
    CallContext::new("agent-1", "session-1")
}

fn denial(e: Error) -> nanokvm_policy::gate::Denial {
    match e {
        Error::Denied(d) => *d,
        other => panic!("expected a denial, got {other}"),
    }
}

/// HTTP requests the device received on `path`.
fn hits(sim: &Simulator, path: &str) -> usize {
    sim.requests().iter().filter(|r| r.path == path).count()
}

#[test]
fn every_catalogue_tool_parses_and_round_trips_its_canonical_arguments() {
    let samples = [
        ("nanokvm_send_text", json!({"text": "hi"})),
        (
            "nanokvm_type_text",
            json!({"text": "hi", "layout": "de", "delay_ms": 5}),
        ),
        ("nanokvm_send_key", json!({"key": "c", "ctrl": true})),
        ("nanokvm_move", json!({"x": 960, "y": 1})),
        ("nanokvm_tap", json!({"x": 0, "y": 250})),
        ("nanokvm_move_relative", json!({"dx": -300, "dy": 20})),
        (
            "nanokvm_click",
            json!({"button": "Right", "x": 10, "y": 20, "double": true}),
        ),
        (
            "nanokvm_drag",
            json!({"from": {"x": 10, "y": 10}, "to": {"x": 900, "y": 900}}),
        ),
        ("nanokvm_scroll", json!({"amount": -3})),
        ("nanokvm_mount_iso", json!({"file": "/data/a.iso"})),
        ("nanokvm_delete_iso", json!({"file": "/data/a.iso"})),
        ("nanokvm_set_hid_mode", json!({"mode": "hid-only"})),
        ("nanokvm_wake_on_lan", json!({"mac": "aa-bb-cc-dd-ee-ff"})),
        ("nanokvm_power", json!({"action": "power_long"})),
        ("nanokvm_power_cycle", json!({"off_duration_ms": 2000})),
        ("nanokvm_send_keys", json!({"keys": "win+r"})),
        ("nanokvm_power_ensure", json!({"state": "on"})),
        ("nanokvm_wait_for_screen", json!({"until": "changed"})),
        (
            "nanokvm_download_iso",
            json!({"url": "http://mirror.example.org/x/debian.iso"}),
        ),
        ("nanokvm_upload_iso", json!({"path": "debian.iso"})),
    ];
    for info in TOOLS {
        let args = samples
            .iter()
            .find(|(t, _)| *t == info.name)
            .map_or_else(|| json!({}), |(_, a)| a.clone());
        let action = DeviceAction::parse(info.name, &args, Layout::Us)
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        assert_eq!(action.tool(), info.name);
        let canonical = action.args();
        let again = DeviceAction::parse(info.name, &canonical, Layout::Us)
            .unwrap_or_else(|e| panic!("{} canonical {canonical}: {e}", info.name));
        assert_eq!(again, action, "{}", info.name);
        assert_eq!(again.args(), canonical, "{}", info.name);
    }
    let mount = DeviceAction::parse(
        "nanokvm_mount_iso",
        &json!({"file": "/data/a.iso"}),
        Layout::Us,
    )
    .expect("parses");
    assert_eq!(
        mount.args(),
        json!({"file": "/data/a.iso", "as_cdrom": true})
    );
    let wol = DeviceAction::parse(
        "nanokvm_wake_on_lan",
        &json!({"mac": "aabb.ccdd.eeff"}),
        Layout::Us,
    )
    .expect("parses");
    assert_eq!(wol.args(), json!({"mac": "AA:BB:CC:DD:EE:FF"}));
}

#[test]
fn bad_arguments_name_the_argument() {
    let cases = [
        ("nanokvm_nope", json!({}), ""),
        ("nanokvm_info", json!([1]), ""),
        ("nanokvm_info", json!({"verbose": true}), "verbose"),
        ("nanokvm_send_text", json!({}), "text"),
        ("nanokvm_send_text", json!({"text": 5}), "text"),
        (
            "nanokvm_send_text",
            json!({"text": "a", "language": "jp"}),
            "language",
        ),
        (
            "nanokvm_type_text",
            json!({"text": "a", "layout": "klingon"}),
            "layout",
        ),
        (
            "nanokvm_type_text",
            json!({"text": "a", "delay_ms": 5000}),
            "delay_ms",
        ),
        ("nanokvm_send_key", json!({"key": "notakey"}), "key"),
        (
            "nanokvm_send_key",
            json!({"key": "a", "ctrl": "yes"}),
            "ctrl",
        ),
        ("nanokvm_move", json!({"x": 1.5, "y": 0}), "x"),
        ("nanokvm_move", json!({"x": 5}), "y"),
        ("nanokvm_move", json!({"x": -1, "y": 0}), "x"),
        ("nanokvm_click", json!({"x": 5}), "y"),
        ("nanokvm_click", json!({"button": "thumb"}), "button"),
        (
            "nanokvm_drag",
            json!({"from": {"x": 0, "y": 0, "z": 1}, "to": {"x": 1, "y": 1}}),
            "from.z",
        ),
        ("nanokvm_scroll", json!({"amount": 0}), "amount"),
        ("nanokvm_scroll", json!({"amount": 2.5}), "amount"),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/../etc/passwd"}),
            "file",
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/a.iso", "as_cdrom": 1}),
            "as_cdrom",
        ),
        (
            "nanokvm_wake_on_lan",
            json!({"mac": "zz:bb:cc:dd:ee:ff"}),
            "mac",
        ),
        ("nanokvm_power", json!({"action": "off"}), "action"),
        (
            "nanokvm_power_cycle",
            json!({"off_duration_ms": 10}),
            "off_duration_ms",
        ),
    ];
    for (tool, args, argument) in cases {
        match DeviceAction::parse(tool, &args, Layout::Us) {
            Err(Error::UnknownTool { tool: t }) => {
                assert_eq!(t, tool);
                assert_eq!(argument, "");
            }
            Err(Error::InvalidArguments {
                tool: t,
                argument: a,
                message,
            }) => {
                assert_eq!((t.as_str(), a.as_str()), (tool, argument), "{message}");
            }
            other => panic!("{tool} {args}: expected an argument error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn allowed_calls_reach_the_device_and_denied_ones_never_do() {
    let sim = sim().await;
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1",
            "default": "deny",
            "tools": {"nanokvm_send_text": {}, "nanokvm_led_status": {}}
        })))
        .build();
    let out = gate
        .call(&ctx(), "nanokvm_send_text", &json!({"text": "hello gate"}))
        .await
        .expect("allowed");
    assert_eq!(out.json["typed"], 10);
    assert_eq!(out.verdict, Verdict::Allow);
    let shown = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.screen_text().contains("hello gate")),
    )
    .await;
    assert!(shown.is_ok(), "{}", sim.screen_text());

    let leds = gate
        .call(&ctx(), "nanokvm_led_status", &json!({}))
        .await
        .expect("allowed");
    assert_eq!(leds.json["power"], true);

    let before = sim.requests().len();
    let d = denial(
        gate.call(&ctx(), "nanokvm_power", &json!({"action": "power_long"}))
            .await
            .expect_err("not in the policy"),
    );
    assert_eq!(d.rule.as_deref(), Some("(default deny)"));
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(sim.requests().len(), before, "a denied call sends nothing");
    assert_eq!(sim.power(), PowerState::On);

    // Bad arguments are refused before deciding, without a request.
    let err = gate
        .call(&ctx(), "nanokvm_send_text", &json!({"txt": "x"}))
        .await
        .expect_err("bad arguments");
    assert!(matches!(err, Error::InvalidArguments { .. }), "{err}");
    assert_eq!(sim.requests().len(), before);
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn limits_count_successes_and_give_back_device_refusals() {
    let sim = sim().await;
    std::fs::write(sim.data_dir().join("a.iso"), [0u8; 2048]).expect("seed an image");
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1",
            "default": "deny",
            "tools": {"nanokvm_mount_iso": {
                "limits": [{"counter": "mounts", "window": "minute", "max": 1, "scope": "grant"}]
            }}
        })))
        .clock(|| at("2026-03-03T10:15:20Z"))
        .build();
    // The device refuses a missing file: nothing happened, so nothing is counted.
    let err = gate
        .call(
            &ctx(),
            "nanokvm_mount_iso",
            &json!({"file": "/data/missing.iso"}),
        )
        .await
        .expect_err("the device refuses");
    assert!(matches!(err, Error::Device { .. }), "{err}");
    gate.call(&ctx(), "nanokvm_mount_iso", &json!({"file": "/data/a.iso"}))
        .await
        .expect("the slot was given back");
    assert_eq!(sim.mounted_image().as_deref(), Some("/data/a.iso"));
    let d = denial(
        gate.call(&ctx(), "nanokvm_mount_iso", &json!({"file": "/data/a.iso"}))
            .await
            .expect_err("over the limit"),
    );
    assert_eq!(d.rule.as_deref(), Some("/tools/nanokvm_mount_iso/limits/0"));
    assert_eq!(d.retry_after_s, Some(40));
    // Another principal has its own grant counter.
    gate.call(
        &CallContext::new("agent-2", "s2"),
        "nanokvm_mount_iso",
        &json!({"file": "/data/a.iso"}),
    )
    .await
    .expect("a different grant");
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_command_split_over_calls_is_stopped_at_enter() {
    let sim = sim().await;
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1",
            "default": "allow",
            "keystrokes": {"deny": ["rm\\s+-rf\\s+/"]}
        })))
        .build();
    gate.call(&ctx(), "nanokvm_type_text", &json!({"text": "rm -r"}))
        .await
        .expect("no commit yet");
    gate.call(&ctx(), "nanokvm_send_text", &json!({"text": "f /"}))
        .await
        .expect("no commit yet");
    assert_eq!(gate.engine().typed_line("nanokvm"), "rm -rf /");
    let typed = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.screen_text().contains("rm -rf /")),
    )
    .await;
    assert!(typed.is_ok(), "{}", sim.screen_text());
    let reports = sim.hid_reports().len();
    let d = denial(
        gate.call(&ctx(), "nanokvm_send_key", &json!({"key": "Return"}))
            .await
            .expect_err("the commit is refused"),
    );
    assert_eq!(d.rule.as_deref(), Some("/keystrokes/deny/0"));
    assert_eq!(
        sim.hid_reports().len(),
        reports,
        "no key reached the device"
    );
    // Clearing the line with Ctrl-U makes Enter harmless again.
    gate.call(
        &ctx(),
        "nanokvm_send_key",
        &json!({"key": "u", "ctrl": true}),
    )
    .await
    .expect("ctrl-u");
    gate.call(&ctx(), "nanokvm_send_key", &json!({"key": "enter"}))
        .await
        .expect("an empty line commits");
    sim.shutdown().await.expect("clean shutdown");
}

/// Answers every request the same way and counts them.
struct Fixed {
    answer: Option<ApprovalAnswer>,
    asked: AtomicUsize,
    last: std::sync::Mutex<Option<ApprovalRequest>>,
}

impl Fixed {
    fn new(answer: Option<ApprovalAnswer>) -> Arc<Self> {
        Arc::new(Self {
            answer,
            asked: AtomicUsize::new(0),
            last: std::sync::Mutex::new(None),
        })
    }
}

impl Approver for Fixed {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().expect("not poisoned") = Some(request.clone());
        let answer = self.answer.clone();
        Box::pin(async move {
            match answer {
                Some(a) => a,
                // Never answers: the gate's timeout decides.
                None => std::future::pending().await,
            }
        })
    }
}

fn approval_policy() -> Policy {
    policy(json!({
        "version": "1",
        "default": "deny",
        "tools": {"nanokvm_power": {
            "approve_if": [{"path": "args.action", "op": "eq", "value": "power_long"}]
        }}
    }))
}

#[tokio::test]
async fn approvals_are_asked_bound_to_the_call_and_time_out() {
    let sim = sim().await;
    let long = json!({"action": "power_long"});

    // No approver: denied, and the device is untouched.
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(approval_policy())
        .build();
    let d = denial(
        gate.call(&ctx(), "nanokvm_power", &long)
            .await
            .expect_err("no approver"),
    );
    assert_eq!(d.verdict, Verdict::ApprovalRequired);
    assert_eq!(d.rule.as_deref(), Some("/tools/nanokvm_power/approve_if/0"));
    assert!(d.message.contains("no approver"), "{}", d.message);
    assert_eq!(hits(&sim, "/api/vm/gpio"), 0);

    // An operator grants that exact call: it runs once.
    let bound = d.approval_binding.expect("a binding to grant");
    gate.grant_approval(&bound);
    gate.call(&ctx(), "nanokvm_power", &long)
        .await
        .expect("granted");
    let off = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.power() == PowerState::Off),
    )
    .await;
    assert!(off.is_ok(), "{:?}", sim.power());
    let again = denial(
        gate.call(&ctx(), "nanokvm_power", &long)
            .await
            .expect_err("used once"),
    );
    assert_eq!(again.verdict, Verdict::ApprovalRequired);
    // A grant for other arguments does not fit.
    gate.grant_approval(&nanokvm_policy::gate::binding(
        "nanokvm_power",
        &json!({"action": "reset"}),
        "nanokvm",
        &approval_policy().hash_hex(),
    ));
    denial(
        gate.call(&ctx(), "nanokvm_power", &long)
            .await
            .expect_err("bound to arguments"),
    );

    // An approver says yes: the call runs, and the approver saw the exact call.
    let yes = Fixed::new(Some(ApprovalAnswer::Approve));
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(approval_policy())
        .approver(yes.clone(), Duration::from_secs(5))
        .build();
    gate.call(&ctx(), "nanokvm_power", &long)
        .await
        .expect("approved");
    assert_eq!(yes.asked.load(Ordering::SeqCst), 1);
    let seen = yes
        .last
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("asked");
    assert_eq!(seen.args, long);
    assert_eq!(seen.principal, "agent-1");
    assert_eq!(seen.policy_hash, approval_policy().hash_hex());
    // Calls that need no approval do not ask.
    gate.call(&ctx(), "nanokvm_power", &json!({"action": "power"}))
        .await
        .expect("no approval needed");
    assert_eq!(yes.asked.load(Ordering::SeqCst), 1);

    // An approver says no, with a reason.
    let no = Fixed::new(Some(ApprovalAnswer::Deny {
        reason: Some("not now".to_owned()),
    }));
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(approval_policy())
        .approver(no, Duration::from_secs(5))
        .build();
    let d = denial(
        gate.call(&ctx(), "nanokvm_power", &long)
            .await
            .expect_err("refused"),
    );
    assert!(d.message.contains("not now"), "{}", d.message);

    // An approver that never answers: the timeout denies.
    let silent = Fixed::new(None);
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(approval_policy())
        .approver(silent, Duration::from_millis(50))
        .build();
    let d = denial(
        gate.call(&ctx(), "nanokvm_power", &long)
            .await
            .expect_err("timed out"),
    );
    assert!(d.message.contains("no answer"), "{}", d.message);
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn gateway_permits_commit_roll_back_or_count_when_abandoned() {
    let sim = sim().await;
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1",
            "default": "deny",
            "tools": {"upstream_search": {
                "limits": [{"counter": "search", "window": "hour", "max": 2, "scope": "global"}]
            }}
        })))
        .clock(|| at("2026-03-03T10:00:00Z"))
        .build();
    let args = json!({"q": "anything"});
    let permit = gate
        .check(&ctx(), "upstream_search", &args, None)
        .await
        .expect("allowed");
    permit
        .finish(Err("upstream failed".to_owned()))
        .expect("rolled back");
    let permit = gate
        .check(&ctx(), "upstream_search", &args, None)
        .await
        .expect("allowed");
    permit.finish(Ok(())).expect("committed");
    let permit = gate
        .check(&ctx(), "upstream_search", &args, None)
        .await
        .expect("allowed");
    drop(permit); // outcome unknown: it stays counted
    let d = denial(
        gate.check(&ctx(), "upstream_search", &args, None)
            .await
            .expect_err("full"),
    );
    assert_eq!(d.rule.as_deref(), Some("/tools/upstream_search/limits/0"));
    let d = denial(
        gate.check(&ctx(), "other_tool", &args, None)
            .await
            .expect_err("default deny"),
    );
    assert_eq!(d.rule.as_deref(), Some("(default deny)"));
    assert!(
        sim.requests().is_empty(),
        "gateway checks never touch the device"
    );
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_tool_list_leaves_out_hidden_tools_and_no_policy_denies() {
    let sim = sim().await;
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1", "default": "allow", "hide": ["nanokvm_reset_hid", "nanokvm_power"]
        })))
        .build();
    let names: Vec<&str> = gate.visible_tools().iter().map(|t| t.name).collect();
    assert_eq!(names.len(), TOOLS.len() - 2);
    assert!(!names.contains(&"nanokvm_power") && names.contains(&"nanokvm_info"));
    let d = denial(
        gate.call(&ctx(), "nanokvm_reset_hid", &json!({}))
            .await
            .expect_err("hidden"),
    );
    assert_eq!(d.rule.as_deref(), Some("(hidden)"));

    let bare = Gate::builder(client(&sim), MemoryStore::new()).build();
    assert!(bare.visible_tools().is_empty());
    let d = denial(
        bare.call(&ctx(), "nanokvm_info", &json!({}))
            .await
            .expect_err("no policy"),
    );
    assert_eq!(d.rule.as_deref(), Some("(no policy)"));
    sim.shutdown().await.expect("clean shutdown");
}

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the log exists")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

#[tokio::test]
async fn every_decision_and_outcome_is_audited_without_typed_text() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("audit.jsonl");
    let log = nanokvm_policy::AuditLog::open(&path, nanokvm_policy::AuditKey::from_bytes([7; 32]))
        .expect("the log opens");
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1",
            "default": "deny",
            "tools": {"nanokvm_send_text": {}, "nanokvm_mount_iso": {}}
        })))
        .audit(log)
        .build();
    gate.call(
        &ctx(),
        "nanokvm_send_text",
        &json!({"text": "hunter2 secret"}),
    )
    .await
    .expect("allowed");
    gate.call(&ctx(), "nanokvm_power", &json!({"action": "power"}))
        .await
        .expect_err("denied");
    gate.call(
        &ctx(),
        "nanokvm_mount_iso",
        &json!({"file": "/data/missing.iso"}),
    )
    .await
    .expect_err("the device refuses");

    let bytes = std::fs::read_to_string(&path).expect("readable");
    assert!(
        !bytes.contains("hunter2"),
        "typed text is stored only as a digest"
    );
    let recs = records(&path);
    let summary: Vec<(String, String, String, String)> = recs
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (s("kind"), s("tool"), s("verdict"), s("outcome"))
        })
        .collect();
    let row = |k: &str, t: &str, v: &str, o: &str| {
        (k.to_owned(), t.to_owned(), v.to_owned(), o.to_owned())
    };
    assert_eq!(
        summary,
        [
            row("decision", "nanokvm_send_text", "allow", ""),
            row("outcome", "nanokvm_send_text", "allow", "ok"),
            row("decision", "nanokvm_power", "deny", "denied"),
            row("decision", "nanokvm_mount_iso", "allow", ""),
            row("outcome", "nanokvm_mount_iso", "allow", "error"),
        ]
    );
    assert_eq!(recs[0]["args"]["text"]["chars"], 14);
    assert_eq!(recs[2]["rule"], "(default deny)");
    assert_eq!(recs[0]["principal"], "agent-1");
    assert_eq!(recs[0]["device"], "nanokvm");
    assert!(recs[4]["error"].as_str().is_some_and(|e| !e.is_empty()));
    let report = nanokvm_policy::verify_dir_chain(&path).expect("an intact chain");
    assert_eq!(report.records, 5);
    let key = nanokvm_policy::AuditKey::from_bytes([7; 32]);
    let anchored = nanokvm_policy::AuditLog::verify_with_key(&path, &key).expect("anchored");
    assert_eq!(anchored.anchored_seq, Some(5));
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn an_edited_policy_file_applies_and_a_broken_edit_keeps_the_last_good_one() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("policy.json");
    let allow = json!({"version": "1", "default": "deny", "tools": {"nanokvm_info": {}}});
    std::fs::write(&path, allow.to_string()).expect("write the policy");
    let file = nanokvm_policy::PolicyFile::open(&path).expect("a valid policy file");
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy_file(file, Duration::ZERO)
        .build();
    gate.call(&ctx(), "nanokvm_info", &json!({}))
        .await
        .expect("allowed");

    let deny = json!({"version": "1", "default": "deny", "tools": {"nanokvm_info": {"action": "deny", "reason": "maintenance"}}});
    std::fs::write(&path, deny.to_string()).expect("edit the policy");
    let d = denial(
        gate.call(&ctx(), "nanokvm_info", &json!({}))
            .await
            .expect_err("the edit applies"),
    );
    assert_eq!(d.message, "maintenance");
    assert_eq!(gate.reload_error(), None);

    std::fs::write(&path, r#"{"version": "1", "default": "maybe"}"#).expect("break the policy");
    let d = denial(
        gate.call(&ctx(), "nanokvm_info", &json!({}))
            .await
            .expect_err("still denied"),
    );
    assert_eq!(
        d.message, "maintenance",
        "the last good policy stays in force"
    );
    let why = gate.reload_error().expect("the broken edit is reported");
    assert!(why.contains("/default"), "{why}");

    std::fs::write(&path, allow.to_string()).expect("fix the policy");
    gate.call(&ctx(), "nanokvm_info", &json!({}))
        .await
        .expect("allowed again");
    assert_eq!(gate.reload_error(), None);
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn shadow_mode_runs_what_it_would_deny_and_says_so() {
    let sim = sim().await;
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(
            json!({"version": "1", "default": "deny", "mode": "shadow"}),
        ))
        .build();
    let out = gate
        .call(&ctx(), "nanokvm_led_status", &json!({}))
        .await
        .expect("shadow mode never blocks");
    assert_eq!(out.verdict, Verdict::ShadowDeny);
    assert_eq!(hits(&sim, "/api/vm/gpio"), 1);
    sim.shutdown().await.expect("clean shutdown");
}

/// A log that cannot be written stops every call before it reaches the device. The
/// log's head anchor cannot be replaced (a directory sits where its temporary file goes),
/// so every append fails after open.
#[tokio::test]
async fn nothing_runs_when_the_audit_log_cannot_be_written() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("audit.jsonl");
    let log = nanokvm_policy::AuditLog::open(&path, nanokvm_policy::AuditKey::from_bytes([1; 32]))
        .expect("the log opens");
    std::fs::create_dir(dir.path().join("audit.jsonl.head.tmp")).expect("block the head");
    let gate = Gate::builder(client(&sim), MemoryStore::new())
        .policy(policy(json!({
            "version": "1", "default": "allow",
            "all_tools": {"limits": [{"counter": "c", "window": "day", "max": 1, "scope": "global"}]}
        })))
        .audit(log)
        .build();
    let before = sim.requests().len();
    let err = gate
        .call(&ctx(), "nanokvm_power", &json!({"action": "power_long"}))
        .await
        .expect_err("unaudited calls do not run");
    assert!(matches!(err, Error::Audit { .. }), "{err}");
    assert_eq!(sim.requests().len(), before);
    assert_eq!(sim.power(), PowerState::On);
    // The refused call gave its reservation back.
    let key = nanokvm_policy::CounterKey {
        counter: "c".to_owned(),
        window: nanokvm_policy::Window::Fixed(86_400),
        scope: nanokvm_policy::Scope::Global,
        scope_key: String::new(),
    };
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    use nanokvm_policy::CounterStore as _;
    assert_eq!(gate.engine().store().usage(&key, now).expect("usage"), 0);
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_gate_without_a_device_decides_upstream_calls_and_runs_no_device_tool() {
    let gate = Gate::without_device(MemoryStore::new())
        .device("upstream")
        .policy(policy(json!({
            "version": "1", "default": "deny",
            "tools": {
                "MountIso": {"limits": [{"counter": "m", "window": "minute", "max": 1, "scope": "grant"}]},
                "nanokvm_info": {},
                "nanokvm_policy_explain": {}
            }
        })))
        .build();
    let args = json!({"path": "/data/a.iso"});
    gate.check(&ctx(), "MountIso", &args, None)
        .await
        .expect("allowed")
        .finish(Ok(()))
        .expect("committed");
    let d = denial(
        gate.check(&ctx(), "MountIso", &args, None)
            .await
            .expect_err("the limit is reached"),
    );
    assert_eq!(d.rule.as_deref(), Some("/tools/MountIso/limits/0"));
    // A failure that may have acted stays counted; one that certainly did not is given
    // back.
    let other = CallContext::new("other", "s");
    gate.check(&other, "MountIso", &args, None)
        .await
        .expect("allowed")
        .finish_uncertain("the upstream went away")
        .expect("counted");
    assert!(gate.check(&other, "MountIso", &args, None).await.is_err());
    let third = CallContext::new("third", "s");
    gate.check(&third, "MountIso", &args, None)
        .await
        .expect("allowed")
        .finish(Err("refused before it ran".to_owned()))
        .expect("rolled back");
    assert!(gate.check(&third, "MountIso", &args, None).await.is_ok());
    // A device tool is refused before anything is decided: nothing to run it on.
    let err = gate
        .call(&ctx(), "nanokvm_info", &json!({}))
        .await
        .expect_err("no device");
    assert!(
        matches!(&err, Error::NoDevice { tool } if tool == "nanokvm_info"),
        "{err}"
    );
    // Explaining the policy needs no device.
    let out = gate
        .call(&ctx(), "nanokvm_policy_explain", &json!({}))
        .await
        .expect("explained");
    assert_eq!(out.json["device"], "upstream");
}
