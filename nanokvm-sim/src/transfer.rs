//! The firmware's transfer lane: image downloads from a URL and ISO uploads into `/data`.
//!
//! One transfer runs at a time; a second one is refused with `download in progress`.
//! Firmware 2.5.0 and later keep the lane in memory (status, file, percentage, and a
//! cancel handle for URL downloads) and leave the last outcome (`success`, `failed`,
//! `checksum_failed`) visible until the next transfer. Firmware 2.3.1 keeps only a
//! sentinel file holding the URL (and, once the progress ticker ran, `;<percent>`), and
//! reports `in_progress` while it exists. Both are played from [`Lane`], which lives in a
//! `watch` channel so that tests can await a state instead of polling.
//!
//! Files are written only as `<data dir>/<one plain file name>`: a name that would
//! climb out (`..`) fails the transfer, as renaming onto `/` fails on the device.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use crate::config::FirmwareVersion;
use crate::fetch::{self, Method, Url};
use crate::state::Shared;

/// How often the firmware's progress ticker writes the percentage (firmware time).
const PROGRESS_TICK: Duration = Duration::from_millis(2500);

/// What `GET /api/download/image/status` answers now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadState {
    /// `idle`, `in_progress`, `success`, `failed` or `checksum_failed`.
    pub status: String,
    /// The URL (or upload name) while a transfer runs, otherwise empty.
    pub file: String,
    /// Progress such as `42.00%`, or empty until the ticker has run.
    pub percentage: String,
}

/// The outcome a 2.5.0+ transfer leaves behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Status {
    #[default]
    Idle,
    InProgress,
    Success,
    Failed,
    ChecksumFailed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::ChecksumFailed => "checksum_failed",
        }
    }
}

/// The transfer lane of one simulated device.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lane {
    status: Status,
    file: String,
    percentage: String,
    /// The running transfer, if any.
    running: Option<u64>,
    /// Stops the running URL download; uploads have none and cannot be cancelled.
    cancel: Option<Arc<watch::Sender<bool>>>,
    next_id: u64,
    /// 2.3.1's sentinel file, while it exists.
    sentinel: Option<String>,
}

impl Lane {
    /// The status route's answer for firmware `fw`.
    pub(crate) fn view(&self, fw: FirmwareVersion) -> DownloadState {
        let (status, file, percentage) = if fw.at_least_2_5_0() {
            (
                self.status.as_str(),
                self.file.clone(),
                self.percentage.clone(),
            )
        } else {
            match &self.sentinel {
                None => ("idle", String::new(), String::new()),
                Some(content) => {
                    let mut pieces = content.split(';');
                    let file = pieces.next().unwrap_or("").to_owned();
                    let percentage = pieces.next().unwrap_or("").to_owned();
                    ("in_progress", file, percentage)
                }
            }
        };
        DownloadState {
            status: status.to_owned(),
            file,
            percentage,
        }
    }
}

/// Why a cancel request failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CancelError {
    /// No URL download runs (uploads cannot be cancelled).
    NothingToCancel,
    /// The download did not stop in time.
    TimedOut,
}

/// Why a transfer could not start.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Busy;

impl Shared {
    /// Takes the lane for a 2.5.0+ transfer: its id, and the cancel signal when
    /// `cancellable`.
    pub(crate) fn begin_transfer(
        &self,
        file: &str,
        cancellable: bool,
    ) -> Result<(u64, watch::Receiver<bool>), Busy> {
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let mut result = Err(Busy);
        self.transfer.send_if_modified(|lane| {
            if lane.running.is_some() || lane.sentinel.is_some() {
                return false;
            }
            let id = lane.next_id;
            lane.next_id += 1;
            lane.running = Some(id);
            lane.cancel = cancellable.then(|| Arc::new(cancel_tx));
            lane.status = Status::InProgress;
            lane.file = file.to_owned();
            lane.percentage.clear();
            result = Ok(id);
            true
        });
        result.map(|id| (id, cancel_rx))
    }

    /// Updates the running transfer's file name; ignored once it has ended.
    pub(crate) fn transfer_file(&self, id: u64, file: &str) {
        self.transfer.send_if_modified(|lane| {
            let current = lane.running == Some(id);
            if current {
                lane.file = file.to_owned();
            }
            current
        });
    }

    pub(crate) fn transfer_progress(&self, id: u64, percentage: String) {
        self.transfer.send_if_modified(|lane| {
            let current = lane.running == Some(id) && lane.percentage != percentage;
            if current {
                lane.percentage = percentage;
            }
            current
        });
    }

    /// Ends a 2.5.0+ transfer with `status`, unless it already ended.
    pub(crate) fn finish_transfer(&self, id: u64, status: Status) {
        self.transfer.send_if_modified(|lane| {
            if lane.running != Some(id) {
                return false;
            }
            lane.running = None;
            lane.cancel = None;
            lane.status = status;
            lane.file.clear();
            lane.percentage.clear();
            true
        });
    }

