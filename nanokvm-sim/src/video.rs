//! The HDMI capture and the MJPEG streamer, shaped like the firmware's.
//!
//! One streamer task serves every MJPEG client. It starts with the first client and ends
//! when the last one has gone. On each tick (the screen settings' fps) it captures the
//! screen: nothing while there is no HDMI signal; otherwise the latest JPEG, which
//! [`Screen`](crate::screen) re-encodes only when the picture changed. While frame
//! detection is on, an unchanged picture is skipped. A frame is published once, on a
//! `watch` channel, and every client writes the same shared bytes; a slow client skips
//! to the newest frame instead of holding the others back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::watch;

use crate::screen::{Screenshot, jpeg_quality};
use crate::state::{Shared, lock};

/// The shortest frame interval, whatever the time scale: a fast simulator (delays a
/// thousand times shorter) still paces its stream at 200 fps at most, so tests do not
/// flood the loopback interface.
const MIN_FRAME_INTERVAL: Duration = Duration::from_millis(5);

/// Counters of the MJPEG streamer, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VideoStats {
    /// MJPEG clients connected now.
    pub clients: usize,
    /// Capture attempts so far: one per frame interval while any client is connected.
    pub ticks: u64,
    /// Frames published so far (each one goes to every connected client).
    pub frames: u64,
    /// Framebuffer renders and JPEG encodes so far, including screenshots.
    pub encodes: u64,
}

/// The latest published frame.
#[derive(Clone, Debug, Default)]
struct Feed {
    jpeg: Bytes,
}

/// The capture side of one simulator.
pub(crate) struct Video {
    feed: watch::Sender<Feed>,
    /// Whether the streamer task runs; taken together with the client count so that a
    /// client arriving as the streamer leaves is never stranded.
    running: Mutex<bool>,
    stats: watch::Sender<VideoStats>,
    /// Bumped to end every stream (simulator shutdown, device reboot).
    cut: watch::Sender<u64>,
}

impl Video {
    pub(crate) fn new() -> Self {
        Self {
            feed: watch::Sender::new(Feed::default()),
            running: Mutex::new(false),
            stats: watch::Sender::new(VideoStats::default()),
            cut: watch::Sender::new(0),
        }
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> VideoStats {
        *self.stats.borrow()
    }

    /// A receiver that sees every change of the counters.
    pub(crate) fn watch_stats(&self) -> watch::Receiver<VideoStats> {
        self.stats.subscribe()
    }

    /// Ends every open stream, as the device going away would.
    pub(crate) fn cut(&self) {
        self.cut.send_modify(|v| *v += 1);
    }
}

/// One MJPEG client's subscription; dropping it leaves the stream.
pub(crate) struct Viewer {
    shared: Arc<Shared>,
    feed: watch::Receiver<Feed>,
    cut: watch::Receiver<u64>,
}

impl Viewer {
    /// Joins the stream, starting the streamer if this is the first client. Only frames
    /// published from now on are seen: as on the device, a newcomer waits for the next
    /// capture.
    pub(crate) fn join(shared: &Arc<Shared>) -> Self {
        let video = &shared.video;
        let mut running = lock(&video.running);
        let viewer = Self {
            shared: Arc::clone(shared),
            feed: video.feed.subscribe(),
            cut: video.cut.subscribe(),
        };
        video.stats.send_modify(|s| s.clients += 1);
        shared.capture_viewers(1);
        if !*running {
            *running = true;
            tokio::spawn(run(Arc::clone(shared)));
        }
        viewer
    }

    /// The next frame, or `None` when the stream was cut.
    pub(crate) async fn next(&mut self) -> Option<Bytes> {
        tokio::select! {
            biased;
            _ = self.cut.changed() => None,
            changed = self.feed.changed() => {
                changed.ok()?;
                Some(self.feed.borrow_and_update().jpeg.clone())
            }
        }
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.shared
            .video
            .stats
            .send_modify(|s| s.clients = s.clients.saturating_sub(1));
        self.shared.capture_viewers(-1);
    }
}

/// The streamer: one capture per tick while any client is connected.
async fn run(shared: Arc<Shared>) {
    let video = &shared.video;
    // What the last published frame showed, for frame detection.
    let mut last: Option<(u64, u8, u32, u32)> = None;
    let mut next = tokio::time::Instant::now();
    loop {
        let (fps, quality, detect, resolution) = {
            let s = lock(&shared.settings);
            (
                s.fps.max(1),
                jpeg_quality(s.quality),
                s.frame_detect,
                s.resolution,
            )
        };
        let size = shared.screen.output_size(resolution);
        let period = shared
            .time
            .scale(Duration::from_secs(1) / fps)
            .max(MIN_FRAME_INTERVAL);
        next += period;
        // A slow encode delays the next tick rather than causing a burst of catch-ups.
        next = next.max(tokio::time::Instant::now());
        tokio::time::sleep_until(next).await;
        {
            let mut running = lock(&video.running);
            if video.feed.receiver_count() == 0 {
                *running = false;
                return;
            }
        }
        let shot = if shared.capture_ready() {
            capture(&shared, quality, size).await
        } else {
            None
        };
        let publish = match &shot {
            Some(shot) => {
                let key = (
                    shot.screen_version(),
                    shot.quality(),
                    shot.width(),
                    shot.height(),
                );
                let changed = last != Some(key);
                last = Some(key);
                changed || !detect
            }
            // After a loss of signal the first picture counts as a change.
            None => {
                last = None;
                false
            }
        };
        // The capture library's result: a picture, an unchanged one, or none.
        let result = match (&shot, publish) {
            (None, _) => -1,
            (Some(_), true) => 0,
            (Some(_), false) => 5,
        };
        shared.capture.report("mjpeg", result);
        if let (true, Some(shot)) = (publish, &shot) {
            video.feed.send_modify(|f| f.jpeg = shot.bytes().clone());
        }
        let encodes = shared.screen.encodes();
        video.stats.send_modify(|s| {
            s.ticks += 1;
            s.frames += u64::from(publish);
            s.encodes = encodes;
        });
    }
}

/// The current picture: the cached JPEG when the screen has not changed, otherwise a
/// fresh render and encode on a blocking thread.
async fn capture(shared: &Arc<Shared>, quality: u8, size: (u32, u32)) -> Option<Screenshot> {
    let cached = shared
        .screen
        .cached(&shared.machine.borrow(), quality, size);
    if cached.is_some() {
        return cached;
    }
    let me = Arc::clone(shared);
    tokio::task::spawn_blocking(move || me.screen.frame(&me.machine, quality, size))
        .await
        .ok()
}
