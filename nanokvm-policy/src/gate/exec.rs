//! Runs a decided [`DeviceAction`] on the device through nanokvm-client, once, and
//! turns what the device answered into JSON.

use std::time::Duration;

use nanokvm_client::api::power::PowerCycle;
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, Error as ClientError, WsSession};
use nanokvm_hid::AbsolutePosition;
use serde_json::{Value, json};

use crate::catalogue::args::Point;
use crate::catalogue::values::PowerPress;
use crate::catalogue::{DeviceAction, TypedKeys};

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

/// The error and its causes, one after the other, for the audit log.
pub(crate) fn chain(e: &ClientError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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

/// Runs `action` once, bounded by its expected duration plus a margin. A typing action
/// sends exactly `keys` (its [`TypedKeys`], which the keystroke filter checked).
pub(crate) async fn run(
    client: &Client,
    ws: &tokio::sync::Mutex<Option<WsSession>>,
    action: &DeviceAction,
    keys: Option<&TypedKeys>,
) -> Result<Output, ClientError> {
    let limit = BASE_TIMEOUT + action.extra_time();
    match tokio::time::timeout(limit, run_inner(client, ws, action, keys)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout {
            endpoint: action.tool().to_owned(),
            after: limit,
        }),
    }
}

async fn run_inner(
    client: &Client,
    ws: &tokio::sync::Mutex<Option<WsSession>>,
    action: &DeviceAction,
    keys: Option<&TypedKeys>,
) -> Result<Output, ClientError> {
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
        (DeviceAction::Screenshot(_), _) => {
            let jpeg = client.screenshot(SCREENSHOT_TIMEOUT).await?;
            Ok((json!({"format": "jpeg", "bytes": jpeg.len()}), Some(jpeg)))
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
        (DeviceAction::SendKey(_), Some(TypedKeys::Chords { chords, .. })) => {
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().key_sequence(chords, KEY_GAP).await;
                slot.done(result)?;
            }
            done(json!({"pressed": chords.to_string()}))
        }
        (DeviceAction::SendText(_) | DeviceAction::TypeText(_) | DeviceAction::SendKey(_), _) => {
            unreachable!("the gate runs a typing action with the keys its typed_keys gave")
        }
        (DeviceAction::Move(p), _) => {
            let at = position(*p)?;
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().move_to(at).await;
                slot.done(result)?;
            }
            done(json!({"x": p.x.get(), "y": p.y.get()}))
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
                let result = slot.session().scroll(amount).await;
                slot.done(result)?;
            }
            done(json!({"scrolled": amount}))
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
        (DeviceAction::ResetHid(_), _) => client
            .hid()
            .reset()
            .await
            .and_then(|()| done(json!({"reset": true}))),
    }
}

/// A checked relative amount (at most 32 767 either way) as the client takes it.
fn mickeys(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

fn position(p: Point) -> Result<AbsolutePosition, ClientError> {
    Ok(AbsolutePosition::from_normalized(p.x.get(), p.y.get())?)
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
