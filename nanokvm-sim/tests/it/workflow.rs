//! A whole remote installation driven the way an agent drives a real target: every
//! action goes through the HTTP API (power, mounting) or the HID WebSocket (keys,
//! clicks), and the screen is checked after each step.
//!
//! Each step opens its own WebSocket and closes it when its frames are sent, as a
//! client that reconnects would: the firmware closes a socket that stays silent for
//! 90 s, which the fast time scale makes 90 ms.

use std::time::Duration;

use futures_util::SinkExt;
use nanokvm_hid::{KeySequence, KeyboardReport, Layout};
use nanokvm_sim::{BootDevice, MachineState, PowerState, Simulator, Stage};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{fast, login, request};
use crate::ws::{Ws, connect};

/// Waits until the machine satisfies `condition`; fails with the screen otherwise.
async fn shows(
    sim: &Simulator,
    what: &str,
    condition: impl FnMut(&MachineState) -> bool,
) -> MachineState {
    match tokio::time::timeout(Duration::from_secs(10), sim.wait_for(condition)).await {
        Ok(m) => m,
        Err(_) => panic!("{what} never showed; the screen:\n{}", sim.screen_text()),
    }
}

async fn send(ws: &mut Ws, report: KeyboardReport) {
    let mut frame = vec![1];
    frame.extend_from_slice(&report.to_bytes());
    ws.send(Message::Binary(frame.into())).await.unwrap();
}

/// Sends keyboard reports on a socket of their own.
async fn reports(sim: &Simulator, token: &str, reports: Vec<KeyboardReport>) {
    let mut ws = connect(sim, token).await;
    for report in reports {
        send(&mut ws, report).await;
    }
    ws.close(None).await.unwrap();
}

/// Taps chords written as for `KeySequence::parse` (`"right right down"`).
async fn keys(sim: &Simulator, token: &str, keys: &str) {
    reports(sim, token, KeySequence::parse(keys).unwrap().reports()).await;
}

/// Types text as a US keyboard would.
async fn type_text(sim: &Simulator, token: &str, text: &str) {
    let strokes = nanokvm_hid::encode(text, Layout::Us).unwrap();
    reports(sim, token, nanokvm_hid::reports(&strokes)).await;
}

