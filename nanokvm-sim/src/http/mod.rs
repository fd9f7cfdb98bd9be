//! The firmware's HTTP surface: one dispatcher in front of per-area handlers.
//!
//! Routing is done by hand rather than with axum's router because the firmware's
//! (gin's) routing rules are part of the contract: a wrong method is a plain-text 404,
//! not a 405; a path that differs only by a trailing slash is redirected; and which
//! routes exist depends on the firmware version played.

mod application;
mod auth;
mod bind;
mod download;
mod extensions;
mod h264;
mod hid;
mod network;
mod pro;
mod storage;
mod stream;
mod system;
mod upload;
mod vm;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Role;
use crate::json::{self, J};
use crate::record::RequestRecord;
use crate::state::{Shared, lock};

pub(crate) use application::UpdateServer;
pub(crate) use bind::Form;
pub(crate) use system::Folder;

/// Largest request body read; anything bigger is answered as a binding failure.
const BODY_LIMIT: usize = 4 << 20;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Public,
    Any,
    Admin,
}

/// The caller of an authenticated route.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub username: String,
    pub role: Role,
    pub token: Option<String>,
}

/// What a handler sees of a request.
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub peer: SocketAddr,
    pub principal: Option<Principal>,
    pub body: Bytes,
    pub body_too_large: bool,
}

impl Ctx {
    /// The body bound the way gin's `ShouldBind` would for this content type.
    pub(crate) fn form(&self) -> Form {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Form::parse(ct, &self.body, self.body_too_large)
    }
}

/// `{"code":0,"msg":"success","data":...}`.
pub(crate) fn ok(data: J) -> Response {
    envelope(0, "success", &data)
}

/// `{"code":0,"msg":"success","data":null}`.
pub(crate) fn ok_null() -> Response {
    ok(J::Null)
}

/// A logical error: HTTP 200 with a negative code.
pub(crate) fn fail(code: i64, msg: &str) -> Response {
    envelope(code, msg, &J::Null)
}

