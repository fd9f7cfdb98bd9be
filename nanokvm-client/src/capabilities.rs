//! Firmware versions, hardware kinds and what each combination can do.
//!
//! The client reads the application version, the image version and the hardware kind
//! once per [`Client`](crate::Client) and derives everything version-dependent from them
//! here, in pure functions: WebSocket framing, paste limits, which routes exist and which
//! fields a response carries. Gating happens before a request is sent, so an operation
//! the firmware cannot do fails with [`Error::NotSupported`] instead of being silently
//! ignored by the device.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::error::Error;

/// A firmware application version such as `2.5.0`, as `GET /api/vm/info` reports it.
///
/// Versions that do not parse as `major.minor.patch` are kept verbatim and treated as
/// newer than every numbered release, on the reasoning that unknown strings come from
/// development builds.
///
/// Serializes as the version string.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct FirmwareVersion {
    numbers: Option<(u32, u32, u32)>,
    raw: String,
}

impl FirmwareVersion {
    /// A numbered version.
    #[must_use]
    pub fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            numbers: Some((major, minor, patch)),
            raw: format!("{major}.{minor}.{patch}"),
        }
    }

    /// Parses a version string; a leading `v` and surrounding whitespace are accepted,
    /// missing minor and patch numbers count as zero.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let raw = text.trim().to_owned();
        let digits = raw.strip_prefix(['v', 'V']).unwrap_or(&raw);
        let mut parts = digits.split('.');
        let mut next = || -> Option<u32> {
            match parts.next() {
                None => Some(0),
                Some(p) => p.parse().ok(),
            }
        };
        let numbers = match (next(), next(), next(), parts.next()) {
            (Some(a), Some(b), Some(c), None) if !digits.is_empty() => Some((a, b, c)),
            _ => None,
        };
        Self { numbers, raw }
    }

    /// `(major, minor, patch)`, or `None` for an unparseable version string.
    #[must_use]
    pub fn numbers(&self) -> Option<(u32, u32, u32)> {
        self.numbers
    }

    /// The version as the device reported it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether this version is `major.minor.patch` or newer.
    #[must_use]
    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        self.numbers.is_none_or(|n| n >= (major, minor, patch))
    }
}

crate::serialize::serialize_as_str!(FirmwareVersion, as_str);

impl PartialOrd for FirmwareVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FirmwareVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.numbers, other.numbers) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.raw.cmp(&other.raw),
        }
    }
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for FirmwareVersion {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// The hardware kind, from `GET /api/vm/hardware`.
///
/// Displays as the firmware spells it (`PCIE`); serializes in lowercase (`pcie`), an
/// unknown kind verbatim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Hardware {
    /// NanoKVM Cube, Alpha board (the only one with an HDD LED line).
    Alpha,
    /// NanoKVM Cube, Beta board.
    Beta,
    /// NanoKVM PCIe.
    Pcie,
    /// NanoKVM Pro (a different firmware code base).
    Pro,
    /// A value this client does not know, verbatim.
    Other(String),
}

impl Hardware {
    /// Maps the firmware's `version` string.
    #[must_use]
    pub fn from_wire(value: &str) -> Self {
        match value {
            "Alpha" => Self::Alpha,
            "Beta" => Self::Beta,
            "PCIE" => Self::Pcie,
            "Pro" => Self::Pro,
            other => Self::Other(other.to_owned()),
        }
    }

    fn json_name(&self) -> &str {
        match self {
            Self::Alpha => "alpha",
            Self::Beta => "beta",
            Self::Pcie => "pcie",
            Self::Pro => "pro",
            Self::Other(s) => s,
        }
    }
}

crate::serialize::serialize_as_str!(Hardware, json_name);

impl fmt::Display for Hardware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Alpha => "Alpha",
            Self::Beta => "Beta",
            Self::Pcie => "PCIE",
            Self::Pro => "Pro",
            Self::Other(s) => s,
        })
    }
}

/// How `/api/ws` frames keyboard and mouse reports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WsFraming {
    /// Binary `[type, report...]` frames (firmware 2.3.2 and later, and the Pro).
    Binary,
    /// JSON integer arrays as text (firmware up to 2.3.1).
    JsonArrays,
}

/// The most text one paste request may carry. Serializes as `{"runes": 833}` or
/// `{"bytes": 1024}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasteLimit {
    /// At most this many Unicode scalar values (firmware 2.5.0 and later: 833).
    Runes(usize),
    /// At most this many bytes of UTF-8 (earlier firmware and the Pro: 1024).
    Bytes(usize),
}

