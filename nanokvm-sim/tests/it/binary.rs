//! The `nanokvm-sim` binary as a user runs it: it prints its URL, serves, and stops
//! cleanly (exit code 0, its temporary data directory removed) on SIGTERM as on Ctrl-C.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Starts the binary on a free port; returns it and the URL it printed.
fn start() -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nanokvm-sim"))
        .args(["--listen", "127.0.0.1:0", "--time-scale", "0.001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    (child, url.trim().to_owned())
}

/// Sends `signal` (`TERM`, `INT`) and waits at most ten seconds for the exit; returns
/// the exit code and what the binary wrote on stderr.
fn stop_with(mut child: Child, signal: &str) -> (Option<i32>, String) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait();
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        tx.send((status, text)).ok();
    });
    let (status, text) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the binary exits within ten seconds");
    (status.unwrap().code(), text)
}

/// The data directory the binary announced on stderr.
fn data_dir(stderr: &str) -> std::path::PathBuf {
    let start = stderr.find("data directory ").expect("announced") + "data directory ".len();
    let rest = &stderr[start..];
    rest[..rest.find(';').unwrap()].into()
}

#[test]
fn sigterm_stops_the_binary_cleanly() {
    let (child, url) = start();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (code, stderr) = stop_with(child, "TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM, stopping"), "{stderr}");
    assert!(
        !data_dir(&stderr).exists(),
        "the temporary data directory is removed"
    );
}

#[test]
fn ctrl_c_stops_the_binary_cleanly() {
    let (child, _) = start();
    let (code, stderr) = stop_with(child, "INT");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("SIGINT, stopping"), "{stderr}");
    assert!(
        !data_dir(&stderr).exists(),
        "the temporary data directory is removed"
    );
}
