//! `/api/stream/*`: the MJPEG stream and frame detection.
//!
//! The stream is a `multipart/x-mixed-replace` response fed by the one streamer in
//! `video`. As on the device (gin flushes headers with the first write), nothing at all
//! is sent until the first frame exists: a client of a machine without HDMI signal, or
//! of a static screen while frame detection is on, sees neither status line nor headers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::{Ctx, Principal, fail, internal_error, ok_null};
use crate::state::{Shared, lock};
use crate::util;
use crate::video::Viewer;

/// The multipart boundary the firmware uses.
const BOUNDARY: &str = "frame";

/// The header of one part, as the firmware writes it.
fn part_head(len: usize) -> Bytes {
    Bytes::from(format!(
        "--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len}\r\n\r\n"
    ))
}

/// A client's position in the stream: the pieces of the current part still to write.
struct Parts {
    viewer: Viewer,
    pending: VecDeque<Bytes>,
}

impl Parts {
    fn push(&mut self, jpeg: Bytes) {
        self.pending.push_back(part_head(jpeg.len()));
        // The JPEG itself is the shared buffer: no copy per client.
        self.pending.push_back(jpeg);
        self.pending.push_back(Bytes::from_static(b"\r\n"));
    }
}

pub(crate) async fn mjpeg(shared: Arc<Shared>, _principal: Option<Principal>) -> Response {
    let mut viewer = Viewer::join(&shared);
    let Some(first) = viewer.next().await else {
        // The device went away before it had a picture; HTTP cannot say less than this.
        return internal_error();
    };
    let mut parts = Parts {
        viewer,
        pending: VecDeque::new(),
    };
    parts.push(first);
    let stream = futures_util::stream::unfold(parts, |mut parts| async move {
        if parts.pending.is_empty() {
            let jpeg = parts.viewer.next().await?;
            parts.push(jpeg);
        }
        let piece = parts.pending.pop_front()?;
        Some((Ok::<_, Infallible>(piece), parts))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/x-mixed-replace; boundary=frame"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&util::rfc1123(SystemTime::now())) {
        h.insert("x-server-date", v);
    }
    r
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
            // Detection is off for the duration, then on again whatever it was before,
            // as the firmware does.
            lock(&shared.settings).frame_detect = false;
            shared.time.sleep(Duration::from_secs(secs)).await;
            lock(&shared.settings).frame_detect = true;
            ok_null()
        }
        _ => super::not_found(),
    }
}