fn envelope(code: i64, msg: &str, data: &J) -> Response {
    let body = format!(
        "{{\"code\":{code},\"msg\":{},\"data\":{}}}",
        json::string(msg),
        data.encode()
    );
    json_response(StatusCode::OK, body)
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// 401 with the JSON string `"unauthorized"`.
pub(crate) fn unauthorized() -> Response {
    json_response(StatusCode::UNAUTHORIZED, "\"unauthorized\"".to_owned())
}

/// 403 with the JSON string `"forbidden"`.
pub(crate) fn forbidden() -> Response {
    json_response(StatusCode::FORBIDDEN, "\"forbidden\"".to_owned())
}

/// gin's default 404.
pub(crate) fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "404 page not found").into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// A recovered Go panic: 500 with an empty body.
pub(crate) fn internal_error() -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The route a request names, if it exists in the firmware version played.
fn access(shared: &Shared, method: &Method, path: &str) -> Option<Access> {
    use Access::{Admin, Any, Public};
    let fw = shared.config.firmware;
    if fw.is_pro() {
        return access_pro(method.as_str(), path);
    }
    let head = fw.is_head();
    let v250 = fw.at_least_2_5_0();
    let m = method.as_str();
    let segments: Vec<&str> = path.split('/').collect();
    let a = match (m, path) {
        ("POST", "/api/auth/login") => Public,
        ("GET" | "POST", "/api/auth/password") | ("GET", "/api/auth/account") => Any,
        ("POST", "/api/auth/logout") => Any,
        ("GET" | "POST", "/api/auth/users") if head => Admin,
        ("GET", "/api/vm/info" | "/api/vm/hardware" | "/api/vm/gpio" | "/api/vm/hdmi") => Any,
        ("POST", "/api/vm/gpio" | "/api/vm/screen" | "/api/vm/hdmi/reset") => Any,
        ("GET", "/api/vm/hostname" | "/api/vm/web-title") => Any,
        ("POST", "/api/vm/hostname" | "/api/vm/web-title") => Admin,
        ("POST", "/api/vm/hdmi/enable" | "/api/vm/hdmi/disable") => Admin,
        ("POST", "/api/vm/hdmi/timeout") if v250 => Admin,
        ("GET", "/api/vm/mouse-jiggler") | ("POST", "/api/vm/mouse-jiggler/") => Admin,
        ("GET", "/api/vm/ssh" | "/api/vm/mdns" | "/api/vm/device/virtual") => Admin,
        ("POST", "/api/vm/ssh/enable" | "/api/vm/ssh/disable") => Admin,
        ("POST", "/api/vm/mdns/enable" | "/api/vm/mdns/disable") => Admin,
        ("POST", "/api/vm/device/virtual" | "/api/vm/system/reboot") => Admin,
        ("POST", "/api/hid/paste") => Any,
        ("GET", "/api/hid/mode") => Any,
        ("GET", "/api/hid/shortcuts" | "/api/hid/shortcut/leader-key")
            if fw >= crate::FirmwareVersion::V2_5_0 =>
        {
            Any
        }
        ("GET", "/api/hid/leds") if v250 => Any,
        ("POST", "/api/hid/mode" | "/api/hid/reset") => Admin,
        ("POST" | "DELETE", "/api/hid/shortcut") if v250 => Admin,
        ("POST", "/api/hid/shortcut/leader-key") if v250 => Admin,
        ("GET", "/api/ws" | "/api/stream/mjpeg" | "/api/stream/h264/direct") => Any,
        ("POST", "/api/stream/mjpeg/detect" | "/api/stream/mjpeg/detect/stop") => Any,
        ("GET", "/api/storage/image" | "/api/storage/image/mounted" | "/api/storage/cdrom") => {
            Admin
        }
        ("POST", "/api/storage/image/mount" | "/api/storage/image/delete") => Admin,
        ("POST", "/api/download/image" | "/api/download/file") => Admin,
        ("GET", "/api/download/image/status" | "/api/download/image/enabled") => Admin,
        ("POST", "/api/download/image/cancel") if v250 => Admin,
        ("POST", "/api/network/wol") | ("GET", "/api/network/wol/mac") => Any,
        ("DELETE", "/api/network/wol/mac") | ("POST", "/api/network/wol/mac/name") => Admin,
        ("GET" | "POST", "/api/vm/swap" | "/api/vm/memory/limit" | "/api/vm/oled") => Admin,
        ("POST", "/api/vm/tls") => Admin,
        ("GET", "/api/vm/autostart" | "/api/vm/script" | "/api/vm/terminal") => Admin,
        ("DELETE", "/api/vm/script") => Admin,
        ("POST", "/api/vm/script/upload" | "/api/vm/script/run") => Admin,
        ("POST", "/api/network/wifi") => Public,
        ("POST", "/api/network/wifi/verify") if v250 => Public,
        ("GET", "/api/network/wifi") => Admin,
        ("POST", "/api/network/wifi/connect" | "/api/network/wifi/disconnect") => Admin,
        ("GET" | "POST", "/api/network/dns") if v250 => Admin,
        ("GET", "/api/extensions/tailscale/status") => Admin,
        (
            "POST",
            "/api/extensions/tailscale/install"
            | "/api/extensions/tailscale/uninstall"
            | "/api/extensions/tailscale/up"
            | "/api/extensions/tailscale/down"
            | "/api/extensions/tailscale/login"
            | "/api/extensions/tailscale/logout"
            | "/api/extensions/tailscale/start"
            | "/api/extensions/tailscale/stop"
            | "/api/extensions/tailscale/restart",
        ) => Admin,
        ("GET", "/api/application/version" | "/api/application/preview") => Admin,
        ("POST", "/api/application/update" | "/api/application/preview") => Admin,
        ("GET" | "POST", "/api/application/update-server") if head => Admin,
        _ => match (m, segments.as_slice()) {
            ("PUT" | "DELETE", ["", "api", "auth", "users", name]) if head && !name.is_empty() => {
                Admin
            }
            ("POST", ["", "api", "auth", "users", name, "password"])
                if head && !name.is_empty() =>
            {
                Admin
            }
            ("GET" | "POST" | "DELETE", ["", "api", "vm", "autostart", name])
                if !name.is_empty() && !system::autostart_name(name).contains('/') =>
            {
                Admin
            }
            _ => return None,
        },
    };
    // In single-user firmware every admin route is open to the one account.
    Some(if a == Admin && !head { Any } else { a })
}

