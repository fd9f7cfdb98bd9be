//! Faults a test can inject into the simulated device.

use std::time::Duration;

/// The fault switches; all off by default.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// Added before every HTTP answer (not scaled: the test chose it).
    pub latency: Duration,
    /// The next this-many requests get HTTP 500 with an empty body.
    pub fail_next: u32,
    /// The HDMI input reports no signal whatever the machine does.
    pub no_signal: bool,
    /// Paste and HID reset cannot reserve HID control.
    pub hid_busy: bool,
}
