//! `/api/ws`: the HID WebSocket.
//!
//! From 2.3.2 frames are binary `[type, report...]` with exact lengths and anything else
//! is silently dropped; 2.3.1 speaks JSON integer arrays. From 2.5.0 the server pushes
//! status messages and closes a socket that stays silent for 90 s; 2.5.1 also closes
//! with 4401 when the session is revoked or expires.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nanokvm_hid::{AbsolutePosition, AbsoluteReport, KeyboardReport, MouseButtons, RelativeReport};

use super::Principal;
use crate::json::{self, J};
use crate::machine::Leds;
use crate::state::{Shared, lock};

/// The read deadline refreshed by every incoming message (2.5.0 and later).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) async fn upgrade(
    shared: Arc<Shared>,
    req: Request,
    principal: Option<Principal>,
) -> Response {
    let (mut parts, _body) = req.into_parts();
    if shared.config.firmware.is_head() && !origin_matches(&parts.headers) {
        return (StatusCode::FORBIDDEN, "Forbidden\n").into_response();
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(_) => return bad_handshake(),
    };
    let token = principal.and_then(|p| p.token);
    ws.on_upgrade(move |socket| run(shared, socket, token))
}

/// gorilla/websocket's answer to a request that is not a WebSocket handshake.
pub(crate) fn bad_handshake() -> Response {
    let mut r = (StatusCode::BAD_REQUEST, "Bad Request\n").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        axum::http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::SEC_WEBSOCKET_VERSION,
        axum::http::HeaderValue::from_static("13"),
    );
    r
}

