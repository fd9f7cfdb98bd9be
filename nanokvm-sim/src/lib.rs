//! A faithful software Sipeed NanoKVM: the firmware's HTTP, WebSocket and MJPEG API in
//! front of a virtual target machine.
//!
//! The simulator plays a chosen firmware version ([`FirmwareVersion`]: 2.5.1, 2.5.0 or
//! 2.3.1) on a chosen board ([`Hardware`]: Alpha, Beta, PCIe), or the NanoKVM Pro with
//! its own firmware (1.2.13), as `docs/protocol.md` describes them: the
//! `{code, msg, data}` envelope, the login with its delays, session cookies and JWTs,
//! roles, the HID WebSocket, paste, storage and Wake-on-LAN. Behind it sits a virtual
//! machine ([`MachineState`], configured by [`MachineConfig`]) that only changes through
//! HID reports, GPIO presses and mounted media: a power-on self test, a firmware setup
//! screen with a boot order, an installer booted from a mounted CD-ROM image, a login
//! prompt, a shell, and a desktop whose buttons react to clicks. Keys are decoded with
//! `nanokvm-hid` in the target's layout, Caps Lock answers with its LED report, and the
//! pointer follows the mouse.
//!
//! - [`Simulator::builder`] configures an instance ([`SimulatorBuilder`]): version,
//!   board, [`Account`]s, the target machine, data directory, [`TimeScale`],
//!   resolution.
//! - A running [`Simulator`] is inspected (screen text, power, LEDs, mounted image, every
//!   [`HidReport`], [`RequestRecord`] and [`WolPacket`]), awaited
//!   ([`Simulator::wait_for`]) and given faults (latency, HTTP 500s, dropped WebSockets,
//!   expired or revoked sessions, device reboot, no HDMI signal, busy HID).
//! - The screen is a real framebuffer encoded to JPEG only when it changes:
//!   [`Simulator::screenshot`] returns it as a [`Screenshot`], and `GET
//!   /api/stream/mjpeg` streams it as the firmware does ([`VideoStats`] counts the work).
//! - Image downloads from a URL (really fetched, over plain HTTP) and multipart ISO
//!   uploads land in the data directory; [`Simulator::download_state`] and
//!   [`Simulator::wait_for_download`] follow them as a [`DownloadState`].
//! - [`encrypt_password`] produces the password field the web UI would send.
//!
//! # Example
//!
//! ```
//! use nanokvm_sim::{Simulator, TimeScale};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let sim = Simulator::builder().time_scale(TimeScale::fast()).start().await?;
//!
//!     // Without a session cookie the firmware answers 401 with a JSON string.
//!     let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await?;
//!     tcp.write_all(b"GET /api/vm/gpio HTTP/1.1\r\nHost: kvm\r\nConnection: close\r\n\r\n")
//!         .await?;
//!     let mut reply = String::new();
//!     tcp.read_to_string(&mut reply).await?;
//!     assert!(reply.starts_with("HTTP/1.1 401"));
//!     assert!(reply.ends_with("\"unauthorized\""));
//!
//!     // The target waits at its login prompt.
//!     assert!(sim.screen_text().ends_with("target login: "));
//!     assert_eq!(sim.machine().stage(), nanokvm_sim::Stage::Login);
//!     sim.shutdown().await?;
//!     Ok(())
//! }
//! ```

mod config;
mod crypto;
mod error;
mod faults;
mod fetch;
mod hdmi;
mod http;
mod json;
mod machine;
mod multipart;
mod paste;
mod record;
mod screen;
mod sim;
mod state;
mod time;
mod transfer;
mod util;
mod video;

pub use config::{
    Account, BootDevice, FirmwareVersion, GpioLines, Hardware, Lockout, MachineConfig, Role,
};
pub use crypto::encrypt_password;
pub use error::Error;
pub use machine::{Click, Leds, MachineState, PowerState, Stage};
pub use record::{HidReport, RequestRecord, WolPacket};
pub use screen::Screenshot;
pub use sim::{Simulator, SimulatorBuilder};
pub use time::TimeScale;
pub use transfer::DownloadState;
pub use video::VideoStats;
