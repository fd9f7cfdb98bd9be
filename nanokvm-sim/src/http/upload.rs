//! `POST /api/download/file`: an ISO image uploaded as `multipart/form-data`.
//!
//! The body is streamed part by part (see `multipart`), never held in memory. Firmware
//! 2.5.0 and later check the optional `X-SHA256-Sum` header and the file name, write the
//! part into a temporary file in the data directory, check the SHA-256 and the ISO-9660
//! signature (`CD001` at byte 0x8001), and only then rename it into place: a bad upload
//! leaves nothing behind, and its outcome (`failed`, `checksum_failed`) stays in the
//! transfer status. Firmware 2.3.1 writes straight into `/data/<name>` (truncating an
//! existing file of that name first), removes the file when the check fails, and panics
//! (HTTP 500, its sentinel left behind) on the inputs where its code dereferences a
//! writer it has not created yet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::download::{parse_sha256, state_object};
use super::{fail, internal_error, ok};
use crate::multipart::{self, Reader};
use crate::state::Shared;
use crate::transfer::{DownloadState, Status, go_percent};

/// Where the ISO-9660 primary volume descriptor's `CD001` starts.
const ISO_MAGIC_OFFSET: u64 = 0x8001;

/// The firmware's file name rules for uploads; `Err` holds its message.
fn validate_iso_filename(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("no filename");
    }
    if multipart::base_name(name) != name || name.contains("..") {
        return Err("invalid filename");
    }
    if !name.to_ascii_lowercase().ends_with(".iso") {
        return Err("only .iso files allowed");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("invalid filename");
    }
    Ok(())
}

/// Whether the file carries the ISO-9660 signature; a file too short to have one does
/// not.
async fn is_iso9660(path: &Path) -> bool {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return false;
    };
    if file
        .seek(std::io::SeekFrom::Start(ISO_MAGIC_OFFSET))
        .await
        .is_err()
    {
        return false;
    }
    let mut magic = [0u8; 5];
    file.read_exact(&mut magic).await.is_ok() && &magic == b"CD001"
}

/// `Content-Length` as Go's `Request.ContentLength`: -1 when unknown.
fn content_length(headers: &HeaderMap) -> i64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(-1)
}

fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multipart::form_data_boundary(ct)
}

/// Serves the upload for the firmware played.
pub(crate) async fn upload(shared: Arc<Shared>, headers: HeaderMap, body: Body) -> Response {
    if shared.config.firmware.at_least_2_5_0() {
        upload_current(&shared, &headers, body).await
    } else {
        upload_legacy(&shared, &headers, body).await
    }
}

async fn upload_current(shared: &Arc<Shared>, headers: &HeaderMap, body: Body) -> Response {
    let sum = headers
        .get("x-sha256-sum")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let Ok(expected) = parse_sha256(&sum) else {
        return fail(-1, "invalid sha256sum");
    };
    let Ok((id, _)) = shared.begin_transfer("", false) else {
        return fail(-1, "download in progress");
    };
    let (status, response) = receive(shared, id, headers, body, expected).await;
    // The device ends the transfer just after writing its answer; ending it first makes
    // the status a client reads next deterministic.
    shared.finish_transfer(id, status);
    response
}

