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
//! # Example
//!
//! ```no_run
//! use nanokvm_client::{Client, SecretString, api::hid::PasteLayout};
//!
//! # async fn run() -> Result<(), nanokvm_client::Error> {
//! let client = Client::builder("https://192.168.1.50")
//!     .credentials("admin", SecretString::from("admin"))
//!     .tls_pin_sha256("AB:CD:...:EF") // the device's self-signed certificate
//!     .build()?;
//!
//! let caps = client.capabilities().await?;
//! println!("{}", caps.describe());
//! println!("power LED on: {}", client.power().leds().await?.power);
//!
//! let report = client.hid().paste("Hello, World!\n", PasteLayout::Us).await?;
//! assert!(report.skipped.is_empty());
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
