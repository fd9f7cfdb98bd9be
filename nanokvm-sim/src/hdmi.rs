//! The HDMI capture's demand and status: the idle timer, and the `capture-status` pushes.
//!
//! As on the device (2.5.0 and later), every MJPEG client counts as a viewer. When no
//! viewer has been connected for the idle timeout (`POST /api/vm/hdmi/timeout`, in
//! minutes, 0 = never), the capture is switched off; the next viewer switches it on
//! again, and frames come only after a one-second warm-up. Enabling, disabling and
//! resetting HDMI restart this bookkeeping the way the firmware does.
//!
//! Each capture attempt of the streamer reports a result, as the firmware's capture
//! library does: 0 for a picture, 5 for an unchanged one skipped by frame detection, and
//! -1 ("No image captured") when there is no signal or the capture is off. A status is
//! kept per capture mode and pushed to every `/api/ws` client when it changes; all ok
//! results count as the same status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;

use crate::json::J;
use crate::state::{Shared, lock};
use crate::util;

/// How long a resumed capture needs before it delivers frames (firmware time).
const WARM_UP: Duration = Duration::from_secs(1);

/// The capture's demand bookkeeping.
#[derive(Clone, Debug, Default)]
pub(crate) struct Demand {
    /// The capture hardware is switched off (HDMI disabled, or mid-reset).
    off: bool,
    viewers: usize,
    stopped_for_idle: bool,
    generation: u64,
    warm_until: Option<Instant>,
}

impl Demand {
    /// Switched on and not switched off for idleness.
    pub(crate) fn running(&self) -> bool {
        !self.off && !self.stopped_for_idle
    }
}

/// One capture mode's latest status, as the `capture-status` push carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CaptureStatus {
    pub ok: bool,
    pub result: i64,
    pub mode: &'static str,
    pub updated_at: SystemTime,
}

impl CaptureStatus {
    /// The firmware's message and severity for a capture result.
    fn message(&self) -> (&'static str, &'static str) {
        match self.result {
            -7 => ("HDMI input resolution error", "error"),
            -6 => ("Unsupported HDMI resolution", "error"),
            -5 => ("Retrieving image", "warning"),
            -4 => ("Changing image resolution", "warning"),
            -3 => ("Image buffer full", "error"),
            -2 => ("Encoder error", "error"),
            -1 => ("No image captured", "error"),
            r if r < 0 => ("Capture failed", "error"),
            _ => ("", ""),
        }
    }

    /// The push's inner object, fields in the firmware's order.
    pub(crate) fn to_json(&self) -> J {
        let (message, severity) = self.message();
        J::obj([
            ("ok", self.ok.into()),
            ("result", J::Int(self.result)),
            ("message", message.into()),
            ("mode", self.mode.into()),
            ("severity", severity.into()),
            ("updatedAt", util::rfc3339_nano(self.updated_at).into()),
        ])
    }

    /// The firmware's `samePublicStatus`.
    fn same_as(&self, other: &Self) -> bool {
        (self.ok && other.ok)
            || (self.ok == other.ok && self.result == other.result && self.mode == other.mode)
    }
}

/// The latest status per mode, and the channel its changes are pushed on.
pub(crate) struct Statuses {
    latest: std::sync::Mutex<BTreeMap<&'static str, CaptureStatus>>,
    changes: broadcast::Sender<CaptureStatus>,
}

impl Statuses {
    pub(crate) fn new() -> Self {
        Self {
            latest: std::sync::Mutex::new(BTreeMap::new()),
            changes: broadcast::Sender::new(64),
        }
    }

    /// The latest status of every mode seen so far, sorted by mode name.
    pub(crate) fn latest(&self) -> Vec<CaptureStatus> {
        lock(&self.latest).values().cloned().collect()
    }

    /// A receiver of every status change from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<CaptureStatus> {
        self.changes.subscribe()
    }

    /// Records a capture result; a change is pushed.
    pub(crate) fn report(&self, mode: &'static str, result: i64) {
        let next = CaptureStatus {
            ok: result >= 0,
            result,
            mode,
            updated_at: SystemTime::now(),
        };
        {
            let mut latest = lock(&self.latest);
            if latest.get(mode).is_some_and(|last| last.same_as(&next)) {
                return;
            }
            latest.insert(mode, next.clone());
        }
        // Nobody listening is fine.
        let _ = self.changes.send(next);
    }
}

/// The H.264 viewer counts that `h264-mode-status` reports.
#[derive(Clone, Debug)]
pub(crate) struct H264Modes {
    /// New at every start of the device.
    generation: String,
    revision: u64,
    direct: i64,
    webrtc: i64,
}

impl H264Modes {
    pub(crate) fn new() -> Self {
        Self {
            generation: util::uuid(),
            revision: 0,
            direct: 0,
            webrtc: 0,
        }
    }

    /// The push's inner object.
    pub(crate) fn to_json(&self) -> J {
        J::obj([
            ("generation", self.generation.clone().into()),
            (
                "revision",
                J::Int(i64::try_from(self.revision).unwrap_or(i64::MAX)),
            ),
            ("direct", J::Int(self.direct)),
            ("webrtc", J::Int(self.webrtc)),
            ("mixed", (self.direct > 0 && self.webrtc > 0).into()),
        ])
    }

