//! The keyboard and mouse session over `/api/ws`.
//!
//! A [`WsSession`] owns one WebSocket through a background task. The task writes the
//! reports operations ask for, sends a heartbeat every few seconds (the firmware closes
//! a socket after 90 s of silence), decodes the device's pushes, and reconnects when
//! the socket drops (logging in again when the device closes it with 4401).
//!
//! **Invariant: nothing stays held.** The task tracks the keyboard report and mouse
//! buttons it last sent. Every multi-step operation (a chord, a click, a drag, typing)
//! carries a guard that asks the task to release everything if the operation fails or
//! its future is dropped half-way; dropping the session releases everything too. A
//! reconnect starts from nothing held, because the firmware releases on disconnect.
//!
//! **Invariant: an operation never continues on a new connection.** Reports written
//! just before the device dropped the socket may be lost, so the rest of a chord, a
//! double-click or a text would reach the target incomplete (a command line with
//! characters missing). Every report of a multi-step operation carries the connection
//! it started on; once the task has reconnected it refuses the rest with an error, and
//! the caller decides whether to repeat anything.
//!
//! Frames are binary on firmware 2.3.2 and later and JSON arrays before; see
//! `frame.rs`. The upgrade request is written by `handshake.rs` rather than tungstenite,
//! which would log it, session cookie included, at trace level.
//!
//! The module is split by concern: `session.rs` is the public API ([`WsSession`], its
//! operations and the guard that releases what they hold), `held.rs` tracks what is
//! held, `task.rs` is the background task's loop (writes, heartbeats, pushes,
//! reconnects), and `connect.rs` opens the socket.

mod connect;
mod frame;
mod handshake;
mod held;
pub mod push;
mod session;
mod task;

pub use session::{CLICK_HOLD, TAP_HOLD, WsSession};
