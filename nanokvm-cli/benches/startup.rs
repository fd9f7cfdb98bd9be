//! Wall time of `nanokvm` from process start to exit: `--version`, and `info` against a
//! simulator on 127.0.0.1 (the target is under 30 ms, most of it the device's answer),
//! and `--sim info`, which starts its own simulator. Prints the median and the slowest
//! of each; asserts nothing.
//!
//! ```text
//! cargo bench -p nanokvm-cli
//! ```
#![allow(clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 21;

fn time(label: &str, mut make: impl FnMut() -> Command) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let mut cmd = make();
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
            let started = Instant::now();
            let status = cmd.status().expect("nanokvm runs");
            let took = started.elapsed();
            assert!(status.success(), "{label} failed: {status}");
            took
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<28} median {:>7.2} ms   slowest {:>7.2} ms   ({RUNS} runs)",
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_nanokvm");
    let state = tempfile::tempdir().expect("state dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = runtime
        .block_on(nanokvm_sim::Simulator::builder().start())
        .expect("simulator");
    let base = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("NANOKVM_STATE_DIR", state.path())
            .env("XDG_CONFIG_HOME", state.path())
            .env("NANOKVM_PASS", "admin")
            .stdin(Stdio::null());
        cmd
    };
    let url = sim.url();
    time("nanokvm --version", || base(&["--version"]));
    time("nanokvm --host SIM info", || {
        base(&["--host", &url, "info"])
    });
    time("nanokvm --sim info", || base(&["--sim", "info"]));
    // The device's own share: one raw HTTP request for the same information.
    let raw = runtime.block_on(async {
        let client = nanokvm_client::Client::builder(url.clone())
            .credentials("admin", nanokvm_client::SecretString::from("admin"))
            .build()
            .expect("client");
        client.device().info().await.expect("login and info");
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            client.device().info().await.expect("info");
            times.push(started.elapsed());
        }
        times.sort();
        times[RUNS / 2]
    });
    println!(
        "{:<28} median {:>7.2} ms   (the device's answer, logged in)",
        "client info call",
        raw.as_secs_f64() * 1e3
    );
}
