//! `/api/download/*`: images fetched from a URL into the data directory, their status
//! and cancellation, and whether `/data` is writable. The multipart upload
//! (`POST /api/download/file`) streams its body and lives in `upload`.
//!
//! Firmware 2.5.0 and later validate the URL and the optional SHA-256 up front, answer
//! at once and download in the background; 2.3.1 first sends a `HEAD` request from the
//! handler and panics (HTTP 500, with its sentinel left behind) when that request
//! cannot be made at all. Both are reproduced: see `transfer`.

use std::sync::Arc;

use axum::response::Response;

use super::{Ctx, fail, internal_error, ok, ok_null};
use crate::fetch::{self, Method};
use crate::json::J;
use crate::transfer::{self, CancelError, DownloadState};

/// The status object every download answer uses.
pub(super) fn state_object(state: DownloadState) -> J {
    J::obj([
        ("status", state.status.into()),
        ("file", state.file.into()),
        ("percentage", state.percentage.into()),
    ])
}

/// Go's `parseSHA256`: blank means none; otherwise exactly 32 hex-encoded bytes.
pub(super) fn parse_sha256(value: &str) -> Result<Option<[u8; 32]>, ()> {
    let value = value.trim_matches(|c: char| c.is_whitespace());
    if value.is_empty() {
        return Ok(None);
    }
    let bytes = value.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err(());
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| ())?;
        out[i] = u8::from_str_radix(text, 16).map_err(|_| ())?;
    }
    Ok(Some(out))
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("GET", "/api/download/image/enabled") => {
            let probe = shared.data_dir.join(".testfile");
            let enabled = std::fs::write(&probe, b"").is_ok();
            let _ = std::fs::remove_file(&probe);
            ok(J::obj([("enabled", enabled.into())]))
        }
        ("GET", "/api/download/image/status") => {
            let state = shared.transfer.borrow().view(shared.config.firmware);
            ok(state_object(state))
        }
        ("POST", "/api/download/image/cancel") => match shared.cancel_and_wait().await {
            Ok(()) => ok_null(),
            Err(CancelError::NothingToCancel) => fail(-1, "no cancellable download in progress"),
            Err(CancelError::TimedOut) => fail(-1, "cancel download timed out"),
        },
        ("POST", "/api/download/image") => {
            if shared.config.firmware.at_least_2_5_0() {
                start(&ctx)
            } else {
                start_legacy(&ctx).await
            }
        }
        _ => super::not_found(),
    }
}

/// `POST /api/download/image` on 2.5.0 and later.
fn start(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    // The request struct has json tags `file` and `sha256sum`, and no form tags.
    let (Ok(raw), Ok(sum)) = (
        form.string("file", "File"),
        form.string("sha256sum", "SHA256Sum"),
    ) else {
        return fail(-1, "invalid arguments");
    };
    if raw.is_empty() {
        return fail(-1, "invalid arguments");
    }
    let Ok(sha256) = parse_sha256(&sum) else {
        return fail(-1, "invalid sha256sum");
    };
    let url = match fetch::parse(&raw) {
        Ok(u)
            if (u.scheme == "http" || u.scheme == "https")
                && !u.host.is_empty()
                && !u.path.is_empty() =>
        {
            u
        }
        _ => return fail(-1, "invalid url"),
    };
    let name = fetch::base_name(&url.path);
    if name == b"." || name == b"/" {
        return fail(-1, "invalid url");
    }
    let Ok((id, cancel)) = shared.begin_transfer(&raw, true) else {
        return fail(-1, "download in progress");
    };
    transfer::spawn_download(Arc::clone(shared), id, url, sha256, name, cancel);
    ok(state_object(DownloadState {
        status: "in_progress".to_owned(),
        file: raw,
        percentage: String::new(),
    }))
}

/// `POST /api/download/image` on 2.3.1.
async fn start_legacy(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    // 2.3.1 binds the mount request here: `file` and a boolean `cdrom`.
    let (Ok(raw), Ok(_)) = (form.string("file", "File"), form.boolean("cdrom", "Cdrom")) else {
        return fail(-1, "invalid arguments");
    };
    if raw.is_empty() {
        return fail(-1, "invalid arguments");
    }
    let url = match fetch::parse(&raw) {
        Ok(u) if !u.scheme.is_empty() && !u.host.is_empty() => u,
        _ => return fail(-1, "invalid url"),
    };
    if !shared.create_sentinel(&raw) {
        return fail(-1, "download in progress");
    }
    match fetch::request(Method::Head, &url).await {
        // Go dereferences the missing response and gin recovers: the sentinel stays, so
        // every later transfer is "in progress" until the device restarts.
        Err(_) => internal_error(),
        Ok(head) if head.status != 200 => {
            shared.remove_sentinel();
            fail(i64::from(head.status), "failed when checking the url")
        }
        Ok(_) => {
            transfer::spawn_legacy_download(Arc::clone(shared), url);
            ok(state_object(DownloadState {
                status: "in_progress".to_owned(),
                file: raw,
                percentage: String::new(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_sha256;

    #[test]
    fn sha256_sums_are_64_hex_digits_or_blank() {
        assert_eq!(parse_sha256("  "), Ok(None));
        let sum = "AB".repeat(32);
        assert_eq!(parse_sha256(&format!(" {sum}\n")), Ok(Some([0xAB; 32])));
        assert_eq!(parse_sha256(&"ab".repeat(31)), Err(()));
        assert_eq!(parse_sha256(&"zz".repeat(32)), Err(()));
    }
}
