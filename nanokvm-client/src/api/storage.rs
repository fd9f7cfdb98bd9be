//! Virtual media: images under `/data`, mounting, downloads from a URL, uploads.
//!
//! There is no separate unmount route: mounting the empty path unmounts. Every route is
//! admin-only on firmware with roles. Mounting re-enumerates the whole USB device, so the
//! target briefly loses keyboard and mouse too.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, decode_envelope, null_as_empty};

/// How an image is presented to the target.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MountMode {
    /// A read-only CD/DVD drive (2.2.1 and later). Serializes as `cdrom`.
    #[serde(rename = "cdrom")]
    CdRom,
    /// A USB mass-storage disk.
    Disk,
}

/// What is mounted.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Mounted {
    /// The mounted image's path, `None` when nothing is mounted.
    pub file: Option<String>,
    /// Whether the drive is presented as a CD-ROM; `None` on firmware without CD-ROM mode.
    pub cdrom: Option<bool>,
}

/// The state of a download to the device. Serializes as `{"status": "idle"}`,
/// `{"status": "in_progress", "url": ..., "percentage": ...}`, ..., an unknown status
/// verbatim.
#[derive(Clone, PartialEq, Debug)]
#[non_exhaustive]
pub enum DownloadStatus {
    /// Nothing running (also after a cancel).
    Idle,
    /// Running; `percentage` when the server sent a length (`"12.34%"` as 12.34).
    InProgress {
        /// The URL being downloaded.
        url: String,
        /// Progress in percent, when known.
        percentage: Option<f64>,
    },
    /// The last download finished and was renamed into `/data` (2.5.0 and later).
    Success,
    /// The last download failed (2.5.0 and later).
    Failed,
    /// The last download did not match its SHA-256 (2.5.0 and later).
    ChecksumFailed,
    /// A status this client does not know, verbatim.
    Other(String),
}

impl Serialize for DownloadStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            status: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            url: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            percentage: Option<f64>,
        }
        let (status, url, percentage) = match self {
            Self::Idle => ("idle", None, None),
            Self::InProgress { url, percentage } => {
                ("in_progress", Some(url.as_str()), *percentage)
            }
            Self::Success => ("success", None, None),
            Self::Failed => ("failed", None, None),
            Self::ChecksumFailed => ("checksum_failed", None, None),
            Self::Other(status) => (status.as_str(), None, None),
        };
        Json {
            status,
            url,
            percentage,
        }
        .serialize(serializer)
    }
}

impl DownloadStatus {
    /// Whether the download has ended (successfully or not), or never started.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        !matches!(self, Self::InProgress { .. })
    }
}

#[derive(Deserialize)]
pub(crate) struct DownloadWire {
    status: String,
    #[serde(default)]
    file: String,
    #[serde(default)]
    percentage: String,
}

impl DownloadWire {
    pub(crate) fn into_domain(self) -> DownloadStatus {
        match self.status.as_str() {
            "idle" => DownloadStatus::Idle,
            "in_progress" => DownloadStatus::InProgress {
                url: self.file,
                percentage: self.percentage.trim_end_matches('%').trim().parse().ok(),
            },
            "success" => DownloadStatus::Success,
            "failed" => DownloadStatus::Failed,
            "checksum_failed" => DownloadStatus::ChecksumFailed,
            _ => DownloadStatus::Other(self.status),
        }
    }
}

/// Checks an image path the way the firmware's delete does: under `/data`, ending in
/// `.iso` or `.img`, and (stricter than the firmware) without `..` components.
pub(crate) fn validate_image_path(path: &str) -> Result<()> {
    let lower = path.to_ascii_lowercase();
    let ok = lower.starts_with("/data/")
        && (lower.ends_with(".iso") || lower.ends_with(".img"))
        && !path.split('/').any(|part| part == "..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "image path {path:?} must be under /data/ and end in .iso or .img"
        )))
    }
}

/// Checks a download URL and optional SHA-256 before sending.
pub(crate) fn download_request(url: &str, sha256: Option<&str>) -> Result<ApiRequest> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::invalid(format!("bad URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || parsed.path().trim_matches('/').is_empty()
    {
        return Err(Error::invalid(
            "the download URL must be http(s) with a host and a file path",
        ));
    }
    let mut body = json!({ "file": url });
    if let Some(sum) = sha256 {
        let sum = sum.trim().to_ascii_lowercase();
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid("a SHA-256 is 64 hexadecimal digits"));
        }
        body["sha256sum"] = Value::from(sum);
    }
    Ok(ApiRequest::post("/api/download/image", body))
}

