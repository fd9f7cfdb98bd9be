//! Runs a decided [`DeviceAction`] on the device through nanokvm-client, once, and
//! turns what the device answered into JSON.

use std::time::Duration;

use nanokvm_client::api::power::PowerCycle;
use nanokvm_client::api::storage::{DownloadStatus, MountMode};
use nanokvm_client::{Client, Error as ClientError, WsSession};
use nanokvm_hid::AbsolutePosition;
use serde::Serialize;
use serde_json::Value;

use super::ProgressSink;
use super::screen::{self, ScreenSize};
use crate::catalogue::args::Point;
use crate::catalogue::args::{DownloadIsoArgs, HidModeName, PowerState, ScreenWait};
use crate::catalogue::outputs::{
    ClickOutput, DeleteOutput, DownloadOutput, DragOutput, FrameOutput, HardwareOutput, HdmiOutput,
    HdmiSwitchOutput, HidModeOutput, ImagesOutput, InfoOutput, InterfaceOutput, KeyboardLedsOutput,
    KeysOutput, LedOutput, MountOutput, MountedOutput, MoveOutput, MoveRelativeOutput, PasteOutput,
    PowerCycleOutput, PowerEnsureOutput, PowerOutput, RegionOutput, ResetOutput, ScreenshotOutput,
    ScrollOutput, SetHidModeOutput, SkippedOutput, TapOutput, TypeOutput, UnmountOutput,
    UploadOutput, WaitForScreenOutput, WakeOutput,
};
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
/// Strokes typed between two progress reports of a long typing call.
const TYPING_CHUNK: usize = 64;
/// How often a download's state is read.
const DOWNLOAD_POLL: Duration = Duration::from_secs(1);
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
    /// Where a long action reports how far it has got.
    pub(crate) progress: Option<&'a ProgressSink>,
    /// What the caller's last screenshot showed, when known.
    pub(crate) view: Option<screen::View>,
    /// The real path of the file `nanokvm_upload_iso` sends, checked by the gate.
    pub(crate) upload: Option<&'a std::path::Path>,
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
    let position = |p: Point| position(p, frame, device.view);
    match (action, keys) {
        (DeviceAction::Info(_), _) => {
            let info = client.device().info().await?;
            // Not the device key: it identifies the chip and is of no use to a caller.
            let interfaces = info
                .interfaces
                .iter()
                .map(|i| InterfaceOutput {
                    name: i.name.clone(),
                    address: i.address.clone(),
                    kind: json_string(&i.kind),
                })
                .collect();
            done(InfoOutput {
                interfaces,
                mdns: info.mdns,
                image: info.image,
                application: info.application.to_string(),
            })
        }
        (DeviceAction::Hardware(_), _) => {
            let hardware = client.device().hardware().await?;
            done(HardwareOutput {
                hardware: hardware.to_string(),
            })
        }
        (DeviceAction::LedStatus(_), _) => {
            let leds = client.power().leds().await?;
            done(LedOutput {
                power: leds.power,
                hdd: leds.hdd,
            })
        }
        (DeviceAction::HdmiStatus(_), _) => {
            let state = client.hdmi().state().await?;
            done(HdmiOutput {
                enabled: state.enabled,
                signal: state.signal,
                idle_timeout_secs: state.idle_timeout.map(|d| d.as_secs()),
            })
        }
        (DeviceAction::Screenshot(a), _) => {
            let jpeg = client.screenshot(SCREENSHOT_TIMEOUT).await?;
            let max = ScreenSize {
                width: side(a.max_width.get()),
                height: side(a.max_height.get()),
            };
            let quality = u8::try_from(a.quality.get()).unwrap_or(80);
            let crop = match a.crop {
                None => None,
                Some(c) => {
                    let source = screen::jpeg_size(&jpeg).map_err(frame_error)?;
                    // The caller's pixels: of its last screenshot, or of the whole screen.
                    let view = device.view.unwrap_or(screen::View {
                        region: screen::Region::whole(source),
                        source,
                    });
                    let side = |n: i64| u32::try_from(n).unwrap_or(0);
                    Some(view.region_to_source(
                        (
                            side(c.x.get()),
                            side(c.y.get()),
                            side(c.width.get()),
                            side(c.height.get()),
                        ),
                        frame,
                    ))
                }
            };
            let shot = screen::fit_region(jpeg, crop, max, quality).map_err(frame_error)?;
            let (shot, jpeg) = deliver(device, shot);
            Ok((to_json(&shot), Some(jpeg)))
        }
        (DeviceAction::ListImages(_), _) => {
            let images = client.storage().images().await?;
            done(ImagesOutput { images })
        }
        (DeviceAction::MountedImage(_), _) => {
            let mounted = client.storage().mounted().await?;
            done(MountedOutput {
                file: mounted.file,
                cdrom: mounted.cdrom,
            })
        }
        (DeviceAction::KeyboardLeds(_), _) => {
            let leds = client.hid().keyboard_leds().await?;
            done(KeyboardLedsOutput {
                known: leds.is_some(),
                num_lock: leds.as_ref().map(|l| l.num_lock),
                caps_lock: leds.as_ref().map(|l| l.caps_lock),
                scroll_lock: leds.as_ref().map(|l| l.scroll_lock),
                updated_at: leds.map(|l| l.updated_at),
            })
        }
        (DeviceAction::HdmiReset(_), _) => client
            .hdmi()
            .reset()
            .await
            .and_then(|()| done(ResetOutput { reset: true })),
        (DeviceAction::HdmiEnable(_), _) => client
            .hdmi()
            .enable()
            .await
            .and_then(|()| done(HdmiSwitchOutput { enabled: true })),
        (DeviceAction::HdmiDisable(_), _) => client
            .hdmi()
            .disable()
            .await
            .and_then(|()| done(HdmiSwitchOutput { enabled: false })),
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
            let skipped = report
                .skipped
                .iter()
                .map(|s| SkippedOutput {
                    char: s.ch.to_string(),
                    index: s.index,
                })
                .collect();
            done(PasteOutput {
                typed: report.typed,
                skipped,
                language: language.as_str().to_owned(),
            })
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
                let result = match device.progress {
                    // Long typing reports how far it got, a chunk at a time.
                    Some(sink) if strokes.len() > TYPING_CHUNK => {
                        let total = strokes.len();
                        let mut sent = 0;
                        let mut result = Ok(());
                        for chunk in strokes.chunks(TYPING_CHUNK) {
                            result = slot.session().type_strokes(chunk, *delay).await;
                            if result.is_err() {
                                break;
                            }
                            sent += chunk.len();
                            #[allow(clippy::cast_precision_loss)] // stroke counts
                            sink.report(sent as f64, Some(total as f64), "typing");
                        }
                        result
                    }
                    _ => slot.session().type_strokes(strokes, *delay).await,
                };
                slot.done(result)?;
            }
            done(TypeOutput {
                typed: a.text.as_str().chars().count(),
                strokes: strokes.len(),
                layout: layout.name().to_owned(),
            })
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
            done(KeysOutput {
                pressed: chords.to_string(),
            })
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
            done(MoveOutput {
                x: p.x.get(),
                y: p.y.get(),
                screen: FrameOutput {
                    width: frame.width,
                    height: frame.height,
                },
            })
        }
        (DeviceAction::MoveRelative(a), _) => {
            let (dx, dy) = (mickeys(a.dx.get()), mickeys(a.dy.get()));
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().move_by(dx, dy).await;
                slot.done(result)?;
            }
            done(MoveRelativeOutput { dx, dy })
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
            done(ClickOutput {
                clicked: a.button,
                double: a.double,
            })
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
            done(TapOutput {
                x: p.x.get(),
                y: p.y.get(),
            })
        }
        (DeviceAction::Drag(a), _) => {
            let (from, to) = (position(a.from)?, position(a.to)?);
            {
                let slot = ws_session(client, ws).await?;
                let result = slot.session().drag(from, to, a.button.buttons(), 10).await;
                slot.done(result)?;
            }
            done(DragOutput {
                from: a.from,
                to: a.to,
                button: a.button,
            })
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
            done(ScrollOutput {
                scrolled: amount,
                direction: if amount > 0 { "down" } else { "up" }.to_owned(),
            })
        }
        (DeviceAction::MountIso(a), _) => {
            let mode = if a.as_cdrom {
                MountMode::CdRom
            } else {
                MountMode::Disk
            };
            client.storage().mount(a.file.as_str(), mode).await?;
            done(MountOutput {
                mounted: a.file.as_str().to_owned(),
                cdrom: a.as_cdrom,
            })
        }
        (DeviceAction::UnmountIso(_), _) => client
            .storage()
            .unmount()
            .await
            .and_then(|()| done(UnmountOutput { unmounted: true })),
        (DeviceAction::DeleteIso(a), _) => {
            client
                .storage()
                .delete(a.file.as_str())
                .await
                .and_then(|()| {
                    done(DeleteOutput {
                        deleted: a.file.as_str().to_owned(),
                    })
                })
        }
        (DeviceAction::WakeOnLan(a), _) => {
            let sent = client.network().wake_on_lan(&a.mac.0.to_string()).await?;
            done(WakeOutput {
                sent_to: sent.to_string(),
            })
        }
        (DeviceAction::Power(a), _) => {
            let power = client.power();
            match a.action {
                PowerPress::Power => power.press_power().await?,
                PowerPress::PowerLong => power.long_press_power().await?,
                PowerPress::Reset => power.reset().await?,
            }
            done(PowerOutput { pressed: a.action })
        }
        (DeviceAction::PowerCycle(a), _) => {
            let off_for = Duration::from_millis(a.off_duration_ms.get().unsigned_abs());
            let cycle = PowerCycle {
                off_for,
                ..PowerCycle::default()
            };
            if let Some(sink) = device.progress {
                sink.report(
                    0.0,
                    Some(1.0),
                    "forcing the machine off, then powering it on",
                );
            }
            client.power().power_cycle(cycle).await?;
            if let Some(sink) = device.progress {
                sink.report(1.0, Some(1.0), "powered on again");
            }
            done(PowerCycleOutput {
                power_cycled: true,
                off_duration_ms: a.off_duration_ms,
            })
        }
        (DeviceAction::PowerEnsure(a), _) => {
            let want_on = a.state == PowerState::On;
            let timeout = Duration::from_millis(a.timeout_ms.get().unsigned_abs());
            let before = client.power().leds().await?.power;
            if before == want_on {
                return done(PowerEnsureOutput {
                    state: a.state,
                    pressed: false,
                    reached: true,
                    waited_ms: 0,
                    message: None,
                });
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
            let message = (!reached).then(|| {
                if want_on {
                    "power was pressed but the power LED is still dark"
                } else {
                    "power was pressed but the machine is still on: the OS may ignore the \
                     button, or need longer; nanokvm_power with power_long forces it off"
                }
                .to_owned()
            });
            done(PowerEnsureOutput {
                state: a.state,
                pressed: true,
                reached,
                waited_ms: waited,
                message,
            })
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
            let shot =
                screen::fit_region(last, None, ScreenSize::DEFAULT, 80).map_err(frame_error)?;
            let (shot, jpeg) = deliver(device, shot);
            let out = WaitForScreenOutput {
                shot,
                until: a.until,
                reached,
                waited_ms: waited,
            };
            Ok((to_json(&out), Some(jpeg)))
        }
        (DeviceAction::HidMode(_), _) => {
            let mode = client.hid().mode().await?;
            done(HidModeOutput { mode: mode.into() })
        }
        (DeviceAction::SetHidMode(a), _) => {
            // The firmware reboots only when the mode changes; reading first says which
            // of the two the caller gets, and spares a needless request.
            let previous: HidModeName = client.hid().mode().await?.into();
            let wanted = a.mode;
            if previous != wanted {
                client.hid().set_mode(wanted.into()).await?;
            }
            done(SetHidModeOutput {
                mode: wanted,
                previous,
                rebooting: previous != wanted,
            })
        }
        (DeviceAction::ResetHid(_), _) => client
            .hid()
            .reset()
            .await
            .and_then(|()| done(ResetOutput { reset: true })),
        (DeviceAction::DownloadIso(a), _) => download(device, a).await,
        (DeviceAction::UploadIso(_), _) => {
            let Some(path) = device.upload else {
                unreachable!("the gate resolves an upload's path before running it")
            };
            let sink = device.progress.cloned();
            let started = std::time::Instant::now();
            let reported = std::sync::Mutex::new(std::time::Instant::now());
            client
                .storage()
                .upload_iso(path, move |sent, total| {
                    let Some(sink) = &sink else { return };
                    let mut last = reported
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if sent == total || last.elapsed() >= Duration::from_millis(250) {
                        *last = std::time::Instant::now();
                        #[allow(clippy::cast_precision_loss)] // bytes, shown as progress
                        sink.report(sent as f64, Some(total as f64), "uploading");
                    }
                })
                .await?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            done(UploadOutput {
                uploaded: format!("/data/{name}"),
                bytes,
                waited_ms: waited,
            })
        }
        (DeviceAction::PolicyExplain(_), _) => {
            unreachable!("the gate answers nanokvm_policy_explain itself")
        }
    }
}

