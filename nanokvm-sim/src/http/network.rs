//! `/api/network/*`: Wake-on-LAN, Wi-Fi and DNS.
//!
//! The simulated device has no Wi-Fi chip (`/etc/kvm/wifi_exist` absent), so the Wi-Fi
//! routes answer as such a device does, delays included. Its wired network is the
//! loopback interface it reports in `/api/vm/info`, and its DHCP server hands out
//! `127.0.0.1` as the DNS server.

use std::net::IpAddr;
use std::time::Duration;

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
            let mac = match ctx.form().string("Mac", "mac") {
                Ok(mac) if !mac.is_empty() => mac,
                _ => return fail(-1, "invalid arguments"),
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
            if name.is_empty() || mac.is_empty() {
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
        ("GET", "/api/network/wifi") => ok(J::obj([
            ("supported", false.into()),
            ("apMode", false.into()),
            ("connected", false.into()),
            ("ssid", "".into()),
        ])),
        // The AP-mode routes check the mode first: not supported, after 2 s.
        ("POST", "/api/network/wifi" | "/api/network/wifi/verify") => {
            shared.time.sleep(Duration::from_secs(2)).await;
            fail(-1, "invalid mode")
        }
        ("POST", "/api/network/wifi/connect") => {
            let form = ctx.form();
            let (Ok(ssid), Ok(password)) = (
                form.string("Ssid", "Ssid"),
                form.string("Password", "Password"),
            ) else {
                return fail(-1, "invalid parameters");
            };
            if ssid.is_empty() || password.is_empty() {
                return fail(-1, "invalid parameters");
            }
            // Seven polls, 2 s apart, for a connection that never comes.
            shared.time.sleep(Duration::from_secs(14)).await;
            fail(-3, "failed to get wifi status")
        }
        ("POST", "/api/network/wifi/disconnect") => {
            shared.time.sleep(Duration::from_secs(5)).await;
            ok_null()
        }
        ("GET", "/api/network/dns") => {
            let s = lock(&shared.settings);
            let dhcp = vec![DHCP_DNS.to_owned()];
            let manual = s.dns_servers.clone();
            let effective = if s.dns_manual {
                manual.clone()
            } else {
                dhcp.clone()
            };
            ok(J::obj([
                ("mode", if s.dns_manual { "manual" } else { "dhcp" }.into()),
                ("servers", J::str_list_or_null(manual)),
                ("effective", J::str_list_or_null(effective)),
                ("dhcp", J::str_list_or_null(dhcp)),
                (
                    "info",
                    J::obj([
                        ("interface", "eth0".into()),
                        ("type", "Wired".into()),
                        ("address", "127.0.0.1".into()),
                        ("subnetMask", "255.0.0.0".into()),
                        ("gateway", "127.0.0.1".into()),
                        ("searchDomains", J::Null),
                    ]),
                ),
            ]))
        }
        ("POST", "/api/network/dns") => set_dns(&ctx),
        _ => super::not_found(),
    }
}

/// The DNS server the simulated DHCP server hands out.
const DHCP_DNS: &str = "127.0.0.1";

/// `POST /api/network/dns`: `{"mode":"manual"|"dhcp","servers":[..]}`.
fn set_dns(ctx: &Ctx) -> Response {
    let form = ctx.form();
    let (Ok(mode), Ok(servers)) = (form.string("mode", "mode"), form.value("servers")) else {
        return fail(-1, "invalid arguments");
    };
    let servers: Vec<String> = match servers {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    serde_json::Value::String(s) => out.push(s),
                    serde_json::Value::Null => out.push(String::new()),
                    _ => return fail(-1, "invalid arguments"),
                }
            }
            out
        }
        Some(_) => return fail(-1, "invalid arguments"),
    };
    match mode.as_str() {
        "manual" => {
            let mut normalized: Vec<String> = Vec::new();
            for server in &servers {
                let server = server.trim();
                if server.is_empty() {
                    continue;
                }
                let Ok(ip) = server.parse::<IpAddr>() else {
                    return fail(-2, &format!("invalid dns server: {server}"));
                };
                let ip = ip.to_string();
                if !normalized.contains(&ip) {
                    normalized.push(ip);
                }
            }
            if normalized.is_empty() {
                return fail(-2, "dns servers are required");
            }
            let mut s = lock(&ctx.shared.settings);
            s.dns_manual = true;
            s.dns_servers = normalized;
            ok_null()
        }
        "dhcp" => {
            lock(&ctx.shared.settings).dns_manual = false;
            ok_null()
        }
        // `required,oneof=manual dhcp` fails validation first.
        _ => fail(-1, "invalid arguments"),
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
