//! Device commands: their effect on the simulated machine, their JSON, their exit codes.

use nanokvm_sim::{PowerState, Simulator};
use serde_json::json;

use crate::support::{Env, Sim, TEST_CERT_SHA256, file_contains, policy_denying, run};

#[test]
fn info_against_the_embedded_simulator_prints_text_or_one_json_document() {
    let env = Env::new();
    let text = run(env.cmd(), &["--sim", "info"], None);
    text.code(0);
    assert!(
        text.stdout.contains("application: 2.5.1"),
        "{}",
        text.stdout
    );
    let json = run(env.cmd(), &["--sim", "--json", "info"], None);
    json.code(0);
    assert_eq!(json.json()["application"], "2.5.1");
    // The CLI audits into its own log, never the MCP server's.
    let audit = env.state().join("audit-cli-sim.jsonl");
    assert!(file_contains(&audit, "nanokvm_info"), "{}", audit.display());
    assert!(!env.state().join("audit.jsonl").exists());
}

#[test]
fn typed_text_from_stdin_appears_on_the_target_screen() {
    let sim = Sim::start();
    let env = Env::new();
    let r = run(env.at(&sim), &["--json", "type", "-"], Some("echo hello\n"));
    r.code(0);
    assert_eq!(r.json()["typed"], 11);
    assert!(
        sim.sim.screen_text().contains("echo hello"),
        "{}",
        sim.sim.screen_text()
    );
}

#[test]
fn text_is_typed_for_the_layout_asked_for() {
    let sim = Sim::with(Simulator::builder().layout(nanokvm_policy::Layout::De));
    let env = Env::new();
    run(
        env.at(&sim),
        &["--target-layout", "de", "type", "Grüße"],
        None,
    )
    .code(0);
    assert!(
        sim.sim.screen_text().contains("Grüße"),
        "{}",
        sim.sim.screen_text()
    );
    // With --via paste the device's own paste map types it.
    run(
        env.at(&sim),
        &[
            "--target-layout",
            "de",
            "type",
            "--via",
            "paste",
            "--layout",
            "de",
            " ok",
        ],
        None,
    )
    .code(0);
    assert!(
        sim.sim.screen_text().contains("Grüße ok"),
        "{}",
        sim.sim.screen_text()
    );
}

#[test]
fn a_character_the_layout_cannot_type_is_a_usage_error_and_nothing_is_typed() {
    let sim = Sim::start();
    let env = Env::new();
    let before = sim.sim.requests().len();
    let r = run(env.at(&sim), &["type", "a→b"], None);
    r.code(2);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        sim.sim.requests().len(),
        before,
        "refused before the device was asked"
    );
}

#[test]
fn power_on_presses_only_when_off_and_waits_for_the_led() {
    let sim = Sim::with(Simulator::builder().powered_on(false));
    let env = Env::new();
    let r = run(
        env.at(&sim),
        &["--json", "power", "on", "--timeout", "10s"],
        None,
    );
    r.code(0);
    let json = r.json();
    assert_eq!(
        (
            json["state"].clone(),
            json["pressed"].clone(),
            json["reached"].clone()
        ),
        (json!("on"), json!(true), json!(true))
    );
    assert_ne!(sim.sim.power(), PowerState::Off);
    let again = run(env.at(&sim), &["--json", "power", "on"], None);
    again.code(0);
    assert_eq!(
        again.json()["pressed"],
        false,
        "already on: nothing pressed"
    );
    let status = run(env.at(&sim), &["--json", "power", "status"], None);
    assert_eq!(status.json()["power"], true);
    let waited = run(
        env.at(&sim),
        &["power", "status", "--wait", "on", "--timeout", "5s"],
        None,
    );
    waited.code(0);
    assert!(waited.stdout.contains("power LED on"), "{}", waited.stdout);
}

#[test]
fn keys_mouse_and_images_reach_the_machine() {
    let sim = Sim::start();
    sim.add_image("debian.iso");
    let env = Env::new();
    run(env.at(&sim), &["type", "abc"], None).code(0);
    let r = run(
        env.at(&sim),
        &["--json", "key", "backspace", "backspace"],
        None,
    );
    r.code(0);
    let screen = sim.sim.screen_text();
    assert!(screen.contains('a') && !screen.contains("abc"), "{screen}");

    run(env.at(&sim), &["mouse", "move", "960", "540"], None).code(0);
    let (x, y) = sim.sim.machine().pointer();
    assert!(
        (955..=965).contains(&x) && (535..=545).contains(&y),
        "pointer at {x},{y}"
    );
    run(
        env.at(&sim),
        &["mouse", "click", "right", "--at", "100,200"],
        None,
    )
    .code(0);
    let clicks = sim.sim.machine().clicks().to_vec();
    let last = clicks.last().expect("a click");
    assert!(
        (95..=105).contains(&last.x) && (195..=205).contains(&last.y),
        "{last:?}"
    );

    let list = run(env.at(&sim), &["--json", "iso", "list"], None);
    list.code(0);
    assert_eq!(list.json()["images"], json!(["/data/debian.iso"]));
    run(env.at(&sim), &["iso", "mount", "/data/debian.iso"], None).code(0);
    assert_eq!(sim.sim.mounted_image().as_deref(), Some("/data/debian.iso"));
    let mounted = run(env.at(&sim), &["--json", "iso", "mounted"], None);
    assert_eq!(mounted.json()["file"], "/data/debian.iso");
    run(env.at(&sim), &["iso", "unmount"], None).code(0);
    assert_eq!(sim.sim.mounted_image(), None);
}

