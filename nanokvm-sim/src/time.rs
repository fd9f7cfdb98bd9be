//! Scaled time: real firmware delays by default, shrunk for fast tests.

use std::time::Duration;

/// How the simulator's delays relate to the firmware's.
///
/// Every delay the firmware has (the 2 s after a wrong password, 30 ms per pasted
/// character, a GPIO press, the 90 s WebSocket idle limit, a target machine's boot) is
/// multiplied by this factor. [`TimeScale::REAL`] keeps them as on a device;
/// [`TimeScale::fast`] makes them a thousand times shorter so that tests run in
/// milliseconds while the order of events stays the same.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeScale {
    factor: f64,
}

impl TimeScale {
    /// Delays as the firmware has them.
    pub const REAL: Self = Self { factor: 1.0 };

    /// Delays a thousand times shorter, for tests.
    #[must_use]
    pub const fn fast() -> Self {
        Self { factor: 0.001 }
    }

    /// Delays multiplied by `factor`. Negative, NaN or infinite factors are treated as 1.
    #[must_use]
    pub fn new(factor: f64) -> Self {
        if factor.is_finite() && factor >= 0.0 {
            Self { factor }
        } else {
            Self::REAL
        }
    }

    /// The multiplier.
    #[must_use]
    pub const fn factor(self) -> f64 {
        self.factor
    }

    /// A firmware delay as the simulator waits it.
    #[must_use]
    pub fn scale(self, firmware: Duration) -> Duration {
        firmware.mul_f64(self.factor)
    }

    /// Waits a firmware delay, scaled.
    pub async fn sleep(self, firmware: Duration) {
        let d = self.scale(firmware);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL
    }
}