/// 2.5.1's origin rule: absent is fine, present must name the same host and port.
pub(crate) fn origin_matches(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

pub(crate) fn push(kind: &str, data: &J) -> Message {
    let inner = data.encode();
    let text = format!(
        "{{\"type\":{},\"data\":{}}}",
        json::string(kind),
        json::string(&inner)
    );
    Message::Text(text.into())
}

fn led_message(leds: &Leds) -> Message {
    // The push writes an unknown time as Go's zero time (spec 8.4).
    push(
        "hid-led-status",
        &super::hid::leds_object(leds, "0001-01-01T00:00:00Z"),
    )
}

/// What one connection holds on the HID devices, so it can release it when it ends.
#[derive(Default)]
struct Held {
    keyboard: KeyboardReport,
    relative_buttons: u8,
    absolute: Option<AbsoluteReport>,
}

async fn run(shared: Arc<Shared>, mut socket: WebSocket, token: Option<String>) {
    let fw = shared.config.firmware;
    let modern = fw.at_least_2_5_0();
    let mut machine_rx = shared.machine.subscribe();
    let mut sessions_rx = shared.sessions.subscribe();
    let mut kill_rx = shared.ws_kill.subscribe();
    let mut last_leds = machine_rx.borrow_and_update().leds();
    let mut capture_rx = shared.capture.subscribe();
    if modern {
        // One capture status per mode seen so far, sorted by mode.
        let mut greetings: Vec<Message> = shared
            .capture
            .latest()
            .iter()
            .map(|c| push("capture-status", &c.to_json()))
            .collect();
        let h264 = lock(&shared.h264).to_json();
        greetings.push(push("h264-mode-status", &h264));
        greetings.push(led_message(&last_leds));
        for m in greetings {
            if socket.send(m).await.is_err() {
                return;
            }
        }
    }
    let mut held = Held::default();
    let idle = shared.time.scale(IDLE_TIMEOUT);
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let Some(Ok(msg)) = msg else { break };
                deadline = tokio::time::Instant::now() + idle;
                let data: Bytes = match msg {
                    Message::Binary(b) => b,
                    Message::Text(t) => Bytes::copy_from_slice(t.as_str().as_bytes()),
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                if !fw.binary_ws() {
                    legacy_frame(&shared, &data, &mut held);
                } else {
                    binary_frame(&shared, &data, &mut held);
                }
            }
            () = tokio::time::sleep_until(deadline), if modern => {
                break;
            }
            changed = machine_rx.changed(), if modern => {
                if changed.is_err() { break; }
                let leds = machine_rx.borrow_and_update().leds();
                if !leds.same_flags(&last_leds) {
                    last_leds = leds;
                    if socket.send(led_message(&leds)).await.is_err() { break; }
                }
            }
            status = capture_rx.recv(), if modern => {
                match status {
                    Ok(status) => {
                        if socket.send(push("capture-status", &status.to_json())).await.is_err() {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            changed = sessions_rx.changed(), if fw.is_head() && token.is_some() => {
                if changed.is_err() { break; }
                let valid = token.as_deref().is_some_and(|t| super::auth::validate(&shared, t).is_some());
                if !valid {
                    let _ = socket.send(Message::Close(Some(CloseFrame {
                        code: 4401,
                        reason: "session expired or revoked".into(),
                    }))).await;
                    break;
                }
            }
            _ = kill_rx.changed() => {
                // Dropped without a close frame, like a network failure.
                release(&shared, &held);
                return;
            }
        }
    }
    release(&shared, &held);
}

/// Release reports for whatever the connection left held.
fn release(shared: &Shared, held: &Held) {
    if !held.keyboard.is_release() {
        shared.write_keyboard(KeyboardReport::RELEASE);
    }
    if held.relative_buttons != 0 {
        shared.write_relative(RelativeReport::default());
    }
    if let Some(abs) = held.absolute
        && abs.buttons.bits() != 0
    {
        shared.write_absolute(AbsoluteReport {
            buttons: MouseButtons::NONE,
            position: abs.position,
            wheel: 0,
        });
    }
}

fn write_relative(shared: &Shared, report: RelativeReport, held: &mut Held) {
    if let Some(abs) = held.absolute
        && abs.buttons.bits() != 0
    {
        let released = AbsoluteReport {
            buttons: MouseButtons::NONE,
            position: abs.position,
            wheel: 0,
        };
        shared.write_absolute(released);
        held.absolute = Some(released);
    }
    if shared.write_relative(report) {
        held.relative_buttons = report.buttons.bits();
    }
}

fn write_absolute(shared: &Shared, report: AbsoluteReport, held: &mut Held) {
    if held.relative_buttons != 0 {
        shared.write_relative(RelativeReport::default());
        held.relative_buttons = 0;
    }
    if shared.write_absolute(report) {
        held.absolute = Some(report);
    }
}

/// The binary protocol (2.3.2 and later): exact lengths or nothing.
fn binary_frame(shared: &Shared, data: &[u8], held: &mut Held) {
    match (data.first(), data.len()) {
        (Some(1), 9) => {
            if let Ok(report) = KeyboardReport::from_bytes(&data[1..])
                && shared.write_keyboard(report)
            {
                held.keyboard = report;
            }
        }
        (Some(2), 5) => {
            if let Ok(report) = RelativeReport::from_bytes(&data[1..]) {
                write_relative(shared, report, held);
            }
        }
        (Some(2), 7) => {
            if let Ok(report) = AbsoluteReport::from_bytes(&data[1..]) {
                write_absolute(shared, report, held);
            }
        }
        // Heartbeats and everything malformed are dropped silently.
        _ => {}
    }
}

/// The JSON-array protocol of 2.3.1.
fn legacy_frame(shared: &Shared, data: &[u8], held: &mut Held) {
    let Ok(values) = serde_json::from_slice::<Vec<i64>>(data) else {
        return;
    };
    let byte = |i: usize| values.get(i).copied().unwrap_or(0);
    match values.first() {
        Some(1) if values.len() >= 6 => {
            let code = byte(1);
            let report = if code > 0 {
                let modifier = (byte(2) | byte(3) | byte(4) | byte(5)) & 0xFF;
                let mut bytes = [0u8; 8];
                bytes[0] = u8::try_from(modifier).unwrap_or(0);
                bytes[2] = u8::try_from(code & 0xFF).unwrap_or(0);
                KeyboardReport::from_bytes(&bytes).unwrap_or_default()
            } else {
                KeyboardReport::RELEASE
            };
            if shared.write_keyboard(report) {
                held.keyboard = report;
            }
        }
        Some(2) if values.len() >= 5 => {
            let (event, button, x, y) = (byte(1), byte(2), byte(3), byte(4));
            let low = |v: i64| i8::from_le_bytes([v.to_le_bytes()[0]]);
            match event {
                0 => write_relative(shared, RelativeReport::default(), held),
                1 if matches!(button, 1 | 2 | 4) => {
                    let buttons = MouseButtons::from_bits(u8::try_from(button).unwrap_or(0));
                    write_relative(
                        shared,
                        RelativeReport {
                            buttons,
                            ..RelativeReport::default()
                        },
                        held,
                    );
                }
                2 => {
                    let clamp = |v: i64| u16::try_from(v.clamp(0, 0xFFFF)).unwrap_or(0);
                    let report = AbsoluteReport {
                        buttons: MouseButtons::NONE,
                        position: AbsolutePosition::new(clamp(x), clamp(y)),
                        wheel: 0,
                    };
                    write_absolute(shared, report, held);
                }
                3 => {
                    let buttons = MouseButtons::from_bits(u8::try_from(button & 0xFF).unwrap_or(0));
                    let report = RelativeReport {
                        buttons,
                        dx: low(x),
                        dy: low(y),
                        wheel: 0,
                    };
                    write_relative(shared, report, held);
                }
                4 => {
                    let wheel = if y >= 0 { 1 } else { -1 };
                    write_relative(
                        shared,
                        RelativeReport {
                            wheel,
                            ..RelativeReport::default()
                        },
                        held,
                    );
                }
                _ => {}
            }
        }
        _ => {}
    }
}
