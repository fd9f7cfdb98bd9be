//! Tools over MCP: the list the client sees, every tool's effect on the simulated
//! machine, denials, approvals by elicitation, and bad input.

use std::time::Duration;

use nanokvm_policy::catalogue::TOOLS;
use nanokvm_sim::PowerState;
use rmcp::model::ElicitationAction;
use serde_json::{Value, json};

use crate::support::{Rig, TestClient, allow_all, text};

#[tokio::test]
async fn the_tool_list_is_the_catalogue_minus_what_the_policy_hides() {
    let rig = Rig::start(None, TestClient::plain()).await;
    let tools = rig.client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let expected: Vec<&str> = TOOLS
        .iter()
        .map(|t| t.name)
        .filter(|n| *n != "nanokvm_reset_hid")
        .collect();
    assert_eq!(
        names, expected,
        "the recommended policy hides nanokvm_reset_hid"
    );
    for tool in &tools {
        let info = TOOLS
            .iter()
            .find(|t| t.name == tool.name)
            .expect("in the catalogue");
        assert_eq!(tool.title.as_deref(), Some(info.title));
        assert_eq!(tool.description.as_deref(), Some(info.description));
        assert_eq!(
            Value::Object((*tool.input_schema).clone()),
            info.input_schema()
        );
        let a = tool.annotations.as_ref().expect("annotations");
        assert_eq!(
            a.read_only_hint,
            Some(info.hints.read_only),
            "{}",
            info.name
        );
        assert_eq!(
            a.destructive_hint,
            Some(info.hints.destructive),
            "{}",
            info.name
        );
        assert_eq!(
            a.idempotent_hint,
            Some(info.hints.idempotent),
            "{}",
            info.name
        );
        assert_eq!(
            a.open_world_hint,
            Some(info.hints.open_world),
            "{}",
            info.name
        );
    }
    // A hidden tool does not exist for the caller.
    assert!(rig.try_call("nanokvm_reset_hid", json!({})).await.is_err());
}

async fn wait_for(
    rig: &Rig,
    what: &str,
    mut condition: impl FnMut(&nanokvm_sim::MachineState) -> bool,
) {
    let shown =
        tokio::time::timeout(Duration::from_secs(5), rig.sim.wait_for(&mut condition)).await;
    let m = rig.sim.machine();
    assert!(
        shown.is_ok(),
        "{what}: pointer {:?}, clicks {:?}, screen:\n{}",
        m.pointer(),
        m.clicks(),
        m.screen_text()
    );
}

