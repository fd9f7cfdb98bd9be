//! HDMI capture state and control, the stream settings (`/api/vm/screen`) and MJPEG frame
//! detection (`/api/stream/mjpeg/detect`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::ApiRequest;

/// HDMI capture state. Fields that the firmware version does not report are `None`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct HdmiState {
    /// Whether capture is enabled.
    pub enabled: bool,
    /// Whether an input signal is present (firmware after 2.5.0). It can be stale while
    /// nobody streams.
    pub signal: Option<bool>,
    /// Capture switches off after this long without viewers; `Some(ZERO)` = never
    /// (firmware 2.5.0 and later). Serialized in seconds, as `idle_timeout_secs`.
    #[serde(
        rename = "idle_timeout_secs",
        serialize_with = "crate::serialize::opt_secs"
    )]
    pub idle_timeout: Option<Duration>,
}

/// The longest HDMI idle timeout the firmware accepts: one week.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(10_080 * 60);

/// A stream setting for `POST /api/vm/screen`. Settings are device-wide: they change
/// what every viewer sees. Serializes as `{"fps": 30}`, `{"mode": "mjpeg"}`, ...
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamSetting {
    /// Output height: 1080, 720, 600 or 480; `None` for the native resolution.
    Resolution(Option<u16>),
    /// MJPEG quality: 100, 80, 60 or 50.
    JpegQuality(u8),
    /// H.264 bit rate in kbit/s: 1000, 2000, 3000 or 5000.
    H264Bitrate(u16),
    /// Frames per second, 10 to 60.
    Fps(u8),
    /// The stream encoding.
    Mode(StreamMode),
    /// H.264 group-of-pictures length, 1 to 100.
    Gop(u8),
}

/// The video encoding the device streams.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Motion JPEG (what screenshots read).
    Mjpeg,
    /// H.264.
    H264,
}

/// The longest [`HdmiHandler::pause_frame_detection`] this client asks for.
pub const MAX_DETECTION_PAUSE: Duration = Duration::from_secs(600);

/// Builds the request that pauses frame detection (pure).
pub(crate) fn pause_detection_request(pause: Duration) -> Result<ApiRequest> {
    if pause.subsec_nanos() != 0 || pause.is_zero() || pause > MAX_DETECTION_PAUSE {
        return Err(Error::invalid(format!(
            "frame detection pauses for 1 to {} whole seconds, not {pause:?}",
            MAX_DETECTION_PAUSE.as_secs()
        )));
    }
    Ok(ApiRequest::post(
        "/api/stream/mjpeg/detect/stop",
        json!({ "duration": pause.as_secs() }),
    )
    .idempotent()
    .extra_timeout(pause))
}

/// Builds the screen request, rejecting values the firmware would silently replace.
pub(crate) fn screen_request(setting: StreamSetting) -> Result<ApiRequest> {
    let (kind, value): (&str, u32) = match setting {
        StreamSetting::Resolution(None) => ("resolution", 0),
        StreamSetting::Resolution(Some(h)) if [1080, 720, 600, 480].contains(&h) => {
            ("resolution", u32::from(h))
        }
        StreamSetting::JpegQuality(q) if [100, 80, 60, 50].contains(&q) => {
            ("quality", u32::from(q))
        }
        StreamSetting::H264Bitrate(b) if [1000, 2000, 3000, 5000].contains(&b) => {
            ("quality", u32::from(b))
        }
        StreamSetting::Fps(f) if (10..=60).contains(&f) => ("fps", u32::from(f)),
        StreamSetting::Mode(StreamMode::Mjpeg) => ("type", 0),
        StreamSetting::Mode(StreamMode::H264) => ("type", 1),
        StreamSetting::Gop(g) if (1..=100).contains(&g) => ("gop", u32::from(g)),
        other => {
            return Err(Error::invalid(format!(
                "{other:?} is not a value the firmware accepts"
            )));
        }
    };
    Ok(ApiRequest::post("/api/vm/screen", json!({ "type": kind, "value": value })).idempotent())
}

/// HDMI and stream settings. Obtain with [`Client::hdmi`].
#[derive(Clone, Copy, Debug)]
pub struct HdmiHandler<'a> {
    pub(crate) client: &'a Client,
}