impl PasteLimit {
    /// Checks `text` against the limit, returning a description of the excess.
    pub(crate) fn check(self, text: &str) -> Result<(), String> {
        match self {
            Self::Runes(max) => {
                let count = text.chars().count();
                if count > max {
                    return Err(format!(
                        "paste text has {count} characters; this firmware accepts at most {max}"
                    ));
                }
            }
            Self::Bytes(max) => {
                if text.len() > max {
                    return Err(format!(
                        "paste text has {} bytes of UTF-8; this firmware accepts at most {max}",
                        text.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What the connected device is and can do, read once per client.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Capabilities {
    /// The application (server) version, used for all feature gating.
    pub application: FirmwareVersion,
    /// The system image version (`v1.4.2`), informational.
    pub image: String,
    /// The hardware kind.
    pub hardware: Hardware,
}

impl Capabilities {
    /// Capabilities for a given version and hardware (for tests and offline use).
    #[must_use]
    pub fn new(application: FirmwareVersion, hardware: Hardware) -> Self {
        Self {
            application,
            image: String::new(),
            hardware,
        }
    }

    /// Whether this is a NanoKVM Pro, whose firmware is a different code base.
    #[must_use]
    pub fn is_pro(&self) -> bool {
        self.hardware == Hardware::Pro
    }

    fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        !self.is_pro() && self.application.at_least(major, minor, patch)
    }

    /// The WebSocket framing: binary since 2.3.2 (and on the Pro), JSON arrays before.
    #[must_use]
    pub fn ws_framing(&self) -> WsFraming {
        if self.is_pro() || self.application.at_least(2, 3, 2) {
            WsFraming::Binary
        } else {
            WsFraming::JsonArrays
        }
    }

    /// Whether the device closes an idle `/api/ws` after 90 s (2.5.0 and later), so
    /// heartbeats are required. The client sends them on every firmware anyway.
    #[must_use]
    pub fn ws_idle_timeout(&self) -> bool {
        self.at_least(2, 5, 0)
    }

    /// The paste length limit.
    #[must_use]
    pub fn paste_limit(&self) -> PasteLimit {
        if self.at_least(2, 5, 0) {
            PasteLimit::Runes(833)
        } else {
            PasteLimit::Bytes(1024)
        }
    }

    /// How long the firmware waits after each pasted character.
    #[must_use]
    pub fn paste_delay_per_char(&self) -> std::time::Duration {
        if self.at_least(2, 3, 1) {
            std::time::Duration::from_millis(30)
        } else {
            std::time::Duration::from_millis(50)
        }
    }

    /// Whether paste accepts `layout`.
    #[must_use]
    pub fn paste_supports(&self, layout: crate::api::hid::PasteLayout) -> bool {
        use crate::api::hid::PasteLayout;
        match layout {
            PasteLayout::Us => true,
            PasteLayout::De => self.at_least(2, 3, 1),
            PasteLayout::Fr => self.at_least(2, 4, 1),
        }
    }

    /// Whether the firmware has accounts with roles (after 2.5.0).
    #[must_use]
    pub fn has_roles(&self) -> bool {
        self.at_least(2, 5, 1)
    }

    /// Whether `GET /api/hid/leds` and the `hid-led-status` push exist (2.5.0).
    #[must_use]
    pub fn has_keyboard_leds(&self) -> bool {
        self.at_least(2, 5, 0)
    }

    /// Whether the HDMI routes exist (2.2.8; not on the Pro).
    #[must_use]
    pub fn has_hdmi(&self) -> bool {
        self.at_least(2, 2, 8)
    }

    /// Whether HDMI has an idle timeout (2.5.0).
    #[must_use]
    pub fn has_hdmi_idle_timeout(&self) -> bool {
        self.at_least(2, 5, 0)
    }

    /// Whether `/api/vm/screen` sets the stream parameters (not on the Pro).
    #[must_use]
    pub fn has_screen_settings(&self) -> bool {
        !self.is_pro()
    }

    /// Whether images can be mounted as a CD-ROM (2.2.1).
    #[must_use]
    pub fn has_cdrom(&self) -> bool {
        self.at_least(2, 2, 1)
    }

    /// Whether the HID mode can be read and set (2.2.5).
    #[must_use]
    pub fn has_hid_mode(&self) -> bool {
        self.at_least(2, 2, 5)
    }

    /// Whether shortcuts are stored on the device (2.3.2).
    #[must_use]
    pub fn has_shortcuts(&self) -> bool {
        self.at_least(2, 3, 2)
    }

    /// Whether the leader key is stored on the device (2.3.4).
    #[must_use]
    pub fn has_leader_key(&self) -> bool {
        self.at_least(2, 3, 4)
    }

    /// Whether the device has a mouse jiggler (2.2.6).
    #[must_use]
    pub fn has_mouse_jiggler(&self) -> bool {
        self.at_least(2, 2, 6)
    }

    /// Whether the DNS settings can be read and set (2.4.1).
    #[must_use]
    pub fn has_dns(&self) -> bool {
        self.at_least(2, 4, 1)
    }

    /// Whether MJPEG frame detection is switched through `/api/stream/mjpeg/detect`
    /// (not on the Pro, whose streams have other routes).
    #[must_use]
    pub fn has_frame_detection(&self) -> bool {
        !self.is_pro()
    }

    /// Whether AI control modes and the built-in MCP server exist (2.5.0).
    #[must_use]
    pub fn has_ai_control(&self) -> bool {
        self.at_least(2, 5, 0)
    }

    /// Whether a download can be cancelled and checked against a SHA-256 (2.5.0).
    #[must_use]
    pub fn has_download_cancel(&self) -> bool {
        self.at_least(2, 5, 0)
    }

    /// Whether the password change needs the current password (after 2.5.0).
    #[must_use]
    pub fn password_change_needs_current(&self) -> bool {
        self.at_least(2, 5, 1)
    }

    /// Whether the non-Pro storage, download and upload routes apply.
    #[must_use]
    pub fn has_cube_storage(&self) -> bool {
        !self.is_pro()
    }

    /// A human description, e.g. `firmware 2.4.3 on PCIE`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("firmware {} on {}", self.application, self.hardware)
    }

    /// `Ok` when `supported`, else [`Error::NotSupported`] naming this firmware.
    pub(crate) fn require(
        &self,
        supported: bool,
        operation: &str,
        needs: &str,
    ) -> crate::Result<()> {
        if supported {
            Ok(())
        } else {
            Err(Error::NotSupported {
                operation: operation.to_owned(),
                firmware: self.describe(),
                needs: Some(needs.to_owned()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: &str) -> Capabilities {
        Capabilities::new(FirmwareVersion::parse(v), Hardware::Beta)
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(FirmwareVersion::parse("v2.5.0").numbers(), Some((2, 5, 0)));
        assert_eq!(FirmwareVersion::parse("2.3").numbers(), Some((2, 3, 0)));
        assert_eq!(FirmwareVersion::parse("dev-build").numbers(), None);
        assert_eq!(FirmwareVersion::parse("").numbers(), None);
        assert!(FirmwareVersion::parse("2.3.10") > FirmwareVersion::parse("2.3.2"));
        assert!(FirmwareVersion::parse("dev") > FirmwareVersion::new(9, 9, 9));
    }

    #[test]
    fn framing_and_limits_follow_the_version_table() {
        let table = [
            ("2.3.1", WsFraming::JsonArrays, PasteLimit::Bytes(1024), 30),
            ("2.3.2", WsFraming::Binary, PasteLimit::Bytes(1024), 30),
            ("2.4.3", WsFraming::Binary, PasteLimit::Bytes(1024), 30),
            ("2.5.0", WsFraming::Binary, PasteLimit::Runes(833), 30),
            ("2.2.9", WsFraming::JsonArrays, PasteLimit::Bytes(1024), 50),
        ];
        for (v, framing, limit, ms) in table {
            let c = caps(v);
            assert_eq!(c.ws_framing(), framing, "{v}");
            assert_eq!(c.paste_limit(), limit, "{v}");
            assert_eq!(c.paste_delay_per_char().as_millis(), ms, "{v}");
        }
        let pro = Capabilities::new(FirmwareVersion::parse("1.2.13"), Hardware::Pro);
        assert_eq!(pro.ws_framing(), WsFraming::Binary);
        assert_eq!(pro.paste_limit(), PasteLimit::Bytes(1024));
        assert!(!pro.has_hdmi());
        assert!(!pro.has_frame_detection() && !pro.has_leader_key() && !pro.has_dns());
    }

    #[test]
    fn routes_follow_the_history_table() {
        // (version, leader key, mouse jiggler, DNS)
        let table = [
            ("2.2.5", false, false, false),
            ("2.2.6", false, true, false),
            ("2.3.3", false, true, false),
            ("2.3.4", true, true, false),
            ("2.4.0", true, true, false),
            ("2.4.1", true, true, true),
        ];
        for (v, leader, jiggler, dns) in table {
            let c = caps(v);
            assert_eq!(c.has_leader_key(), leader, "{v}");
            assert_eq!(c.has_mouse_jiggler(), jiggler, "{v}");
            assert_eq!(c.has_dns(), dns, "{v}");
            assert!(c.has_frame_detection(), "{v}");
        }
    }

    #[test]
    fn limits_count_the_right_unit() {
        let text = "é".repeat(600);
        assert!(PasteLimit::Runes(833).check(&text).is_ok());
        assert!(PasteLimit::Bytes(1024).check(&text).is_err());
        assert!(PasteLimit::Runes(833).check(&"a".repeat(834)).is_err());
    }

    #[test]
    fn not_supported_names_the_firmware() {
        let err = caps("2.4.3")
            .require(false, "keyboard LEDs", "firmware 2.5.0 or later")
            .unwrap_err();
        assert!(err.is_not_supported());
        assert_eq!(
            err.to_string(),
            "keyboard LEDs is not supported by firmware 2.4.3 on Beta (needs firmware 2.5.0 or later)"
        );
    }
}