async fn receive(
    shared: &Arc<Shared>,
    id: u64,
    headers: &HeaderMap,
    body: Body,
    expected: Option<[u8; 32]>,
) -> (Status, Response) {
    let failed = |msg: &str| (Status::Failed, fail(-1, msg));
    let Some(boundary) = boundary(headers) else {
        return failed("invalid multipart data");
    };
    let size = content_length(headers);
    let mut reader = Reader::new(body.into_data_stream(), &boundary);
    loop {
        let head = match reader.next_part().await {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(_) => return failed("failed to read part"),
        };
        if head.form_name != "file" {
            continue;
        }
        if let Err(msg) = validate_iso_filename(&head.file_name) {
            return failed(msg);
        }
        shared.transfer_file(id, &head.file_name);
        let Ok(temp) = tempfile::Builder::new()
            .prefix(".nanokvm-upload-")
            .tempfile_in(&shared.data_dir)
        else {
            return failed("cannot create temporary file");
        };
        let Ok(std_file) = temp.as_file().try_clone() else {
            return failed("cannot create temporary file");
        };
        let mut file = tokio::fs::File::from_std(std_file);
        let total = Arc::new(AtomicU64::new(0));
        let ticker = crate::transfer::ticker(shared, Arc::clone(&total), move |s, written| {
            if size > 0 {
                s.transfer_progress(id, go_percent(written, size));
            }
        });
        let mut hasher = Sha256::new();
        let copied = loop {
            match reader.read().await {
                Ok(Some(bytes)) => {
                    hasher.update(&bytes);
                    if file.write_all(&bytes).await.is_err() {
                        break false;
                    }
                    total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        drop(ticker);
        if !copied || file.flush().await.is_err() {
            return failed("write failed");
        }
        drop(file);
        if expected.is_some_and(|want| hasher.finalize().as_slice() != want) {
            return (Status::ChecksumFailed, fail(-1, "sha256 mismatch"));
        }
        if !is_iso9660(temp.path()).await {
            return failed("file is not a valid ISO image");
        }
        // The name passed the firmware's rules: one plain component in the data dir.
        if temp.persist(shared.data_dir.join(&head.file_name)).is_err() {
            return failed("cannot install uploaded image");
        }
        return (Status::Idle, ok(state_object(idle())));
    }
    failed("file is required")
}

fn idle() -> DownloadState {
    DownloadState {
        status: "idle".to_owned(),
        file: String::new(),
        percentage: String::new(),
    }
}

/// 2.3.1's writer: the first file part's handle and its progress ticker.
struct LegacyWriter {
    file: tokio::fs::File,
    total: Arc<AtomicU64>,
    _ticker: crate::transfer::AbortOnDrop,
}

async fn upload_legacy(shared: &Arc<Shared>, headers: &HeaderMap, body: Body) -> Response {
    if !shared.create_sentinel("start") {
        return fail(-1, "download in progress");
    }
    let Some(boundary) = boundary(headers) else {
        shared.remove_sentinel();
        return fail(-1, "invalid multipart data");
    };
    let size = content_length(headers);
    let mut reader = Reader::new(body.into_data_stream(), &boundary);
    let mut writer: Option<LegacyWriter> = None;
    // Where 2.3.1 calls a method on its writer before creating one, Go panics and gin
    // answers 500; the sentinel is never removed.
    let give_up =
        |shared: &Shared, msg: &str, writer: &Option<LegacyWriter>, out: Option<&Path>| {
            if writer.is_none() {
                return internal_error();
            }
            if let Some(out) = out {
                let _ = std::fs::remove_file(out);
            }
            shared.remove_sentinel();
            fail(-1, msg)
        };
    loop {
        let head = match reader.next_part().await {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(_) => return give_up(shared, "failed to read part", &writer, None),
        };
        if head.form_name != "file" {
            continue;
        }
        let name = head.file_name;
        if name.is_empty() {
            return give_up(shared, "no filename", &writer, None);
        }
        if let Err(msg) = validate_iso_filename(&name) {
            shared.remove_sentinel();
            return fail(-1, msg);
        }
        let Some(data) = shared.sentinel() else {
            return give_up(shared, "Read failed", &writer, None);
        };
        let out: PathBuf = shared.data_dir.join(&name);
        let Ok(created) = tokio::fs::File::create(&out).await else {
            return give_up(shared, "cannot create file", &writer, None);
        };
        if data.contains("start") {
            shared.write_sentinel(&name);
            let total = Arc::new(AtomicU64::new(0));
            let ticker = crate::transfer::ticker(shared, Arc::clone(&total), move |s, written| {
                s.sentinel_progress(&go_percent(written, size));
            });
            writer = Some(LegacyWriter {
                file: created,
                total,
                _ticker: ticker,
            });
        } else if !data.contains(name.as_str()) {
            return give_up(shared, "failed", &writer, Some(&out));
        }
        // A later part with the same name is written through the first part's handle,
        // at its offset, into the file just truncated: what the firmware does.
        let Some(w) = writer.as_mut() else {
            return internal_error();
        };
        let copied = loop {
            match reader.read().await {
                Ok(Some(bytes)) => {
                    if w.file.write_all(&bytes).await.is_err() {
                        break false;
                    }
                    w.total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        if !copied || w.file.flush().await.is_err() {
            return give_up(shared, "write failed", &writer, Some(&out));
        }
        if !is_iso9660(&out).await {
            return give_up(shared, "file is not a valid ISO image", &writer, Some(&out));
        }
    }
    if writer.is_none() {
        return internal_error();
    }
    drop(writer);
    shared.remove_sentinel();
    ok(state_object(idle()))
}

#[cfg(test)]
mod tests {
    use super::validate_iso_filename;

    #[test]
    fn upload_names_follow_the_firmware_rules() {
        assert_eq!(validate_iso_filename("ubuntu-24.04_x.ISO"), Ok(()));
        assert_eq!(validate_iso_filename(""), Err("no filename"));
        assert_eq!(validate_iso_filename("a/b.iso"), Err("invalid filename"));
        assert_eq!(validate_iso_filename("a..iso"), Err("invalid filename"));
        assert_eq!(
            validate_iso_filename("x.img"),
            Err("only .iso files allowed")
        );
        assert_eq!(validate_iso_filename("a b.iso"), Err("invalid filename"));
        assert_eq!(validate_iso_filename("a\0.iso"), Err("invalid filename"));
    }
}
