//! Runs a decided [`DeviceAction`] on the device through nanokvm-client, once, and
//! turns what the device answered into JSON.

use std::time::Duration;

use nanokvm_client::api::power::PowerCycle;
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, Error as ClientError, WsSession};
use nanokvm_hid::AbsolutePosition;
use serde_json::{Value, json};

use super::screen::{self, ScreenSize};
use crate::catalogue::args::Point;
use crate::catalogue::args::{PowerState, ScreenWait};
use crate::catalogue::values::PowerPress;
use crate::catalogue::{DeviceAction, TypedKeys};

/// How long a paste waits after the last report sent over the WebSocket.
const WS_SETTLE: Duration = Duration::from_millis(100);
/// How often `nanokvm_power_ensure` reads the power LED.
const POWER_POLL: Duration = Duration::from_millis(250);
/// How long a screenshot may wait for a frame.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause between the chords of one `nanokvm_send_key` call.
const KEY_GAP: Duration = Duration::from_millis(30);
/// The time every action gets on top of its own expected duration.
const BASE_TIMEOUT: Duration = Duration::from_secs(60);

type Output = (Value, Option<Vec<u8>>);

/// Whether a failed call certainly did nothing on the device, so that its counters can
/// be given back. A timeout or a broken connection may have acted, so they count.
pub(crate) fn did_nothing(e: &ClientError) -> bool {
    !(e.is_timeout() || e.is_connection() || e.is_decode())
}

/// A short name for the error's kind, for records that must not quote the error.
pub(crate) fn error_kind(e: &ClientError) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connection() {
        "connection failed"
    } else if e.is_auth() {
        "authentication failed"
    } else if e.is_not_supported() {
        "not supported by this firmware"
    } else if e.is_invalid_input() {
        "invalid input"
    } else if e.is_decode() {
        "unreadable answer"
    } else {
        "device error"
    }
}

/// What an action runs against: the client, the gate's WebSocket session, the size of
/// the last captured frame (updated by screenshots), and the frame pointer pixels refer
/// to for this call.
pub(crate) struct Device<'a> {
    pub(crate) client: &'a Client,
    pub(crate) ws: &'a tokio::sync::Mutex<Option<WsSession>>,
    /// When the last keyboard or mouse report went out over the WebSocket.
    pub(crate) last_ws_input: &'a std::sync::Mutex<Option<tokio::time::Instant>>,
    pub(crate) captured: &'a std::sync::Mutex<Option<ScreenSize>>,
    pub(crate) frame: ScreenSize,
}

/// Runs `action` once, bounded by its expected duration plus a margin. A typing action
/// sends exactly `keys` (its [`TypedKeys`], which the keystroke filter checked).
pub(crate) async fn run(
    device: &Device<'_>,
    action: &DeviceAction,
    keys: Option<&TypedKeys>,
) -> Result<Output, ClientError> {
    let limit = BASE_TIMEOUT + action.extra_time();
    let result = tokio::time::timeout(limit, run_inner(device, action, keys)).await;
    if uses_websocket(action) {
        *device
            .last_ws_input
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
    }
    match result {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout {
            endpoint: action.tool().to_owned(),
            after: limit,
        }),
    }
}