impl HdmiHandler<'_> {
    async fn require_hdmi(&self, operation: &str) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_hdmi(),
            operation,
            "NanoKVM firmware 2.2.8 or later",
        )
    }

    /// The HDMI state, with the fields this firmware reports.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.2.8 and on the Pro; transport and decoding errors.
    pub async fn state(&self) -> Result<HdmiState> {
        self.require_hdmi("HDMI state").await?;
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
            #[serde(default)]
            signal: Option<bool>,
            #[serde(default, rename = "idleTimeout")]
            idle_timeout: Option<u64>,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/vm/hdmi")).await?;
        Ok(HdmiState {
            enabled: wire.enabled,
            signal: wire.signal,
            idle_timeout: wire.idle_timeout.map(|m| Duration::from_secs(m * 60)),
        })
    }

    /// Restarts capture (takes about a second).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn reset(&self) -> Result<()> {
        self.require_hdmi("HDMI reset").await?;
        let req =
            ApiRequest::post("/api/vm/hdmi/reset", json!({})).extra_timeout(Duration::from_secs(2));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Enables capture (admin).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn enable(&self) -> Result<()> {
        self.require_hdmi("HDMI enable").await?;
        let req = ApiRequest::post("/api/vm/hdmi/enable", json!({})).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Disables capture (admin).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn disable(&self) -> Result<()> {
        self.require_hdmi("HDMI disable").await?;
        let req = ApiRequest::post("/api/vm/hdmi/disable", json!({})).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Sets the idle timeout, in whole minutes up to one week; zero disables it (admin,
    /// 2.5.0 and later).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for more than a week or a fraction of a minute;
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn set_idle_timeout(&self, timeout: Duration) -> Result<()> {
        if timeout > MAX_IDLE_TIMEOUT || timeout.as_secs() % 60 != 0 || timeout.subsec_nanos() != 0
        {
            return Err(Error::invalid(
                "the HDMI idle timeout is a whole number of minutes, at most 10080",
            ));
        }
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_hdmi_idle_timeout(),
            "HDMI idle timeout",
            "firmware 2.5.0 or later",
        )?;
        let req = ApiRequest::post(
            "/api/vm/hdmi/timeout",
            json!({ "minutes": timeout.as_secs() / 60 }),
        )
        .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    async fn require_detection(&self) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_frame_detection(),
            "MJPEG frame detection",
            "a NanoKVM Cube or PCIe",
        )
    }

    /// Switches MJPEG frame detection on: the stream then skips frames that equal the
    /// previous one, so a static screen sends nothing and a screenshot waits for a
    /// change (or times out). Device-wide.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on the Pro; device and transport errors.
    pub async fn enable_frame_detection(&self) -> Result<()> {
        self.require_detection().await?;
        let req =
            ApiRequest::post("/api/stream/mjpeg/detect", json!({ "enabled": true })).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Switches MJPEG frame detection off: every frame is sent. Device-wide.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] on the Pro; device and transport errors.
    pub async fn disable_frame_detection(&self) -> Result<()> {
        self.require_detection().await?;
        let req =
            ApiRequest::post("/api/stream/mjpeg/detect", json!({ "enabled": false })).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Switches frame detection off for `pause` (whole seconds, at most ten minutes),
    /// then on again, as the web UI does when it opens a stream. The device answers
    /// only when the pause is over, so this returns after `pause`; a screenshot taken
    /// meanwhile (from another task) gets a frame even from a static screen.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a pause out of range; [`Error::NotSupported`] on the
    /// Pro; device and transport errors.
    pub async fn pause_frame_detection(&self, pause: Duration) -> Result<()> {
        let req = pause_detection_request(pause)?;
        self.require_detection().await?;
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Changes one stream setting (`POST /api/vm/screen`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for values the firmware would replace by its defaults;
    /// [`Error::NotSupported`] on the Pro; device and transport errors.
    pub async fn set_stream(&self, setting: StreamSetting) -> Result<()> {
        let req = screen_request(setting)?;
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_screen_settings(),
            "stream settings via /api/vm/screen",
            "a NanoKVM Cube or PCIe",
        )?;
        self.client.call::<Value>(req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_pauses_are_whole_seconds() {
        let req = pause_detection_request(Duration::from_secs(10)).unwrap();
        assert_eq!(req.body, Some(json!({"duration": 10})));
        assert_eq!(req.extra_timeout, Duration::from_secs(10));
        for bad in [
            Duration::ZERO,
            Duration::from_millis(1500),
            MAX_DETECTION_PAUSE + Duration::from_secs(1),
        ] {
            assert!(pause_detection_request(bad).unwrap_err().is_invalid_input());
        }
    }

    #[test]
    fn screen_settings_map_to_type_and_value() {
        let table = [
            (StreamSetting::Resolution(None), "resolution", 0),
            (StreamSetting::Resolution(Some(720)), "resolution", 720),
            (StreamSetting::JpegQuality(60), "quality", 60),
            (StreamSetting::H264Bitrate(5000), "quality", 5000),
            (StreamSetting::Fps(30), "fps", 30),
            (StreamSetting::Mode(StreamMode::H264), "type", 1),
            (StreamSetting::Gop(30), "gop", 30),
        ];
        for (setting, kind, value) in table {
            let req = screen_request(setting).unwrap();
            assert_eq!(req.body, Some(json!({"type": kind, "value": value})));
        }
        for bad in [
            StreamSetting::Resolution(Some(1000)),
            StreamSetting::JpegQuality(70),
            StreamSetting::Fps(61),
            StreamSetting::Gop(0),
        ] {
            assert!(screen_request(bad).unwrap_err().is_invalid_input());
        }
    }
}
