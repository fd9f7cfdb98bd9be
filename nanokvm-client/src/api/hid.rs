//! Paste, keyboard LEDs, HID mode, HID reset, stored shortcuts, the leader key and the
//! mouse jiggler.
//!
//! Paste (`POST /api/hid/paste`) types on the device itself, one character every 30 ms
//! (50 ms before 2.3.1), and answers when done. The firmware silently skips characters
//! its map lacks; this module computes and reports them, checks the per-version length
//! limit before sending, and scales the timeout to the text.

use std::time::Duration;

use nanokvm_hid::Keycode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, null_as_empty};

/// The keyboard layouts the firmware's paste knows (the target machine's layout).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum PasteLayout {
    /// US QWERTY (every firmware).
    #[default]
    Us,
    /// German QWERTZ (2.3.1 and later).
    De,
    /// French AZERTY (2.4.1 and later).
    Fr,
}

impl PasteLayout {
    fn wire(self) -> Option<&'static str> {
        match self {
            Self::Us => None,
            Self::De => Some("de"),
            Self::Fr => Some("fr"),
        }
    }

    /// Whether the firmware's map for this layout types `c`.
    #[must_use]
    pub fn can_type(self, c: char) -> bool {
        if c == '\n' || c == '\t' || (' '..='~').contains(&c) {
            return true;
        }
        match self {
            Self::Us => false,
            Self::De => "äöüÄÖÜß´°§€²³".contains(c),
            Self::Fr => "éèçàùµ£¨°§€".contains(c),
        }
    }
}

/// A character paste left out, with its position (counted in characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SkippedChar {
    /// The character.
    pub ch: char,
    /// Its index in the text, counted in Unicode scalar values.
    pub index: usize,
}

/// What a paste did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PasteReport {
    /// How many characters were typed.
    pub typed: usize,
    /// The characters the firmware skipped because its map lacks them (`\r` included:
    /// a CRLF types one Enter).
    pub skipped: Vec<SkippedChar>,
}

/// Everything decided about a paste before sending it (pure, for tests).
#[derive(Debug)]
pub(crate) struct PastePlan {
    pub(crate) request: ApiRequest,
    pub(crate) report: PasteReport,
}

/// Checks `text` against the firmware's limit and layout and builds the request.
pub(crate) fn plan_paste(
    caps: &crate::Capabilities,
    text: &str,
    layout: PasteLayout,
) -> Result<PastePlan> {
    if text.is_empty() {
        return Err(Error::invalid("paste text must not be empty"));
    }
    caps.require(
        caps.paste_supports(layout),
        &format!("paste with layout {layout:?}"),
        match layout {
            PasteLayout::Fr => "firmware 2.4.1 or later",
            _ => "firmware 2.3.1 or later",
        },
    )?;
    caps.paste_limit().check(text).map_err(Error::invalid)?;
    let mut report = PasteReport::default();
    for (index, ch) in text.chars().enumerate() {
        if layout.can_type(ch) {
            report.typed += 1;
        } else {
            report.skipped.push(SkippedChar { ch, index });
        }
    }
    let typing = caps.paste_delay_per_char() * u32::try_from(report.typed).unwrap_or(u32::MAX);
    let mut body = json!({ "content": text });
    if let Some(langue) = layout.wire() {
        // The firmware binds the misspelt field `langue`.
        body["langue"] = Value::from(langue);
    }
    let request =
        ApiRequest::post("/api/hid/paste", body).extra_timeout(typing + Duration::from_secs(5));
    Ok(PastePlan { request, report })
}

/// The target's keyboard LEDs, as the host last set them.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct KeyboardLeds {
    /// Num Lock.
    pub num_lock: bool,
    /// Caps Lock.
    pub caps_lock: bool,
    /// Scroll Lock.
    pub scroll_lock: bool,
    /// When the host last set them (RFC 3339).
    pub updated_at: String,
}

/// The wire shape shared by `GET /api/hid/leds` and the `hid-led-status` push.
#[derive(Deserialize)]
pub(crate) struct LedsWire {
    #[serde(rename = "numLock")]
    num_lock: bool,
    #[serde(rename = "capsLock")]
    caps_lock: bool,
    #[serde(rename = "scrollLock")]
    scroll_lock: bool,
    known: bool,
    #[serde(default, rename = "updatedAt")]
    updated_at: String,
}