/// Checks an upload file name the way the firmware does.
pub(crate) fn validate_upload_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.contains("..")
        && name.to_ascii_lowercase().ends_with(".iso");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "upload name {name:?} must use only letters, digits, `.`, `_`, `-` and end in .iso"
        )))
    }
}

/// Virtual media. Obtain with [`Client::storage`].
#[derive(Clone, Copy, Debug)]
pub struct StorageHandler<'a> {
    pub(crate) client: &'a Client,
}

impl StorageHandler<'_> {
    async fn require_cube(&self, operation: &str) -> Result<&crate::Capabilities> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_cube_storage(), operation, "a NanoKVM Cube or PCIe")?;
        Ok(caps)
    }

    /// Every `.iso` and `.img` under `/data`, as full paths.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn images(&self) -> Result<Vec<String>> {
        self.require_cube("image listing").await?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(deserialize_with = "null_as_empty")]
            files: Vec<String>,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/storage/image"))
            .await?;
        Ok(wire.files)
    }

    /// The mounted image and whether it is presented as a CD-ROM.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn mounted(&self) -> Result<Mounted> {
        let caps = self.require_cube("mounted image").await?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            file: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/storage/image/mounted"))
            .await?;
        let cdrom = if caps.has_cdrom() {
            #[derive(Deserialize)]
            struct Cd {
                cdrom: i64,
            }
            let cd: Cd = self
                .client
                .call(ApiRequest::get("/api/storage/cdrom"))
                .await?;
            Some(cd.cdrom != 0)
        } else {
            None
        };
        Ok(Mounted {
            file: (!wire.file.is_empty()).then_some(wire.file),
            cdrom,
        })
    }

    /// Mounts an image (a path from [`StorageHandler::images`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a path outside `/data`; [`Error::NotSupported`] for a
    /// CD-ROM before 2.2.1; device and transport errors.
    pub async fn mount(&self, path: &str, mode: MountMode) -> Result<()> {
        validate_image_path(path)?;
        let caps = self.require_cube("image mounting").await?;
        if mode == MountMode::CdRom {
            caps.require(
                caps.has_cdrom(),
                "CD-ROM mounting",
                "firmware 2.2.1 or later",
            )?;
        }
        let req = ApiRequest::post(
            "/api/storage/image/mount",
            json!({ "file": path, "cdrom": mode == MountMode::CdRom }),
        )
        .extra_timeout(Duration::from_secs(5));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Unmounts whatever is mounted.
    ///
    /// # Errors
    ///
    /// Device and transport errors (the target may still hold the medium).
    pub async fn unmount(&self) -> Result<()> {
        self.require_cube("image unmounting").await?;
        let req = ApiRequest::post("/api/storage/image/mount", json!({ "file": "" }))
            .extra_timeout(Duration::from_secs(5));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Deletes an image from `/data`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a path outside `/data`; device and transport errors.
    pub async fn delete(&self, path: &str) -> Result<()> {
        validate_image_path(path)?;
        self.require_cube("image deletion").await?;
        let req = ApiRequest::post("/api/storage/image/delete", json!({ "file": path }));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Whether the device can store a download (`/data` writable).
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn download_enabled(&self) -> Result<bool> {
        self.require_cube("image download").await?;
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/download/image/enabled"))
            .await?;
        Ok(wire.enabled)
    }

    /// Starts downloading `url` into `/data` on the device, optionally checked against
    /// a SHA-256 (2.5.0 and later). Returns at once; follow it with
    /// [`StorageHandler::wait_for_download`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad URL or checksum; [`Error::NotSupported`] for a
    /// checksum before 2.5.0; device errors (`download in progress`) and transport errors.
    pub async fn download(&self, url: &str, sha256: Option<&str>) -> Result<DownloadStatus> {
        let req = download_request(url, sha256)?;
        let caps = self.require_cube("image download").await?;
        if sha256.is_some() {
            caps.require(
                caps.has_download_cancel(),
                "download checksums",
                "firmware 2.5.0 or later",
            )?;
        }
        let wire: DownloadWire = self.client.call(req).await?;
        Ok(wire.into_domain())
    }

    /// The download state.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn download_status(&self) -> Result<DownloadStatus> {
        self.require_cube("image download").await?;
        let wire: DownloadWire = self
            .client
            .call(ApiRequest::get("/api/download/image/status"))
            .await?;
        Ok(wire.into_domain())
    }

    /// Polls the download every `interval` until it ends, calling `progress` with each
    /// status, and returns the final one ([`DownloadStatus::Success`], `Failed`,
    /// `ChecksumFailed`, or `Idle` on firmware before 2.5.0 or after a cancel).
    ///
    /// # Errors
    ///
    /// Device and transport errors while polling.
    pub async fn wait_for_download(
        &self,
        interval: Duration,
        mut progress: impl FnMut(&DownloadStatus),
    ) -> Result<DownloadStatus> {
        loop {
            let status = self.download_status().await?;
            progress(&status);
            if status.is_finished() {
                return Ok(status);
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Cancels the running download (2.5.0 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.5.0; device errors (`no cancellable download in
    /// progress`) and transport errors.
    pub async fn cancel_download(&self) -> Result<()> {
        let caps = self.require_cube("download cancel").await?;
        caps.require(
            caps.has_download_cancel(),
            "download cancel",
            "firmware 2.5.0 or later",
        )?;
        let req = ApiRequest::post("/api/download/image/cancel", json!({}))
            .extra_timeout(Duration::from_secs(10));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Uploads a local ISO-9660 image into `/data`, calling `progress(sent, total)` as
    /// bytes go out. The file name must be a bare `.iso` name. Never repeated.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a bad name; [`Error::Io`] when the file cannot be read;
    /// device errors (`file is not a valid ISO image`, `sha256 mismatch`) and transport
    /// errors.
    pub async fn upload_iso(
        &self,
        path: &Path,
        progress: impl FnMut(u64, u64) + Send + Sync + 'static,
    ) -> Result<()> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        validate_upload_name(&name)?;
        self.require_cube("image upload").await?;
        let io_error = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let file = tokio::fs::File::open(path).await.map_err(io_error)?;
        let total = file.metadata().await.map_err(io_error)?.len();
        let body = progress_body(file, total, progress);
        let part = reqwest::multipart::Part::stream_with_length(body, total)
            .file_name(name)
            .mime_str("application/octet-stream")
            .map_err(|e| Error::invalid(e.to_string()))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let bytes = self
            .client
            .post_multipart("/api/download/file", form, &[])
            .await?;
        decode_envelope::<Value>("POST /api/download/file", &bytes).map(drop)
    }
}

/// A request body that reads `file` in chunks and reports progress.
fn progress_body(
    file: tokio::fs::File,
    total: u64,
    progress: impl FnMut(u64, u64) + Send + Sync + 'static,
) -> reqwest::Body {
    use tokio::io::AsyncReadExt as _;
    let stream = futures_util::stream::unfold(
        (file, 0u64, progress),
        move |(mut file, sent, mut progress)| async move {
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    progress(sent, total);
                    Some((Ok::<_, std::io::Error>(buf), (file, sent, progress)))
                }
                Err(e) => Some((Err(e), (file, sent, progress))),
            }
        },
    );
    reqwest::Body::wrap_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_must_stay_in_data() {
        assert!(validate_image_path("/data/ubuntu.iso").is_ok());
        assert!(validate_image_path("/data/sub/X.IMG").is_ok());
        for bad in [
            "/database.iso",
            "/data/../etc/x.img",
            "/data/x.txt",
            "ubuntu.iso",
        ] {
            assert!(validate_image_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn downloads_are_checked_before_sending() {
        let req = download_request("https://example.com/a.iso", Some(&"AB".repeat(32))).unwrap();
        assert_eq!(
            req.body,
            Some(json!({"file": "https://example.com/a.iso", "sha256sum": "ab".repeat(32)}))
        );
        assert!(download_request("ftp://example.com/a.iso", None).is_err());
        assert!(download_request("https://example.com/", None).is_err());
        assert!(download_request("https://example.com/a.iso", Some("abc")).is_err());
    }

    #[test]
    fn upload_names_follow_the_firmware_rule() {
        assert!(validate_upload_name("debian-12.iso").is_ok());
        for bad in ["a b.iso", "x.img", "..iso", ""] {
            assert!(validate_upload_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn download_statuses_decode() {
        let wire = DownloadWire {
            status: "in_progress".into(),
            file: "u".into(),
            percentage: "12.5%".into(),
        };
        assert_eq!(
            wire.into_domain(),
            DownloadStatus::InProgress {
                url: "u".into(),
                percentage: Some(12.5)
            }
        );
        for (s, want) in [
            ("success", DownloadStatus::Success),
            ("checksum_failed", DownloadStatus::ChecksumFailed),
            ("idle", DownloadStatus::Idle),
        ] {
            let wire = DownloadWire {
                status: s.into(),
                file: String::new(),
                percentage: String::new(),
            };
            assert_eq!(wire.into_domain(), want);
        }
    }
}