    /// Creates 2.3.1's sentinel with `content`; `false` when it already exists.
    pub(crate) fn create_sentinel(&self, content: &str) -> bool {
        self.transfer.send_if_modified(|lane| {
            if lane.sentinel.is_some() || lane.running.is_some() {
                return false;
            }
            lane.sentinel = Some(content.to_owned());
            true
        })
    }

    /// Overwrites 2.3.1's sentinel, if it still exists.
    pub(crate) fn write_sentinel(&self, content: &str) {
        self.transfer.send_if_modified(|lane| {
            let exists = lane.sentinel.is_some();
            if exists {
                lane.sentinel = Some(content.to_owned());
            }
            exists
        });
    }

    /// The sentinel's content, if it exists.
    pub(crate) fn sentinel(&self) -> Option<String> {
        self.transfer.borrow().sentinel.clone()
    }

    /// Removes 2.3.1's sentinel.
    pub(crate) fn remove_sentinel(&self) {
        self.transfer
            .send_if_modified(|lane| lane.sentinel.take().is_some());
    }

    /// 2.3.1's progress ticker: the sentinel's text before the first `;`, then the
    /// percentage.
    pub(crate) fn sentinel_progress(&self, percentage: &str) {
        self.transfer.send_if_modified(|lane| match &lane.sentinel {
            Some(content) => {
                let head = content.split(';').next().unwrap_or("");
                let next = format!("{head};{percentage}");
                let changed = *content != next;
                lane.sentinel = Some(next);
                changed
            }
            None => false,
        });
    }

    /// Asks the running URL download to stop; the id it had, if it can be cancelled.
    pub(crate) fn cancel_transfer(&self) -> Option<u64> {
        let lane = self.transfer.borrow();
        let (cancel, id) = (lane.cancel.clone()?, lane.running?);
        drop(lane);
        cancel.send_replace(true);
        Some(id)
    }

    /// Cancels the running URL download and waits until it has stopped, at most the
    /// firmware's 10 s (scaled, but never under a second of real time, so that a busy
    /// test machine does not turn it into a spurious timeout).
    pub(crate) async fn cancel_and_wait(&self) -> Result<(), CancelError> {
        let id = self.cancel_transfer().ok_or(CancelError::NothingToCancel)?;
        let limit = self
            .time
            .scale(Duration::from_secs(10))
            .max(Duration::from_secs(1));
        let mut rx = self.transfer.subscribe();
        match tokio::time::timeout(limit, rx.wait_for(|lane| lane.running != Some(id))).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(CancelError::TimedOut),
        }
    }

    /// The device restarts: running transfers stop and the lane is fresh (2.3.1's
    /// sentinel is removed at server start).
    pub(crate) fn reset_transfers(&self) {
        self.transfer.send_modify(|lane| {
            if let Some(cancel) = lane.cancel.take() {
                cancel.send_replace(true);
            }
            *lane = Lane {
                next_id: lane.next_id,
                ..Lane::default()
            };
        });
    }
}

/// Go's `%.2f%%` of `total / size * 100`, including what it prints for an unknown
/// (-1) or zero size, which 2.3.1 does not guard against.
pub(crate) fn go_percent(total: u64, size: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let value = total as f64 / size as f64 * 100.0;
    if value.is_nan() {
        "NaN%".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf%" } else { "-Inf%" }.to_owned()
    } else {
        format!("{value:.2}%")
    }
}

/// A decoded URL path element as a file name directly inside the data directory, or
/// `None` when it is not one plain name (`.`, `..`, or containing `/`).
pub(crate) fn data_file(shared: &Shared, name: &[u8]) -> Option<PathBuf> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') {
        return None;
    }
    #[cfg(unix)]
    let name = {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(name).to_owned()
    };
    #[cfg(not(unix))]
    let name = std::ffi::OsString::from(String::from_utf8_lossy(name).into_owned());
    Some(shared.data_dir.join(name))
}

/// Aborts a helper task when the transfer that owns it ends or is dropped.
pub(crate) struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The firmware's progress ticker: every 2.5 s (scaled), `report` gets the bytes written
/// so far.
pub(crate) fn ticker(
    shared: &Arc<Shared>,
    total: Arc<AtomicU64>,
    report: impl Fn(&Shared, u64) + Send + 'static,
) -> AbortOnDrop {
    let period = shared
        .time
        .scale(PROGRESS_TICK)
        .max(Duration::from_millis(1));
    let me = Arc::clone(shared);
    AbortOnDrop(tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            interval.tick().await;
            report(&me, total.load(Ordering::Relaxed));
        }
    }))
}