/// `nanokvm_download_iso`: starts the download, follows it until it ends, and cancels
/// it when the call is dropped or runs out of time.
async fn download(device: &Device<'_>, a: &DownloadIsoArgs) -> Result<Output, ClientError> {
    let client = device.client;
    let storage = client.storage();
    let file = format!("/data/{}", a.url.file_name());
    storage
        .download(a.url.as_str(), a.sha256.as_ref().map(|s| s.as_str()))
        .await?;
    let mut guard = CancelDownload(Some(client.clone()));
    let started = tokio::time::Instant::now();
    let limit = Duration::from_secs(a.timeout_s.get().unsigned_abs());
    let status = loop {
        let status = storage.download_status().await?;
        if let (Some(sink), DownloadStatus::InProgress { percentage, .. }) =
            (device.progress, &status)
        {
            sink.report(percentage.unwrap_or(0.0), Some(100.0), "downloading");
        }
        if status.is_finished() {
            break status;
        }
        if started.elapsed() >= limit {
            return Err(ClientError::Timeout {
                endpoint: "nanokvm_download_iso".to_owned(),
                after: limit,
            });
        }
        tokio::time::sleep(DOWNLOAD_POLL).await;
    };
    guard.0 = None;
    let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let failed = |message: &str| ClientError::Device {
        code: -1,
        message: message.to_owned(),
        endpoint: "GET /api/download/image/status".to_owned(),
    };
    match status {
        DownloadStatus::Success => {}
        // Firmware before 2.5.0 reports idle once a download ends, whatever its end:
        // the image's presence tells.
        DownloadStatus::Idle => {
            if !storage.images().await?.contains(&file) {
                return Err(failed("the download ended without storing the image"));
            }
        }
        DownloadStatus::ChecksumFailed => {
            return Err(failed(
                "the image's SHA-256 is not the one given; it was not kept",
            ));
        }
        DownloadStatus::Failed => return Err(failed("the download failed")),
        other => {
            return Err(failed(&format!(
                "the download ended in the unknown state {}",
                serde_json::to_value(&other).unwrap_or_default()["status"]
            )));
        }
    }
    done(DownloadOutput {
        downloaded: a.url.clone(),
        file,
        checksum_checked: a.sha256.is_some(),
        waited_ms: waited,
    })
}

