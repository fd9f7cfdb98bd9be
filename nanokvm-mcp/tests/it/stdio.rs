//! The binary over stdio, started as an MCP client starts it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// Sends one JSON-RPC message.
fn send(stdin: &mut std::process::ChildStdin, message: &Value) {
    writeln!(stdin, "{message}").expect("write to the server");
    stdin.flush().expect("flush");
}

/// Reads messages until the answer to `id`.
fn answer(lines: &mut impl Iterator<Item = std::io::Result<String>>, id: u64) -> Value {
    for line in lines {
        let line = line.expect("read from the server");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC, got {line:?}: {e}"));
        if message["id"] == json!(id) {
            return message;
        }
    }
    panic!("the server closed stdout before answering {id}");
}

#[test]
fn the_binary_serves_a_simulated_device_over_stdio() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
        .args(["--sim", "--state-dir"])
        .arg(state.path())
        .env_remove("NANOKVM_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}),
    );
    let init = answer(&mut lines, 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "nanokvm-mcp");
    assert!(init["result"]["instructions"].is_string());
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    let tools = answer(&mut lines, 2);
    assert!(
        tools["result"]["tools"]
            .as_array()
            .is_some_and(|t| t.len() > 20)
    );
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "nanokvm_led_status", "arguments": {}}}),
    );
    let leds = answer(&mut lines, 3);
    assert_eq!(leds["result"]["structuredContent"]["power"], true, "{leds}");
    // Well-formed JSON that is not a request gets an error, and the server goes on.
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 4, "method": "no/such"}),
    );
    let unknown = answer(&mut lines, 4);
    assert!(unknown["error"].is_object(), "{unknown}");
    send(
        &mut stdin,
        &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {"name": "nanokvm_info", "arguments": {}}}),
    );
    assert!(answer(&mut lines, 5)["result"].is_object());
    drop(stdin);
    let status = child.wait().expect("the server exits");
    assert!(status.success(), "{status}");
}

#[test]
fn without_a_device_the_binary_says_how_to_configure_one() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
        .args(["--state-dir"])
        .arg(state.path())
        .env_remove("NANOKVM_HOST")
        .env_remove("NANOKVM_PASS")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing but JSON-RPC on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NANOKVM_HOST") && stderr.contains("--sim"),
        "{stderr}"
    );
}

#[test]
fn the_approvals_command_reads_the_state_directory() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
            .arg("approvals")
            .args(args)
            .env("NANOKVM_STATE_DIR", state.path())
            .output()
            .expect("the binary runs")
    };
    let out = run(&["list"]);
    assert_eq!(out.status.code(), Some(1), "no queue yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no approval queue"));
    nanokvm_policy::gate::ApprovalQueue::open(state.path().join("approvals.sqlite"))
        .expect("a queue");
    let out = run(&["list"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "nothing waits for approval"
    );
    let out = run(&["approve", "deadbeef"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no request `deadbeef`"));
}
