//! Messages the device pushes over `/api/ws` (pure decoding).
//!
//! Each is a text frame `{"type": ..., "data": "<JSON text>"}`: `data` is itself a JSON
//! document encoded as a string, so it is decoded twice.

use serde::{Deserialize, Serialize};

use crate::api::hid::{KeyboardLeds, LedsWire};

/// A message pushed by the device. Serializes as `{"capture_status": {...}}`,
/// `{"keyboard_leds": ...}`, ...
#[derive(Clone, PartialEq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Push {
    /// Video capture health (2.4.2 and later).
    CaptureStatus(CaptureStatus),
    /// The target's keyboard LEDs; `None` until the target set them (2.5.0 and later).
    KeyboardLeds(Option<KeyboardLeds>),
    /// How many H.264 viewers watch, per transport (2.5.0 and later).
    H264Viewers(H264Viewers),
    /// A message this client does not know, with its decoded `data`.
    Other {
        /// The `type` field.
        kind: String,
        /// The inner JSON.
        data: serde_json::Value,
    },
}

/// Capture health from a `capture-status` push.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize, Serialize)]
pub struct CaptureStatus {
    /// Whether capture works.
    pub ok: bool,
    /// The capture library's result code (negative on trouble).
    pub result: i64,
    /// A description, empty when fine.
    #[serde(default)]
    pub message: String,
    /// `mjpeg`, `h264` or `direct`.
    #[serde(default)]
    pub mode: String,
    /// `error`, `warning` or empty.
    #[serde(default)]
    pub severity: String,
}

/// Viewer counts from an `h264-mode-status` push.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize, Serialize)]
pub struct H264Viewers {
    /// Viewers of the raw H.264 WebSocket.
    #[serde(default)]
    pub direct: u32,
    /// WebRTC viewers.
    #[serde(default)]
    pub webrtc: u32,
    /// Whether both kinds watch at once.
    #[serde(default)]
    pub mixed: bool,
}

/// Decodes a text frame; `None` for text that is not a push.
pub(crate) fn parse(text: &str) -> Option<Push> {
    #[derive(Deserialize)]
    struct Outer {
        #[serde(rename = "type")]
        kind: String,
        data: serde_json::Value,
    }
    let outer: Outer = serde_json::from_str(text).ok()?;
    let data = match outer.data {
        serde_json::Value::String(inner) => serde_json::from_str(&inner).ok()?,
        other => other,
    };
    Some(match outer.kind.as_str() {
        "capture-status" => Push::CaptureStatus(serde_json::from_value(data).ok()?),
        "hid-led-status" => {
            Push::KeyboardLeds(serde_json::from_value::<LedsWire>(data).ok()?.into_domain())
        }
        "h264-mode-status" => Push::H264Viewers(serde_json::from_value(data).ok()?),
        _ => Push::Other {
            kind: outer.kind,
            data,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_are_double_decoded() {
        let capture = r#"{"type":"capture-status","data":"{\"ok\":false,\"result\":-1,\"message\":\"No image captured\",\"mode\":\"mjpeg\",\"severity\":\"error\",\"updatedAt\":\"2026-01-01T00:00:00Z\"}"}"#;
        match parse(capture) {
            Some(Push::CaptureStatus(s)) => assert_eq!((s.ok, s.result), (false, -1)),
            other => panic!("{other:?}"),
        }
        let leds = r#"{"type":"hid-led-status","data":"{\"numLock\":false,\"capsLock\":true,\"scrollLock\":false,\"known\":true,\"updatedAt\":\"x\"}"}"#;
        match parse(leds) {
            Some(Push::KeyboardLeds(Some(l))) => assert!(l.caps_lock),
            other => panic!("{other:?}"),
        }
        let unknown = r#"{"type":"hid-led-status","data":"{\"numLock\":false,\"capsLock\":false,\"scrollLock\":false,\"known\":false,\"updatedAt\":\"0001-01-01T00:00:00Z\"}"}"#;
        assert_eq!(parse(unknown), Some(Push::KeyboardLeds(None)));
        let h264 = r#"{"type":"h264-mode-status","data":"{\"generation\":\"g\",\"revision\":3,\"direct\":1,\"webrtc\":2,\"mixed\":true}"}"#;
        assert_eq!(
            parse(h264),
            Some(Push::H264Viewers(H264Viewers {
                direct: 1,
                webrtc: 2,
                mixed: true
            }))
        );
        assert!(matches!(
            parse(r#"{"type":"new","data":"{}"}"#),
            Some(Push::Other { .. })
        ));
        assert_eq!(parse("not json"), None);
    }
}