#[tokio::test]
async fn every_tool_acts_on_the_simulated_machine() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let ok = |r: &rmcp::model::CallToolResult, tool: &str| {
        assert_ne!(r.is_error, Some(true), "{tool}: {}", text(r));
    };

    for tool in [
        "nanokvm_info",
        "nanokvm_hardware",
        "nanokvm_led_status",
        "nanokvm_hdmi_status",
        "nanokvm_list_images",
        "nanokvm_mounted_image",
        "nanokvm_keyboard_leds",
        "nanokvm_hdmi_reset",
        "nanokvm_hdmi_disable",
        "nanokvm_hdmi_enable",
        "nanokvm_reset_hid",
    ] {
        let r = rig.call(tool, json!({})).await;
        ok(&r, tool);
        assert!(r.structured_content.is_some(), "{tool}");
    }
    let leds = rig.call("nanokvm_led_status", json!({})).await;
    assert_eq!(leds.structured_content.expect("json")["power"], true);

    let r = rig
        .call("nanokvm_send_text", json!({"text": "echo pasted\n"}))
        .await;
    ok(&r, "nanokvm_send_text");
    wait_for(&rig, "pasted text", |m| {
        m.screen_text().contains("echo pasted")
    })
    .await;
    let r = rig
        .call(
            "nanokvm_type_text",
            json!({"text": "typed here", "delay_ms": 0}),
        )
        .await;
    ok(&r, "nanokvm_type_text");
    wait_for(&rig, "typed text", |m| m.input_line() == "typed here").await;
    let r = rig.call("nanokvm_send_key", json!({"key": "ctrl+u"})).await;
    ok(&r, "nanokvm_send_key");
    wait_for(&rig, "ctrl+u", |m| m.input_line().is_empty()).await;

    // A screenshot scaled to a quarter of the screen: pixels of later calls are read in
    // the frame the agent saw.
    let (w, h) = {
        let shot = rig.sim.screenshot();
        (shot.width(), shot.height())
    };
    let shot = rig
        .call(
            "nanokvm_screenshot",
            json!({"max_width": w / 4, "max_height": h / 4, "quality": 60}),
        )
        .await;
    ok(&shot, "nanokvm_screenshot");
    let meta = shot.structured_content.clone().expect("metadata");
    assert_eq!(meta["width"].as_u64(), Some(u64::from(w / 4)));
    assert_eq!(meta["height"].as_u64(), Some(u64::from(h / 4)));
    assert_eq!(meta["source_width"].as_u64(), Some(u64::from(w)));
    assert_eq!(meta["scale"].as_f64(), Some(0.25));
    let image = shot
        .content
        .iter()
        .find_map(|c| c.as_image().cloned())
        .expect("image content");
    assert_eq!(image.mime_type, "image/jpeg");
    use base64::Engine as _;
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(&image.data)
        .expect("base64");
    let mut decoder = jpeg_decoder::Decoder::new(jpeg.as_slice());
    decoder.read_info().expect("a JPEG");
    let info = decoder.info().expect("a frame header");
    assert_eq!(
        (u32::from(info.width), u32::from(info.height)),
        (w / 4, h / 4)
    );

    // A quarter of the way across the small image is a quarter of the way across the
    // screen.
    let r = rig
        .call("nanokvm_move", json!({"x": w / 16, "y": h / 8}))
        .await;
    ok(&r, "nanokvm_move");
    wait_for(&rig, "pointer", |m| {
        let (x, y) = m.pointer();
        x.abs_diff(w / 4) <= 4 && y.abs_diff(h / 2) <= 4
    })
    .await;
    let r = rig
        .call("nanokvm_move_relative", json!({"dx": 10, "dy": 0}))
        .await;
    ok(&r, "nanokvm_move_relative");
    wait_for(&rig, "relative move", |m| m.pointer().0 > w / 4 + 5).await;
    let r = rig
        .call(
            "nanokvm_click",
            json!({"button": "right", "x": w / 8, "y": h / 8}),
        )
        .await;
    ok(&r, "nanokvm_click");
    wait_for(&rig, "right click at the centre", |m| {
        m.clicks()
            .last()
            .is_some_and(|c| c.x.abs_diff(w / 2) <= 4 && c.y.abs_diff(h / 2) <= 4)
    })
    .await;
    // Off the screen the agent saw: refused, naming the coordinate.
    let r = rig.call("nanokvm_tap", json!({"x": w / 4, "y": 0})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("argument `x`"), "{}", text(&r));
    for (tool, args) in [
        ("nanokvm_tap", json!({"x": 10, "y": 10})),
        (
            "nanokvm_drag",
            json!({"from": {"x": 10, "y": 10}, "to": {"x": 20, "y": 20}}),
        ),
        ("nanokvm_scroll", json!({"amount": -3})),
    ] {
        let r = rig.call(tool, args).await;
        ok(&r, tool);
    }

    std::fs::write(rig.sim.data_dir().join("t.iso"), [0u8; 4096]).expect("seed an image");
    let r = rig
        .call("nanokvm_mount_iso", json!({"file": "/data/t.iso"}))
        .await;
    ok(&r, "nanokvm_mount_iso");
    assert_eq!(rig.sim.mounted_image().as_deref(), Some("/data/t.iso"));
    let r = rig.call("nanokvm_unmount_iso", json!({})).await;
    ok(&r, "nanokvm_unmount_iso");
    assert_eq!(rig.sim.mounted_image(), None);
    let r = rig
        .call("nanokvm_delete_iso", json!({"file": "/data/t.iso"}))
        .await;
    ok(&r, "nanokvm_delete_iso");
    assert!(!rig.sim.data_dir().join("t.iso").exists());

    let r = rig
        .call("nanokvm_wake_on_lan", json!({"mac": "aa-bb-cc-dd-ee-ff"}))
        .await;
    ok(&r, "nanokvm_wake_on_lan");
    assert_eq!(rig.sim.wol_packets().len(), 1);

    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    ok(&r, "nanokvm_power");
    wait_for(&rig, "forced off", |m| m.power() == PowerState::Off).await;
    let r = rig
        .call("nanokvm_power_cycle", json!({"off_duration_ms": 500}))
        .await;
    ok(&r, "nanokvm_power_cycle");
    assert_ne!(rig.sim.power(), PowerState::Off);
}