impl LedsWire {
    /// `None` until the host has sent its first LED report.
    pub(crate) fn into_domain(self) -> Option<KeyboardLeds> {
        self.known.then_some(KeyboardLeds {
            num_lock: self.num_lock,
            caps_lock: self.caps_lock,
            scroll_lock: self.scroll_lock,
            updated_at: self.updated_at,
        })
    }
}

/// The USB gadget mode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HidMode {
    /// Keyboard, mouse, touchpad and mass storage.
    Normal,
    /// Keyboard and mouse only, for picky BIOSes; no virtual media.
    HidOnly,
}

impl HidMode {
    fn as_wire(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::HidOnly => "hid-only",
        }
    }
}

/// A key combination stored on the device for the web UI.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Shortcut {
    /// The device's id for it.
    pub id: String,
    /// The keys, as `KeyboardEvent.code` names with display labels.
    pub keys: Vec<ShortcutKey>,
}

/// One key of a [`Shortcut`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ShortcutKey {
    /// The `KeyboardEvent.code` name (`ControlLeft`, `KeyA`).
    pub code: String,
    /// The label the web UI shows.
    pub label: String,
}

/// How the mouse jiggler moves the pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum JigglerMode {
    /// Small moves on the absolute pointer device.
    Absolute,
    /// Small moves on the relative mouse device.
    Relative,
}

impl JigglerMode {
    fn as_wire(self) -> &'static str {
        match self {
            Self::Absolute => "absolute",
            Self::Relative => "relative",
        }
    }
}

/// The mouse jiggler, which keeps the target awake by moving the pointer while nobody
/// uses keyboard or mouse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MouseJiggler {
    /// Whether it runs.
    pub enabled: bool,
    /// The mode it runs (or last ran) in; `None` when the device has none stored yet.
    pub mode: Option<JigglerMode>,
}

/// The request that sets the jiggler: on in a mode, or off (pure).
pub(crate) fn jiggler_request(mode: Option<JigglerMode>) -> ApiRequest {
    // The route is registered with a trailing slash; without it gin answers 307.
    let body = match mode {
        Some(mode) => json!({ "enabled": true, "mode": mode.as_wire() }),
        // The firmware ignores the mode when disabling, and keeps the stored one.
        None => json!({ "enabled": false }),
    };
    ApiRequest::post("/api/vm/mouse-jiggler/", body).idempotent()
}

/// Decodes the leader key: a `KeyboardEvent.code` name, empty when unset (pure).
pub(crate) fn parse_leader_key(key: &str) -> Result<Option<Keycode>> {
    if key.trim().is_empty() {
        return Ok(None);
    }
    Keycode::from_name(key)
        .map(Some)
        .map_err(|e| Error::Decode {
            endpoint: "GET /api/hid/shortcut/leader-key".to_owned(),
            path: "data.key".to_owned(),
            message: e.to_string(),
        })
}

/// Paste and HID settings. Obtain with [`Client::hid`].
#[derive(Clone, Copy, Debug)]
pub struct HidHandler<'a> {
    pub(crate) client: &'a Client,
}