/// An absolute click at a pixel of a `width` x `height` screen, as the web UI encodes it.
async fn click(sim: &Simulator, token: &str, (x, y): (u32, u32), (width, height): (u32, u32)) {
    let at = |v: u32, size: u32| {
        u16::try_from((u64::from(v) * 0x7FFF).div_ceil(u64::from(size - 1))).unwrap()
    };
    let [xl, xh] = at(x, width).to_le_bytes();
    let [yl, yh] = at(y, height).to_le_bytes();
    let mut ws = connect(sim, token).await;
    for buttons in [1, 0] {
        let frame = vec![2, buttons, xl, xh, yl, yh, 0];
        ws.send(Message::Binary(frame.into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
}

async fn post(sim: &Simulator, token: &str, path: &str, body: &str) -> serde_json::Value {
    let r = request(sim.addr(), "POST", path, Some(token), Some(body)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    let json = r.json();
    assert_eq!(json["code"], 0, "{path}: {}", r.body);
    json
}

#[tokio::test]
async fn an_agent_installs_a_system_from_a_mounted_iso_and_logs_in() {
    let sim = fast()
        .resolution(1280, 720)
        .powered_on(false)
        .start()
        .await
        .unwrap();
    std::fs::write(sim.data_dir().join("distro.iso"), [0u8; 4096]).unwrap();
    let token = login(&sim).await;
    let t = token.as_str();

    // Insert the installer, then power on with F2 held to reach the firmware setup.
    let mount = r#"{"file":"/data/distro.iso","cdrom":true}"#;
    post(&sim, t, "/api/storage/image/mount", mount).await;
    let mut ws = connect(&sim, t).await;
    send(&mut ws, KeySequence::parse("f2").unwrap().reports()[0]).await;
    // Every HID write notifies the machine's watchers, even while it is off.
    shows(&sim, "F2 held", |_| !sim.hid_reports().is_empty()).await;
    post(&sim, t, "/api/vm/gpio", r#"{"type":"power"}"#).await;
    let m = shows(&sim, "the setup screen", |m| m.stage() == Stage::Setup).await;
    assert!(m.screen_text().contains("Firmware Setup Utility"));
    assert!(m.screen_text().contains("[Main]"));
    send(&mut ws, KeyboardReport::RELEASE).await;
    ws.close(None).await.unwrap();

    // The Boot tab: move the CD-ROM to the top, save and reset.
    keys(&sim, t, "right right").await;
    let m = shows(&sim, "the Boot tab", |m| m.screen_text().contains("[Boot]")).await;
    assert!(m.screen_text().contains("> Boot Option #1   Hard Disk"));
    keys(&sim, t, "down").await;
    type_text(&sim, t, "+").await;
    let m = shows(&sim, "the CD-ROM first", |m| {
        m.screen_text().contains("> Boot Option #1   CD-ROM")
    })
    .await;
    assert!(m.screen_text().contains("  Boot Option #2   Hard Disk"));
    keys(&sim, t, "f10").await;

    // The installer's menu, from the mounted image.
    let m = shows(&sim, "the installer menu", |m| {
        m.stage() == Stage::InstallerMenu
    })
    .await;
    assert_eq!(m.boot_order()[0], BootDevice::CdRom);
    assert!(m.screen_text().contains("distro.iso - installer boot menu"));
    assert!(m.screen_text().contains("> Install distro.iso"));
    keys(&sim, t, "down up enter").await;
    let m = shows(&sim, "the end of the installation", |m| {
        m.stage() == Stage::InstallDone
    })
    .await;
    assert!(
        m.screen_text().contains("Installation complete."),
        "{}",
        m.screen_text()
    );

    // Eject the medium and reboot into the new system.
    post(&sim, t, "/api/storage/image/mount", r#"{"file":""}"#).await;
    keys(&sim, t, "enter").await;
    let m = shows(&sim, "the login prompt", |m| m.stage() == Stage::Login).await;
    assert!(
        m.screen_text()
            .contains("nanokvm-sim Linux 2.0 (distro.iso) target tty1"),
        "{}",
        m.screen_text()
    );
    assert_eq!(m.installed_from(), Some("/data/distro.iso"));

    // A wrong password first, then the right one.
    type_text(&sim, t, "user\nnot-it\n").await;
    shows(&sim, "the refusal", |m| {
        m.screen_text().contains("Login incorrect")
    })
    .await;
    type_text(&sim, t, "user\npassword\n").await;
    let m = shows(&sim, "the shell", |m| m.stage() == Stage::Shell).await;
    assert!(m.screen_text().ends_with("user@target:~$ "));

    type_text(&sim, t, "uname -a\n").await;
    let m = shows(&sim, "uname's answer", |m| {
        m.screen_text().ends_with("GNU/Linux\nuser@target:~$ ")
    })
    .await;
    assert!(m.screen_text().contains(
        "user@target:~$ uname -a\nLinux target 6.1.0-sim #1 SMP PREEMPT_DYNAMIC nanokvm-sim x86_64 GNU/Linux\n"
    ));

    // The desktop: a click where the screen shows the OK button hits it.
    type_text(&sim, t, "startx\n").await;
    let m = shows(&sim, "the desktop", |m| m.stage() == Stage::Desktop).await;
    let (x, y, w, h) = m.button_bounds("OK").unwrap();
    click(&sim, t, (x + w / 2, y + h / 2), (1280, 720)).await;
    shows(&sim, "the click on OK", |m| {
        m.screen_text().contains("You clicked OK.")
    })
    .await;
    let (x, y, w, h) = m.button_bounds("Log out").unwrap();
    click(&sim, t, (x + w / 2, y + h / 2), (1280, 720)).await;
    shows(&sim, "the shell again", |m| m.stage() == Stage::Shell).await;

    // A short press: the system shuts down, then the power goes.
    post(
        &sim,
        &token,
        "/api/vm/gpio",
        r#"{"type":"power","duration":500}"#,
    )
    .await;
    let m = shows(&sim, "the shutdown", |m| m.power() != PowerState::On).await;
    assert!(
        m.power() == PowerState::Off
            || m.screen_text()
                .ends_with("System is going down for power-off.")
    );
    shows(&sim, "the power off", |m| m.power() == PowerState::Off).await;
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&token), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"pwr":false,"hdd":false}}"#
    );
    sim.shutdown().await.unwrap();
}
