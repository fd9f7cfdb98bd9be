//! Wake-on-LAN and the device's list of remembered MAC addresses, the device's Wi-Fi
//! and its DNS settings.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::device::InterfaceKind;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, Method, null_as_empty};

/// A MAC address, normalized to `AA:BB:CC:DD:EE:FF` as the firmware stores it.
///
/// Parsing accepts what the firmware accepts: surrounding whitespace, any case, and `:`,
/// `-` or `.` separators anywhere (`aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`,
/// `AABBCCDDEEFF`). Displays and serializes in the normalized form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// Wraps six bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// The six bytes.
    #[must_use]
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }
}

impl FromStr for MacAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let hex: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .collect();
        if hex.len() != 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!(
                "{s:?} is not a MAC address (12 hexadecimal digits)"
            )));
        }
        let mut bytes = [0u8; 6];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| Error::invalid(format!("{s:?} is not a MAC address")))?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{g:02X}")
    }
}

impl Serialize for MacAddress {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

/// A remembered Wake-on-LAN target.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct WolEntry {
    /// The MAC address.
    pub mac: MacAddress,
    /// The name given to it, if any.
    pub name: Option<String>,
}

/// Parses one line of the firmware's list: `MAC` or `MAC name with spaces`.
pub(crate) fn parse_wol_entry(line: &str) -> Option<WolEntry> {
    let line = line.trim();
    let (mac, name) = match line.split_once(char::is_whitespace) {
        Some((mac, name)) => (mac, Some(name.trim().to_owned()).filter(|n| !n.is_empty())),
        None => (line, None),
    };
    Some(WolEntry {
        mac: mac.parse().ok()?,
        name,
    })
}

/// The device's Wi-Fi, from `GET /api/network/wifi`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct WifiStatus {
    /// Whether the device has Wi-Fi at all.
    pub supported: bool,
    /// Whether it is in access-point mode, waiting to be configured.
    pub ap_mode: bool,
    /// Whether it is connected to a network.
    pub connected: bool,
    /// The network's name while connected (`Wi-Fi` when the device does not know it).
    pub ssid: Option<String>,
}

/// The most DNS servers the firmware accepts.
pub const MAX_DNS_SERVERS: usize = 6;

/// Where the device takes its DNS servers from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DnsMode {
    /// From DHCP.
    Dhcp,
    /// From a list set by hand.
    Manual,
}

/// DNS settings to apply with [`NetworkHandler::set_dns`]. Serializes as `"dhcp"` or
/// `{"manual": ["1.1.1.1", ...]}`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsConfig {
    /// Use the servers DHCP provides (the device must currently have some).
    Dhcp,
    /// Use these servers, 1 to [`MAX_DNS_SERVERS`] of them.
    Manual(Vec<IpAddr>),
}

/// The device's DNS settings, from `GET /api/network/dns`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DnsSettings {
    /// Where the servers come from.
    pub mode: DnsMode,
    /// The servers set by hand (kept while in DHCP mode).
    pub servers: Vec<IpAddr>,
    /// The servers in use now.
    pub effective: Vec<IpAddr>,
    /// The servers DHCP provides.
    pub dhcp: Vec<IpAddr>,
    /// The interface of the default route.
    pub interface: DnsInterface,
}

/// The interface of the device's default route, as the DNS page shows it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct DnsInterface {
    /// Its name (`eth0`), if the device has a default route or an address.
    pub name: Option<String>,
    /// Wired or wireless, when known.
    pub kind: Option<InterfaceKind>,
    /// Its IPv4 address with the prefix length (`192.168.1.50/24`).
    pub address: Option<String>,
    /// Its subnet mask (`255.255.255.0`).
    pub subnet_mask: Option<String>,
    /// The default gateway.
    pub gateway: Option<IpAddr>,
    /// The DNS search domains DHCP provides.
    pub search_domains: Vec<String>,
}

#[derive(Deserialize)]
struct DnsWire {
    mode: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    servers: Vec<IpAddr>,
    #[serde(default, deserialize_with = "null_as_empty")]
    effective: Vec<IpAddr>,
    #[serde(default, deserialize_with = "null_as_empty")]
    dhcp: Vec<IpAddr>,
    #[serde(default)]
    info: DnsInfoWire,
}

#[derive(Deserialize, Default)]
struct DnsInfoWire {
    #[serde(default)]
    interface: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    address: String,
    #[serde(default, rename = "subnetMask")]
    subnet_mask: String,
    #[serde(default)]
    gateway: String,
    #[serde(default, rename = "searchDomains", deserialize_with = "null_as_empty")]
    search_domains: Vec<String>,
}

