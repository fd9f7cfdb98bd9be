//! Runs a decided [`DeviceAction`] on the device through nanokvm-client, once, and
//! turns what the device answered into JSON.

use std::time::Duration;

use nanokvm_client::api::hid::PasteLayout;
use nanokvm_client::api::power::PowerCycle;
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, Error as ClientError, WsSession};
use nanokvm_hid::{AbsolutePosition, Layout};
use serde_json::{Value, json};

use super::action::{DeviceAction, Point, PowerAction, buttons};

/// How long a screenshot may wait for a frame.
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a key of `nanokvm_send_key` is held.
const KEY_HOLD: Duration = Duration::from_millis(30);
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

/// Runs `action` once, bounded by its expected duration plus a margin.
pub(crate) async fn run(
    client: &Client,
    ws: &tokio::sync::Mutex<Option<WsSession>>,
    layout: Layout,
    action: &DeviceAction,
) -> Result<Output, ClientError> {
    let limit = BASE_TIMEOUT + action.extra_time();
    match tokio::time::timeout(limit, run_inner(client, ws, layout, action)).await {
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
    layout: Layout,
    action: &DeviceAction,
) -> Result<Output, ClientError> {
    let done = |v: Value| Ok((v, None));
    match action {
        DeviceAction::Info => {
            let info = client.device().info().await?;
            let interfaces: Vec<Value> = info
                .interfaces
                .iter()
                .map(|i| json!({"name": i.name, "address": i.address, "kind": format!("{:?}", i.kind).to_lowercase()}))
                .collect();
            done(json!({
                "interfaces": interfaces,
                "mdns": info.mdns,
                "image": info.image,
                "application": info.application.to_string(),
            }))
        }
        DeviceAction::Hardware => {
            let hardware = client.device().hardware().await?;
            done(json!({"hardware": hardware.to_string()}))
        }
        DeviceAction::LedStatus => {
            let leds = client.power().leds().await?;
            done(json!({"power": leds.power, "hdd": leds.hdd}))
        }
        DeviceAction::HdmiStatus => {
            let state = client.hdmi().state().await?;
            done(json!({
                "enabled": state.enabled,
                "signal": state.signal,
                "idle_timeout_s": state.idle_timeout.map(|d| d.as_secs()),
            }))
        }
        DeviceAction::Screenshot => {
            let jpeg = client.screenshot(SCREENSHOT_TIMEOUT).await?;
            Ok((json!({"format": "jpeg", "bytes": jpeg.len()}), Some(jpeg)))
        }
        DeviceAction::ListImages => {
            let images = client.storage().images().await?;
            done(json!({"images": images}))
        }
        DeviceAction::MountedImage => {
            let mounted = client.storage().mounted().await?;
            done(json!({"file": mounted.file, "cdrom": mounted.cdrom}))
        }
        DeviceAction::KeyboardLeds => {
            let leds = client.hid().keyboard_leds().await?;
            done(match leds {
                Some(l) => {
                    json!({"caps_lock": l.caps_lock, "num_lock": l.num_lock, "scroll_lock": l.scroll_lock})
                }
                None => Value::Null,
            })
        }
        DeviceAction::HdmiReset => client
            .hdmi()
            .reset()
            .await
            .and_then(|()| done(json!({"reset": true}))),
        DeviceAction::HdmiEnable => client
            .hdmi()
            .enable()
            .await
            .and_then(|()| done(json!({"enabled": true}))),
        DeviceAction::HdmiDisable => client
            .hdmi()
            .disable()
            .await
            .and_then(|()| done(json!({"enabled": false}))),
        DeviceAction::SendText { text, language } => {
            let layout = match language.as_str() {
                "de" => PasteLayout::De,
                "fr" => PasteLayout::Fr,
                _ => PasteLayout::Us,
            };
            let report = client.hid().paste(text, layout).await?;
            let skipped: Vec<usize> = report.skipped.iter().map(|s| s.index).collect();
            done(json!({"typed": report.typed, "skipped_at": skipped}))
        }
        DeviceAction::TypeText {
            text,
            layout: chosen,
            delay,
        } => {
            let layout = chosen.unwrap_or(layout);
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.type_text(text, layout, *delay).await;
                slot.done(result)?;
            }
            done(json!({"typed": text.chars().count(), "layout": layout.name()}))
        }
        DeviceAction::SendKey { chord, .. } => {
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.press_chord(chord, KEY_HOLD).await;
                slot.done(result)?;
            }
            done(json!({"pressed": chord.to_string()}))
        }
        DeviceAction::Move(p) => {
            let at = position(*p)?;
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.move_to(at).await;
                slot.done(result)?;
            }
            done(json!({"x": p.x, "y": p.y}))
        }
        DeviceAction::MoveRelative { dx, dy } => {
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.move_by(*dx, *dy).await;
                slot.done(result)?;
            }
            done(json!({"dx": dx, "dy": dy}))
        }
        DeviceAction::Click { button, at, double } => {
            let b = buttons(button);
            let at = at.map(position).transpose()?;
            let slot = ws_session(client, ws).await?;
            let s = slot.session();
            let result = async {
                if let Some(at) = at {
                    s.move_to(at).await?;
                }
                if *double {
                    s.double_click(b).await
                } else {
                    s.click(b).await
                }
            }
            .await;
            slot.done(result)?;
            done(json!({"clicked": button, "double": double}))
        }
        DeviceAction::Tap(p) => {
            let at = position(*p)?;
            let slot = ws_session(client, ws).await?;
            let s = slot.session();
            let result = async {
                s.move_to(at).await?;
                s.click(nanokvm_hid::MouseButtons::LEFT).await
            }
            .await;
            slot.done(result)?;
            done(json!({"x": p.x, "y": p.y}))
        }
        DeviceAction::Drag { from, to, button } => {
            let (a, b) = (position(*from)?, position(*to)?);
            let held = buttons(button);
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.drag(a, b, held, 10).await;
                slot.done(result)?;
            }
            done(json!({"from": {"x": from.x, "y": from.y}, "to": {"x": to.x, "y": to.y}}))
        }
        DeviceAction::Scroll { amount } => {
            {
                let slot = ws_session(client, ws).await?;
                let s = slot.session();
                let result = s.scroll(*amount).await;
                slot.done(result)?;
            }
            done(json!({"scrolled": amount}))
        }
        DeviceAction::MountIso { file, as_cdrom } => {
            let mode = if *as_cdrom {
                MountMode::CdRom
            } else {
                MountMode::Disk
            };
            client.storage().mount(file, mode).await?;
            done(json!({"mounted": file, "cdrom": as_cdrom}))
        }
        DeviceAction::UnmountIso => client
            .storage()
            .unmount()
            .await
            .and_then(|()| done(json!({"unmounted": true}))),
        DeviceAction::DeleteIso { file } => client
            .storage()
            .delete(file)
            .await
            .and_then(|()| done(json!({"deleted": file}))),
        DeviceAction::WakeOnLan { mac } => {
            let sent = client.network().wake_on_lan(mac).await?;
            done(json!({"sent_to": sent.to_string()}))
        }
        DeviceAction::Power(action) => {
            let power = client.power();
            match action {
                PowerAction::Power => power.press_power().await?,
                PowerAction::PowerLong => power.long_press_power().await?,
                PowerAction::Reset => power.reset().await?,
            }
            done(json!({"pressed": action.as_str()}))
        }
        DeviceAction::PowerCycle { off_for } => {
            let cycle = PowerCycle {
                off_for: *off_for,
                ..PowerCycle::default()
            };
            client.power().power_cycle(cycle).await?;
            done(json!({"power_cycled": true, "off_duration_ms": off_for.as_millis()}))
        }
        DeviceAction::ResetHid => client
            .hid()
            .reset()
            .await
            .and_then(|()| done(json!({"reset": true}))),
    }
}

fn position(p: Point) -> Result<AbsolutePosition, ClientError> {
    Ok(AbsolutePosition::from_normalized(p.x, p.y)?)
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
