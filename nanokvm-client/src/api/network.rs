//! Wake-on-LAN and the device's list of remembered MAC addresses.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, Method, null_as_empty};

/// A MAC address, normalized to `AA:BB:CC:DD:EE:FF` as the firmware stores it.
///
/// Parsing accepts what the firmware accepts: surrounding whitespace, any case, and `:`,
/// `-` or `.` separators anywhere (`aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`,
/// `AABBCCDDEEFF`).
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

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

/// A remembered Wake-on-LAN target.
#[derive(Clone, PartialEq, Eq, Debug)]
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

/// Wake-on-LAN. Obtain with [`Client::network`].
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
    fn list_entries_carry_optional_names() {
        let e = parse_wol_entry("11:22:33:44:55:66 Office PC").unwrap();
        assert_eq!(e.mac.to_string(), "11:22:33:44:55:66");
        assert_eq!(e.name.as_deref(), Some("Office PC"));
        assert_eq!(parse_wol_entry("11:22:33:44:55:66").unwrap().name, None);
        assert!(parse_wol_entry("garbage").is_none());
    }
}
