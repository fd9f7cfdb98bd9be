//! The routes only the NanoKVM Pro's firmware has that the simulator serves: stream
//! settings under `/api/stream/*` (instead of `POST /api/vm/screen`) and the HDMI capture
//! and passthrough switches of its LT6911 bridge.
//!
//! Their bodies bind by form tag (`mode`, `quality`, `gop`, `fps`, `enabled`), and
//! JSON bodies match field names case-insensitively, as everywhere in gin.

use axum::response::Response;

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;
use crate::state::lock;

/// Stream modes `POST /api/stream/mode` accepts (`common.StreamTypeMap`), with the
/// number the firmware stores.
const STREAM_MODES: [(&str, u32); 5] = [
    ("mjpeg", 0),
    ("h264-webrtc", 1),
    ("h264-direct", 2),
    ("h265-webrtc", 3),
    ("h265-direct", 4),
];

/// Whether `method path` is a Pro-only route served here.
pub(crate) fn serves(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        (
            "POST",
            "/api/stream/rate-control"
                | "/api/stream/mode"
                | "/api/stream/quality"
                | "/api/stream/gop"
                | "/api/stream/fps"
        ) | (
            "GET" | "POST",
            "/api/vm/hdmi/capture" | "/api/vm/hdmi/passthrough"
        )
    )
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/api/stream/rate-control") => match form.string("Mode", "mode") {
            Ok(m) if m.is_empty() => fail(-1, "invalid arguments"),
            Ok(m) => match m.to_ascii_lowercase().as_str() {
                mode @ ("cbr" | "vbr") => {
                    lock(&shared.settings).rate_control = mode.to_owned();
                    ok_null()
                }
                _ => fail(-2, "invalid arguments"),
            },
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("POST", "/api/stream/mode") => match form.string("Mode", "mode") {
            Ok(m) if m.is_empty() => fail(-1, "invalid arguments"),
            Ok(m) => {
                let lower = m.to_ascii_lowercase();
                match STREAM_MODES.iter().find(|(name, _)| *name == lower) {
                    Some((_, ty)) => {
                        lock(&shared.settings).stream_type = *ty;
                        ok_null()
                    }
                    None => fail(-2, "invalid arguments"),
                }
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("POST", "/api/stream/quality") => match form.integer("Quality", "quality", false) {
            // `required` rejects zero.
            Ok(None | Some(0)) | Err(_) => fail(-1, "invalid arguments"),
            // The firmware truncates to uint16 before its range check.
            Ok(Some(q)) => {
                let value = u32::from(q as u16);
                if !(1..=20000).contains(&value) {
                    return fail(-2, "invalid arguments");
                }
                let mut s = lock(&shared.settings);
                if q <= 100 {
                    s.quality = value;
                } else {
                    s.bitrate = value;
                }
                ok_null()
            }
        },
        ("POST", "/api/stream/gop") => match form.integer("Gop", "gop", false) {
            Ok(None | Some(0)) | Err(_) => fail(-1, "invalid arguments"),
            Ok(Some(g)) => {
                let gop = u32::from(g as u8);
                if !(1..=200).contains(&gop) {
                    return fail(-2, "invalid arguments");
                }
                lock(&shared.settings).gop = gop;
                ok_null()
            }
        },
        ("POST", "/api/stream/fps") => match form.integer("Fps", "fps", false) {
            Err(_) => fail(-1, "invalid arguments"),
            Ok(f) => {
                let fps = u32::from(f.unwrap_or(0) as u8);
                if fps > 120 {
                    return fail(-2, "invalid arguments");
                }
                lock(&shared.settings).fps = fps;
                ok_null()
            }
        },
        ("GET", "/api/vm/hdmi/capture") => {
            let enabled = lock(&shared.settings).hdmi_enabled;
            ok(J::obj([("enabled", enabled.into())]))
        }
        ("POST", "/api/vm/hdmi/capture") => match form.boolean("Enabled", "enabled") {
            Ok(enabled) => {
                if enabled.unwrap_or(false) {
                    shared.enable_capture();
                } else {
                    shared.disable_capture(true);
                }
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("GET", "/api/vm/hdmi/passthrough") => {
            let enabled = lock(&shared.settings).hdmi_passthrough;
            ok(J::obj([("enabled", enabled.into())]))
        }
        ("POST", "/api/vm/hdmi/passthrough") => match form.boolean("Enabled", "enabled") {
            Ok(enabled) => {
                lock(&shared.settings).hdmi_passthrough = enabled.unwrap_or(false);
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        _ => super::not_found(),
    }
}