/// Turns the wire shape into [`DnsSettings`] (pure).
fn dns_from_wire(wire: DnsWire) -> Result<DnsSettings> {
    let endpoint = "GET /api/network/dns";
    let mode = match wire.mode.as_str() {
        "dhcp" => DnsMode::Dhcp,
        "manual" => DnsMode::Manual,
        other => {
            return Err(Error::Decode {
                endpoint: endpoint.to_owned(),
                path: "data.mode".to_owned(),
                message: format!("unknown DNS mode {other:?}"),
            });
        }
    };
    let info = wire.info;
    let gateway = if info.gateway.is_empty() {
        None
    } else {
        Some(info.gateway.parse().map_err(|_| Error::Decode {
            endpoint: endpoint.to_owned(),
            path: "data.info.gateway".to_owned(),
            message: format!("{:?} is not an IP address", info.gateway),
        })?)
    };
    let some = |s: String| (!s.is_empty()).then_some(s);
    Ok(DnsSettings {
        mode,
        servers: wire.servers,
        effective: wire.effective,
        dhcp: wire.dhcp,
        interface: DnsInterface {
            name: some(info.interface),
            kind: match info.kind.as_str() {
                "" => None,
                "Wired" => Some(InterfaceKind::Wired),
                "Wireless" => Some(InterfaceKind::Wireless),
                _ => Some(InterfaceKind::Other(info.kind)),
            },
            address: some(info.address),
            subnet_mask: some(info.subnet_mask),
            gateway,
            search_domains: info.search_domains,
        },
    })
}

/// Builds the DNS request, checking the server list first (pure).
pub(crate) fn dns_request(config: &DnsConfig) -> Result<ApiRequest> {
    let body = match config {
        DnsConfig::Dhcp => json!({ "mode": "dhcp" }),
        DnsConfig::Manual(servers) => {
            if servers.is_empty() || servers.len() > MAX_DNS_SERVERS {
                return Err(Error::invalid(format!(
                    "manual DNS needs 1 to {MAX_DNS_SERVERS} servers, not {}",
                    servers.len()
                )));
            }
            let servers: Vec<String> = servers.iter().map(ToString::to_string).collect();
            json!({ "mode": "manual", "servers": servers })
        }
    };
    Ok(ApiRequest::post("/api/network/dns", body).idempotent())
}

/// Wake-on-LAN, Wi-Fi and DNS. Obtain with [`Client::network`].
#[derive(Clone, Copy, Debug)]
pub struct NetworkHandler<'a> {
    pub(crate) client: &'a Client,
}

