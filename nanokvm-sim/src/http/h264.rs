//! `GET /api/stream/h264/direct`: the raw H.264 WebSocket.
//!
//! The simulator has no H.264 encoder. A client is accepted as on the device: it counts
//! as a direct H.264 viewer (in `h264-mode-status`) and as an HDMI viewer, gets a ping
//! every 15 s, and is dropped after 30 s without a message or pong (both scaled). A
//! control message longer than 64 bytes closes the socket with 1009, as gorilla's read
//! limit does. No frames are sent: each capture attempt reports -2 (`Encoder error`),
//! or -1 (`No image captured`) without a signal, in the `direct` mode's
//! `capture-status`. The WebRTC signalling socket (`/api/stream/h264`) is not served.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Principal;
use crate::state::{Shared, lock};

/// Server pings this often (firmware time).
const PING_EVERY: Duration = Duration::from_secs(15);
/// A client silent this long is dropped (firmware time).
const PONG_WAIT: Duration = Duration::from_secs(30);
/// gorilla's read limit on this socket.
const READ_LIMIT: usize = 64;

pub(crate) async fn direct(
    shared: Arc<Shared>,
    req: Request,
    principal: Option<Principal>,
) -> Response {
    let (mut parts, _body) = req.into_parts();
    if shared.config.firmware.is_head() && !super::ws::origin_matches(&parts.headers) {
        return (StatusCode::FORBIDDEN, "Forbidden\n").into_response();
    }
    let token = principal.and_then(|p| p.token);
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws.on_upgrade(move |socket| run(shared, socket, token)),
        Err(_) => super::ws::bad_handshake(),
    }
}

/// The capture result the simulated library gives for H.264.
fn capture_result(shared: &Shared) -> i64 {
    if shared.capture_running() && shared.hdmi_signal() {
        -2
    } else {
        -1
    }
}

async fn run(shared: Arc<Shared>, mut socket: WebSocket, token: Option<String>) {
    lock(&shared.h264).direct(1);
    shared.capture_viewers(1);
    shared.capture.report("direct", capture_result(&shared));
    let ping_every = shared.time.scale(PING_EVERY).max(Duration::from_millis(1));
    let pong_wait = shared.time.scale(PONG_WAIT);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut deadline = tokio::time::Instant::now() + pong_wait;
    let mut kill_rx = shared.ws_kill.subscribe();
    let mut sessions_rx = shared.sessions.subscribe();
    let head = shared.config.firmware.is_head();
    // The close frame, if any, goes out after the viewer is unregistered, so that a
    // client that sees it also sees the counts without it.
    let mut close: Option<CloseFrame> = None;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let Some(Ok(msg)) = msg else { break };
                deadline = tokio::time::Instant::now() + pong_wait;
                let len = match &msg {
                    Message::Binary(b) => b.len(),
                    Message::Text(t) => t.len(),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => 0,
                };
                if len > READ_LIMIT {
                    close = Some(CloseFrame { code: 1009, reason: "".into() });
                    break;
                }
                // Frame acknowledgements and resync requests need frames to act on.
            }
            _ = ping.tick() => {
                shared.capture.report("direct", capture_result(&shared));
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
            changed = sessions_rx.changed(), if head && token.is_some() => {
                if changed.is_err() { break; }
                let valid = token.as_deref().is_some_and(|t| super::auth::validate(&shared, t).is_some());
                if !valid {
                    close = Some(CloseFrame {
                        code: 4401,
                        reason: "session expired or revoked".into(),
                    });
                    break;
                }
            }
            _ = kill_rx.changed() => break,
        }
    }
    lock(&shared.h264).direct(-1);
    shared.capture_viewers(-1);
    if let Some(frame) = close {
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
}
