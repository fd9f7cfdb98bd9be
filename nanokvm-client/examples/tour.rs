//! A tour of the library, the way a new user would drive a NanoKVM.
//!
//! ```text
//! cargo run -p nanokvm-client --example tour -- \
//!     --url http://192.168.1.50 --user admin --password admin --out /tmp/kvm
//! ```
//!
//! Without `--url` the tour starts a simulated NanoKVM (`nanokvm-sim`, firmware 2.5.1,
//! `admin`/`admin`, one ISO image in its data directory) on 127.0.0.1 and tours that,
//! then prints what the simulated machine saw.
//!
//! Each step prints one JSON line: `{"step": ..., "ok": true, "result": ...}` or
//! `{"step": ..., "ok": false, "error": ...}`. A failed step does not stop the tour.
//! Careful: it presses the target's power button briefly and types into it.

// An example's purpose is to print its results to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use nanokvm_client::api::hid::PasteLayout;
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, SecretString};
use nanokvm_hid::{Layout, MouseButtons};
use serde_json::{Value, json};

struct Args {
    url: Option<String>,
    user: String,
    password: String,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut user = None;
    let mut password = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--user" => user = Some(value),
            "--password" => password = Some(value),
            "--out" => out = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        password: match (&url, password) {
            (_, Some(password)) => password,
            (None, None) => "admin".to_owned(),
            (Some(_), None) => return Err("--password is required with --url".to_owned()),
        },
        url,
        user: user.unwrap_or_else(|| "admin".to_owned()),
        out: out.unwrap_or_else(|| PathBuf::from(".")),
    })
}

/// Runs one step and prints its JSON summary; returns its value on success.
async fn step<T, F>(name: &str, f: F) -> Option<T>
where
    F: Future<Output = Result<(T, Value), nanokvm_client::Error>>,
{
    match f.await {
        Ok((value, summary)) => {
            println!("{}", json!({"step": name, "ok": true, "result": summary}));
            Some(value)
        }
        Err(error) => {
            println!(
                "{}",
                json!({"step": name, "ok": false, "error": chain(&error)})
            );
            None
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}\nusage: tour [--url URL --user USER --password PASS] [--out DIR]");
            return std::process::ExitCode::from(2);
        }
    };
    // No device given: tour a simulated one.
    let (url, sim) = match args.url.clone() {
        Some(url) => (url, None),
        None => match start_simulator().await {
            Ok(sim) => (sim.url(), Some(sim)),
            Err(error) => {
                eprintln!("cannot start the simulator: {error}");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    let client = match Client::builder(&url)
        .credentials(&args.user, SecretString::from(args.password))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("{}", chain(&error));
            return std::process::ExitCode::from(2);
        }
    };

    step("login", async {
        client.login().await.map(|()| ((), Value::Null))
    })
    .await;
    step("capabilities", async {
        let caps = client.capabilities().await?;
        Ok((
            (),
            json!({
                "device": caps,
                "framing": caps.ws_framing(),
                "paste_limit": caps.paste_limit(),
            }),
        ))
    })
    .await;
    step("device info", async {
        let info = client.device().info().await?;
        Ok(((), json!(info)))
    })
    .await;
    step("hardware", async {
        let hw = client.device().hardware().await?;
        Ok(((), json!(hw)))
    })
    .await;
    step("power LEDs", async {
        let leds = client.power().leds().await?;
        Ok(((), json!(leds)))
    })
    .await;
    step("short power press", async {
        client
            .power()
            .press_power()
            .await
            .map(|()| ((), Value::Null))
    })
    .await;
    step("paste", async {
        let report = client.hid().paste("Hello, World!", PasteLayout::Us).await?;
        Ok(((), json!(report)))
    })
    .await;

    let session = step("websocket", async {
        let session = client.ws().await?;
        let framing = session.framing();
        Ok((session, json!({"framing": framing})))
    })
    .await;
    if let Some(session) = &session {
        step("type `echo ok` and Enter", async {
            session
                .type_text("echo ok\n", Layout::Us, Duration::from_millis(20))
                .await
                .map(|()| ((), Value::Null))
        })
        .await;
        step("ctrl+alt+delete", async {
            session
                .tap("ctrl+alt+delete")
                .await
                .map(|()| ((), Value::Null))
        })
        .await;
        step("mouse to centre, click, scroll", async {
            session.move_to_normalized(0.5, 0.5).await?;
            session.click(MouseButtons::LEFT).await?;
            session.scroll(-3).await?;
            Ok(((), Value::Null))
        })
        .await;
    }
    drop(session);

    step("screenshot", async {
        let jpeg = client.screenshot(Duration::from_secs(5)).await?;
        let path = args.out.join("screen.jpg");
        std::fs::create_dir_all(&args.out)
            .and_then(|()| std::fs::write(&path, &jpeg))
            .map_err(|source| nanokvm_client::Error::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok((
            (),
            json!({"path": path.display().to_string(), "bytes": jpeg.len()}),
        ))
    })
    .await;
    let images = step("list images", async {
        let images = client.storage().images().await?;
        let summary = json!(images);
        Ok((images, summary))
    })
    .await
    .unwrap_or_default();
    if let Some(first) = images.first() {
        step("mount first image as CD-ROM", async {
            client
                .storage()
                .mount(first, MountMode::CdRom)
                .await
                .map(|()| ((), json!(first)))
        })
        .await;
        step("mounted image", async {
            let mounted = client.storage().mounted().await?;
            Ok(((), json!(mounted)))
        })
        .await;
        step("unmount", async {
            client.storage().unmount().await.map(|()| ((), Value::Null))
        })
        .await;
    }
    step("wake-on-lan", async {
        let mac = client.network().wake_on_lan("AA:BB:CC:DD:EE:FF").await?;
        Ok(((), json!(mac)))
    })
    .await;
    if let Some(sim) = sim {
        // What the simulated machine behind the KVM saw.
        println!(
            "{}",
            json!({
                "step": "simulated machine",
                "ok": true,
                "result": {
                    "power": power_state(sim.power()),
                    "screen": sim.screen_text(),
                    "hid_reports": sim.hid_reports().len(),
                    "wol_packets": sim.wol_packets().len(),
                },
            })
        );
        if let Err(error) = sim.shutdown().await {
            eprintln!("simulator shutdown: {error}");
        }
    }
    std::process::ExitCode::SUCCESS
}

/// An error and its causes, `: `-separated: the error says what failed, its sources say
/// why.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// The simulated machine's power state as a JSON string.
fn power_state(state: nanokvm_sim::PowerState) -> &'static str {
    match state {
        nanokvm_sim::PowerState::Off => "off",
        nanokvm_sim::PowerState::Booting => "booting",
        nanokvm_sim::PowerState::On => "on",
        nanokvm_sim::PowerState::ShuttingDown => "shutting_down",
        _ => "unknown",
    }
}

/// Starts a simulated NanoKVM with one ISO image to mount.
async fn start_simulator() -> Result<nanokvm_sim::Simulator, Box<dyn std::error::Error>> {
    let sim = nanokvm_sim::Simulator::builder().start().await?;
    std::fs::write(sim.data_dir().join("debian-12-netinst.iso"), [0u8; 4096])?;
    Ok(sim)
}
