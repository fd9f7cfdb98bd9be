//! Prints what an MCP client feels of the server over stdio, against a simulated
//! NanoKVM (run by this benchmark, so that the server's memory is its own): cold start
//! to the first `tools/list` answer, the latency of a few tools at a 1280x720 screen,
//! and the server's resident memory after 1,000 calls.
//!
//! `cargo bench -p nanokvm-mcp --bench stdio` (figures, not assertions).

#![allow(clippy::print_stdout, missing_docs)]

use std::io::{BufRead as _, BufReader, Lines, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Server {
    fn start(state: &std::path::Path, device: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
            .args(["--host", device, "--user", "admin", "--log-level", "error"])
            .env("NANOKVM_PASS", "admin")
            .arg("--state-dir")
            .arg(state)
            .arg("--policy")
            .arg(state.join("policy.json"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self {
            child,
            stdin,
            lines,
            next_id: 0,
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        writeln!(self.stdin, "{message}").expect("write");
        self.stdin.flush().expect("flush");
        for line in &mut self.lines {
            let answer: Value = serde_json::from_str(&line.expect("read")).expect("JSON");
            if answer["id"] == json!(id) {
                return answer;
            }
        }
        panic!("the server closed stdout");
    }

    fn initialize(&mut self) {
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "0"}}),
        );
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        writeln!(self.stdin, "{note}").expect("write");
        self.stdin.flush().expect("flush");
    }

    fn call(&mut self, tool: &str, args: &Value) {
        let answer = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(
            answer["result"]["isError"] != json!(true) && answer["error"].is_null(),
            "{tool}: {answer}"
        );
    }

    fn resident_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    fn stop(self) {
        let Self {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let _ = child.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let sim = runtime
        .block_on(
            nanokvm_sim::Simulator::builder()
                .resolution(1280, 720)
                .start(),
        )
        .expect("the simulator starts");
    let device = sim.url();
    let state = tempfile::tempdir().expect("a temporary directory");
    // Allow everything: the figures are the server's, not a limit's.
    std::fs::write(
        state.path().join("policy.json"),
        json!({"version": "1", "default": "allow"}).to_string(),
    )
    .expect("write the policy");

    let mut cold = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut server = Server::start(state.path(), &device);
        server.initialize();
        let tools = server.request("tools/list", json!({}));
        cold.push(started.elapsed());
        assert!(tools["result"]["tools"].is_array());
        server.stop();
    }
    cold.sort();
    println!(
        "cold start to the first tools/list answer: median {:.1} ms (of 5)",
        millis(percentile(&cold, 0.5))
    );

    let mut server = Server::start(state.path(), &device);
    server.initialize();
    let mut calls = 0;
    for (tool, args, n) in [
        ("nanokvm_info", json!({}), 300),
        ("nanokvm_led_status", json!({}), 300),
        ("nanokvm_send_key", json!({"key": "shift"}), 200),
        (
            "nanokvm_screenshot",
            json!({"max_width": 1280, "max_height": 720}),
            100,
        ),
    ] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            server.call(tool, &args);
            times.push(started.elapsed());
            calls += 1;
        }
        times.sort();
        println!(
            "{tool:<22} median {:>8.3} ms   p99 {:>8.3} ms   ({n} calls)",
            millis(percentile(&times, 0.5)),
            millis(percentile(&times, 0.99))
        );
    }
    while calls < 1_000 {
        server.call("nanokvm_info", &json!({}));
        calls += 1;
    }
    match server.resident_kib() {
        #[allow(clippy::cast_precision_loss)]
        Some(kib) => println!(
            "resident memory of the server after {calls} calls: {:.1} MiB",
            kib as f64 / 1024.0
        ),
        None => println!("resident memory: not readable on this system"),
    }
    server.stop();
    drop(sim);
}