impl HidHandler<'_> {
    /// Types `text` on the target through the firmware's paste, for a target using
    /// `layout`. Returns once typing finished. Never repeated.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for empty text or text over this firmware's limit (833
    /// characters on 2.5.0 and later, 1024 bytes before), checked before sending;
    /// [`Error::NotSupported`] for a layout the firmware lacks; device and transport
    /// errors.
    pub async fn paste(&self, text: &str, layout: PasteLayout) -> Result<PasteReport> {
        let caps = self.client.capabilities().await?;
        let plan = plan_paste(caps, text, layout)?;
        self.client.call::<Value>(plan.request).await?;
        Ok(plan.report)
    }

    /// The target's keyboard LEDs; `None` until the target has set them once (2.5.0 and
    /// later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.5.0; transport and decoding errors.
    pub async fn keyboard_leds(&self) -> Result<Option<KeyboardLeds>> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_keyboard_leds(),
            "keyboard LEDs",
            "firmware 2.5.0 or later",
        )?;
        let wire: LedsWire = self.client.call(ApiRequest::get("/api/hid/leds")).await?;
        Ok(wire.into_domain())
    }

    /// The USB gadget mode.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.2.5; device and transport errors.
    pub async fn mode(&self) -> Result<HidMode> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_hid_mode(), "HID mode", "firmware 2.2.5 or later")?;
        #[derive(Deserialize)]
        struct Wire {
            mode: String,
        }
        let wire: Wire = self.client.call(ApiRequest::get("/api/hid/mode")).await?;
        match wire.mode.as_str() {
            "normal" => Ok(HidMode::Normal),
            "hid-only" => Ok(HidMode::HidOnly),
            other => Err(Error::Decode {
                endpoint: "GET /api/hid/mode".to_owned(),
                path: "data.mode".to_owned(),
                message: format!("unknown mode {other:?}"),
            }),
        }
    }

    /// Sets the USB gadget mode (admin). **The device reboots** about half a second
    /// after answering, unless the mode is already `mode`.
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.2.5; device and transport errors.
    pub async fn set_mode(&self, mode: HidMode) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_hid_mode(), "HID mode", "firmware 2.2.5 or later")?;
        let req = ApiRequest::post("/api/hid/mode", json!({ "mode": mode.as_wire() }));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Re-binds the USB HID gadget, which the target sees as unplug and replug (admin).
    /// Close WebSocket sessions first, as the web UI does.
    ///
    /// # Errors
    ///
    /// Device and transport errors.
    pub async fn reset(&self) -> Result<()> {
        let req =
            ApiRequest::post("/api/hid/reset", json!({})).extra_timeout(Duration::from_secs(5));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The stored shortcuts (2.3.2 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; transport and decoding errors.
    pub async fn shortcuts(&self) -> Result<Vec<Shortcut>> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_shortcuts(), "shortcuts", "firmware 2.3.2 or later")?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(deserialize_with = "null_as_empty")]
            shortcuts: Vec<ShortcutWire>,
        }
        #[derive(Deserialize)]
        struct ShortcutWire {
            id: String,
            #[serde(deserialize_with = "null_as_empty")]
            keys: Vec<KeyWire>,
        }
        #[derive(Deserialize)]
        struct KeyWire {
            code: String,
            #[serde(default)]
            label: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/hid/shortcuts"))
            .await?;
        Ok(wire
            .shortcuts
            .into_iter()
            .map(|s| Shortcut {
                id: s.id,
                keys: s
                    .keys
                    .into_iter()
                    .map(|k| ShortcutKey {
                        code: k.code,
                        label: k.label,
                    })
                    .collect(),
            })
            .collect())
    }

    /// Stores a shortcut (admin, 2.3.2 and later). The firmware does not return its id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty key list; [`Error::NotSupported`]; device and
    /// transport errors.
    pub async fn add_shortcut(&self, keys: &[ShortcutKey]) -> Result<()> {
        if keys.is_empty() {
            return Err(Error::invalid("a shortcut needs at least one key"));
        }
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_shortcuts(), "shortcuts", "firmware 2.3.2 or later")?;
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| json!({ "code": k.code, "label": k.label }))
            .collect();
        let req = ApiRequest::post("/api/hid/shortcut", json!({ "keys": keys }));
        self.client.call::<Value>(req).await.map(drop)
    }

    /// Deletes a stored shortcut (admin, 2.3.2 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`]; device and transport errors.
    pub async fn delete_shortcut(&self, id: &str) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(caps.has_shortcuts(), "shortcuts", "firmware 2.3.2 or later")?;
        let req = ApiRequest::post("/api/hid/shortcut", json!({ "id": id }))
            .with_method(crate::wire::Method::Delete)
            .idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The leader key the web UI uses to start a shortcut; `None` when unset (2.3.4 and
    /// later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.3.4; [`Error::Decode`] for a key name this
    /// client does not know; device and transport errors.
    pub async fn leader_key(&self) -> Result<Option<Keycode>> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_leader_key(),
            "the leader key",
            "firmware 2.3.4 or later",
        )?;
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            key: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/hid/shortcut/leader-key"))
            .await?;
        parse_leader_key(&wire.key)
    }

    /// Sets the leader key, or clears it with `None` (admin, 2.3.4 and later). The key is
    /// stored under its `KeyboardEvent.code` name (`ScrollLock`, `AltRight`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a usage without a standard name (nothing sent);
    /// [`Error::NotSupported`] before 2.3.4; device and transport errors.
    pub async fn set_leader_key(&self, key: Option<Keycode>) -> Result<()> {
        let name = match key {
            Some(key) => key.name().ok_or_else(|| {
                Error::invalid(format!("{key} has no key name the web UI could store"))
            })?,
            None => "",
        };
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_leader_key(),
            "the leader key",
            "firmware 2.3.4 or later",
        )?;
        let req =
            ApiRequest::post("/api/hid/shortcut/leader-key", json!({ "key": name })).idempotent();
        self.client.call::<Value>(req).await.map(drop)
    }

    /// The mouse jiggler's state (admin, 2.2.6 and later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.2.6; [`Error::Decode`] for an unknown mode;
    /// device and transport errors.
    pub async fn mouse_jiggler(&self) -> Result<MouseJiggler> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_mouse_jiggler(),
            "the mouse jiggler",
            "firmware 2.2.6 or later",
        )?;
        #[derive(Deserialize)]
        struct Wire {
            enabled: bool,
            #[serde(default)]
            mode: String,
        }
        let wire: Wire = self
            .client
            .call(ApiRequest::get("/api/vm/mouse-jiggler"))
            .await?;
        let mode = match wire.mode.as_str() {
            "" => None,
            "absolute" => Some(JigglerMode::Absolute),
            "relative" => Some(JigglerMode::Relative),
            other => {
                return Err(Error::Decode {
                    endpoint: "GET /api/vm/mouse-jiggler".to_owned(),
                    path: "data.mode".to_owned(),
                    message: format!("unknown jiggler mode {other:?}"),
                });
            }
        };
        Ok(MouseJiggler {
            enabled: wire.enabled,
            mode,
        })
    }

    /// Starts the mouse jiggler in `mode`, or stops it with `None` (admin, 2.2.6 and
    /// later).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] before 2.2.6; device and transport errors.
    pub async fn set_mouse_jiggler(&self, mode: Option<JigglerMode>) -> Result<()> {
        let caps = self.client.capabilities().await?;
        caps.require(
            caps.has_mouse_jiggler(),
            "the mouse jiggler",
            "firmware 2.2.6 or later",
        )?;
        self.client
            .call::<Value>(jiggler_request(mode))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::{Capabilities, FirmwareVersion, Hardware};

    fn caps(v: &str) -> Capabilities {
        Capabilities::new(FirmwareVersion::parse(v), Hardware::Pcie)
    }

    #[test]
    fn paste_reports_skipped_characters_and_scales_the_timeout() {
        let plan = plan_paste(&caps("2.5.0"), "a\r\nЖb", PasteLayout::Us).unwrap();
        assert_eq!(plan.report.typed, 3);
        assert_eq!(
            plan.report.skipped,
            vec![
                SkippedChar { ch: '\r', index: 1 },
                SkippedChar { ch: 'Ж', index: 3 }
            ]
        );
        assert_eq!(plan.request.body, Some(json!({"content": "a\r\nЖb"})));
        assert_eq!(plan.request.extra_timeout, Duration::from_millis(5090));
        let de = plan_paste(&caps("2.5.0"), "ä", PasteLayout::De).unwrap();
        assert_eq!(
            de.request.body,
            Some(json!({"content": "ä", "langue": "de"}))
        );
        assert!(de.report.skipped.is_empty());
    }

    #[test]
    fn jiggler_requests_use_the_trailing_slash_route() {
        let on = jiggler_request(Some(JigglerMode::Relative));
        assert_eq!(on.endpoint(), "POST /api/vm/mouse-jiggler/");
        assert_eq!(on.body, Some(json!({"enabled": true, "mode": "relative"})));
        let off = jiggler_request(None);
        assert_eq!(off.body, Some(json!({"enabled": false})));
    }

    #[test]
    fn leader_keys_are_key_names() {
        assert_eq!(parse_leader_key("").unwrap(), None);
        assert_eq!(
            parse_leader_key("ScrollLock").unwrap(),
            Some(Keycode::SCROLL_LOCK)
        );
        let err = parse_leader_key("NoSuchKey").unwrap_err();
        assert!(err.is_decode());
        assert!(err.to_string().contains("data.key"), "{err}");
    }

    #[test]
    fn paste_limits_depend_on_the_version() {
        let long = "a".repeat(834);
        assert!(
            plan_paste(&caps("2.5.0"), &long, PasteLayout::Us)
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(plan_paste(&caps("2.4.3"), &long, PasteLayout::Us).is_ok());
        let wide = "é".repeat(513);
        assert!(
            plan_paste(&caps("2.4.3"), &wide, PasteLayout::Fr)
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(plan_paste(&caps("2.5.0"), &wide, PasteLayout::Fr).is_ok());
        assert!(
            plan_paste(&caps("2.4.0"), "x", PasteLayout::Fr)
                .unwrap_err()
                .is_not_supported()
        );
        assert!(
            plan_paste(&caps("2.5.0"), "", PasteLayout::Us)
                .unwrap_err()
                .is_invalid_input()
        );
    }
}
