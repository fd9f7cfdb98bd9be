//! A typed async client for the Sipeed NanoKVM's HTTP and WebSocket API, for every
//! firmware version.
//!
//! - [`Client`]: built with [`Client::builder`]; cheap to clone. It logs in on first use
//!   (once, however many tasks call at the same time), logs in again when the session
//!   expires, and reads the firmware version and hardware once to decide what the device
//!   can do ([`Capabilities`]).
//! - Area handlers: [`Client::device`], [`Client::power`], [`Client::hdmi`],
//!   [`Client::hid`], [`Client::storage`], [`Client::network`], [`Client::system`],
//!   [`Client::ai`].
//! - [`WsSession`] ([`Client::ws`]): the keyboard and mouse session, which reconnects,
//!   releases whatever it holds when an operation fails or is dropped, and never
//!   finishes an operation on a new connection.
//! - [`Client::screenshot`] and [`Client::frames`]: JPEGs from the MJPEG stream.
//! - [`Error`]: one error type that classifies itself ([`Error::is_auth`],
//!   [`Error::is_timeout`], [`Error::is_not_supported`], [`Error::is_tls`], ...).
//!
//! The domain types the client returns implement `serde::Serialize` (enums as
//! `snake_case` strings, durations with their unit in the field name), so frontends print
//! JSON without going through `Debug`. An [`Error`]'s message says what failed and its
//! `source()` chain says why.
//!
//! Passwords are [`SecretString`]s and never appear in errors, logs, `Debug` output or
//! serialized values.
//!
//! The `nanokvm-hid` types that appear in this API ([`Layout`], [`Keymap`], [`Chord`],
//! [`MouseButtons`], [`KeyboardReport`], ...) are re-exported here, so a program needs no
//! direct dependency on `nanokvm-hid`.
//!
//! # Runtime
//!
//! Every call is `async` and runs on tokio. The client brings the tokio features it
//! uses itself (`net`, `time`, `sync`, `rt`, `fs`, `io-util`); a program adds the
//! runtime it starts, usually with
//! `tokio = { version = "1", features = ["macros", "rt-multi-thread"] }`
//! (or `"rt"` alone for `#[tokio::main(flavor = "current_thread")]`).
//!
//! # Trying it without a device
//!
//! The examples below run against `nanokvm-sim`, a software NanoKVM with a virtual
//! target machine whose screen can be read back (`TimeScale::fast()` divides its delays
//! by 1000, which also closes an idle keyboard socket after 90 ms, so the keyboard
//! examples keep real time): add it as a dev-dependency (or run its
//! `nanokvm-sim` binary and point the client at the URL it prints) and test a program
//! against it before it meets a real machine. The simulator logs the KVM in as
//! `admin`/`admin` and its target machine's console as `user`/`password`.
//!
//! ## Log in and read the device
//!
//! ```
//! use nanokvm_client::{Client, SecretString};
//! use nanokvm_sim::{Simulator, TimeScale};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder().time_scale(TimeScale::fast()).start().await?;
//!
//! let client = Client::builder(sim.url()) // a device: "https://192.168.1.50"
//!     .credentials("admin", SecretString::from("admin"))
//!     .build()?;
//! client.login().await?; // optional: the first call logs in by itself
//!
//! let caps = client.capabilities().await?;
//! assert_eq!(caps.describe(), "firmware 2.5.1 on Alpha");
//! let info = client.device().info().await?;
//! assert!(!info.interfaces.is_empty());
//! assert!(client.power().leds().await?.power); // the target is running
//! # sim.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Type text in the target's layout
//!
//! The NanoKVM sends key positions and the target turns them into characters with its
//! own layout, so text is typed for the layout the target uses. A character that layout
//! cannot type fails the whole call before anything is sent.
//!
//! ```
//! use std::time::Duration;
//! use nanokvm_client::{Client, Layout, SecretString};
//! use nanokvm_sim::{MachineConfig, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A target with a German keyboard, logged in at a shell.
//! let machine = MachineConfig::new().layout(Layout::De).logged_in(true);
//! let sim = Simulator::builder().machine(machine).start().await?;
//! let client = Client::builder(sim.url())
//!     .credentials("admin", SecretString::from("admin"))
//!     .build()?;
//!
//! let session = client.ws().await?; // the keyboard and mouse
//! session.type_text("echo Grüße\n", Layout::De, Duration::from_millis(10)).await?;
//!
//! // Only the simulator can show what reached the screen.
//! let screen = sim.wait_for(|m| m.lines().iter().any(|l| l == "Grüße")).await;
//! assert!(screen.screen_text().contains("$ echo Grüße"));
//! assert!(session.type_text("→", Layout::De, Duration::ZERO).await.is_err());
//! # sim.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Press a chord
//!
//! A chord's keys go down one at a time and come up in reverse; whatever is held is
//! released if the call fails or is dropped half-way.
//!
//! ```
//! use std::time::Duration;
//! use nanokvm_client::{Chord, Client, Layout, SecretString};
//! use nanokvm_sim::{MachineConfig, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder()
//!     .machine(MachineConfig::new().logged_in(true))
//!     .start()
//!     .await?;
//! let client = Client::builder(sim.url())
//!     .credentials("admin", SecretString::from("admin"))
//!     .build()?;
//! let session = client.ws().await?;
//!
//! session.type_text("rm -rf /tmp/x", Layout::Us, Duration::from_millis(5)).await?;
//! sim.wait_for(|m| m.input_line() == "rm -rf /tmp/x").await;
//!
//! // Ctrl+U erases the line at a shell prompt. `tap` parses and presses in one go;
//! // a parsed `Chord` can be held for a while (here 100 ms).
//! let chord: Chord = "ctrl+u".parse()?;
//! session.press_chord(&chord, Duration::from_millis(100)).await?;
//! sim.wait_for(|m| m.input_line().is_empty()).await;
//! session.tap("ctrl+l").await?; // clears the screen
//! # sim.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Take a screenshot
//!
//! ```
//! use std::time::Duration;
//! use nanokvm_client::{Client, SecretString};
//! use nanokvm_sim::{Simulator, TimeScale};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder()
//!     .resolution(640, 480)
//!     .time_scale(TimeScale::fast())
//!     .start()
//!     .await?;
//! let client = Client::builder(sim.url())
//!     .credentials("admin", SecretString::from("admin"))
//!     .build()?;
//!
//! // The first frame of the MJPEG stream; a screen that sends nothing times out.
//! let jpeg = client.screenshot(Duration::from_secs(5)).await?;
//! assert!(jpeg.starts_with(&[0xFF, 0xD8])); // a JPEG
//! // std::fs::write("screen.jpg", &jpeg)?;
//! # sim.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Mount an image
//!
//! Images live in the device's `/data`; [`api::storage`] lists, mounts, downloads and
//! uploads them.
//!
//! ```
//! use nanokvm_client::api::storage::MountMode;
//! use nanokvm_client::{Client, SecretString};
//! use nanokvm_sim::{Simulator, TimeScale};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder().time_scale(TimeScale::fast()).start().await?;
//! std::fs::write(sim.data_dir().join("debian.iso"), [0u8; 4096])?;
//! let client = Client::builder(sim.url())
//!     .credentials("admin", SecretString::from("admin"))
//!     .build()?;
//!
//! let images = client.storage().images().await?;
//! assert_eq!(images, ["/data/debian.iso"]);
//! client.storage().mount(&images[0], MountMode::CdRom).await?;
//! assert_eq!(sim.mounted_image().as_deref(), Some("/data/debian.iso"));
//! client.storage().unmount().await?;
//! # sim.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Pin the device's certificate
//!
//! A NanoKVM serves HTTPS with a self-signed certificate. [`fetch_fingerprint`] reads
//! the SHA-256 fingerprint of the certificate a device presents; compare it once with
//! what the device itself shows (or `openssl x509 -noout -fingerprint -sha256 -in
//! server.crt` on the device), keep it, and pin it: a certificate that does not match
//! then fails every request before anything is sent.
//!
//! ```no_run
//! use std::time::Duration;
//! use nanokvm_client::{Client, SecretString, fetch_fingerprint};
//!
//! # async fn run() -> Result<(), nanokvm_client::Error> {
//! let url = "https://192.168.1.50";
//! let fingerprint = fetch_fingerprint(url, Duration::from_secs(5)).await?;
//! println!("{fingerprint}"); // AB:CD:...:EF, to compare and keep
//!
//! let client = Client::builder(url)
//!     .credentials("admin", SecretString::from("admin"))
//!     .tls_pin_sha256(fingerprint.to_string())
//!     .build()?;
//! client.login().await?;
//! # Ok(())
//! # }
//! ```

mod capabilities;
mod client;
mod error;
mod password;
mod screenshot;
mod serialize;
mod tls;
mod wire;

pub mod api;
pub mod ws;

pub use capabilities::{Capabilities, FirmwareVersion, Hardware, PasteLimit, WsFraming};
pub use client::{Client, ClientBuilder, PasswordEncoding};
pub use error::{BoxError, Error, Result};
pub use screenshot::FrameStream;
pub use secrecy::SecretString;
pub use tls::{CertificateFingerprint, TlsTrust, fetch_fingerprint};
pub use ws::WsSession;

// The `nanokvm-hid` types that appear in this crate's API, so a program needs no direct
// dependency on `nanokvm-hid` to type text in a layout, press a chord or click.
pub use nanokvm_hid::{
    AbsolutePosition, AbsoluteReport, Chord, Error as HidError, KeySequence, KeyboardReport,
    Keycode, Keymap, Layout, Modifiers, MouseButtons, RelativeReport, Stroke, TargetOs,
};

/// Compiles the code in the crate's README, so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