/// The Pro firmware's routes that the simulator serves (`server/router/*.go` of
/// `sipeed/NanoKVM-Pro` at 1.2.13). It has one account and no roles, so every route
/// but login and AP-mode Wi-Fi only needs a session. Routes whose answers the simulator
/// does not know (EDID, LCD, LED strip, time, static IP, chunked uploads, ...) are
/// left out and answer 404.
fn access_pro(method: &str, path: &str) -> Option<Access> {
    use Access::{Any, Public};
    if pro::serves(method, path) {
        return Some(Any);
    }
    let a = match (method, path) {
        ("POST", "/api/auth/login" | "/api/network/wifi") => Public,
        ("GET" | "POST", "/api/auth/password") | ("GET", "/api/auth/account") => Any,
        ("POST", "/api/auth/logout") => Any,
        ("GET", "/api/vm/info" | "/api/vm/hardware" | "/api/vm/gpio") => Any,
        ("POST", "/api/vm/gpio" | "/api/vm/system/reboot") => Any,
        ("GET", "/api/vm/script" | "/api/vm/terminal") => Any,
        ("POST", "/api/vm/script/upload" | "/api/vm/script/run") | ("DELETE", "/api/vm/script") => {
            Any
        }
        ("GET", "/api/vm/ssh" | "/api/vm/mdns" | "/api/vm/mouse-jiggler") => Any,
        ("POST", "/api/vm/ssh/enable" | "/api/vm/ssh/disable" | "/api/vm/mouse-jiggler/") => Any,
        ("POST", "/api/vm/mdns/enable" | "/api/vm/mdns/disable") => Any,
        ("GET" | "POST", "/api/vm/hostname" | "/api/vm/web-title") => Any,
        ("POST", "/api/hid/reset" | "/api/hid/paste" | "/api/hid/mode") => Any,
        ("GET", "/api/hid/shortcuts" | "/api/hid/mode") => Any,
        ("POST" | "DELETE", "/api/hid/shortcut") => Any,
        ("GET" | "POST", "/api/hid/shortcut/leader-key") => Any,
        ("GET", "/api/storage/image" | "/api/storage/image/mounted") => Any,
        ("POST", "/api/storage/image/mount" | "/api/storage/image/delete") => Any,
        ("GET", "/api/ws" | "/api/stream/mjpeg" | "/api/stream/h264/direct") => Any,
        ("POST", "/api/network/wol" | "/api/network/wol/mac/name") => Any,
        ("GET" | "DELETE", "/api/network/wol/mac") => Any,
        ("GET", "/api/network/wifi") => Any,
        ("POST", "/api/network/wifi/connect" | "/api/network/wifi/disconnect") => Any,
        ("GET", "/api/application/version") | ("POST", "/api/application/update") => Any,
        ("GET" | "POST", "/api/application/preview") => Any,
        ("GET", "/api/extensions/tailscale/status") => Any,
        ("POST", p)
            if p.strip_prefix("/api/extensions/tailscale/")
                .is_some_and(|a| {
                    [
                        "install",
                        "uninstall",
                        "up",
                        "down",
                        "login",
                        "logout",
                        "start",
                        "stop",
                        "restart",
                    ]
                    .contains(&a)
                }) =>
        {
            Any
        }
        _ => return None,
    };
    Some(a)
}

/// Serves one request: faults, routing, authentication, the handler, and the record.
pub(crate) async fn serve(shared: Arc<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = serve_inner(Arc::clone(&shared), req).await;
    lock(&shared.records).requests.push(RequestRecord {
        method: method.to_string(),
        path,
        status: response.status().as_u16(),
    });
    response
}