async fn run_inner(
    device: &Device<'_>,
    action: &DeviceAction,
    keys: Option<&TypedKeys>,
) -> Result<Output, ClientError> {
    let (client, ws, frame) = (device.client, device.ws, device.frame);
    let position = |p: Point| position(p, frame);
    let done = |v: Value| Ok((v, None));
    match (action, keys) {
        (DeviceAction::Info(_), _) => {
            let info = client.device().info().await?;
            // Not the device key: it identifies the chip and is of no use to a caller.
            done(json!({
                "interfaces": info.interfaces,
                "mdns": info.mdns,
                "image": info.image,
                "application": info.application,
            }))
        }
        (DeviceAction::Hardware(_), _) => {
            let hardware = client.device().hardware().await?;
            done(json!({"hardware": hardware.to_string()}))
        }
        (DeviceAction::LedStatus(_), _) => {
            let leds = client.power().leds().await?;
            done(json!({"power": leds.power, "hdd": leds.hdd}))
        }
        (DeviceAction::HdmiStatus(_), _) => {
            let state = client.hdmi().state().await?;
            done(json!(state))
        }
        (DeviceAction::Screenshot(a), _) => {
            let jpeg = client.screenshot(SCREENSHOT_TIMEOUT).await?;
            let max = ScreenSize {
                width: side(a.max_width.get()),
                height: side(a.max_height.get()),
            };
            let quality = u8::try_from(a.quality.get()).unwrap_or(80);
            let shot = screen::fit(jpeg, max, quality).map_err(frame_error)?;
            Ok(deliver(device, shot))
        }
        (DeviceAction::ListImages(_), _) => {
            let images = client.storage().images().await?;
            done(json!({"images": images}))
        }
        (DeviceAction::MountedImage(_), _) => {
            let mounted = client.storage().mounted().await?;
            done(json!({"file": mounted.file, "cdrom": mounted.cdrom}))
        }
        (DeviceAction::KeyboardLeds(_), _) => {
            let leds = client.hid().keyboard_leds().await?;
            done(json!(leds))
        }
        (DeviceAction::HdmiReset(_), _) => client
            .hdmi()
            .reset()
            .await
            .and_then(|()| done(json!({"reset": true}))),
        (DeviceAction::HdmiEnable(_), _) => client
            .hdmi()
            .enable()
            .await
            .and_then(|()| done(json!({"enabled": true}))),
        (DeviceAction::HdmiDisable(_), _) => client
            .hdmi()
            .disable()
            .await
            .and_then(|()| done(json!({"enabled": false}))),
        (DeviceAction::SendText(a), Some(TypedKeys::Paste { language, .. })) => {
            // The paste types on the device through another connection than the
            // WebSocket. Reports sent over the WebSocket just before may still be on their
            // way; a late one would interleave with the paste's (a key still held hides
            // the paste's next press of it), so give them time to land first.
            let last = *device
                .last_ws_input
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(at) = last {
                tokio::time::sleep_until(at + WS_SETTLE).await;
            }
            let report = client
                .hid()
                .paste(a.text.as_str(), language.paste_layout())
                .await?;
            let skipped: Vec<Value> = report
                .skipped
                .iter()
                .map(|s| json!({"char": s.ch.to_string(), "index": s.index}))
                .collect();
            done(json!({"typed": report.typed, "skipped": skipped, "language": language.as_str()}))
        }
        (
            DeviceAction::TypeText(a),
            Some(TypedKeys::Strokes {
                strokes,
                delay,
                layout,
                ..
            }),
        ) => {
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().type_strokes(strokes, *delay).await;
                slot.done(result)?;
            }
            done(json!({
                "typed": a.text.as_str().chars().count(),
                "strokes": strokes.len(),
                "layout": layout.name(),
            }))
        }
        (
            DeviceAction::SendKey(_) | DeviceAction::SendKeys(_),
            Some(TypedKeys::Chords { chords, .. }),
        ) => {
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().key_sequence(chords, KEY_GAP).await;
                slot.done(result)?;
            }
            done(json!({"pressed": chords.to_string()}))
        }
        (
            DeviceAction::SendText(_)
            | DeviceAction::TypeText(_)
            | DeviceAction::SendKey(_)
            | DeviceAction::SendKeys(_),
            _,
        ) => {
            unreachable!("the gate runs a typing action with the keys its typed_keys gave")
        }
        (DeviceAction::Move(p), _) => {
            let at = position(*p)?;
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().move_to(at).await;
                slot.done(result)?;
            }
            done(json!({"x": p.x, "y": p.y, "screen": frame}))
        }
        (DeviceAction::MoveRelative(a), _) => {
            let (dx, dy) = (mickeys(a.dx.get()), mickeys(a.dy.get()));
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().move_by(dx, dy).await;
                slot.done(result)?;
            }
            done(json!({"dx": dx, "dy": dy}))
        }
        (DeviceAction::Click(a), _) => {
            let b = a.button.buttons();
            let at = match (a.x, a.y) {
                (Some(x), Some(y)) => Some(position(Point { x, y })?),
                _ => None,
            };
            let slot = ws_session(client, ws).await?;
            let s = slot.session();
            let result = async {
                if let Some(at) = at {
                    s.move_to(at).await?;
                }
                if a.double {
                    s.double_click(b).await
                } else {
                    s.click(b).await
                }
            }
            .await;
            slot.done(result)?;
            done(json!({"clicked": a.button, "double": a.double}))
        }
        (DeviceAction::Tap(p), _) => {
            let at = position(*p)?;
            let slot = ws_session(client, ws).await?;
            let s = slot.session();
            let result = async {
                s.move_to(at).await?;
                s.click(nanokvm_hid::MouseButtons::LEFT).await
            }
            .await;
            slot.done(result)?;
            done(json!({"x": p.x.get(), "y": p.y.get()}))
        }
        (DeviceAction::Drag(a), _) => {
            let (from, to) = (position(a.from)?, position(a.to)?);
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().drag(from, to, a.button.buttons(), 10).await;
                slot.done(result)?;
            }
            done(json!({"from": a.from, "to": a.to, "button": a.button}))
        }
        (DeviceAction::Scroll(a), _) => {
            let amount = mickeys(a.amount.get());
            {
                let slot = ws_session(client, ws).await?;
                // The tool scrolls down for a positive amount, as the Python server did;
                // the HID wheel turns up for a positive value.
                let result = slot.session().scroll(-amount).await;
                slot.done(result)?;
            }
            done(json!({"scrolled": amount, "direction": if amount > 0 { "down" } else { "up" }}))
        }
        (DeviceAction::MountIso(a), _) => {
            let mode = if a.as_cdrom {
                MountMode::CdRom
            } else {
                MountMode::Disk
            };
            client.storage().mount(a.file.as_str(), mode).await?;
            done(json!({"mounted": a.file, "cdrom": a.as_cdrom}))
        }
        (DeviceAction::UnmountIso(_), _) => client
            .storage()
            .unmount()
            .await
            .and_then(|()| done(json!({"unmounted": true}))),
        (DeviceAction::DeleteIso(a), _) => client
            .storage()
            .delete(a.file.as_str())
            .await
            .and_then(|()| done(json!({"deleted": a.file}))),
        (DeviceAction::WakeOnLan(a), _) => {
            let sent = client.network().wake_on_lan(&a.mac.0.to_string()).await?;
            done(json!({"sent_to": sent.to_string()}))
        }
        (DeviceAction::Power(a), _) => {
            let power = client.power();
            match a.action {
                PowerPress::Power => power.press_power().await?,
                PowerPress::PowerLong => power.long_press_power().await?,
                PowerPress::Reset => power.reset().await?,
            }
            done(json!({"pressed": a.action}))
        }
        (DeviceAction::PowerCycle(a), _) => {
            let off_for = Duration::from_millis(a.off_duration_ms.get().unsigned_abs());
            let cycle = PowerCycle {
                off_for,
                ..PowerCycle::default()
            };
            client.power().power_cycle(cycle).await?;
            done(json!({"power_cycled": true, "off_duration_ms": a.off_duration_ms}))
        }
        (DeviceAction::PowerEnsure(a), _) => {
            let want_on = a.state == PowerState::On;
            let timeout = Duration::from_millis(a.timeout_ms.get().unsigned_abs());
            let before = client.power().leds().await?.power;
            if before == want_on {
                return done(
                    json!({"state": a.state, "pressed": false, "reached": true, "waited_ms": 0}),
                );
            }
            // The only press: a timeout later must not press again.
            client.power().press_power().await?;
            let started = tokio::time::Instant::now();
            let reached = loop {
                if client.power().leds().await?.power == want_on {
                    break true;
                }
                if started.elapsed() >= timeout {
                    break false;
                }
                tokio::time::sleep(POWER_POLL).await;
            };
            let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let mut out =
                json!({"state": a.state, "pressed": true, "reached": reached, "waited_ms": waited});
            if !reached {
                out["message"] = json!(if want_on {
                    "power was pressed but the power LED is still dark"
                } else {
                    "power was pressed but the machine is still on: the OS may ignore the \
                     button, or need longer; nanokvm_power with power_long forces it off"
                });
            }
            done(out)
        }
        (DeviceAction::WaitForScreen(a), _) => {
            let timeout = Duration::from_millis(a.timeout_ms.get().unsigned_abs());
            let stable_for = Duration::from_millis(a.stable_ms.get().unsigned_abs());
            let started = tokio::time::Instant::now();
            let mut stream = client.frames(SCREENSHOT_TIMEOUT).await?;
            let Some(first) = stream.next_frame(SCREENSHOT_TIMEOUT).await? else {
                return Err(frame_error(
                    "the stream ended before the first frame".to_owned(),
                ));
            };
            let baseline = screen::thumbnail(&first).map_err(frame_error)?;
            let (mut last, mut last_thumb, mut last_change) = (first, baseline.clone(), started);
            let reached = loop {
                let now = tokio::time::Instant::now();
                if a.until == ScreenWait::Stable && now - last_change >= stable_for {
                    break true;
                }
                let Some(left) = timeout.checked_sub(now - started).filter(|d| !d.is_zero()) else {
                    break false;
                };
                // A device may send nothing while the screen is still: that is no change.
                let frame = match stream.next_frame(left.min(stable_for)).await {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break false,
                    Err(e) if e.is_timeout() => continue,
                    Err(e) => return Err(e),
                };
                let thumb = screen::thumbnail(&frame).map_err(frame_error)?;
                if screen::differs(&thumb, &last_thumb) {
                    last_change = tokio::time::Instant::now();
                }
                let changed = screen::differs(&thumb, &baseline);
                (last, last_thumb) = (frame, thumb);
                if a.until == ScreenWait::Changed && changed {
                    break true;
                }
            };
            let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let shot = screen::fit(last, ScreenSize::DEFAULT, 80).map_err(frame_error)?;
            let (mut json, image) = deliver(device, shot);
            json["until"] = json!(a.until);
            json["reached"] = json!(reached);
            json["waited_ms"] = json!(waited);
            Ok((json, image))
        }
        (DeviceAction::ResetHid(_), _) => client
            .hid()
            .reset()
            .await
            .and_then(|()| done(json!({"reset": true}))),
    }
}

