//! Commands that need no device: policy, audit, approvals, config, completions.

use crate::support::{Env, Sim, run};

#[test]
fn policy_check_names_the_json_pointer_of_a_mistake() {
    let env = Env::new();
    let good = env.write(
        "good.json",
        r#"{"version": "1", "default": "deny", "tools": {"nanokvm_info": {}}}"#,
    );
    let r = run(
        env.cmd(),
        &["--json", "policy", "check", good.to_str().expect("utf-8")],
        None,
    );
    r.code(0);
    assert_eq!(r.json()["valid"], true);
    let bad = env.write(
        "bad.json",
        r#"{"version": "1", "default": "deny", "tools": {"nanokvm_power": {"limits": [{"counter": "c", "window": "fortnight", "max": 1}]}}}"#,
    );
    let r = run(
        env.cmd(),
        &["--json", "policy", "check", bad.to_str().expect("utf-8")],
        None,
    );
    r.code(1);
    let json = r.json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["pointer"], "/tools/nanokvm_power/limits/0/window");
    let r = run(
        env.cmd(),
        &["policy", "check", bad.to_str().expect("utf-8")],
        None,
    );
    r.code(1);
    assert!(
        r.stderr.contains("/tools/nanokvm_power/limits/0/window"),
        "{}",
        r.stderr
    );
}

#[test]
fn policy_explain_decides_a_tool_or_a_command() {
    let env = Env::new();
    let policy = env.write(
        "p.json",
        r#"{"version": "1", "default": "deny", "tools": {"nanokvm_power": {"approve_if": [{"path": "args.action", "op": "eq", "value": "power_long"}]}}}"#,
    );
    let p = policy.to_str().expect("utf-8");
    let r = run(
        env.cmd(),
        &["--json", "policy", "explain", p, "power long"],
        None,
    );
    r.code(0);
    assert_eq!(r.json()["verdict"], "approval_required");
    assert_eq!(r.json()["rule"], "/tools/nanokvm_power/approve_if/0");
    let r = run(
        env.cmd(),
        &[
            "--json",
            "policy",
            "explain",
            p,
            "nanokvm_power",
            r#"{"action": "reset"}"#,
        ],
        None,
    );
    assert_eq!(r.json()["verdict"], "allow");
    let r = run(
        env.cmd(),
        &["--json", "policy", "explain", p, "type hello"],
        None,
    );
    assert_eq!(r.json()["verdict"], "deny");
    assert_eq!(
        r.json()["args"]["text"],
        "<5 characters>",
        "typed text is masked"
    );
}

#[test]
fn audit_logs_verify_and_replay_under_another_policy() {
    let env = Env::new();
    run(env.cmd(), &["--sim", "hardware"], None).code(0);
    run(env.cmd(), &["--sim", "info"], None).code(0);
    let log = env.state().join("audit-cli-sim.jsonl");
    let r = run(
        env.cmd(),
        &["--json", "audit", "verify", log.to_str().expect("utf-8")],
        None,
    );
    r.code(0);
    assert_eq!(r.json()["records"], 4);
    let strict = env.write(
        "strict.json",
        r#"{"version": "1", "default": "deny", "tools": {"nanokvm_info": {}}}"#,
    );
    let r = run(
        env.cmd(),
        &[
            "--json",
            "policy",
            "replay",
            strict.to_str().expect("utf-8"),
            "--audit",
            log.to_str().expect("utf-8"),
        ],
        None,
    );
    r.code(0);
    let json = r.json();
    assert_eq!(json["replayed"], 2);
    assert_eq!(json["changed"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["changed"][0]["tool"], "nanokvm_hardware");

    // An edited record breaks the chain.
    let text = std::fs::read_to_string(&log)
        .expect("log")
        .replace("nanokvm_hardware", "nanokvm_hardwarf");
    std::fs::write(&log, text).expect("tamper");
    run(
        env.cmd(),
        &["audit", "verify", log.to_str().expect("utf-8")],
        None,
    )
    .code(1);
}

#[test]
fn approvals_list_an_empty_queue() {
    let env = Env::new();
    let r = run(env.cmd(), &["approvals", "list"], None);
    r.code(0);
    assert!(r.stdout.contains("nothing waits"), "{}", r.stdout);
}

#[test]
fn config_init_writes_a_file_the_device_commands_read() {
    let sim = Sim::start();
    let env = Env::new();
    let config = env.path("kvm.toml");
    let c = config.to_str().expect("utf-8");
    run(
        env.cmd(),
        &[
            "--config",
            c,
            "config",
            "init",
            "--name",
            "lab",
            "--url",
            &sim.sim.url(),
        ],
        None,
    )
    .code(0);
    run(
        env.cmd(),
        &["--config", c, "config", "init", "--url", "x"],
        None,
    )
    .code(2);
    let shown = run(
        env.cmd(),
        &["--config", c, "--json", "config", "show"],
        None,
    );
    shown.code(0);
    assert_eq!(
        shown.json()["devices"][0]["password"],
        "environment variable NANOKVM_PASS_LAB"
    );
    let mut cmd = env.cmd();
    cmd.env("NANOKVM_PASS_LAB", "admin");
    run(cmd, &["--config", c, "-d", "lab", "hardware"], None).code(0);
    run(env.cmd(), &["--config", c, "-d", "nope", "hardware"], None).code(2);
    let path = run(env.cmd(), &["--config", c, "config", "path"], None);
    assert_eq!(path.stdout.trim(), c);
}

#[test]
fn completions_are_generated_for_each_shell() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(env.cmd(), &["completions", shell], None);
        r.code(0);
        assert!(
            r.stdout.contains("nanokvm") && r.stdout.contains("wait-screen"),
            "{shell}"
        );
    }
}

#[test]
fn output_in_a_pipe_has_no_escape_codes_with_or_without_no_color() {
    let env = Env::new();
    for no_color in [false, true] {
        let mut cmd = env.cmd();
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let r = run(cmd, &["--sim", "power", "sideways"], None);
        r.code(2);
        let mut cmd = env.cmd();
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let failed = run(cmd, &["info"], None);
        for text in [&r.stdout, &r.stderr, &failed.stdout, &failed.stderr] {
            assert!(!text.contains('\u{1b}'), "{text:?}");
        }
    }
}

#[test]
fn sim_serves_a_simulator_until_stopped() {
    use std::io::BufRead as _;
    let env = Env::new();
    let mut cmd = env.cmd();
    cmd.args(["sim", "--listen", "127.0.0.1:0", "--firmware", "2.3.1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawns");
    let mut url = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut url)
        .expect("the URL");
    let mut info = env.cmd();
    info.args(["--host", url.trim()])
        .env("NANOKVM_PASS", "admin");
    let r = run(info, &["--json", "info"], None);
    child.kill().expect("stops");
    let _ = child.wait();
    r.code(0);
    assert_eq!(r.json()["application"], "2.3.1");
}