/// A URL download of firmware 2.5.0 or later, in the background: fetch into a temporary
/// file in the data directory, check the SHA-256, rename, and leave the outcome.
pub(crate) fn spawn_download(
    shared: Arc<Shared>,
    id: u64,
    url: Url,
    sha256: Option<[u8; 32]>,
    name: Vec<u8>,
    mut cancel: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let status = tokio::select! {
            status = download(&shared, id, &url, sha256, &name) => status,
            Ok(_) = cancel.wait_for(|c| *c) => Status::Idle,
        };
        shared.finish_transfer(id, status);
    });
}

async fn download(
    shared: &Arc<Shared>,
    id: u64,
    url: &Url,
    sha256: Option<[u8; 32]>,
    name: &[u8],
) -> Status {
    let Ok(mut response) = fetch::request(Method::Get, url).await else {
        return Status::Failed;
    };
    if response.status != 200 {
        return Status::Failed;
    }
    let Ok(temp) = tempfile::Builder::new()
        .prefix(".nanokvm-download-")
        .tempfile_in(&shared.data_dir)
    else {
        return Status::Failed;
    };
    let Ok(std_file) = temp.as_file().try_clone() else {
        return Status::Failed;
    };
    let mut file = tokio::fs::File::from_std(std_file);
    let total = Arc::new(AtomicU64::new(0));
    let size = response.content_length;
    let _ticker = ticker(shared, Arc::clone(&total), move |s, written| {
        if size > 0 {
            s.transfer_progress(id, go_percent(written, size));
        }
    });
    let mut hasher = Sha256::new();
    loop {
        match response.chunk().await {
            Ok(Some(bytes)) => {
                hasher.update(&bytes);
                if file.write_all(&bytes).await.is_err() {
                    return Status::Failed;
                }
                total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Ok(None) => break,
            Err(_) => return Status::Failed,
        }
    }
    if file.flush().await.is_err() {
        return Status::Failed;
    }
    drop(file);
    if sha256.is_some_and(|want| hasher.finalize().as_slice() != want) {
        return Status::ChecksumFailed;
    }
    let Some(dest) = data_file(shared, name) else {
        return Status::Failed;
    };
    match temp.persist(dest) {
        Ok(_) => Status::Success,
        Err(_) => Status::Failed,
    }
}

/// A URL download of firmware 2.3.1: straight into `/data/<name>` with no temporary
/// file, the sentinel holding the URL and progress, and nothing left to say how it
/// ended.
pub(crate) fn spawn_legacy_download(shared: Arc<Shared>, url: Url) {
    let (cancel_tx, mut cancel) = watch::channel(false);
    shared.transfer.send_modify(|lane| {
        lane.cancel = Some(Arc::new(cancel_tx));
    });
    tokio::spawn(async move {
        tokio::select! {
            () = legacy_download(&shared, &url) => {
                shared.transfer.send_modify(|lane| {
                    lane.cancel = None;
                    lane.sentinel = None;
                });
            }
            Ok(_) = cancel.wait_for(|c| *c) => {}
        }
    });
}

async fn legacy_download(shared: &Arc<Shared>, url: &Url) {
    let Ok(mut response) = fetch::request(Method::Get, url).await else {
        return;
    };
    let Some(dest) = data_file(shared, &fetch::base_name(&url.path)) else {
        return;
    };
    let Ok(mut file) = tokio::fs::File::create(&dest).await else {
        return;
    };
    let total = Arc::new(AtomicU64::new(0));
    let size = response.content_length;
    let _ticker = ticker(shared, Arc::clone(&total), move |s, written| {
        s.sentinel_progress(&go_percent(written, size));
    });
    // 2.3.1 saves whatever the server sends, error pages included, and keeps a partial
    // file when the transfer breaks.
    while let Ok(Some(bytes)) = response.chunk().await {
        if file.write_all(&bytes).await.is_err() {
            break;
        }
        total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
    let _ = file.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_print_like_go() {
        assert_eq!(go_percent(1, 3), "33.33%");
        assert_eq!(go_percent(3, 3), "100.00%");
        assert_eq!(go_percent(5, -1), "-500.00%");
        assert_eq!(go_percent(0, 0), "NaN%");
        assert_eq!(go_percent(1, 0), "+Inf%");
    }

    #[test]
    fn the_legacy_view_splits_the_sentinel() {
        let mut lane = Lane::default();
        let fw = FirmwareVersion::V2_3_1;
        assert_eq!(lane.view(fw).status, "idle");
        lane.sentinel = Some("http://h/a.iso;12.50%".to_owned());
        let v = lane.view(fw);
        assert_eq!(
            (v.status.as_str(), v.file.as_str()),
            ("in_progress", "http://h/a.iso")
        );
        assert_eq!(v.percentage, "12.50%");
        lane.status = Status::Failed;
        assert_eq!(lane.view(FirmwareVersion::V2_5_0).status, "failed");
    }
}
