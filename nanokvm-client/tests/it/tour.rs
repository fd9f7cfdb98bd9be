//! The README's main job, the `tour` example, run against simulators: it switches the
//! target on only when it is off, logs in at the console, and checks that what it typed
//! reached the screen; a failed step is counted, so the example exits non-zero.
//!
//! The example's file is compiled here as a module (its `main` goes unused), so the
//! test runs exactly the code a user runs.

use std::time::Duration;

use nanokvm_client::{Layout, SecretString};
use nanokvm_sim::{MachineConfig, PowerState, Simulator, Stage, TimeScale};

#[allow(dead_code)]
#[path = "../../examples/tour.rs"]
mod example;

fn options(out: &std::path::Path) -> example::Options {
    example::Options {
        url: None,
        user: "admin".to_owned(),
        password: "admin".to_owned(),
        out: out.to_owned(),
        target_login: Some(("user".to_owned(), SecretString::from("password"))),
        layout: Layout::Us,
        boot_wait: Duration::ZERO,
        screen_wait: Duration::from_secs(5),
    }
}

/// At 1/20 of real delays a boot takes 0.4 s, and the device closes an idle keyboard
/// socket after 4.5 s rather than the 90 ms `TimeScale::fast()` would give it.
async fn sim(machine: MachineConfig, on: bool) -> Simulator {
    example::start_simulator(machine, on, TimeScale::new(0.05))
        .await
        .expect("the simulator starts")
}

fn power_presses(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/vm/gpio")
        .count()
}

#[tokio::test]
async fn a_target_that_is_off_is_switched_on_logged_in_and_typed_at() {
    let out = tempfile::tempdir().unwrap();
    let sim = sim(MachineConfig::new(), false).await;
    let failed = example::tour(&options(out.path()), Some(&sim)).await;
    assert_eq!(failed, Ok(0));
    assert_eq!(power_presses(&sim), 1);
    let machine = sim.machine();
    assert_eq!(machine.power(), PowerState::On);
    assert_eq!(machine.stage(), Stage::Shell);
    assert!(machine.lines().iter().any(|l| l == "Hello from nanokvm-rs"));
    assert!(
        machine
            .lines()
            .iter()
            .any(|l| l.starts_with("Linux target "))
    );
    assert!(!sim.screen_text().contains("this line is erased"));
    assert!(out.path().join("screen.jpg").is_file());
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_running_target_is_not_pressed_and_a_german_one_gets_german_keys() {
    let out = tempfile::tempdir().unwrap();
    let sim = sim(
        MachineConfig::new().logged_in(true).layout(Layout::De),
        true,
    )
    .await;
    let options = example::Options {
        layout: Layout::De,
        ..options(out.path())
    };
    assert_eq!(example::tour(&options, Some(&sim)).await, Ok(0));
    assert_eq!(power_presses(&sim), 0);
    // Typed for the target's QWERTZ layout, the text comes out as written.
    assert!(
        sim.machine()
            .lines()
            .iter()
            .any(|l| l == "Hello from nanokvm-rs")
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_console_password_fails_the_steps_that_need_it() {
    let out = tempfile::tempdir().unwrap();
    let sim = sim(MachineConfig::new(), true).await;
    let options = example::Options {
        target_login: Some(("user".to_owned(), SecretString::from("wrong"))),
        screen_wait: Duration::from_secs(1),
        ..options(out.path())
    };
    // The login is refused, so neither it nor the echo reach a shell.
    let failed = example::tour(&options, Some(&sim)).await.unwrap();
    assert!(failed >= 2, "{failed} step(s) failed");
    assert!(sim.screen_text().contains("Login incorrect"));
    sim.shutdown().await.unwrap();
}