impl NetworkHandler<'_> {
    /// Sends a Wake-on-LAN packet from the device. `mac` is validated and normalized
    /// before anything is sent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed MAC; device and transport errors.
    pub async fn wake_on_lan(&self, mac: &str) -> Result<MacAddress> {
        let mac: MacAddress = mac.parse()?;
        // Repeating a magic packet is harmless, so a re-login may repeat it.
        let req =
            ApiRequest::post("/api/network/wol", json!({ "mac": mac.to_string() })).idempotent();
        self.client.call::<Value>(req).await?;
        Ok(mac)
    }

    /// The remembered MAC addresses, with their names.
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors (an entry that is not a MAC address).
    pub async fn wol_macs(&self) -> Result<Vec<WolEntry>> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(deserialize_with = "null_as_empty")]
            macs: Vec<String>,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/network/wol/mac"))
            .await?;
        wire.macs
            .iter()
            .enumerate()
            .map(|(i, line)| {
                parse_wol_entry(line).ok_or_else(|| Error::Decode {
                    endpoint: "GET /api/network/wol/mac".to_owned(),
                    path: format!("data.macs[{i}]"),
                    message: format!("{line:?} does not start with a MAC address"),
                })
            })
            .collect()
    }

    /// Names a remembered MAC address (admin).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed MAC or an empty name; device errors (MAC
    /// not in the list) and transport errors.
    pub async fn set_wol_name(&self, mac: &str, name: &str) -> Result<()> {
        let mac: MacAddress = mac.parse()?;
        if name.trim().is_empty() {
            return Err(Error::invalid("the name must not be empty"));
        }
        let req = ApiRequest::post(
            "/api/network/wol/mac/name",
            json!({ "mac": mac.to_string(), "name": name }),
        )
        .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Forgets a remembered MAC address (admin); succeeds if it was not listed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed MAC; device and transport errors.
    pub async fn delete_wol_mac(&self, mac: &str) -> Result<()> {
        let mac: MacAddress = mac.parse()?;
        let req = ApiRequest::post("/api/network/wol/mac", json!({ "mac": mac.to_string() }))
            .with_method(Method::Delete)
            .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The device's Wi-Fi state (admin).
    ///
    /// # Errors
    ///
    /// Device, transport and decoding errors.
    pub async fn wifi(&self) -> Result<WifiStatus> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            supported: bool,
            #[serde(default, rename = "apMode")]
            ap_mode: bool,
            #[serde(default)]
            connected: bool,
            #[serde(default)]
            ssid: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/network/wifi"))
            .await?;
        Ok(WifiStatus {
            supported: wire.supported,
            ap_mode: wire.ap_mode,
            ssid: (wire.connected && !wire.ssid.is_empty()).then_some(wire.ssid),
            connected: wire.connected,
        })
    }

    /// Connects the device to a Wi-Fi network (admin). The device answers once it is
    /// connected or has given up, which takes up to about 20 seconds. Never repeated.
    /// If the device reaches this client through that Wi-Fi, the connection may drop.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty SSID or password (nothing sent); device
    /// errors (-2 could not start, -3 did not connect in time) and transport errors.
    pub async fn connect_wifi(&self, ssid: &str, password: &SecretString) -> Result<()> {
        if ssid.is_empty() || password.expose_secret().is_empty() {
            return Err(Error::invalid("Wi-Fi needs an SSID and a password"));
        }
        // The firmware takes the Wi-Fi password as it is, without the login's
        // obfuscation.
        let req = ApiRequest::post(
            "/api/network/wifi/connect",
            json!({ "ssid": ssid, "password": password.expose_secret() }),
        )
        .extra_timeout(Duration::from_secs(25));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Disconnects the device from Wi-Fi and forgets the network (admin); takes about
    /// five seconds.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn disconnect_wifi(&self) -> Result<()> {
        let req = ApiRequest::post("/api/network/wifi/disconnect", json!({}))
            .extra_timeout(Duration::from_secs(10));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The device's DNS settings (admin, 2.4.1 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.4.1; device, transport and decoding errors.
    pub async fn dns(&self) -> Result<DnsSettings> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_dns(), "DNS settings", "firmware 2.4.1 or later")?;
        let wire: DnsWire = self
            .client
            .call(ApiRequest::get("/api/network/dns"))
            .await?;
        dns_from_wire(wire)
    }

    /// Sets where the device takes its DNS servers from (admin, 2.4.1 and later).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for no or more than [`MAX_DNS_SERVERS`] servers (nothing
    /// sent); [`Error::NotSupported`] before 2.4.1; device errors (-3 when DHCP currently
    /// provides no servers) and transport errors.
    pub async fn set_dns(&self, config: &DnsConfig) -> Result<()> {
        let req = dns_request(config)?;
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_dns(), "DNS settings", "firmware 2.4.1 or later")?;
        self.client.call::<Value>(req).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_normalize_like_the_firmware() {
        for input in [
            "aa:bb:cc:dd:ee:ff",
            " AA-BB-CC-DD-EE-FF ",
            "aabb.ccdd.eeff",
            "AABBCCDDEEFF",
        ] {
            assert_eq!(
                input.parse::<MacAddress>().unwrap().to_string(),
                "AA:BB:CC:DD:EE:FF"
            );
        }
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "gg:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:ff:00",
        ] {
            assert!(
                bad.parse::<MacAddress>().unwrap_err().is_invalid_input(),
                "{bad}"
            );
        }
    }

    #[test]
    fn dns_settings_decode_and_requests_are_checked() {
        let wire: DnsWire = serde_json::from_value(json!({
            "mode": "manual", "servers": ["1.1.1.1", "2606:4700::1111"], "effective": null,
            "dhcp": ["192.168.1.1"],
            "info": {"interface": "eth0", "type": "Wired", "address": "192.168.1.50/24",
                     "subnetMask": "255.255.255.0", "gateway": "", "searchDomains": ["lan"]}
        }))
        .unwrap();
        let dns = dns_from_wire(wire).unwrap();
        assert_eq!(dns.mode, DnsMode::Manual);
        assert_eq!(dns.servers.len(), 2);
        assert!(dns.effective.is_empty());
        assert_eq!(dns.interface.kind, Some(InterfaceKind::Wired));
        assert_eq!(dns.interface.gateway, None);
        assert_eq!(dns.interface.search_domains, ["lan"]);

        let manual = DnsConfig::Manual(vec!["9.9.9.9".parse().unwrap()]);
        assert_eq!(
            dns_request(&manual).unwrap().body,
            Some(json!({"mode": "manual", "servers": ["9.9.9.9"]}))
        );
        assert_eq!(
            dns_request(&DnsConfig::Dhcp).unwrap().body,
            Some(json!({"mode": "dhcp"}))
        );
        assert!(
            dns_request(&DnsConfig::Manual(Vec::new()))
                .unwrap_err()
                .is_invalid_input()
        );
        let seven = DnsConfig::Manual(vec!["9.9.9.9".parse().unwrap(); 7]);
        assert!(dns_request(&seven).unwrap_err().is_invalid_input());
    }

    #[test]
    fn list_entries_carry_optional_names() {
        let e = parse_wol_entry("11:22:33:44:55:66 Office PC").unwrap();
        assert_eq!(e.mac.to_string(), "11:22:33:44:55:66");
        assert_eq!(e.name.as_deref(), Some("Office PC"));
        assert_eq!(parse_wol_entry("11:22:33:44:55:66").unwrap().name, None);
        assert!(parse_wol_entry("garbage").is_none());
    }
}