/// A frame the device sent that cannot be read.
fn frame_error(message: String) -> ClientError {
    ClientError::Decode {
        endpoint: "GET /api/stream/mjpeg".to_owned(),
        path: "frame".to_owned(),
        message,
    }
}

/// A screenshot as the caller gets it: its metadata and the JPEG. Remembers the
/// captured size, the frame of later pixel coordinates when the caller names none.
fn deliver(device: &Device<'_>, shot: screen::Shot) -> Output {
    *device
        .captured
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(shot.source);
    let scale = f64::from(shot.size.width) / f64::from(shot.source.width);
    let json = json!({
        "format": "jpeg",
        "width": shot.size.width,
        "height": shot.size.height,
        "source_width": shot.source.width,
        "source_height": shot.source.height,
        "scale": (scale * 1e4).round() / 1e4,
        "bytes": shot.jpeg.len(),
    });
    (json, Some(shot.jpeg))
}

/// Whether the action sends keyboard or mouse reports over the WebSocket.
fn uses_websocket(action: &DeviceAction) -> bool {
    matches!(
        action,
        DeviceAction::TypeText(_)
            | DeviceAction::SendKey(_)
            | DeviceAction::SendKeys(_)
            | DeviceAction::Move(_)
            | DeviceAction::MoveRelative(_)
            | DeviceAction::Click(_)
            | DeviceAction::Tap(_)
            | DeviceAction::Drag(_)
            | DeviceAction::Scroll(_)
    )
}

