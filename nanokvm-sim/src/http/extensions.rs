//! `/api/extensions/tailscale/*`, as on a device where Tailscale is not installed and
//! the internet cannot be reached: its status is `notInstall`, installing fails, and the
//! commands that need the binary fail with the firmware's messages.

use axum::response::Response;

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;

pub(crate) async fn route(ctx: Ctx) -> Response {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("GET", "/api/extensions/tailscale/status") => ok(J::obj([
            ("state", "notInstall".into()),
            ("name", "".into()),
            ("ip", "".into()),
            ("account", "".into()),
        ])),
        ("POST", path) => match path.trim_start_matches("/api/extensions/tailscale/") {
            "install" => fail(-1, "install failed"),
            "uninstall" => ok_null(),
            "start" => fail(-1, "start failed"),
            "restart" => fail(-1, "restart failed"),
            "stop" => fail(-1, "stop failed"),
            "up" => fail(-1, "tailscale up failed"),
            "down" => fail(-1, "tailscale down failed"),
            "login" => fail(-1, "unknown status"),
            "logout" => fail(-1, "logout failed"),
            _ => super::not_found(),
        },
        _ => super::not_found(),
    }
}
