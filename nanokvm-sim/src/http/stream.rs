//! `/api/stream/*`: the MJPEG stream and frame detection.
//!
//! The stream itself is not rendered yet; see the crate README for the plan. Until then
//! the route behaves as a device whose capture produces no frame: the client receives
//! nothing, not even headers, exactly as with no HDMI signal.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;

use super::{Ctx, Principal, fail, ok_null};
use crate::state::{Shared, lock};

pub(crate) async fn mjpeg(shared: Arc<Shared>, _principal: Option<Principal>) -> Response {
    lock(&shared.settings).capture_seen = true;
    // No frame is ever produced yet, and gin sends no headers before the first frame.
    std::future::pending::<Response>().await
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/api/stream/mjpeg/detect") => match ctx.form().boolean("Enabled", "enabled") {
            Ok(enabled) => {
                lock(&shared.settings).frame_detect = enabled.unwrap_or(false);
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("POST", "/api/stream/mjpeg/detect/stop") => {
            let secs = match ctx.form().integer("Duration", "duration", true) {
                Ok(Some(n)) if n > 0 => u64::try_from(n).unwrap_or(10),
                Ok(_) => 10,
                Err(_) => return fail(-1, "invalid arguments"),
            };
            let before = std::mem::replace(&mut lock(&shared.settings).frame_detect, false);
            shared.time.sleep(Duration::from_secs(secs)).await;
            let _ = before;
            lock(&shared.settings).frame_detect = true;
            ok_null()
        }
        _ => super::not_found(),
    }
}
