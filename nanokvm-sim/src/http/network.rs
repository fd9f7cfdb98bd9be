//! `/api/network/*` (Wake-on-LAN) and `/api/application/version`.

use axum::response::Response;

use super::{Ctx, fail, ok, ok_null};
use crate::json::J;
use crate::record::WolPacket;
use crate::state::lock;

/// The firmware's MAC normalisation: trim, upper-case, drop `-`, `:` and `.`, then 12
/// hex digits become `AA:BB:CC:DD:EE:FF`.
fn normalise_mac(mac: &str) -> Option<String> {
    let cleaned: String = mac
        .trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.'))
        .collect();
    if cleaned.len() != 12 || !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<&str> = (0..6).map(|i| &cleaned[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/api/network/wol") => {
            let Ok(mac) = ctx.form().string("Mac", "mac") else {
                return fail(-1, "invalid arguments");
            };
            if mac.is_empty() {
                return fail(-1, "invalid arguments");
            }
            let Some(mac) = normalise_mac(&mac) else {
                return fail(-2, "invalid MAC address");
            };
            lock(&shared.records)
                .wol
                .push(WolPacket { mac: mac.clone() });
            let mut s = lock(&shared.settings);
            if !s
                .wol_macs
                .iter()
                .any(|m| m.split(' ').next() == Some(mac.as_str()))
            {
                s.wol_macs.push(mac);
            }
            ok_null()
        }
        ("GET", "/api/network/wol/mac") => {
            let macs = lock(&shared.settings).wol_macs.clone();
            ok(J::obj([(
                "macs",
                J::Arr(macs.into_iter().map(J::Str).collect()),
            )]))
        }
        ("DELETE", "/api/network/wol/mac") => {
            let Ok(mac) = ctx.form().string("Mac", "mac") else {
                return fail(-1, "invalid arguments");
            };
            let Some(mac) = normalise_mac(&mac) else {
                return fail(-2, "invalid MAC address");
            };
            lock(&shared.settings)
                .wol_macs
                .retain(|m| m.split(' ').next() != Some(mac.as_str()));
            ok_null()
        }
        ("POST", "/api/network/wol/mac/name") => {
            let form = ctx.form();
            let (Ok(mac), Ok(name)) = (form.string("Mac", "mac"), form.string("Name", "name"))
            else {
                return fail(-1, "invalid arguments");
            };
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            if name.is_empty() {
                return fail(-1, "invalid arguments");
            }
            let Some(mac) = normalise_mac(&mac) else {
                return fail(-2, "invalid MAC address");
            };
            let mut s = lock(&shared.settings);
            let Some(entry) = s
                .wol_macs
                .iter_mut()
                .find(|m| m.split(' ').next() == Some(mac.as_str()))
            else {
                return fail(-3, "MAC address not found");
            };
            *entry = format!("{mac} {name}");
            ok_null()
        }
        // The simulated device is offline: the update server cannot be reached.
        ("GET", "/api/application/version") => fail(-1, "failed to query latest version"),
        _ => super::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::normalise_mac;

    #[test]
    fn macs_are_normalised_like_the_firmware() {
        assert_eq!(
            normalise_mac(" aa-bb-cc-dd-ee-ff ").as_deref(),
            Some("AA:BB:CC:DD:EE:FF")
        );
        assert_eq!(
            normalise_mac("aabb.ccdd.eeff").as_deref(),
            Some("AA:BB:CC:DD:EE:FF")
        );
        assert_eq!(normalise_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(normalise_mac("gg:bb:cc:dd:ee:ff"), None);
    }
}