async fn serve_inner(shared: Arc<Shared>, req: Request) -> Response {
    let latency = lock(&shared.faults).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    {
        let mut faults = lock(&shared.faults);
        if faults.fail_next > 0 {
            faults.fail_next -= 1;
            return internal_error();
        }
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if method == Method::GET && path == "/" {
        let mut r = (StatusCode::OK, INDEX).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return r;
    }
    let Some(access) = access(&shared, &method, &path) else {
        return redirect_or_404(&shared, &method, &path);
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let principal = match access {
        Access::Public => None,
        Access::Any | Access::Admin => match auth::check_token(&shared, req.headers(), peer.ip()) {
            Some(p) => Some(p),
            None => return unauthorized(),
        },
    };
    if access == Access::Admin && principal.as_ref().is_some_and(|p| p.role != Role::Admin) {
        return forbidden();
    }
    // WebSocket and streaming routes take the raw request.
    match (method.as_str(), path.as_str()) {
        ("GET", "/api/ws") => return ws::upgrade(shared, req, principal).await,
        ("GET", "/api/stream/mjpeg") => return stream::mjpeg(shared, principal).await,
        ("GET", "/api/vm/terminal") => return system::terminal(shared, req).await,
        ("GET", "/api/stream/h264/direct") => return h264::direct(shared, req, principal).await,
        // Uploads are streamed to disk, whatever their size.
        ("POST", "/api/download/file") => {
            let (parts, body) = req.into_parts();
            return upload::upload(shared, parts.headers, body).await;
        }
        _ => {}
    }
    let (parts, body) = req.into_parts();
    let (body, body_too_large) = read_body(body).await;
    let ctx = Ctx {
        shared,
        method,
        path,
        headers: parts.headers,
        peer,
        principal,
        body,
        body_too_large,
    };
    route(ctx).await
}

async fn route(ctx: Ctx) -> Response {
    let p = ctx.path.clone();
    if ctx.shared.config.firmware.is_pro() && pro::serves(ctx.method.as_str(), &p) {
        pro::route(ctx).await
    } else if p.starts_with("/api/auth/") {
        auth::route(ctx).await
    } else if is_system(&p) {
        system::route(ctx).await
    } else if p.starts_with("/api/vm/") {
        vm::route(ctx).await
    } else if p.starts_with("/api/extensions/") {
        extensions::route(ctx).await
    } else if p.starts_with("/api/hid/") {
        hid::route(ctx).await
    } else if p.starts_with("/api/storage/") {
        storage::route(ctx).await
    } else if p.starts_with("/api/download/") {
        download::route(ctx).await
    } else if p.starts_with("/api/network/") {
        network::route(ctx).await
    } else if p.starts_with("/api/application/") {
        application::route(ctx).await
    } else if p.starts_with("/api/stream/") {
        stream::route(ctx).await
    } else {
        not_found()
    }
}

/// Whether a path belongs to the housekeeping routes in `system`.
fn is_system(path: &str) -> bool {
    ["swap", "memory/limit", "oled", "tls", "autostart", "script"]
        .iter()
        .any(|p| {
            path.strip_prefix("/api/vm/")
                .and_then(|rest| rest.strip_prefix(p))
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Reads a request body up to [`BODY_LIMIT`]. A longer body is still read to its end,
/// and discarded, as Go's decoder reads it: answering before the client has finished
/// sending would make the client's kernel reset the connection and lose the answer.
async fn read_body(body: Body) -> (Bytes, bool) {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut kept: Vec<u8> = Vec::new();
    let mut too_large = false;
    while let Some(piece) = stream.next().await {
        let Ok(piece) = piece else {
            return (Bytes::new(), true);
        };
        if too_large || kept.len() + piece.len() > BODY_LIMIT {
            too_large = true;
            kept = Vec::new();
            continue;
        }
        kept.extend_from_slice(&piece);
    }
    if too_large {
        (Bytes::new(), true)
    } else {
        (Bytes::from(kept), false)
    }
}

/// gin's `RedirectTrailingSlash`: 301 for GET, 307 otherwise.
fn redirect_or_404(shared: &Shared, method: &Method, path: &str) -> Response {
    let other = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => format!("{path}/"),
    };
    if access(shared, method, &other).is_none() {
        return not_found();
    }
    let status = if *method == Method::GET {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::TEMPORARY_REDIRECT
    };
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&other) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

const INDEX: &str = "<!doctype html><title>NanoKVM</title><p>nanokvm-sim: a simulated NanoKVM. \
The web UI is not included; use the API under /api/.</p>\n";
