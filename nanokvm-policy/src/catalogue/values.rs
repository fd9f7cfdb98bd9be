//! The value types tool arguments are made of. Each checks its own range while it is
//! deserialized and describes the same range in its JSON Schema, from one constant.

use std::borrow::Cow;
use std::fmt;

use nanokvm_hid::{Layout, MouseButtons};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The longest text one typing call may carry (a paste is further limited by the
/// firmware).
pub const MAX_TEXT_CHARS: usize = 65_536;

/// A whole number from `MIN` to `MAX`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bounded<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    /// `n`, when it is in range.
    #[must_use]
    pub const fn new(n: i64) -> Option<Self> {
        if n >= MIN && n <= MAX {
            Some(Self(n))
        } else {
            None
        }
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> Serialize for Bounded<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const MIN: i64, const MAX: i64>;
        impl<const MIN: i64, const MAX: i64> Visitor<'_> for V<MIN, MAX> {
            type Value = Bounded<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a whole number from {MIN} to {MAX}")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                Bounded::new(n).ok_or_else(|| E::invalid_value(Unexpected::Signed(n), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                i64::try_from(n)
                    .ok()
                    .and_then(Bounded::new)
                    .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(n), &self))
            }
        }
        d.deserialize_any(V::<MIN, MAX>)
    }
}

impl<const MIN: i64, const MAX: i64> JsonSchema for Bounded<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        format!("Integer_{MIN}_{MAX}").into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "integer", "minimum": MIN, "maximum": MAX})
    }
}

/// Defines a string newtype that checks its value with `$check` (which returns why it is
/// refused) and has the schema `$schema`.
macro_rules! checked_string {
    ($(#[$meta:meta])* $name:ident, $expecting:literal, $check:expr, $schema:tt) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The string.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s).map(|()| Self(s))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        $name::try_from(s.to_owned()).map_err(E::custom)
                    }
                    fn visit_string<E: de::Error>(self, s: String) -> Result<$name, E> {
                        $name::try_from(s).map_err(E::custom)
                    }
                }
                d.deserialize_string(V)
            }
        }

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

fn non_empty(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("must be a non-empty string".to_owned())
    } else {
        Ok(())
    }
}

checked_string!(
    /// Text to type: not empty, at most [`MAX_TEXT_CHARS`] characters. Its `Debug` shows
    /// the length only, since typed text may be a secret.
    Text,
    "a non-empty string",
    |s| {
        non_empty(s)?;
        if s.chars().count() > MAX_TEXT_CHARS {
            return Err(format!("is longer than {MAX_TEXT_CHARS} characters"));
        }
        Ok(())
    },
    {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS}
);

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({} chars)", self.0.chars().count())
    }
}

checked_string!(
    /// A key name or chord (`enter`, `ctrl+alt+delete`, `f2`), or one character typed by
    /// its key.
    KeyName,
    "a key name, a chord such as ctrl+c, or one character",
    non_empty,
    {"type": "string", "minLength": 1}
);

impl fmt::Debug for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

checked_string!(
    /// The path of an image on the device (`/data/debian.iso`): no NUL and no `..`.
    ImagePath,
    "the path of an image on the device, such as /data/debian.iso",
    |s| {
        non_empty(s)?;
        if s.contains('\0') || s.split('/').any(|part| part == "..") {
            return Err("must not contain NUL or `..` components".to_owned());
        }
        Ok(())
    },
    {"type": "string", "minLength": 1}
);

impl fmt::Debug for ImagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

checked_string!(
    /// The URL of an image for the device to download: `http` or `https`, a host and a
    /// file path, no credentials (they would be stored in the audit log).
    ImageUrl,
    "an http or https URL of an image, such as https://example.org/debian.iso",
    |s| parse_image_url(s).map(drop),
    {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}
);

impl ImageUrl {
    /// The URL's host, lowercase (an IPv6 address without brackets).
    #[must_use]
    pub fn host(&self) -> String {
        parse_image_url(&self.0)
            .ok()
            .and_then(|u| {
                u.host().map(|h| match h {
                    url::Host::Ipv6(ip) => ip.to_string(),
                    other => other.to_string().to_ascii_lowercase(),
                })
            })
            .unwrap_or_default()
    }

    /// The name the device stores the image under: the last segment of the path.
    #[must_use]
    pub fn file_name(&self) -> String {
        parse_image_url(&self.0)
            .ok()
            .and_then(|u| {
                u.path_segments()
                    .and_then(|mut segments| segments.next_back().map(str::to_owned))
            })
            .unwrap_or_default()
    }
}

fn parse_image_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "has the scheme `{}`; only http and https",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("carries credentials; the device cannot keep them secret".to_owned());
    }
    if url
        .path_segments()
        .and_then(|mut p| p.next_back())
        .is_none_or(str::is_empty)
    {
        return Err("names no file (the path must end in the image's file name)".to_owned());
    }
    Ok(url)
}

