//! The device's own housekeeping routes under `/api/vm/`: swap, the Go memory limit, the
//! OLED, TLS, autostart scripts, user scripts and the web terminal.
//!
//! Files the firmware keeps under `/etc/kvm` are kept in memory here, so no request can
//! touch the host. Two things are deliberately not done: the simulator never executes a
//! script (a foreground run fails as a failing script does; a background run, whose
//! outcome the firmware never checks, answers success), and it has no shell to attach a
//! terminal to (the WebSocket is accepted and closed at once, as the firmware does when
//! it cannot start its pty).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse, Response};

use super::{Ctx, fail, ok, ok_null};
use crate::config::Hardware;
use crate::json::J;
use crate::multipart::{self, Reader};
use crate::state::{Shared, lock};

/// The files the firmware keeps in a directory that may not exist yet.
#[derive(Clone, Debug, Default)]
pub(crate) struct Folder {
    /// `None` until the first upload creates the directory.
    pub files: Option<BTreeMap<String, Vec<u8>>>,
}

impl Folder {
    /// The listing, `Err` while the directory does not exist.
    fn list(&self) -> Result<J, ()> {
        let files = self.files.as_ref().ok_or(())?;
        Ok(J::str_list_or_null(files.keys().cloned().collect()))
    }
}

/// Go's error text for a value of the wrong JSON type bound into `SetTlsReq.Enabled`.
fn tls_bind_error(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "EOF".to_owned();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => {
            let kind = map
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case("enabled"))
                .map_or("", |(_, v)| match v {
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::Object(_) => "object",
                    _ => "",
                });
            format!(
                "json: cannot unmarshal {kind} into Go struct field SetTlsReq.Enabled of type bool"
            )
        }
        Ok(other) => {
            let kind = match other {
                serde_json::Value::Array(_) => "array",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Number(_) => "number",
                _ => "bool",
            };
            format!("json: cannot unmarshal {kind} into Go value of type proto.SetTlsReq")
        }
        Err(e) if e.is_eof() => "unexpected EOF".to_owned(),
        Err(_) => "invalid character in JSON".to_owned(),
    }
}

