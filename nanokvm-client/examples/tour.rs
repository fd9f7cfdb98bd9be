//! A tour of the library, the way a new user would drive a NanoKVM.
//!
//! ```text
//! cargo run -p nanokvm-client --example tour -- --out target/tour
//! cargo run -p nanokvm-client --example tour -- \
//!     --url http://192.168.1.50 --user admin --password admin --out /tmp/kvm
//! ```
//!
//! Without `--url` the tour starts a simulated NanoKVM (`nanokvm-sim`, firmware 2.5.1,
//! `admin`/`admin`, one ISO image in its data directory) on 127.0.0.1 whose target
//! machine is switched off, and tours that. The simulated delays run at a quarter of
//! their real length, so the machine boots in about two seconds.
//!
//! The tour reads the device, switches the target on if (and only if) its power LED is
//! off and waits for it to start, logs in at the target's console, erases a line with a
//! chord, types and pastes commands, clicks, takes a screenshot, mounts an image and
//! sends Wake-on-LAN. After each thing it types it checks that the text reached the
//! screen: the simulator's screen can be read, a real device's cannot, so there the
//! check says so and the screenshot is the evidence.
//!
//! Each step prints one JSON line: `{"step": ..., "ok": true, "result": ...}` or
//! `{"step": ..., "ok": false, "error": ...}`. A failed step does not stop the tour, but
//! the exit code is 0 only when every step succeeded: 1 when a step failed, 2 for a bad
//! command line.
//!
//! Careful with a real device: the tour may press the target's power button, and it
//! types into whatever has the keyboard focus there. Give `--target-user` and
//! `--target-password` when the target waits at a text login prompt.

// An example's purpose is to print its results to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nanokvm_client::api::hid::PasteLayout;
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, Layout, MouseButtons, SecretString, WsSession};
use nanokvm_sim::{MachineConfig, MachineState, PowerState, Simulator, Stage, TimeScale};
use serde_json::{Value, json};

const USAGE: &str = "\
usage: tour [--url URL --user USER --password PASS] [--out DIR]
            [--target-user USER --target-password PASS] [--layout LAYOUT]
            [--boot-wait SECONDS]

  --url URL              the NanoKVM to tour; without it a simulated one is started
  --user, --password     the NanoKVM's login (admin/admin for the simulator)
  --out DIR              where the screenshot is saved (default: .)
  --target-user USER     log in at the target's console prompt as USER
  --target-password PASS ... with this password (the simulator's: user/password)
  --layout LAYOUT        the target's keyboard layout (default: us)
  --boot-wait SECONDS    after switching a real device's target on, how long to wait
                         for its system to start (default: 30)
  -h, --help             print this message

Exit codes: 0 every step succeeded, 1 a step failed, 2 bad command line.";

/// What the tour was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The device's URL; `None` tours a simulator.
    pub url: Option<String>,
    /// The NanoKVM's user.
    pub user: String,
    /// The NanoKVM's password.
    pub password: String,
    /// Where the screenshot goes.
    pub out: PathBuf,
    /// The target's console login, when the tour should log in there.
    pub target_login: Option<(String, SecretString)>,
    /// The target's keyboard layout.
    pub layout: Layout,
    /// How long a real target is given to boot after it was switched on.
    pub boot_wait: Duration,
    /// How long typed text may take to reach the simulator's screen.
    pub screen_wait: Duration,
}