#[test]
fn a_screenshot_is_saved_as_jpeg_or_written_to_stdout() {
    let sim = Sim::start();
    let env = Env::new();
    let file = env.path("shot.jpg");
    let r = run(
        env.at(&sim),
        &[
            "--json",
            "screenshot",
            "-o",
            file.to_str().expect("utf-8"),
            "--width",
            "640",
            "--height",
            "360",
        ],
        None,
    );
    r.code(0);
    assert_eq!(
        (r.json()["width"].clone(), r.json()["height"].clone()),
        (json!(640), json!(360))
    );
    let bytes = std::fs::read(&file).expect("saved");
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG");
    let piped = run(env.at(&sim), &["screenshot", "-o", "-"], None);
    piped.code(0);
    assert_eq!(
        &piped.raw_stdout[..2],
        &[0xFF, 0xD8],
        "the JPEG alone on stdout"
    );
    assert!(
        piped.stderr.contains("width"),
        "its description on stderr: {}",
        piped.stderr
    );
}

#[test]
fn a_denied_command_exits_3_and_sends_nothing() {
    let sim = Sim::start();
    let env = Env::new();
    let policy = env.write(
        "policy.json",
        &policy_denying(&["nanokvm_type_text", "nanokvm_power"]),
    );
    let before = sim.sim.requests().len();
    let r = run(
        env.at(&sim),
        &[
            "--policy",
            policy.to_str().expect("utf-8"),
            "type",
            "rm -rf /",
        ],
        None,
    );
    r.code(3);
    assert!(r.stdout.is_empty(), "nothing on stdout: {}", r.stdout);
    assert!(r.stderr.contains("POLICY DENIED"), "{}", r.stderr);
    let r = run(
        env.at(&sim),
        &[
            "--policy",
            policy.to_str().expect("utf-8"),
            "--json",
            "power",
            "press",
        ],
        None,
    );
    r.code(3);
    let error: serde_json::Value =
        serde_json::from_str(r.stderr.trim()).expect("a JSON error on stderr");
    assert_eq!(
        (error["kind"].clone(), error["exit_code"].clone()),
        (json!("denied"), json!(3))
    );
    assert_eq!(
        sim.sim.requests().len(),
        before,
        "the device saw no request"
    );
    assert!(!sim.sim.screen_text().contains("rm -rf"));
    // Allowed commands still run under the same policy.
    run(
        env.at(&sim),
        &["--policy", policy.to_str().expect("utf-8"), "hardware"],
        None,
    )
    .code(0);
}