/// The `:name` parameter of an autostart route, percent-decoded as gin sees it.
pub(crate) fn autostart_name(path: &str) -> String {
    let raw = path.rsplit('/').next().unwrap_or("");
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    let path = ctx.path.as_str();
    match (ctx.method.as_str(), path) {
        ("GET", "/api/vm/swap") => ok(J::obj([("size", J::Int(lock(&shared.settings).swap_mb))])),
        ("POST", "/api/vm/swap") => {
            let Ok(size) = ctx.form().integer("Size", "Size", false) else {
                return fail(-1, "invalid arguments");
            };
            let size = size.unwrap_or(0);
            let current = lock(&shared.settings).swap_mb;
            if size == current {
                return ok_null();
            }
            if size < 0 {
                return fail(-4, "enable swap failed");
            }
            if size > 0 {
                // fallocate, chmod, mkswap and swapon, 300 ms apart.
                shared.time.sleep(Duration::from_millis(1200)).await;
            }
            lock(&shared.settings).swap_mb = size;
            ok_null()
        }
        ("GET", "/api/vm/memory/limit") => {
            let limit = lock(&shared.settings).memory_limit;
            ok(J::obj([
                ("enabled", limit.is_some().into()),
                ("limit", J::Int(limit.unwrap_or(0))),
            ]))
        }
        ("POST", "/api/vm/memory/limit") => {
            let form = ctx.form();
            let (Ok(enabled), Ok(limit)) = (
                form.boolean("Enabled", "Enabled"),
                form.integer("Limit", "Limit", false),
            ) else {
                return fail(-1, "invalid arguments");
            };
            lock(&shared.settings).memory_limit =
                enabled.unwrap_or(false).then(|| limit.unwrap_or(0));
            ok_null()
        }
        ("GET", "/api/vm/oled") => {
            // The PCIe card has no OLED; the Cube boards do.
            let exist = shared.config.hardware != Hardware::Pcie;
            let sleep = if exist {
                lock(&shared.settings).oled_sleep
            } else {
                0
            };
            ok(J::obj([("exist", exist.into()), ("sleep", J::Int(sleep))]))
        }
        ("POST", "/api/vm/oled") => match ctx.form().integer("Sleep", "Sleep", false) {
            Ok(sleep) => {
                lock(&shared.settings).oled_sleep = sleep.unwrap_or(0);
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("POST", "/api/vm/tls") => match ctx.form().boolean("Enabled", "Enabled") {
            Ok(enabled) => {
                lock(&shared.settings).tls = enabled.unwrap_or(false);
                // The firmware restarts its server to switch protocol; the simulator
                // restarts (sessions end) but keeps serving plain HTTP.
                restart_soon(shared);
                ok_null()
            }
            Err(_) => fail(
                -1,
                &format!("invalid arguments: {}", tls_bind_error(&ctx.body)),
            ),
        },
        ("GET", "/api/vm/autostart") => match lock(&shared.settings).autostart.list() {
            Ok(files) => ok(J::obj([("files", files)])),
            Err(()) => fail(-1, "get autostart directory fail"),
        },
        ("GET", _) if path.starts_with("/api/vm/autostart/") => {
            let name = autostart_name(path);
            let s = lock(&shared.settings);
            match s.autostart.files.as_ref().and_then(|f| f.get(&name)) {
                Some(content) => ok(J::Str(String::from_utf8_lossy(content).into_owned())),
                None => fail(-1, "read file fail"),
            }
        }
        ("POST", _) if path.starts_with("/api/vm/autostart/") => {
            let name = autostart_name(path);
            let Ok(content) = ctx.form().string("content", "Content") else {
                return fail(-1, "parse form request fail");
            };
            if matches!(name.as_str(), "." | "..") {
                return fail(-1, "create file fail");
            }
            let mut s = lock(&shared.settings);
            s.autostart
                .files
                .get_or_insert_with(BTreeMap::new)
                .insert(name.clone(), content.into_bytes());
            ok(J::Str(name))
        }
        ("DELETE", _) if path.starts_with("/api/vm/autostart/") => {
            let name = autostart_name(path);
            let mut s = lock(&shared.settings);
            match s.autostart.files.as_mut().and_then(|f| f.remove(&name)) {
                Some(_) => ok_null(),
                None => fail(-3, "remove file fail"),
            }
        }
        ("GET", "/api/vm/script") => match lock(&shared.settings).scripts.list() {
            Ok(files) => ok(J::obj([("files", files)])),
            Err(()) => fail(-1, "get scripts failed"),
        },
        ("POST", "/api/vm/script/upload") => upload_script(&ctx).await,
        ("POST", "/api/vm/script/run") => {
            let form = ctx.form();
            let (Ok(name), Ok(kind)) = (form.string("Name", "Name"), form.string("Type", "Type"))
            else {
                return fail(-1, "invalid arguments");
            };
            if name.is_empty() || kind.is_empty() {
                return fail(-1, "invalid arguments");
            }
            if kind == "foreground" {
                // Scripts are stored, never executed: the run fails as a failing
                // script's would.
                return fail(-2, "run script failed");
            }
            ok(J::obj([("log", "".into())]))
        }
        ("DELETE", "/api/vm/script") => {
            let Ok(name) = ctx.form().string("Name", "Name") else {
                return fail(-1, "invalid arguments");
            };
            if name.is_empty() {
                return fail(-1, "invalid arguments");
            }
            let mut s = lock(&shared.settings);
            match s.scripts.files.as_mut().and_then(|f| f.remove(&name)) {
                Some(_) => ok_null(),
                None => fail(-3, "delete failed"),
            }
        }
        _ => super::not_found(),
    }
}

fn is_script(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".sh") || lower.ends_with(".py")
}

/// `POST /api/vm/script/upload`: the multipart form's `file` part (Go's `FormFile`).
async fn upload_script(ctx: &Ctx) -> Response {
    let bad = || fail(-1, "bad request");
    let Some(boundary) = ctx
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::form_data_boundary)
    else {
        return bad();
    };
    if ctx.body_too_large {
        return bad();
    }
    let body = ctx.body.clone();
    let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
    let mut reader = Reader::new(stream, &boundary);
    // The whole form is parsed first; the first `file` part with a file name wins.
    let mut found: Option<(String, Vec<u8>)> = None;
    loop {
        let head = match reader.next_part().await {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(_) => return bad(),
        };
        let mut data = Vec::new();
        loop {
            match reader.read().await {
                Ok(Some(piece)) => data.extend_from_slice(&piece),
                Ok(None) => break,
                Err(_) => return bad(),
            }
        }
        if found.is_none() && head.form_name == "file" && !head.file_name.is_empty() {
            found = Some((head.file_name, data));
        }
    }
    let Some((name, data)) = found else {
        return bad();
    };
    if !is_script(&name) {
        return fail(-2, "invalid arguments");
    }
    lock(&ctx.shared.settings)
        .scripts
        .files
        .get_or_insert_with(BTreeMap::new)
        .insert(name.clone(), data);
    ok(J::obj([("file", name.into())]))
}

/// Restarts the simulated server shortly after the answer has gone out.
fn restart_soon(shared: &std::sync::Arc<Shared>) {
    let me = std::sync::Arc::clone(shared);
    tokio::spawn(async move {
        tokio::task::yield_now().await;
        me.reboot_device();
    });
}

/// `GET /api/vm/terminal`: upgraded, then closed, as when the pty cannot start.
pub(crate) async fn terminal(shared: std::sync::Arc<Shared>, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    if shared.config.firmware.is_head() && !super::ws::origin_matches(&parts.headers) {
        return (axum::http::StatusCode::FORBIDDEN, "Forbidden\n").into_response();
    }
    match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws.on_upgrade(|socket| async move { drop(socket) }),
        Err(_) => super::ws::bad_handshake(),
    }
}