    /// A direct viewer came (`+1`) or went (`-1`). The firmware pushes the status only
    /// when `mixed` flips, which needs a WebRTC viewer the simulator never has.
    pub(crate) fn direct(&mut self, delta: i64) {
        self.revision += 1;
        self.direct = (self.direct + delta).max(0);
    }
}

impl Shared {
    /// Whether the capture runs: switched on, and not switched off for idleness.
    pub(crate) fn capture_running(&self) -> bool {
        self.hdmi.borrow().running()
    }

    /// Whether the capture delivers pictures now: running, warmed up, and a signal.
    pub(crate) fn capture_ready(&self) -> bool {
        let warm = self
            .hdmi
            .borrow()
            .warm_until
            .is_none_or(|t| Instant::now() >= t);
        self.capture_running() && warm && self.hdmi_signal()
    }

    /// Cancels the pending idle switch-off, if any.
    pub(crate) fn stop_idle_timer(&self) {
        if let Some(timer) = lock(&self.idle_timer).take() {
            timer.abort();
        }
    }

    fn warm_up(&self, d: &mut Demand) {
        d.warm_until = Some(Instant::now() + self.time.scale(WARM_UP));
    }

    /// Starts the idle timer if nothing needs the capture.
    fn schedule_idle_timer(self: &Arc<Self>) {
        let (minutes, enabled) = {
            let s = lock(&self.settings);
            (s.hdmi_idle_timeout, s.hdmi_enabled)
        };
        let (viewers, stopped, generation) = {
            let d = self.hdmi.borrow();
            (d.viewers, d.stopped_for_idle, d.generation)
        };
        if viewers > 0 || stopped || !enabled || minutes == 0 {
            return;
        }
        let delay = self
            .time
            .scale(Duration::from_secs(u64::from(minutes) * 60));
        let me = Arc::clone(self);
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let enabled = lock(&me.settings).hdmi_enabled;
            me.hdmi.send_if_modified(|d| {
                let due = d.generation == generation && d.viewers == 0 && enabled;
                if due {
                    d.stopped_for_idle = true;
                    d.warm_until = None;
                }
                due
            });
        });
        *lock(&self.idle_timer) = Some(task.abort_handle());
    }

    /// A viewer came (`+1`) or went (`-1`): the firmware's `reconcile`.
    pub(crate) fn capture_viewers(self: &Arc<Self>, delta: isize) {
        self.stop_idle_timer();
        let enabled = lock(&self.settings).hdmi_enabled;
        let mut demand = false;
        self.hdmi.send_modify(|d| {
            d.viewers = d.viewers.saturating_add_signed(delta);
            d.generation += 1;
            if d.viewers > 0 {
                demand = true;
                if d.stopped_for_idle && enabled {
                    self.warm_up(d);
                }
                d.stopped_for_idle = false;
            }
        });
        if !demand {
            self.schedule_idle_timer();
        }
    }

    /// `POST /api/vm/hdmi/enable`, and the second half of a reset.
    pub(crate) fn enable_capture(self: &Arc<Self>) {
        lock(&self.settings).hdmi_enabled = true;
        self.stop_idle_timer();
        self.hdmi.send_modify(|d| {
            d.off = false;
            self.warm_up(d);
            d.stopped_for_idle = false;
            d.generation += 1;
        });
        self.schedule_idle_timer();
    }

    /// `POST /api/vm/hdmi/disable` (`persist`), and the first half of a reset.
    pub(crate) fn disable_capture(&self, persist: bool) {
        if persist {
            lock(&self.settings).hdmi_enabled = false;
        }
        self.stop_idle_timer();
        self.hdmi.send_modify(|d| {
            d.off = true;
            d.warm_until = None;
            d.stopped_for_idle = false;
            d.generation += 1;
        });
    }

    /// `POST /api/vm/hdmi/timeout` with a valid number of minutes.
    pub(crate) fn set_idle_timeout(self: &Arc<Self>, minutes: u32) {
        lock(&self.settings).hdmi_idle_timeout = minutes;
        self.stop_idle_timer();
        let enabled = lock(&self.settings).hdmi_enabled;
        self.hdmi.send_modify(|d| {
            d.generation += 1;
            if d.stopped_for_idle && enabled {
                self.warm_up(d);
                d.stopped_for_idle = false;
            }
        });
        self.schedule_idle_timer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_change_only_between_ok_and_distinct_errors() {
        let s = Statuses::new();
        let mut rx = s.subscribe();
        s.report("mjpeg", 0);
        s.report("mjpeg", 5);
        s.report("mjpeg", -1);
        s.report("mjpeg", -1);
        s.report("mjpeg", -4);
        let seen: Vec<i64> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|c| c.result)
            .collect();
        assert_eq!(seen, [0, -1, -4]);
        assert_eq!(s.latest().len(), 1);
        let json = s.latest()[0].to_json().encode();
        assert!(json.starts_with(
            r#"{"ok":false,"result":-4,"message":"Changing image resolution","mode":"mjpeg","severity":"warning","updatedAt":""#
        ));
    }
}