#[test]
fn a_wrong_password_exits_5_and_an_unreachable_device_4() {
    let sim = Sim::start();
    let env = Env::new();
    let mut cmd = env.at(&sim);
    cmd.env(crate::support::PASSWORD_VAR, "Tr0ub4dor-x");
    let r = run(cmd, &["info"], None);
    r.code(5);
    assert!(r.stderr.contains("password"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("Tr0ub4dor"),
        "the password is never shown: {}",
        r.stderr
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = env.cmd();
    cmd.args(["--host", &format!("http://127.0.0.1:{port}")])
        .env("NANOKVM_PASS", "x");
    let r = run(cmd, &["info"], None);
    r.code(4);
    assert!(r.stderr.contains("--sim"), "{}", r.stderr);
}

#[test]
fn no_device_configured_is_a_usage_error_that_says_how() {
    let env = Env::new();
    let r = run(env.cmd(), &["info"], None);
    r.code(2);
    assert!(
        r.stderr.contains("nanokvm config init") && r.stderr.contains("--sim"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_secret_is_typed_but_never_printed_or_logged() {
    let sim = Sim::start();
    let env = Env::new();
    let r = run(env.at(&sim), &["secret"], Some("hunter2-secret\n"));
    r.code(0);
    assert!(sim.sim.screen_text().contains("hunter2-secret"));
    assert!(!r.stdout.contains("hunter2") && !r.stderr.contains("hunter2"));
    let audit = env.state().join("audit-cli-nanokvm.jsonl");
    assert!(file_contains(&audit, "nanokvm_type_text"));
    assert!(
        !file_contains(&audit, "hunter2"),
        "the audit log keeps a digest only"
    );
    // An untypeable secret is refused without quoting it.
    let r = run(env.at(&sim), &["secret"], Some("pass→word\n"));
    r.code(2);
    assert!(
        !r.stderr.contains("pass") && !r.stderr.contains('→'),
        "{}",
        r.stderr
    );
}

#[test]
fn approvals_without_a_terminal_refuse_then_an_operator_approves_out_of_band() {
    let sim = Sim::start();
    let env = Env::new();
    let policy = env.write(
        "policy.json",
        r#"{"version": "1", "default": "allow", "tools": {"nanokvm_power": {"action": "require_approval"}}}"#,
    );
    let p = policy.to_str().expect("utf-8");
    let r = run(env.at(&sim), &["--policy", p, "power", "long"], None);
    r.code(3);
    assert!(
        r.stderr.contains("nanokvm approvals approve"),
        "{}",
        r.stderr
    );
    assert_eq!(sim.sim.power(), PowerState::On, "nothing pressed");

    let list = run(env.cmd(), &["--json", "approvals", "list"], None);
    list.code(0);
    let pending = list.json()["pending"].as_array().expect("list").clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["tool"], "nanokvm_power");
    let id = pending[0]["id"].as_str().expect("id").to_owned();
    assert!(
        r.stderr.contains(&id),
        "the refusal names the id: {}",
        r.stderr
    );
    run(env.cmd(), &["approvals", "approve", &id], None).code(0);

    // The same call again goes through once.
    run(env.at(&sim), &["--policy", p, "power", "long"], None).code(0);
    assert_eq!(sim.sim.power(), PowerState::Off, "forced off");
    run(env.at(&sim), &["--policy", p, "power", "long"], None).code(3);
    let answered_twice = run(env.cmd(), &["approvals", "approve", &id], None);
    answered_twice.code(2);
}

#[test]
fn the_other_device_commands_reach_the_machine() {
    let sim = Sim::start();
    sim.add_image("old.iso");
    let env = Env::new();
    let ok = |args: &[&str]| {
        let r = run(env.at(&sim), args, None);
        r.code(0);
        r
    };
    ok(&["hardware"]);
    ok(&["wol", "aa:bb:cc:dd:ee:ff"]);
    let packets: Vec<String> = sim.sim.wol_packets().into_iter().map(|p| p.mac).collect();
    assert_eq!(packets, ["AA:BB:CC:DD:EE:FF"]);

    ok(&["hdmi", "off"]);
    assert!(!sim.sim.capture_running(), "capture off");
    ok(&["hdmi", "on"]);
    assert!(sim.sim.capture_running(), "capture on");
    ok(&["hdmi", "reset"]);
    assert_eq!(ok(&["--json", "hdmi", "status"]).json()["enabled"], true);
    assert!(ok(&["--json", "hid", "leds"]).json().is_object());
    ok(&["hid", "reset"]);

    let before = sim.sim.machine().pointer();
    ok(&["mouse", "move-rel", "-20", "15"]);
    assert_ne!(sim.sim.machine().pointer(), before, "the pointer moved");
    let clicks = sim.sim.machine().clicks().len();
    ok(&["mouse", "drag", "100,100", "300,200"]);
    assert!(
        sim.sim.machine().clicks().len() > clicks,
        "the button went down"
    );
    ok(&["mouse", "scroll", "3"]);
    ok(&["mouse", "click", "--double"]);
    run(env.at(&sim), &["mouse", "scroll", "0"], None).code(2);
    run(env.at(&sim), &["mouse", "move", "5000", "10"], None).code(2);

    let waited = ok(&[
        "--json",
        "wait-screen",
        "--until",
        "stable",
        "--stable",
        "200ms",
        "--timeout",
        "10s",
    ]);
    assert_eq!(waited.json()["reached"], true);

    ok(&["iso", "delete", "/data/old.iso"]);
    assert!(!sim.sim.data_dir().join("old.iso").exists(), "deleted");

    ok(&["power", "reset"]);
    ok(&["power", "cycle", "--off", "500ms"]);
    ok(&["power", "long"]);
    assert_eq!(
        sim.sim.power(),
        PowerState::Off,
        "a long press forces it off"
    );
    ok(&["power", "press"]);
    assert_ne!(sim.sim.power(), PowerState::Off, "a short press starts it");
    ok(&["power", "off", "--timeout", "20s"]);
    assert_eq!(sim.sim.power(), PowerState::Off);
}

#[test]
fn images_download_from_allowed_hosts_and_upload_from_the_upload_directory() {
    let sim = Sim::start();
    let env = Env::new();
    let addr = sim.origin(crate::support::iso());
    let url = format!("http://{addr}/images/tiny.iso");
    // Downloads are off until the operator names a host.
    let r = run(env.at(&sim), &["iso", "download", &url], None);
    r.code(3);
    assert!(r.stderr.contains("downloads are off"), "{}", r.stderr);
    let r = run(
        env.at(&sim),
        &[
            "--json",
            "--download-host",
            "127.0.0.1",
            "iso",
            "download",
            &url,
        ],
        None,
    );
    r.code(0);
    assert_eq!(r.json()["file"], "/data/tiny.iso");
    assert!(sim.sim.data_dir().join("tiny.iso").exists());

    let dir = env.path("images");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("mine.iso"), crate::support::iso()).expect("image");
    std::fs::write(env.path("outside.iso"), crate::support::iso()).expect("image");
    let d = dir.to_str().expect("utf-8");
    run(env.at(&sim), &["iso", "upload", "mine.iso"], None).code(3);
    let r = run(
        env.at(&sim),
        &[
            "--upload-dir",
            d,
            "iso",
            "upload",
            dir.join("mine.iso").to_str().expect("utf-8"),
        ],
        None,
    );
    r.code(0);
    assert!(sim.sim.data_dir().join("mine.iso").exists(), "uploaded");
    let r = run(
        env.at(&sim),
        &["--upload-dir", d, "iso", "upload", "../outside.iso"],
        None,
    );
    assert_ne!(r.code, 0, "nothing from outside the upload directory");
    assert!(!sim.sim.data_dir().join("outside.iso").exists());
}

#[test]
fn a_command_the_firmware_lacks_exits_6_and_says_so() {
    let firmware = "2.3.1"
        .parse::<nanokvm_sim::FirmwareVersion>()
        .expect("version");
    let sim = Sim::with(Simulator::builder().firmware(firmware));
    let env = Env::new();
    let r = run(env.at(&sim), &["hid", "leds"], None);
    r.code(6);
    assert!(
        r.stderr.contains("2.3.1") && r.stderr.contains("nanokvm info"),
        "{}",
        r.stderr
    );
}

#[test]
fn hid_mode_shows_the_usb_mode_and_only_a_change_reboots_the_device() {
    let sim = Sim::start();
    let env = Env::new();
    let r = run(env.at(&sim), &["--json", "hid", "mode"], None);
    r.code(0);
    assert_eq!(r.json(), json!({"mode": "normal"}));

    let r = run(env.at(&sim), &["hid", "mode", "normal"], None);
    r.code(0);
    assert!(r.stdout.contains("normal already"), "{}", r.stdout);
    assert_eq!(sim.sim.reboots(), 0, "the same mode changes nothing");

    let r = run(env.at(&sim), &["--json", "hid", "mode", "hid-only"], None);
    r.code(0);
    assert_eq!(
        r.json(),
        json!({"mode": "hid_only", "previous": "normal", "rebooting": true})
    );
    assert_eq!(sim.sim.reboots(), 1, "switching reboots the NanoKVM");
    let r = run(env.at(&sim), &["--json", "hid", "mode"], None);
    r.code(0);
    assert_eq!(r.json(), json!({"mode": "hid_only"}));

    let r = run(env.at(&sim), &["hid", "mode", "usb-only"], None);
    r.code(2);
    assert!(r.stderr.contains("hid-only"), "{}", r.stderr);
}

#[test]
fn verify_ssl_false_pins_the_presented_certificate_for_the_command_and_prints_it() {
    let sim = Sim::start();
    let url = sim.tls_front();
    let env = Env::new();
    let https = |extra: &[&str]| {
        let mut cmd = env.cmd();
        cmd.args([
            "--host",
            &url,
            "--password-env",
            crate::support::PASSWORD_VAR,
        ])
        .env(crate::support::PASSWORD_VAR, "admin");
        cmd.args(extra);
        cmd
    };
    // The system's roots do not know the self-signed certificate.
    let r = run(https(&[]), &["--json", "info"], None);
    assert_ne!(r.code, 0, "refused without a pin: {}", r.stderr);

    let expected = TEST_CERT_SHA256
        .trim()
        .trim_start_matches("sha256 Fingerprint=");
    let mut cmd = https(&[]);
    cmd.env("NANOKVM_VERIFY_SSL", "false");
    let r = run(cmd, &["--json", "info"], None);
    r.code(0);
    assert!(r.json()["application"].is_string(), "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("sha256:{expected}")),
        "the fingerprint is shown: {}",
        r.stderr
    );

    // The printed pin works as it is printed.
    let pin = format!("sha256:{expected}");
    let r = run(
        https(&["--tls-fingerprint", &pin]),
        &["--json", "info"],
        None,
    );
    r.code(0);
    assert!(!r.stderr.contains("verification is off"), "{}", r.stderr);
}