/// The command line: `Ok(None)` when help was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut url = None;
    let mut user = None;
    let mut password = None;
    let mut out = None;
    let mut target_user = None;
    let mut target_password = None;
    let mut layout = Layout::Us;
    let mut boot_wait = Duration::from_secs(30);
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--user" => user = Some(value),
            "--password" => password = Some(value),
            "--out" => out = Some(PathBuf::from(value)),
            "--target-user" => target_user = Some(value),
            "--target-password" => target_password = Some(value),
            "--layout" => layout = Layout::from_name(&value).map_err(|e| e.to_string())?,
            "--boot-wait" => {
                let seconds: f64 = value
                    .parse()
                    .map_err(|e| format!("--boot-wait {value}: {e}"))?;
                boot_wait = Duration::try_from_secs_f64(seconds)
                    .map_err(|e| format!("--boot-wait {value}: {e}"))?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let simulated = url.is_none();
    let password = match password {
        Some(password) => password,
        None if simulated => "admin".to_owned(),
        None => return Err("--password is required with --url".to_owned()),
    };
    let target_login = match (target_user, target_password) {
        (Some(user), Some(password)) => Some((user, SecretString::from(password))),
        (None, None) if simulated => Some(("user".to_owned(), SecretString::from("password"))),
        (None, None) => None,
        _ => return Err("--target-user and --target-password go together".to_owned()),
    };
    Ok(Some(Options {
        url,
        user: user.unwrap_or_else(|| "admin".to_owned()),
        password,
        out: out.unwrap_or_else(|| PathBuf::from(".")),
        target_login,
        layout,
        boot_wait,
        screen_wait: Duration::from_secs(10),
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("tour: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // No device given: tour a simulated one, switched off, at a quarter of real delays.
    let sim = match &options.url {
        Some(_) => None,
        None => {
            let machine = MachineConfig::new().layout(options.layout);
            let sim = start_simulator(machine, false, TimeScale::new(0.25)).await;
            match sim {
                Ok(sim) => Some(sim),
                Err(error) => {
                    eprintln!("tour: cannot start the simulator: {}", chain(&*error));
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let failed = tour(&options, sim.as_ref()).await;
    if let Some(sim) = sim {
        if let Err(error) = sim.shutdown().await {
            eprintln!("tour: simulator shutdown: {}", chain(&error));
        }
    }
    match failed {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("tour: {n} step(s) failed");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("tour: {message}");
            ExitCode::from(2)
        }
    }
}

/// Counts the steps that failed.
#[derive(Default)]
struct Steps {
    failed: usize,
}

impl Steps {
    /// Runs one step and prints its JSON summary; returns its value on success.
    async fn run<T, F>(&mut self, name: &str, f: F) -> Option<T>
    where
        F: Future<Output = Result<(T, Value), StepError>>,
    {
        match f.await {
            Ok((value, summary)) => {
                println!("{}", json!({"step": name, "ok": true, "result": summary}));
                Some(value)
            }
            Err(error) => {
                self.failed += 1;
                println!("{}", json!({"step": name, "ok": false, "error": error.0}));
                None
            }
        }
    }
}

/// Why a step failed, as one line.
struct StepError(String);

impl From<nanokvm_client::Error> for StepError {
    fn from(error: nanokvm_client::Error) -> Self {
        Self(chain(&error))
    }
}

impl From<String> for StepError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// Tours the device at `options.url`, or `sim` when there is no URL; returns how many
/// steps failed, or why the tour could not start.
pub async fn tour(options: &Options, sim: Option<&Simulator>) -> Result<usize, String> {
    let url = match (&options.url, sim) {
        (Some(url), _) => url.clone(),
        (None, Some(sim)) => sim.url(),
        (None, None) => return Err("no device and no simulator to tour".to_owned()),
    };
    let client = Client::builder(&url)
        .credentials(&options.user, SecretString::from(options.password.clone()))
        .build()
        .map_err(|e| chain(&e))?;
    let screen = Screen {
        sim,
        wait: options.screen_wait,
    };
    let mut steps = Steps::default();

    steps
        .run("login", async {
            client.login().await?;
            Ok(((), Value::Null))
        })
        .await;
    steps
        .run("capabilities", async {
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
    steps
        .run("device info", async {
            Ok(((), json!(client.device().info().await?)))
        })
        .await;

    // Power: pressed only when the LED says the target is off, since a short press on
    // a running system asks it to shut down.
    steps
        .run("power on if off", async {
            let before = client.power().leds().await?;
            if before.power {
                return Ok(((), json!({"was_on": true, "pressed": false})));
            }
            client.power().press_power().await?;
            wait_for_power_led(&client, Duration::from_secs(30)).await?;
            let booted = screen.wait_until_started(options.boot_wait).await?;
            Ok((
                (),
                json!({"was_on": false, "pressed": true, "started": booted}),
            ))
        })
        .await;

    let session = steps
        .run("keyboard and mouse session", async {
            let session = client.ws().await?;
            let framing = session.framing();
            Ok((session, json!({"framing": framing})))
        })
        .await;
    if let Some(session) = &session {
        keyboard_steps(&mut steps, options, session, &screen).await;
        steps
            .run("mouse to the centre, click, scroll", async {
                session.move_to_normalized(0.5, 0.5).await?;
                session.click(MouseButtons::LEFT).await?;
                session.scroll(-3).await?;
                Ok(((), Value::Null))
            })
            .await;
    }
    drop(session);

    // Paste goes through the firmware's own typing (HTTP), in its US key map.
    if options.layout == Layout::Us {
        steps
            .run("paste `uname -a` and Enter", async {
                let report = client.hid().paste("uname -a\n", PasteLayout::Us).await?;
                let seen = screen.expect_line_starting("Linux ").await?;
                Ok(((), json!({"paste": report, "screen": seen})))
            })
            .await;
    }

    steps
        .run("screenshot", async {
            let jpeg = client.screenshot(Duration::from_secs(5)).await?;
            let path = options.out.join("screen.jpg");
            std::fs::create_dir_all(&options.out)
                .and_then(|()| std::fs::write(&path, &jpeg))
                .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
            Ok((
                (),
                json!({"path": path.display().to_string(), "bytes": jpeg.len()}),
            ))
        })
        .await;
    let images = steps
        .run("list images", async {
            let images = client.storage().images().await?;
            let summary = json!(images);
            Ok((images, summary))
        })
        .await
        .unwrap_or_default();
    if let Some(first) = images.first() {
        steps
            .run("mount the first image as a CD-ROM", async {
                client.storage().mount(first, MountMode::CdRom).await?;
                Ok(((), json!({"mounted": client.storage().mounted().await?})))
            })
            .await;
        steps
            .run("unmount", async {
                client.storage().unmount().await?;
                Ok(((), Value::Null))
            })
            .await;
    }
    steps
        .run("wake-on-lan", async {
            let mac = client.network().wake_on_lan("AA:BB:CC:DD:EE:FF").await?;
            Ok(((), json!(mac)))
        })
        .await;
    if let Some(sim) = sim {
        // What the simulated machine behind the KVM saw.
        let machine = sim.machine();
        println!(
            "{}",
            json!({
                "step": "simulated machine",
                "ok": true,
                "result": {
                    "power": format!("{:?}", machine.power()).to_lowercase(),
                    "stage": format!("{:?}", machine.stage()).to_lowercase(),
                    "screen": machine.lines().iter().rev().take(6).rev().collect::<Vec<_>>(),
                    "hid_reports": sim.hid_reports().len(),
                    "wol_packets": sim.wol_packets().len(),
                },
            })
        );
    }
    Ok(steps.failed)
}

/// The keyboard part: log in at the target's console, a chord, typed text.
async fn keyboard_steps(
    steps: &mut Steps,
    options: &Options,
    session: &WsSession,
    screen: &Screen<'_>,
) {
    let layout = options.layout;
    let delay = Duration::from_millis(20);
    match &options.target_login {
        Some((user, password)) => {
            steps
                .run("log in at the target's console", async {
                    if screen.at_shell() {
                        return Ok(((), json!({"already_logged_in": true})));
                    }
                    session
                        .type_text(&format!("{user}\n"), layout, delay)
                        .await?;
                    screen.expect_text("Password: ").await?;
                    session.type_secret(password, layout, delay).await?;
                    session.type_text("\n", layout, delay).await?;
                    let seen = screen.expect_shell().await?;
                    Ok(((), json!({"user": user, "screen": seen})))
                })
                .await;
        }
        None => {
            println!(
                "{}",
                json!({"step": "log in at the target's console", "ok": true,
                       "result": {"skipped": "no --target-user given; typing where the focus is"}})
            );
        }
    }
    steps
        .run("type a line, erase it with ctrl+u", async {
            session
                .type_text("this line is erased", layout, delay)
                .await?;
            session.tap("ctrl+u").await?;
            let seen = screen.expect_empty_input().await?;
            Ok(((), json!({"screen": seen})))
        })
        .await;
    let greeting = "Hello from nanokvm-rs";
    steps
        .run("type `echo Hello from nanokvm-rs` and Enter", async {
            session
                .type_text(&format!("echo {greeting}\n"), layout, delay)
                .await?;
            let seen = screen.expect_line(greeting).await?;
            Ok(((), json!({"layout": layout.name(), "screen": seen})))
        })
        .await;
}

/// Polls the power LED until it is lit.
async fn wait_for_power_led(client: &Client, limit: Duration) -> Result<(), StepError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if client.power().leds().await?.power {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("the power LED stayed off for {limit:?} after the press").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What can be known about the target's screen: everything on the simulator, nothing on
/// a real device (where the screenshot is the evidence).
struct Screen<'a> {
    sim: Option<&'a Simulator>,
    /// How long text may take to reach the simulator's screen.
    wait: Duration,
}

impl Screen<'_> {
    /// The check's answer on a real device.
    fn unchecked() -> Value {
        json!({"checked": false, "note": "a real device's screen cannot be read here; see the screenshot"})
    }

    /// Waits until `condition` holds on the simulated screen; the answer names the last
    /// lines it saw.
    async fn expect(
        &self,
        what: &str,
        condition: impl FnMut(&MachineState) -> bool,
    ) -> Result<Value, StepError> {
        let Some(sim) = self.sim else {
            return Ok(Self::unchecked());
        };
        let tail = |state: &MachineState| {
            let lines = state.lines();
            lines[lines.len().saturating_sub(3)..].to_vec()
        };
        match tokio::time::timeout(self.wait, sim.wait_for(condition)).await {
            Ok(state) => Ok(json!({"checked": true, "screen_ends": tail(&state)})),
            Err(_) => Err(format!(
                "{what} did not appear on the screen within {:?}; it ends with {:?}",
                self.wait,
                tail(&sim.machine())
            )
            .into()),
        }
    }

    async fn expect_text(&self, text: &str) -> Result<Value, StepError> {
        self.expect(&format!("{text:?}"), |m| m.screen_text().ends_with(text))
            .await
    }

    async fn expect_line(&self, line: &str) -> Result<Value, StepError> {
        self.expect(&format!("the line {line:?}"), |m| {
            m.lines().iter().any(|l| l == line)
        })
        .await
    }

    async fn expect_line_starting(&self, start: &str) -> Result<Value, StepError> {
        self.expect(&format!("a line starting {start:?}"), |m| {
            m.lines().iter().any(|l| l.starts_with(start))
        })
        .await
    }

    async fn expect_shell(&self) -> Result<Value, StepError> {
        self.expect("a shell prompt", |m| m.stage() == Stage::Shell)
            .await
    }

    async fn expect_empty_input(&self) -> Result<Value, StepError> {
        self.expect("an empty input line", |m| m.input_line().is_empty())
            .await
    }

    /// Whether the simulated target is at a shell already.
    fn at_shell(&self) -> bool {
        self.sim
            .is_some_and(|sim| sim.machine().stage() == Stage::Shell)
    }

    /// After the power LED came on: waits for the simulated system to reach its login
    /// prompt or a shell, or on a real device for `boot_wait`.
    async fn wait_until_started(&self, boot_wait: Duration) -> Result<Value, StepError> {
        match self.sim {
            Some(_) => {
                self.expect("a login prompt", |m| {
                    m.power() == PowerState::On
                        && matches!(m.stage(), Stage::Login | Stage::Shell | Stage::Desktop)
                })
                .await
            }
            None => {
                tokio::time::sleep(boot_wait).await;
                Ok(json!({"checked": false, "waited_s": boot_wait.as_secs_f64()}))
            }
        }
    }
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

/// Starts a simulated NanoKVM with one ISO image to mount, whose target machine is
/// switched on or off.
pub async fn start_simulator(
    machine: MachineConfig,
    powered_on: bool,
    time: TimeScale,
) -> Result<Simulator, Box<dyn std::error::Error>> {
    let sim = Simulator::builder()
        .machine(machine)
        .powered_on(powered_on)
        .time_scale(time)
        .start()
        .await?;
    std::fs::write(sim.data_dir().join("debian-12-netinst.iso"), [0u8; 4096])?;
    Ok(sim)
}