/// A checked relative amount (at most 32 767 either way) as the client takes it.
fn mickeys(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// A pixel of `frame` as an absolute pointer position.
fn position(p: Point, frame: ScreenSize) -> Result<AbsolutePosition, ClientError> {
    let pixel = |n: i64| u32::try_from(n).unwrap_or(0);
    Ok(AbsolutePosition::from_pixels(
        pixel(p.x.get()),
        pixel(p.y.get()),
        frame.width,
        frame.height,
    )?)
}

/// A checked screenshot side as a pixel count.
fn side(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(ScreenSize::DEFAULT.width)
}

/// The gate's WebSocket session, held for one action. A session whose connection
/// failed is not put back, so the next action opens a fresh one (the failed action itself
/// is not repeated).
struct WsSlot<'a> {
    slot: tokio::sync::MutexGuard<'a, Option<WsSession>>,
    session: Option<WsSession>,
}

impl WsSlot<'_> {
    fn session(&self) -> &WsSession {
        match &self.session {
            Some(s) => s,
            None => unreachable!("a slot always holds its session until done"),
        }
    }

    fn done<T>(mut self, result: Result<T, ClientError>) -> Result<T, ClientError> {
        if !result.as_ref().is_err_and(ClientError::is_connection) {
            *self.slot = self.session.take();
        }
        result
    }
}

/// Takes the gate's session, opening one when there is none.
async fn ws_session<'a>(
    client: &Client,
    ws: &'a tokio::sync::Mutex<Option<WsSession>>,
) -> Result<WsSlot<'a>, ClientError> {
    let mut slot = ws.lock().await;
    let session = match slot.take() {
        Some(session) => session,
        None => client.ws().await?,
    };
    Ok(WsSlot {
        slot,
        session: Some(session),
    })
}