#[tokio::test]
async fn a_denied_call_is_a_tool_error_and_sends_nothing() {
    let rig = Rig::start(None, TestClient::plain()).await;
    let before = rig.sim.hid_reports().len();
    let r = rig
        .call("nanokvm_send_text", json!({"text": "rm -rf /\n"}))
        .await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.starts_with("[POLICY DENIED]"), "{t}");
    assert!(t.contains("/keystrokes/deny/0"), "{t}");
    let denial = r.structured_content.expect("the denial as JSON");
    assert_eq!(denial["verdict"], "deny");
    assert_eq!(rig.sim.hid_reports().len(), before, "nothing was typed");
}

#[tokio::test]
async fn limits_answer_with_retry_after() {
    let policy = json!({
        "version": "1",
        "default": "allow",
        "tools": {"nanokvm_info": {"limits": [
            {"counter": "info", "window": "hour", "max": 2, "scope": "grant"}
        ]}}
    });
    let rig = Rig::start(Some(policy), TestClient::plain()).await;
    for _ in 0..2 {
        let r = rig.call("nanokvm_info", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
    }
    let r = rig.call("nanokvm_info", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("retry after"), "{}", text(&r));
    let retry = r.structured_content.expect("json")["retry_after_s"].as_u64();
    assert!(retry.is_some_and(|s| s > 0 && s <= 3600), "{retry:?}");
}

#[tokio::test]
async fn approval_is_asked_of_the_human_behind_the_client() {
    // No elicitation: denied, with the binding an operator could grant.
    let rig = Rig::start(None, TestClient::plain()).await;
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_eq!(r.is_error, Some(true));
    let denial = r.structured_content.expect("json");
    assert_eq!(denial["verdict"], "approval_required");
    assert!(denial["approval_binding"].is_string());
    assert_eq!(rig.sim.power(), PowerState::On);

    // Declined: denied, nothing pressed.
    let client = TestClient::answering(ElicitationAction::Decline, None);
    let rig = Rig::start(None, client).await;
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("declined"), "{}", text(&r));
    assert_eq!(rig.handler.asked(), 1);
    assert_eq!(rig.sim.power(), PowerState::On);

    // Accepted without ticking the box: still denied.
    let client = TestClient::answering(ElicitationAction::Accept, Some(json!({"approve": false})));
    let rig = Rig::start(None, client).await;
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(rig.sim.power(), PowerState::On);

    // Approved: it runs.
    let client = TestClient::answering(ElicitationAction::Accept, Some(json!({"approve": true})));
    let rig = Rig::start(None, client).await;
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(rig.handler.asked(), 1);
    let off = tokio::time::timeout(
        Duration::from_secs(15),
        rig.sim.wait_for(|m| m.power() == PowerState::Off),
    )
    .await;
    assert!(off.is_ok(), "the machine was forced off");
}