/// Cancels a running download when dropped armed (the call was cancelled or failed
/// while the device still downloads).
struct CancelDownload(Option<Client>);

impl Drop for CancelDownload {
    fn drop(&mut self) {
        if let Some(client) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = client.storage().cancel_download().await {
                    tracing::warn!(error = %e, "could not cancel the image download");
                }
            });
        }
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
fn deliver(device: &Device<'_>, shot: screen::Shot) -> (ScreenshotOutput, Vec<u8>) {
    *device
        .captured
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(shot.source);
    let scale = f64::from(shot.size.width) / f64::from(shot.region.width);
    let out = ScreenshotOutput {
        format: "jpeg".to_owned(),
        width: shot.size.width,
        height: shot.size.height,
        source_width: shot.source.width,
        source_height: shot.source.height,
        scale: (scale * 1e4).round() / 1e4,
        bytes: shot.jpeg.len(),
        region: RegionOutput {
            x: shot.region.x,
            y: shot.region.y,
            width: shot.region.width,
            height: shot.region.height,
        },
    };
    (out, shot.jpeg)
}

/// A result without an image.
#[allow(clippy::unnecessary_wraps)] // the shape every arm returns
fn done<T: Serialize>(output: T) -> Result<Output, ClientError> {
    Ok((to_json(&output), None))
}

/// A result as JSON. The output types serialize to objects without fail.
fn to_json<T: Serialize>(output: &T) -> Value {
    serde_json::to_value(output).unwrap_or_else(|e| unreachable!("an output serializes: {e}"))
}

/// A client value's JSON string (an enum's name).
fn json_string<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
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

/// A pixel of `frame` (a screenshot showing `view`, or the whole screen) as an absolute
/// pointer position.
fn position(
    p: Point,
    frame: ScreenSize,
    view: Option<screen::View>,
) -> Result<AbsolutePosition, ClientError> {
    let pixel = |n: i64| u32::try_from(n).unwrap_or(0);
    let (x, y) = (pixel(p.x.get()), pixel(p.y.get()));
    Ok(match view {
        Some(view) => {
            let (sx, sy) = view.to_source(x, y, frame);
            AbsolutePosition::from_pixels(sx, sy, view.source.width, view.source.height)?
        }
        None => AbsolutePosition::from_pixels(x, y, frame.width, frame.height)?,
    })
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
