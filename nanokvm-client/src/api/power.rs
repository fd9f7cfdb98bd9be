//! The target's power and reset buttons, and its power and HDD LEDs.
//!
//! A press is `POST /api/vm/gpio`, which the firmware answers only after releasing the
//! button, so the request timeout is extended by the press duration. A press is never
//! repeated: not after a timeout (it may have happened) and not after a re-login.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::capabilities::Hardware;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::ApiRequest;

/// Which button to press.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerButton {
    /// The power button.
    Power,
    /// The reset button.
    Reset,
}

impl PowerButton {
    fn as_wire(self) -> &'static str {
        match self {
            Self::Power => "power",
            Self::Reset => "reset",
        }
    }
}

/// The target's LEDs as the device reads them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct LedState {
    /// Whether the power LED is lit.
    pub power: bool,
    /// Whether the HDD LED is lit; `None` on hardware without the HDD line (everything
    /// but the Alpha board, where the firmware always says `false`).
    pub hdd: Option<bool>,
}

/// How a power cycle runs: hold power to force the target off, wait, press to start it.
/// Serializes in milliseconds (`hold_off_ms`, `off_for_ms`, `press_on_ms`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub struct PowerCycle {
    /// How long to hold the button to force power off (default 6 s; most ATX boards need
    /// more than 4 s).
    #[serde(rename = "hold_off_ms", serialize_with = "crate::serialize::millis")]
    pub hold_off: Duration,
    /// How long to wait while off (default 5 s).
    #[serde(rename = "off_for_ms", serialize_with = "crate::serialize::millis")]
    pub off_for: Duration,
    /// How long to press to power on (default 800 ms, the web UI's short press).
    #[serde(rename = "press_on_ms", serialize_with = "crate::serialize::millis")]
    pub press_on: Duration,
}

impl Default for PowerCycle {
    fn default() -> Self {
        Self {
            hold_off: Duration::from_secs(6),
            off_for: Duration::from_secs(5),
            press_on: SHORT_PRESS,
        }
    }
}

/// The web UI's short press.
pub const SHORT_PRESS: Duration = Duration::from_millis(800);
/// The web UI's default long press.
pub const LONG_PRESS: Duration = Duration::from_secs(12);
/// The longest press this client sends.
pub const MAX_PRESS: Duration = Duration::from_secs(60);

/// Builds a press request (pure).
pub(crate) fn press_request(button: PowerButton, duration: Duration) -> Result<ApiRequest> {
    if duration.is_zero() || duration > MAX_PRESS {
        return Err(Error::invalid(format!(
            "a button press lasts 1 ms to {} s, not {duration:?}",
            MAX_PRESS.as_secs()
        )));
    }
    let millis = u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Ok(ApiRequest::post(
        "/api/vm/gpio",
        json!({ "type": button.as_wire(), "duration": millis }),
    )
    .extra_timeout(duration))
}

/// Power and reset buttons and LEDs. Obtain with [`Client::power`].
#[derive(Clone, Copy, Debug)]
pub struct PowerHandler<'a> {
    pub(crate) client: &'a Client,
}

impl PowerHandler<'_> {
    /// Presses `button` for `duration` (1 ms to 60 s) and returns once it is released.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a duration out of range; [`Error::Timeout`] (the press
    /// may have happened; it is not repeated); device and transport errors.
    pub async fn press(&self, button: PowerButton, duration: Duration) -> Result<()> {
        let req = press_request(button, duration)?;
        self.client.call::<Value>(req).await.map(drop)
    }

    /// A short press of the power button (800 ms).
    ///
    /// # Errors
    ///
    /// As [`PowerHandler::press`].
    pub async fn press_power(&self) -> Result<()> {
        self.press(PowerButton::Power, SHORT_PRESS).await
    }

    /// A long press of the power button (12 s, the web UI's default), which forces most
    /// machines off.
    ///
    /// # Errors
    ///
    /// As [`PowerHandler::press`].
    pub async fn long_press_power(&self) -> Result<()> {
        self.press(PowerButton::Power, LONG_PRESS).await
    }

    /// A short press of the reset button.
    ///
    /// # Errors
    ///
    /// As [`PowerHandler::press`].
    pub async fn reset(&self) -> Result<()> {
        self.press(PowerButton::Reset, SHORT_PRESS).await
    }

    /// Power off (when the power LED is lit), wait, power on.
    ///
    /// # Errors
    ///
    /// As [`PowerHandler::press`] and [`PowerHandler::leds`]; a failed step stops the cycle.
    pub async fn power_cycle(&self, cycle: PowerCycle) -> Result<()> {
        if self.leds().await?.power {
            self.press(PowerButton::Power, cycle.hold_off).await?;
        }
        tokio::time::sleep(cycle.off_for).await;
        self.press(PowerButton::Power, cycle.press_on).await
    }

    /// The power and HDD LEDs (`GET /api/vm/gpio`).
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn leds(&self) -> Result<LedState> {
        #[derive(Deserialize)]
        struct Wire {
            pwr: bool,
            #[serde(default)]
            hdd: bool,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/vm/gpio")).await?;
        let has_hdd = match self.client.cached_capabilities() {
            Some(caps) => caps.hardware == Hardware::Alpha,
            None => self.client.capabilities().await?.hardware == Hardware::Alpha,
        };
        Ok(LedState {
            power: wire.pwr,
            hdd: has_hdd.then_some(wire.hdd),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presses_carry_millis_and_extend_the_timeout() {
        let req = press_request(PowerButton::Reset, Duration::from_millis(1500)).unwrap();
        assert_eq!(req.body, Some(json!({"type": "reset", "duration": 1500})));
        assert_eq!(req.extra_timeout, Duration::from_millis(1500));
        assert!(!req.idempotent);
        assert!(press_request(PowerButton::Power, Duration::ZERO).is_err());
        assert!(press_request(PowerButton::Power, Duration::from_secs(61)).is_err());
    }
}
