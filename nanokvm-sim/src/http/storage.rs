//! `/api/storage/*`: images in the data directory (the device's `/data`) and the
//! mass-storage LUN.
//!
//! API paths name files as the device sees them (`/data/x.iso`). They are mapped into the
//! simulator's data directory lexically, and a path that would leave it is treated as a
//! file that does not exist: the firmware does not canonicalise, but the simulator must
//! never touch the host's files.

use std::path::{Component, Path, PathBuf};

use axum::response::Response;

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;
use crate::state::{Shared, lock};

/// Maps a device path under `/data` to the data directory, or `None` when it points
/// anywhere else.
fn host_path(shared: &Shared, device: &str) -> Option<PathBuf> {
    let rest = device.strip_prefix("/data")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let mut out = shared.data_dir.clone();
    let mut depth = 0usize;
    for c in Path::new(rest).components() {
        match c {
            Component::Normal(part) => {
                out.push(part);
                depth += 1;
            }
            Component::ParentDir => {
                depth = depth.checked_sub(1)?;
                out.pop();
            }
            Component::RootDir | Component::CurDir => {}
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn list_images(dir: &Path, device: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{device}/{name}");
        let ty = entry.file_type()?;
        if ty.is_dir() {
            list_images(&entry.path(), &path, out)?;
        } else if ty.is_file() {
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".iso") || lower.ends_with(".img") {
                out.push(path);
            }
        }
    }
    Ok(())
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("GET", "/api/storage/image") => {
            let mut files = Vec::new();
            match list_images(&shared.data_dir, "/data", &mut files) {
                Ok(()) => ok(J::obj([("files", J::str_list_or_null(files))])),
                Err(_) => fail(-2, "get images failed"),
            }
        }
        ("GET", "/api/storage/image/mounted") if shared.config.firmware.is_pro() => {
            let s = lock(&shared.storage).clone();
            ok(J::obj([
                ("file", s.file.into()),
                ("cdrom", s.cdrom.into()),
                ("readOnly", s.ro.into()),
            ]))
        }
        ("POST", "/api/storage/image/mount") if shared.config.firmware.is_pro() => {
            mount_pro(&ctx).await
        }
        ("GET", "/api/storage/image/mounted") => {
            let hid_only = lock(&shared.settings).hid_mode == "hid-only";
            let file = if hid_only {
                String::new()
            } else {
                lock(&shared.storage).file.clone()
            };
            ok(J::obj([("file", file.into())]))
        }
        ("GET", "/api/storage/cdrom") => {
            let cdrom = lock(&shared.storage).cdrom;
            ok(J::obj([("cdrom", J::Int(i64::from(cdrom)))]))
        }
        ("POST", "/api/storage/image/mount") => mount(&ctx),
        ("POST", "/api/storage/image/delete") => {
            let Ok(file) = ctx.form().string("File", "file") else {
                return fail(-1, "invalid arguments");
            };
            if file.is_empty() {
                return fail(-1, "invalid arguments");
            }
            let lower = file.to_ascii_lowercase();
            if !lower.starts_with("/data") || !(lower.ends_with(".iso") || lower.ends_with(".img"))
            {
                return fail(-2, "invalid arguments");
            }
            match host_path(shared, &file).map(std::fs::remove_file) {
                Some(Ok(())) => ok_null(),
                _ => fail(-3, "remove file failed"),
            }
        }
        _ => super::not_found(),
    }
}

fn mount(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    let (Ok(file), Ok(cdrom)) = (form.string("File", "file"), form.boolean("Cdrom", "cdrom"))
    else {
        return fail(-1, "invalid arguments");
    };
    let cdrom = cdrom.unwrap_or(false);
    if !lock(&shared.settings).virtual_disk {
        return fail(-2, "unmount image failed");
    }
    if !file.is_empty() {
        let exists = host_path(shared, &file).is_some_and(|p| p.is_file());
        if !exists {
            return fail(-2, "mount image failed");
        }
    }
    {
        let mut s = lock(&shared.storage);
        if file.is_empty() || cdrom {
            // Eject, then set the flags: "1" when mounting as CD-ROM, "0" when
            // unmounting. A plain disk mount leaves them as they were.
            s.cdrom = cdrom && !file.is_empty();
            s.ro = s.cdrom;
        }
        s.file = file;
    }
    shared.usb_rebind();
    shared.media_changed();
    ok_null()
}

/// The Pro's mount: `{"file","cdrom","readOnly"}`; an empty file ejects and keeps the
/// flags; a CD-ROM is always read-only; three seconds pass after either.
async fn mount_pro(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    let (Ok(file), Ok(cdrom), Ok(read_only)) = (
        form.string("File", "file"),
        form.boolean("Cdrom", "cdrom"),
        form.boolean("ReadOnly", "readOnly"),
    ) else {
        return fail(-1, "invalid arguments");
    };
    if file.is_empty() {
        lock(&shared.storage).file.clear();
    } else {
        let cdrom = cdrom.unwrap_or(false);
        let ro = cdrom || read_only.unwrap_or(false);
        {
            let mut s = lock(&shared.storage);
            s.cdrom = cdrom;
            s.ro = ro;
        }
        // The kernel refuses a backing file that does not exist.
        if !host_path(shared, &file).is_some_and(|p| p.is_file()) {
            return fail(-6, "mount image failed");
        }
        lock(&shared.storage).file = file;
    }
    shared.usb_rebind();
    shared.media_changed();
    shared.time.sleep(PRO_MOUNT_SETTLE).await;
    ok_null()
}

/// How long the Pro waits after writing the LUN.
const PRO_MOUNT_SETTLE: std::time::Duration = std::time::Duration::from_secs(3);

#[cfg(test)]
mod tests {
    #[test]
    fn device_paths_never_leave_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let shared = crate::Simulator::builder()
            .data_dir(dir.path())
            .shared_for_tests();
        assert_eq!(
            super::host_path(&shared, "/data/a/b.iso"),
            Some(dir.path().join("a/b.iso"))
        );
        assert_eq!(
            super::host_path(&shared, "/data/a/../b.iso"),
            Some(dir.path().join("b.iso"))
        );
        assert_eq!(super::host_path(&shared, "/data/../etc/x.img"), None);
        assert_eq!(super::host_path(&shared, "/database.iso"), None);
        assert_eq!(super::host_path(&shared, "/etc/passwd"), None);
    }
}
