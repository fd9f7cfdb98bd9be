//! `nanokvm run`: scripts run line by line and stop at the first failure.

use serde_json::json;

use crate::support::{Env, Sim, policy_denying, run};

#[test]
fn a_script_runs_its_lines_in_order() {
    let sim = Sim::start();
    sim.add_image("os.iso");
    let env = Env::new();
    let script = env.write(
        "install.nkvm",
        "# an install\niso mount /data/os.iso\n\ntype --enter 'echo one'\nsleep 10ms\nkey ctrl+a  # start of line\ntype two\n",
    );
    let r = run(
        env.at(&sim),
        &["--json", "run", script.to_str().expect("utf-8")],
        None,
    );
    r.code(0);
    let lines = r.json_lines();
    let numbers: Vec<_> = lines
        .iter()
        .filter_map(|l| l.get("line"))
        .cloned()
        .collect();
    assert_eq!(numbers, [json!(2), json!(4), json!(5), json!(6), json!(7)]);
    assert_eq!(lines.last().expect("summary")["summary"]["ok"], 5);
    assert_eq!(sim.sim.mounted_image().as_deref(), Some("/data/os.iso"));
    assert!(
        sim.sim.screen_text().contains("echo one"),
        "{}",
        sim.sim.screen_text()
    );
}

#[test]
fn a_failing_line_stops_the_script_and_is_named() {
    let sim = Sim::start();
    let env = Env::new();
    let script = env.write(
        "s.nkvm",
        "type first\niso mount /data/missing.iso\ntype after\n",
    );
    let r = run(
        env.at(&sim),
        &["run", script.to_str().expect("utf-8")],
        None,
    );
    r.code(1);
    assert!(
        r.stderr.contains("line 2: iso mount /data/missing.iso"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("stopped at line 2"), "{}", r.stdout);
    let screen = sim.sim.screen_text();
    assert!(
        screen.contains("first") && !screen.contains("after"),
        "{screen}"
    );
}

#[test]
fn a_script_with_a_mistake_runs_nothing() {
    let sim = Sim::start();
    let env = Env::new();
    let script = env.write("s.nkvm", "type first\npower sideways\n");
    let before = sim.sim.requests().len();
    let r = run(
        env.at(&sim),
        &["run", script.to_str().expect("utf-8")],
        None,
    );
    r.code(2);
    assert!(
        r.stderr.contains("line 2 (`power sideways`)"),
        "{}",
        r.stderr
    );
    assert_eq!(sim.sim.requests().len(), before);
    let checked = run(
        env.cmd(),
        &["run", "--check", "-"],
        Some("info\nsleep 1s\n"),
    );
    checked.code(0);
    assert!(checked.stdout.contains("valid"), "{}", checked.stdout);
}

#[test]
fn a_denied_line_stops_the_script_with_exit_3_unless_tried() {
    let sim = Sim::start();
    let env = Env::new();
    let policy = env.write("p.json", &policy_denying(&["nanokvm_power"]));
    let p = policy.to_str().expect("utf-8");
    let r = run(
        env.at(&sim),
        &["--policy", p, "run", "-"],
        Some("type a\npower press\ntype b\n"),
    );
    r.code(3);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
    let r = run(
        env.at(&sim),
        &["--policy", p, "run", "-"],
        Some("try power press\ntype carried-on\n"),
    );
    r.code(0);
    assert!(
        r.stdout.contains("1 refused by the policy (line 1)"),
        "{}",
        r.stdout
    );
    assert!(sim.sim.screen_text().contains("carried-on"));
}

#[test]
fn the_demo_script_runs_against_the_embedded_simulator() {
    let env = Env::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut cmd = env.cmd();
    cmd.current_dir(env.dir.path());
    let r = run(
        cmd,
        &[
            "--sim",
            "--target-layout",
            "de",
            "--policy",
            dir.join("demo-policy.json").to_str().expect("utf-8"),
            "run",
            dir.join("demo.nkvm").to_str().expect("utf-8"),
        ],
        None,
    );
    r.code(0);
    assert!(r.stdout.contains("refused by the policy"), "{}", r.stdout);
    assert!(
        env.path("demo-screen.jpg").exists(),
        "the screenshot is saved"
    );
}