#[tokio::test]
async fn typed_text_is_masked_in_the_approval_request() {
    let policy = json!({
        "version": "1",
        "default": "allow",
        "tools": {"nanokvm_type_text": {"action": "require_approval"}}
    });
    let client = TestClient::answering(ElicitationAction::Accept, Some(json!({"approve": true})));
    let rig = Rig::start(Some(policy), client).await;
    // The client asserts that `hunter2` is not in the message it is shown.
    let r = rig
        .call("nanokvm_type_text", json!({"text": "hunter2"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(rig.handler.asked(), 1);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_server_keeps_serving() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let err = rig
        .try_call("nanokvm_nope", json!({}))
        .await
        .expect_err("unknown tool");
    assert!(err.to_string().contains("unknown tool"), "{err}");
    let cases = [
        ("nanokvm_move", json!({"x": 0.5, "y": 0}), "argument `x`"),
        ("nanokvm_move", json!({"x": 5000, "y": 0}), "argument `x`"),
        ("nanokvm_send_text", json!({"txt": "a"}), "argument `txt`"),
        (
            "nanokvm_type_text",
            json!({"text": "中"}),
            "argument `text`",
        ),
        (
            "nanokvm_info",
            json!({"device": "other"}),
            "no device `other`",
        ),
        (
            "nanokvm_power",
            json!({"action": "off"}),
            "argument `action`",
        ),
    ];
    for (tool, args, needle) in cases {
        let r = rig.call(tool, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{tool} {args}");
        assert!(text(&r).contains(needle), "{tool} {args}: {}", text(&r));
    }
    let r = rig.call("nanokvm_info", json!({})).await;
    assert_ne!(r.is_error, Some(true));
}

#[tokio::test]
async fn a_device_that_fails_is_a_tool_error_naming_the_cause() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    rig.sim.set_hid_busy(true);
    let r = rig.call("nanokvm_send_text", json!({"text": "x"})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("`nanokvm_send_text` failed on the device"),
        "{t}"
    );
    assert!(t.contains("busy"), "{t}");
}

#[tokio::test]
async fn a_policy_edit_that_hides_a_tool_is_announced() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let before = rig.client.list_all_tools().await.expect("tools/list");
    assert!(before.iter().any(|t| t.name == "nanokvm_power"));
    let mut hidden = allow_all();
    hidden["hide"] = json!(["nanokvm_power"]);
    std::fs::write(rig.state.path().join("policy.json"), hidden.to_string())
        .expect("edit the policy");
    let announced =
        tokio::time::timeout(Duration::from_secs(20), rig.handler.list_changed.notified()).await;
    assert!(announced.is_ok(), "notifications/tools/list_changed");
    let after = rig.client.list_all_tools().await.expect("tools/list");
    assert!(!after.iter().any(|t| t.name == "nanokvm_power"));
    assert_eq!(after.len() + 1, before.len());
    // A broken edit keeps the last good policy, and the tools with it.
    std::fs::write(rig.state.path().join("policy.json"), "{ broken").expect("break it");
    let r = rig.call("nanokvm_info", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
}

#[tokio::test]
async fn send_keys_power_ensure_and_wait_for_screen() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let r = rig
        .call("nanokvm_type_text", json!({"text": "abc def"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    wait_for(&rig, "typed", |m| m.input_line() == "abc def").await;
    let r = rig
        .call("nanokvm_send_keys", json!({"keys": "ctrl+w ctrl+a"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    wait_for(&rig, "ctrl+w ctrl+a", |m| {
        m.input_line() == "abc " && m.cursor() == 0
    })
    .await;
    let r = rig
        .call("nanokvm_send_keys", json!({"keys": "ctrl+nope"}))
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("argument `keys`"), "{}", text(&r));

    // Already on: nothing pressed.
    let r = rig
        .call("nanokvm_power_ensure", json!({"state": "on"}))
        .await;
    let out = r.structured_content.expect("json");
    assert_eq!(
        (out["pressed"].as_bool(), out["reached"].as_bool()),
        (Some(false), Some(true))
    );
    // Off: one short press, a clean shutdown, confirmed by the LED.
    let r = rig
        .call(
            "nanokvm_power_ensure",
            json!({"state": "off", "timeout_ms": 20000}),
        )
        .await;
    let out = r.structured_content.expect("json");
    assert_eq!(
        (out["pressed"].as_bool(), out["reached"].as_bool()),
        (Some(true), Some(true)),
        "{out}"
    );
    assert_eq!(rig.sim.power(), PowerState::Off);

    let r = rig
        .call("nanokvm_power_ensure", json!({"state": "on"}))
        .await;
    assert_eq!(r.structured_content.expect("json")["reached"], true);
    wait_for(&rig, "booted", |m| m.power() == PowerState::On).await;

    // The screen changes while the agent waits: keep typing, one key per published
    // frame, until the wait returns.
    let waiting = rig.call(
        "nanokvm_wait_for_screen",
        json!({"until": "changed", "timeout_ms": 20000}),
    );
    let typing = async {
        for _ in 0..300 {
            let frames = rig.sim.video_stats().frames;
            rig.sim
                .wait_for_video(|s| s.clients > 0 && s.frames > frames + 1)
                .await;
            let r = rig.call("nanokvm_send_keys", json!({"keys": "x"})).await;
            assert_ne!(r.is_error, Some(true), "{}", text(&r));
        }
    };
    let waited = tokio::select! {
        waited = waiting => waited,
        () = typing => panic!("300 keys typed and the wait did not return"),
    };
    let out = waited.structured_content.clone().expect("json");
    assert_eq!(out["reached"], true, "{out}");
    assert!(waited.content.iter().any(|c| c.as_image().is_some()));
    // And then it settles.
    let r = rig
        .call(
            "nanokvm_wait_for_screen",
            json!({"until": "stable", "stable_ms": 300, "timeout_ms": 20000}),
        )
        .await;
    assert_eq!(r.structured_content.expect("json")["reached"], true);
}

#[tokio::test]
async fn several_devices_from_a_config_file() {
    use nanokvm_mcp::server::NanoKvmServer;
    use nanokvm_mcp::setup::{DeviceArgs, setup};
    use nanokvm_sim::{Simulator, TimeScale};
    use rmcp::ServiceExt as _;

    let start = || async {
        Simulator::builder()
            .time_scale(TimeScale::new(0.05))
            .start()
            .await
            .expect("a simulator")
    };
    let (lab, desk) = (start().await, start().await);
    let state = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(state.path().join("secret"), "admin\n").expect("password file");
    std::fs::write(state.path().join("open.json"), allow_all().to_string()).expect("policy");
    let config = state.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[devices.lab]\nurl = \"{}\"\npassword_file = \"secret\"\npolicy = \"open.json\"\n\n\
             [devices.desk]\nurl = \"{}\"\npassword_file = \"secret\"\nlayout = \"de\"\n",
            lab.url(),
            desk.url()
        ),
    )
    .expect("config");
    let device = DeviceArgs {
        sim: false,
        config: Some(config),
        ..crate::support::sim_device()
    };
    let policy = crate::support::state_args(state.path(), None);
    let setup = setup(&device, &policy).await.expect("setup");
    let server = NanoKvmServer::new(setup.devices, "agent", "s");
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(theirs).await {
            let _ = running.waiting().await;
        }
    });
    let client = TestClient::plain().serve(ours).await.expect("connects");
    let tools = client.list_all_tools().await.expect("tools/list");
    let power = tools
        .iter()
        .find(|t| t.name == "nanokvm_power")
        .expect("listed");
    assert_eq!(
        power.input_schema["properties"]["device"]["enum"],
        json!(["lab", "desk"])
    );
    let call = |tool: &str, args: Value| {
        let Value::Object(args) = args else {
            unreachable!()
        };
        client.call_tool(
            rmcp::model::CallToolRequestParams::new(tool.to_owned()).with_arguments(args),
        )
    };
    // The default is the first device, under its own policy (allow all).
    let r = call("nanokvm_power", json!({"action": "power_long"}))
        .await
        .expect("result");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    // The second runs the recommended policy: a forced power-off needs approval.
    let r = call(
        "nanokvm_power",
        json!({"action": "power_long", "device": "desk"}),
    )
    .await
    .expect("result");
    assert_eq!(r.is_error, Some(true));
    let off = tokio::time::timeout(
        Duration::from_secs(10),
        lab.wait_for(|m| m.power() == PowerState::Off),
    )
    .await;
    assert!(off.is_ok(), "lab was forced off");
    assert_eq!(desk.power(), PowerState::On);
    assert!(state.path().join("audit-lab.jsonl").exists());
    assert!(state.path().join("audit-desk.jsonl").exists());
}

#[tokio::test]
async fn an_operator_approves_from_another_terminal_while_the_call_waits() {
    let rig = Rig::start(None, TestClient::plain()).await;
    let queue =
        nanokvm_policy::gate::ApprovalQueue::open(rig.state.path().join("approvals.sqlite"))
            .expect("the server's queue");
    let call = rig.call("nanokvm_power", json!({"action": "power_long"}));
    let operator = async {
        loop {
            let pending = queue.pending().expect("list");
            if let Some(p) = pending.first() {
                assert_eq!(
                    (p.tool.as_str(), p.principal.as_str()),
                    ("nanokvm_power", "agent")
                );
                queue.answer(&p.id, true, None).expect("approve");
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(call, operator)
    })
    .await
    .expect("the operator saw the request and the call ended");
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let off = tokio::time::timeout(
        Duration::from_secs(10),
        rig.sim.wait_for(|m| m.power() == PowerState::Off),
    )
    .await;
    assert!(off.is_ok(), "approved, so the machine was forced off");

    // Nobody answers in time: denied, and the text says how to approve it after all.
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("nanokvm-mcp approvals"), "{}", text(&r));
    // Approving the expired request lets the identical call run once.
    let late = queue.pending().expect("list");
    assert_eq!(late.len(), 1);
    queue.answer(&late[0].id, true, None).expect("approve late");
    let r = rig
        .call("nanokvm_power", json!({"action": "power_long"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
}

#[tokio::test]
async fn a_cancelled_call_stops_typing_and_releases_every_key() {
    use rmcp::model::{CallToolRequest, ClientRequest};
    use rmcp::service::PeerRequestOptions;

    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let long = "abcdefghij".repeat(40);
    let args = json!({"text": long, "delay_ms": 25});
    let Value::Object(args) = args else {
        unreachable!()
    };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        rmcp::model::CallToolRequestParams::new("nanokvm_type_text").with_arguments(args),
    ));
    let handle = rig
        .client
        .peer()
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("sent");
    wait_for(&rig, "typing to start", |m| m.input_line().len() >= 5).await;
    handle
        .cancel(Some("the test changed its mind".into()))
        .await
        .expect("cancelled");
    // Typing stops, with nothing held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let typed = rig.sim.machine().input_line().len();
    assert!(typed < long.len(), "typing went on to the end");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rig.sim.machine().input_line().len(),
        typed,
        "typing went on"
    );
    assert_eq!(
        rig.sim.machine().keys_held(),
        nanokvm_hid::KeyboardReport::RELEASE
    );
    // The device is free for the next call.
    let r = rig.call("nanokvm_send_key", json!({"key": "ctrl+u"})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    wait_for(&rig, "ctrl+u", |m| m.input_line().is_empty()).await;
}

#[tokio::test]
async fn a_pixel_of_a_cropped_screenshot_is_where_the_agent_saw_it() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let (w, h) = {
        let shot = rig.sim.screenshot();
        (shot.width(), shot.height())
    };
    // The agent sees the screen at half size, then crops the lower right quarter of
    // what it saw.
    let half = rig
        .call(
            "nanokvm_screenshot",
            json!({"max_width": w / 2, "max_height": h / 2}),
        )
        .await;
    assert_ne!(half.is_error, Some(true), "{}", text(&half));
    let crop = json!({"x": w / 4, "y": h / 4, "width": w / 4, "height": h / 4});
    let r = rig.call("nanokvm_screenshot", json!({"crop": crop})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let meta = r.structured_content.expect("metadata");
    assert_eq!(
        meta["region"],
        json!({"x": w / 2, "y": h / 2, "width": w / 2, "height": h / 2})
    );
    assert_eq!(
        (meta["width"].as_u64(), meta["height"].as_u64()),
        (Some(u64::from(w / 2)), Some(u64::from(h / 2)))
    );
    // The centre of the cropped image is three quarters across the screen.
    let r = rig
        .call("nanokvm_move", json!({"x": w / 4, "y": h / 4}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    wait_for(&rig, "pointer", |m| {
        let (x, y) = m.pointer();
        x.abs_diff(w * 3 / 4) <= 4 && y.abs_diff(h * 3 / 4) <= 4
    })
    .await;
    // Pixels beyond the cropped image are refused, naming its size.
    let r = rig.call("nanokvm_move", json!({"x": w / 2, "y": 0})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("off the screen"), "{}", text(&r));
    // Crops compose, and one past the edge of the screen is cut at the edge: 10 pixels
    // left of the cropped image's right edge is 10 pixels left of the screen's.
    let r = rig
        .call(
            "nanokvm_screenshot",
            json!({"crop": {"x": w / 2 - 10, "y": 0, "width": 100, "height": 100}}),
        )
        .await;
    let meta = r.structured_content.expect("metadata");
    assert_eq!(
        meta["region"],
        json!({"x": w - 10, "y": h / 2, "width": 10, "height": 100})
    );
}
