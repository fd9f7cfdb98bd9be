//! What the simulator observed, kept for inspection by tests and tools.

use nanokvm_hid::{AbsoluteReport, KeyboardReport, RelativeReport};

/// One HTTP request as the simulator answered it (WebSocket upgrades included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The status code answered.
    pub status: u16,
}

/// One report written to a HID gadget of the virtual device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HidReport {
    /// To `/dev/hidg0`.
    Keyboard(KeyboardReport),
    /// To `/dev/hidg1`.
    Relative(RelativeReport),
    /// To `/dev/hidg2`.
    Absolute(AbsoluteReport),
}

/// A Wake-on-LAN packet the firmware would have broadcast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WolPacket {
    /// The target's MAC address, normalised as `AA:BB:CC:DD:EE:FF`.
    pub mac: String,
}

/// Everything recorded so far.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub requests: Vec<RequestRecord>,
    pub hid: Vec<HidReport>,
    pub wol: Vec<WolPacket>,
}