impl fmt::Debug for ImageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

checked_string!(
    /// A SHA-256 digest: 64 hexadecimal digits.
    Sha256Hex,
    "64 hexadecimal digits",
    |s| {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(())
        } else {
            Err("is not a SHA-256 (64 hexadecimal digits)".to_owned())
        }
    },
    {"type": "string", "pattern": "^[0-9A-Fa-f]{64}$"}
);

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

checked_string!(
    /// A local file to upload, relative to the operator's upload directory (or an
    /// absolute path inside it): no NUL and no `..` components.
    UploadPath,
    "the path of an image in the upload directory, such as debian.iso",
    |s| {
        non_empty(s)?;
        if s.contains('\0') || s.split(['/', '\\']).any(|part| part == "..") {
            return Err("must not contain NUL or `..` components".to_owned());
        }
        Ok(())
    },
    {"type": "string", "minLength": 1}
);

impl fmt::Debug for UploadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A MAC address, written `AA:BB:CC:DD:EE:FF` once parsed (`-`, `.` or no separators
/// are accepted too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mac(pub nanokvm_client::api::network::MacAddress);

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map(Mac)
            .map_err(|_| de::Error::custom("is not a MAC address (AA:BB:CC:DD:EE:FF)"))
    }
}

impl JsonSchema for Mac {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Mac".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[0-9A-Fa-f]{2}([:-]?[0-9A-Fa-f]{2}){5}$|^[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}$"})
    }
}

/// A keyboard layout, by its name (`us`, `de`, `fr-ch`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LayoutName(pub Layout);

impl Serialize for LayoutName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for LayoutName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Layout::from_name(&s)
            .map(LayoutName)
            .map_err(de::Error::custom)
    }
}

impl JsonSchema for LayoutName {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Layout".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Layout::ALL.iter().map(|l| l.name()).collect();
        json_schema!({"type": "string", "enum": names})
    }
}

/// A mouse button (its name in any letter case).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MouseButton {
    /// The left (primary) button.
    #[default]
    Left,
    /// The right (secondary) button.
    Right,
    /// The middle button (the wheel).
    Middle,
    /// The back (fourth) button.
    Back,
    /// The forward (fifth) button.
    Forward,
}

impl<'de> Deserialize<'de> for MouseButton {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &["left", "right", "middle", "back", "forward"];
        let name = String::deserialize(d)?;
        match name.trim().to_ascii_lowercase().as_str() {
            "left" => Ok(Self::Left),
            "right" => Ok(Self::Right),
            "middle" => Ok(Self::Middle),
            "back" => Ok(Self::Back),
            "forward" => Ok(Self::Forward),
            _ => Err(de::Error::unknown_variant(&name, NAMES)),
        }
    }
}

impl MouseButton {
    /// The button's bit in a mouse report.
    #[must_use]
    pub const fn buttons(self) -> MouseButtons {
        match self {
            Self::Left => MouseButtons::LEFT,
            Self::Right => MouseButtons::RIGHT,
            Self::Middle => MouseButtons::MIDDLE,
            Self::Back => MouseButtons::BACK,
            Self::Forward => MouseButtons::FORWARD,
        }
    }
}

/// Which power button press.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerPress {
    /// A short press of the power button: powers on, or asks a running OS to shut down.
    Power,
    /// A long press (about 5 s) that forces the machine off.
    PowerLong,
    /// A press of the reset button.
    Reset,
}

impl PowerPress {
    /// The argument value: `power`, `power_long` or `reset`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Power => "power",
            Self::PowerLong => "power_long",
            Self::Reset => "reset",
        }
    }
}

/// The firmware paste map to type with (its `langue`): the target's layout must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasteLanguage {
    /// US QWERTY (`""`, `en` and `en-us` mean the same).
    #[serde(alias = "", alias = "en", alias = "en-us", alias = "US", alias = "EN")]
    Us,
    /// German QWERTZ (firmware 2.3.1 and later).
    #[serde(alias = "DE")]
    De,
    /// French AZERTY (firmware 2.4.1 and later).
    #[serde(alias = "FR")]
    Fr,
}

impl PasteLanguage {
    /// The paste map for a target with `layout`: its own when the firmware has one, US
    /// otherwise.
    #[must_use]
    pub const fn for_layout(layout: Layout) -> Self {
        match layout {
            Layout::De => Self::De,
            Layout::Fr => Self::Fr,
            _ => Self::Us,
        }
    }

    /// The client's paste layout.
    #[must_use]
    pub const fn paste_layout(self) -> nanokvm_client::api::hid::PasteLayout {
        use nanokvm_client::api::hid::PasteLayout;
        match self {
            Self::Us => PasteLayout::Us,
            Self::De => PasteLayout::De,
            Self::Fr => PasteLayout::Fr,
        }
    }

    /// The argument value: `us`, `de` or `fr`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }
}
