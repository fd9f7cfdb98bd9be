//! Several gateways on one Redis: two `nanokvm-mcp gateway` processes (the real binary,
//! each in front of its own upstream example, each with its own state directory as if
//! on two hosts) keep one limit's counter in one `redis-server`, and agents hammering
//! both at once get exactly the limit's calls through between them.
//!
//! Without `redis-server` on the `PATH` the test says why and passes, unless
//! `NANOKVM_REQUIRE_REDIS` is set, as `.ci/run` does once it has installed the Debian
//! package `redis-server`.

#![allow(clippy::print_stderr)] // A skipped test says why.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{TestClient, text};

/// The limit both gateways enforce together.
const MAX: usize = 7;
/// Calls each agent sends at once, through its own gateway.
const CALLS_EACH: usize = 9;

/// A `redis-server` on a free loopback port, without persistence, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl RedisServer {
    /// Starts one, or says why not and returns `None` when `redis-server` is not
    /// installed (a failure if `NANOKVM_REQUIRE_REDIS` is set).
    fn start() -> Option<Self> {
        let dir = tempfile::tempdir().expect("a directory");
        // Another process may take the free port before the server binds it; try again.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let started = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match started {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    assert!(
                        std::env::var_os("NANOKVM_REQUIRE_REDIS").is_none(),
                        "NANOKVM_REQUIRE_REDIS is set, but redis-server is not installed"
                    );
                    eprintln!(
                        "skipped: redis-server is not installed (Debian package redis-server; \
                         .ci/run installs it)"
                    );
                    return None;
                }
                Err(e) => panic!("cannot run redis-server: {e}"),
            };
            let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
            let mut log = String::new();
            let ready = lines.by_ref().map_while(Result::ok).any(|line| {
                log.push_str(&line);
                log.push('\n');
                line.to_ascii_lowercase()
                    .contains("ready to accept connections")
            });
            if ready {
                // Keep reading, so that the server never blocks on a full pipe.
                std::thread::spawn(move || lines.for_each(drop));
                return Some(Self {
                    child,
                    port,
                    _dir: dir,
                });
            }
            let _ = child.wait();
            assert!(
                log.contains("Address already in use"),
                "redis-server did not start:\n{log}"
            );
        }
        panic!("redis-server found no free port in five tries");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway process with its own state directory, and an rmcp client on its stdio.
async fn gateway(
    policy: &Path,
    redis: &str,
    state: &Path,
) -> RunningService<RoleClient, TestClient> {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"));
    command
        .args(["gateway", "--policy"])
        .arg(policy)
        .arg("--state-dir")
        .arg(state)
        .args(["--counters", redis, "--counters-prefix", "fleet-test:"])
        .arg("--")
        .arg(crate::gateway::fixture())
        .stderr(Stdio::null());
    let transport = rmcp::transport::TokioChildProcess::new(command).expect("the gateway starts");
    TestClient::plain()
        .serve(transport)
        .await
        .expect("the gateway completes the MCP handshake")
}

/// `CALLS_EACH` calls of `echo` at once.
async fn hammer(client: &RunningService<RoleClient, TestClient>) -> Vec<CallToolResult> {
    let calls = (0..CALLS_EACH).map(|i| {
        let Value::Object(args) = json!({"text": format!("call {i}")}) else {
            unreachable!("an object")
        };
        client.call_tool(CallToolRequestParams::new("echo").with_arguments(args))
    });
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("a tool result"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_admit_exactly_the_limit_between_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory");
    let policy = dir.path().join("policy.json");
    let doc = json!({"version": "1", "default": "allow", "tools": {"echo": {"limits": [
        {"counter": "echo", "window": "sliding:60s", "max": MAX, "scope": "global"}]}}});
    std::fs::write(&policy, doc.to_string()).expect("write the policy");
    let (state_a, state_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = gateway(&policy, &redis.url(), &state_a).await;
    let b = gateway(&policy, &redis.url(), &state_b).await;

    let (from_a, from_b) = tokio::join!(hammer(&a), hammer(&b));
    let mut admitted = [0, 0];
    for (side, results) in [from_a, from_b].iter().enumerate() {
        for result in results {
            let said = text(result);
            if result.is_error == Some(true) {
                assert!(said.starts_with("[POLICY DENIED]"), "{said}");
                let retry: u64 = said
                    .split("retry after ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("no retry-after in {said}"));
                assert!((1..=60).contains(&retry), "{said}");
            } else {
                assert!(said.starts_with("call "), "{said}");
                admitted[side] += 1;
            }
        }
    }
    // A refusal means the calls counted and in flight left no room, and every admitted
    // call succeeds and stays counted; so exactly MAX of the 18 got through.
    assert_eq!(admitted[0] + admitted[1], MAX, "{admitted:?}");

    // Each gateway kept its own audit log and no counters of its own.
    for state in [&state_a, &state_b] {
        assert!(state.join("audit-gateway-upstream.jsonl").exists());
        assert!(!state.join("counters.sqlite").exists());
    }
    a.cancel().await.expect("gateway a stops");
    b.cancel().await.expect("gateway b stops");
}
