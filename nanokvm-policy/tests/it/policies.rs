//! The shipped policies: the seed documents, the recommended NanoKVM policy and the
//! read-only policy, each with its decisions pinned.

use nanokvm_policy::{Call, Engine, MemoryStore, Policy, Verdict};
use serde_json::{Value, json};

use crate::support::{at, run, summary};

fn load(name: &str) -> Engine {
    let path = format!("{}/policies/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let policy = Policy::from_json(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    Engine::with_policy(policy, MemoryStore::new())
}

/// Every seed policy lets its one tool run `max` times per UTC minute per grant, denies
/// the next call until the minute ends, and denies every other tool.
#[test]
fn seed_policies_behave_as_their_documents_say() {
    let seeds = [
        ("seed/nanokvm_unmount_iso.json", "nanokvm_unmount_iso", 30),
        ("seed/nanokvm_mount_iso.json", "nanokvm_mount_iso", 10),
        ("seed/mountiso.json", "MountIso", 30),
        ("seed/nanokvm_tap.json", "nanokvm_tap", 10),
        ("seed/nanokvm_send_text.json", "nanokvm_send_text", 10),
    ];
    let args = json!({});
    for (file, tool, max) in seeds {
        let e = load(file);
        let start = at("2026-03-03T10:00:00Z");
        for i in 0..max {
            let now = at(&format!("2026-03-03T10:00:{:02}Z", i * 59 / max));
            assert_eq!(
                run(&e, tool, &args, now).verdict,
                Verdict::Allow,
                "{file} call {i}"
            );
        }
        let d = run(&e, tool, &args, at("2026-03-03T10:00:59Z"));
        assert_eq!(
            summary(&d),
            (
                Verdict::Deny,
                Some(format!("/tools/{tool}/limits/0").as_str())
            ),
            "{file}"
        );
        assert_eq!(d.retry_after_s, Some(1));
        // Per grant: another credential has its own counter.
        let other = e.decide(&Call::new(tool, &args).principal("other"), start);
        assert_eq!(other.verdict, Verdict::Allow, "{file}");
        // The next UTC minute starts afresh.
        assert_eq!(
            run(&e, tool, &args, at("2026-03-03T10:01:00Z")).verdict,
            Verdict::Allow
        );
        // Everything else on the server is denied.
        for unnamed in [
            "nanokvm_power",
            "nanokvm_info",
            "mountiso",
            "nanokvm_mount_iso_x",
        ] {
            let d = run(&e, unnamed, &args, start);
            assert_eq!(
                summary(&d),
                (Verdict::Deny, Some("(default deny)")),
                "{file} {unnamed}"
            );
        }
    }
}

#[test]
fn recommended_policy_decisions() {
    let e = load("nanokvm-recommended.json");
    let now = at("2026-03-03T10:00:00Z");
    let cases: Vec<(&str, Value, Verdict, Option<&str>)> = vec![
        ("nanokvm_info", json!({}), Verdict::Allow, None),
        (
            "nanokvm_screenshot",
            json!({"max_width": 800}),
            Verdict::Allow,
            None,
        ),
        ("nanokvm_led_status", json!({}), Verdict::Allow, None),
        ("nanokvm_list_images", json!({}), Verdict::Allow, None),
        (
            "nanokvm_reset_hid",
            json!({}),
            Verdict::Deny,
            Some("(hidden)"),
        ),
        (
            "nanokvm_delete_iso",
            json!({"file": "/data/a.iso"}),
            Verdict::Deny,
            Some("(default deny)"),
        ),
        (
            "nanokvm_power",
            json!({"action": "power"}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_power",
            json!({"action": "power_long"}),
            Verdict::ApprovalRequired,
            Some("/tools/nanokvm_power/approve_if/0"),
        ),
        (
            "nanokvm_power",
            json!({"action": "explode"}),
            Verdict::Deny,
            Some("/tools/nanokvm_power/require/0"),
        ),
        (
            "nanokvm_power_cycle",
            json!({}),
            Verdict::ApprovalRequired,
            Some("/tools/nanokvm_power_cycle/action"),
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/debian.iso"}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/debian.iso", "as_cdrom": true}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/disk.img", "as_cdrom": false}),
            Verdict::ApprovalRequired,
            Some("/tools/nanokvm_mount_iso/approve_if/0"),
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/disk.img", "cdrom": false}),
            Verdict::ApprovalRequired,
            Some("/tools/nanokvm_mount_iso/approve_if/1"),
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/etc/shadow"}),
            Verdict::Deny,
            Some("/tools/nanokvm_mount_iso/require/0"),
        ),
        (
            "nanokvm_mount_iso",
            json!({"file": "/data/..iso"}),
            Verdict::Deny,
            Some("/tools/nanokvm_mount_iso/require/1"),
        ),
        ("nanokvm_unmount_iso", json!({}), Verdict::Allow, None),
        (
            "nanokvm_send_text",
            json!({"text": "ls -la\n"}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_send_text",
            json!({"text": "x".repeat(1025)}),
            Verdict::Deny,
            Some("/tools/nanokvm_send_text/require/0"),
        ),
        (
            "nanokvm_send_text",
            json!({"text": "sudo rm -rf / --no-preserve-root"}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_send_key",
            json!({"key": "enter"}),
            Verdict::Deny,
            Some("/keystrokes/deny/0"),
        ),
        (
            "nanokvm_send_key",
            json!({"key": "u", "ctrl": true}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_send_text",
            json!({"text": "mkfs.ext4 /dev/sda1\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/2"),
        ),
        (
            "nanokvm_send_text",
            json!({"text": "dd if=/dev/zero of=/dev/sda bs=1M\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/3"),
        ),
        (
            "nanokvm_send_text",
            json!({"text": "FORMAT C: /q\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/4"),
        ),
        (
            "nanokvm_send_text",
            json!({"text": ":(){ :|:& };:\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/5"),
        ),
        (
            "nanokvm_send_text",
            json!({"text": "cat x > /dev/sda\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/6"),
        ),
        (
            "nanokvm_send_key",
            json!({"key": "c", "ctrl": true}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_send_text",
            json!({"text": "rm -rf /tmp/build\n"}),
            Verdict::Allow,
            None,
        ),
        (
            "nanokvm_send_text",
            json!({"text": "rm -fr /*\n"}),
            Verdict::Deny,
            Some("/keystrokes/deny/0"),
        ),
        (
            "nanokvm_send_key",
            json!({"key": "u", "ctrl": true}),
            Verdict::Allow,
            None,
        ),
        ("nanokvm_tap", json!({"x": 1, "y": 2}), Verdict::Allow, None),
    ];
    for (tool, args, verdict, rule) in cases {
        let d = run(&e, tool, &args, now);
        assert_eq!(summary(&d), (verdict, rule), "{tool} {args}: {}", d.message);
    }
}

#[test]
fn recommended_policy_limits() {
    let e = load("nanokvm-recommended.json");
    let power = json!({"action": "reset"});
    // Power and power cycles share four presses an hour per device.
    for minute in 0..3 {
        let now = at(&format!("2026-03-03T10:{minute:02}:00Z"));
        assert_eq!(
            run(&e, "nanokvm_power", &power, now).verdict,
            Verdict::Allow
        );
    }
    let cycle = json!({});
    let approved = Call::new("nanokvm_power_cycle", &cycle)
        .device("d")
        .principal("p")
        .approved(true);
    let mut d = e.decide(&approved, at("2026-03-03T10:10:00Z"));
    assert_eq!(d.verdict, Verdict::Allow);
    if let Some(r) = d.reservation.take() {
        assert!(e.commit(r).is_ok());
    }
    let d = run(&e, "nanokvm_power", &power, at("2026-03-03T10:20:00Z"));
    assert_eq!(
        summary(&d),
        (Verdict::Deny, Some("/tools/nanokvm_power/limits/0"))
    );
    assert_eq!(d.retry_after_s, Some(40 * 60));
    // Image downloads and uploads share four an hour per device; the policy can be
    // asked about freely.
    let e = load("nanokvm-recommended.json");
    let download = json!({"url": "https://releases.example.org/debian.iso"});
    let upload = json!({"path": "debian.iso"});
    for (minute, (tool, args)) in [
        ("nanokvm_download_iso", &download),
        ("nanokvm_upload_iso", &upload),
        ("nanokvm_download_iso", &download),
        ("nanokvm_upload_iso", &upload),
    ]
    .into_iter()
    .enumerate()
    {
        let now = at(&format!("2026-03-03T10:{minute:02}:00Z"));
        assert_eq!(run(&e, tool, args, now).verdict, Verdict::Allow, "{tool}");
    }
    let d = run(
        &e,
        "nanokvm_upload_iso",
        &upload,
        at("2026-03-03T10:30:00Z"),
    );
    assert_eq!(
        summary(&d),
        (Verdict::Deny, Some("/tools/nanokvm_upload_iso/limits/0"))
    );
    let explain = run(
        &e,
        "nanokvm_policy_explain",
        &json!({}),
        at("2026-03-03T10:30:00Z"),
    );
    assert_eq!(explain.verdict, Verdict::Allow);
    // The 120 calls a minute across all tools.
    let e = load("nanokvm-recommended.json");
    let now = at("2026-03-03T10:00:00Z");
    for _ in 0..120 {
        assert_eq!(
            run(&e, "nanokvm_info", &json!({}), now).verdict,
            Verdict::Allow
        );
    }
    let d = run(&e, "nanokvm_screenshot", &json!({}), now);
    assert_eq!(summary(&d), (Verdict::Deny, Some("/all_tools/limits/0")));
    // Typed characters: 4000 a sliding minute per device, on top of 10 calls a minute.
    let e = load("nanokvm-recommended.json");
    let chunk = json!({"text": "a".repeat(1000)});
    for second in 0..4 {
        let now = at(&format!("2026-03-03T10:00:{:02}Z", second * 10));
        assert_eq!(
            run(&e, "nanokvm_send_text", &chunk, now).verdict,
            Verdict::Allow
        );
    }
    let d = run(&e, "nanokvm_send_text", &chunk, at("2026-03-03T10:00:55Z"));
    assert_eq!(
        summary(&d),
        (Verdict::Deny, Some("/tools/nanokvm_send_text/limits/1"))
    );
    assert_eq!(d.retry_after_s, Some(5));
}

#[test]
fn read_only_policy_decisions() {
    let e = load("nanokvm-read-only.json");
    let now = at("2026-03-03T10:00:00Z");
    for tool in [
        "nanokvm_info",
        "nanokvm_hardware",
        "nanokvm_led_status",
        "nanokvm_hdmi_status",
        "nanokvm_list_images",
        "nanokvm_mounted_image",
        "nanokvm_screenshot",
    ] {
        assert_eq!(
            summary(&run(&e, tool, &json!({}), now)),
            (Verdict::Allow, None),
            "{tool}"
        );
    }
    for tool in [
        "nanokvm_power",
        "nanokvm_power_cycle",
        "nanokvm_send_text",
        "nanokvm_send_key",
        "nanokvm_tap",
        "nanokvm_click",
        "nanokvm_move",
        "nanokvm_scroll",
        "nanokvm_mount_iso",
        "nanokvm_unmount_iso",
        "nanokvm_reset_hid",
        "nanokvm_hdmi_reset",
    ] {
        assert_eq!(
            summary(&run(&e, tool, &json!({}), now)),
            (Verdict::Deny, Some("(hidden)")),
            "{tool}"
        );
    }
    assert_eq!(
        summary(&run(&e, "nanokvm_upload_iso", &json!({}), now)),
        (Verdict::Deny, Some("(default deny)"))
    );
    for _ in 1..30 {
        run(&e, "nanokvm_screenshot", &json!({}), now);
    }
    let d = run(&e, "nanokvm_screenshot", &json!({}), now);
    assert_eq!(
        summary(&d),
        (Verdict::Deny, Some("/tools/nanokvm_screenshot/limits/0"))
    );
}
