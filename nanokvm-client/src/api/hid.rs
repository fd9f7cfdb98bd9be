//! Paste, keyboard LEDs, HID mode, HID reset, stored shortcuts, the leader key and the
//! mouse jiggler.
//!
//! Paste (`POST /api/hid/paste`) types on the device itself, one character every 30 ms
//! (50 ms before 2.3.1), and answers when done. The firmware silently skips characters
//! its map lacks; this module holds that map ([`PasteLayout::stroke`]), so it can report
//! the skipped characters and the exact keyboard reports a paste writes to the target
//! ([`PasteLayout::reports`]), checks the per-version length limit before sending, and
//! scales the timeout to the text.

use std::fmt;
use std::time::Duration;

use nanokvm_hid::{KeyboardReport, Keycode, Stroke};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::wire::{ApiRequest, null_as_empty};

/// The keyboard layouts the firmware's paste knows (the target machine's layout).
/// Displays and serializes as its [name](PasteLayout::name).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// The value of the request's `langue` field; the US map is the default, sent
    /// without one.
    fn wire(self) -> Option<&'static str> {
        match self {
            Self::Us => None,
            Self::De | Self::Fr => Some(self.name()),
        }
    }

    /// The layout's short name: `us`, `de` or `fr` (the firmware's `langue` values).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::De => "de",
            Self::Fr => "fr",
        }
    }

    /// The key and modifiers the firmware's paste writes for `c` on this layout, or
    /// `None` when the firmware skips `c` (`\r` included, so a CRLF types one Enter).
    ///
    /// This is the firmware's own map (`server/service/hid/paste.go`), quirks
    /// included: the German and French maps replace some entries of the US map and
    /// keep the rest at their US key positions, so on those layouts a few characters
    /// come out as others on the target (German `=` is typed on the US `=` key, which a
    /// German keyboard reads as `´`; French `<` and `>` land on `.` and `/`). Typing
    /// through [`nanokvm_hid`] with a proper layout has no such gaps.
    #[must_use]
    pub fn stroke(self, c: char) -> Option<Stroke> {
        let (modifiers, usage) = match self {
            Self::Us => None,
            Self::De => firmware_map::de(c),
            Self::Fr => firmware_map::fr(c),
        }
        .or_else(|| firmware_map::us(c))?;
        Some(Stroke::new(modifiers, Keycode::from_usage(usage)))
    }

    /// Whether the firmware's map for this layout types `c`.
    #[must_use]
    pub fn can_type(self, c: char) -> bool {
        self.stroke(c).is_some()
    }

    /// Exactly the keyboard reports the firmware writes to the target for a paste of
    /// `text` with this layout, and the characters it skips with their index (counted
    /// in characters).
    ///
    /// For each character the map types, a press report `[modifiers, 0, key, 0, 0, 0,
    /// 0, 0]` immediately followed by the all-zero release; a skipped character writes
    /// nothing; one more release follows the last character. The firmware waits after
    /// each typed character, which reports do not show.
    #[must_use]
    pub fn reports(self, text: &str) -> (Vec<KeyboardReport>, Vec<SkippedChar>) {
        let mut reports = Vec::with_capacity(2 * text.len() + 1);
        let mut skipped = Vec::new();
        for (index, ch) in text.chars().enumerate() {
            match self.stroke(ch) {
                Some(stroke) => reports.extend(stroke.reports()),
                None => skipped.push(SkippedChar { ch, index }),
            }
        }
        reports.push(KeyboardReport::RELEASE);
        (reports, skipped)
    }
}

impl fmt::Display for PasteLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The firmware's paste map (spec section 5.2), as `(modifiers, HID usage)` pairs.
///
/// The German and French functions hold only the entries those layouts replace or add;
/// [`PasteLayout::stroke`] falls back to [`us`](firmware_map::us) for everything else,
/// as the firmware does (it copies the US map and overwrites entries).
mod firmware_map {
    use nanokvm_hid::Modifiers;

    type Key = Option<(Modifiers, u8)>;

    const fn plain(usage: u8) -> Key {
        Some((Modifiers::NONE, usage))
    }

    /// Left Shift, modifier byte 2.
    const fn shift(usage: u8) -> Key {
        Some((Modifiers::LEFT_SHIFT, usage))
    }

    /// Right Alt (AltGr), modifier byte 0x40.
    const fn altgr(usage: u8) -> Key {
        Some((Modifiers::RIGHT_ALT, usage))
    }

    /// The usage of the ASCII character `c`, counting from `first` at `base` (a run of
    /// letters or digits on consecutive keys).
    const fn offset(c: char, first: char, base: u8) -> u8 {
        base + (c as u8 - first as u8)
    }

    /// The US QWERTY base map: printable ASCII, Enter and Tab.
    pub(super) fn us(c: char) -> Key {
        match c {
            'a'..='z' => plain(offset(c, 'a', 4)),
            'A'..='Z' => shift(offset(c, 'A', 4)),
            '1'..='9' => plain(offset(c, '1', 30)),
            '0' => plain(39),
            '!' => shift(30),
            '@' => shift(31),
            '#' => shift(32),
            '$' => shift(33),
            '%' => shift(34),
            '^' => shift(35),
            '&' => shift(36),
            '*' => shift(37),
            '(' => shift(38),
            ')' => shift(39),
            '\n' => plain(40),
            '\t' => plain(43),
            ' ' => plain(44),
            '-' => plain(45),
            '_' => shift(45),
            '=' => plain(46),
            '+' => shift(46),
            '[' => plain(47),
            '{' => shift(47),
            ']' => plain(48),
            '}' => shift(48),
            '\\' => plain(49),
            '|' => shift(49),
            ';' => plain(51),
            ':' => shift(51),
            '\'' => plain(52),
            '"' => shift(52),
            '`' => plain(53),
            '~' => shift(53),
            ',' => plain(54),
            '<' => shift(54),
            '.' => plain(55),
            '>' => shift(55),
            '/' => plain(56),
            '?' => shift(56),
            _ => None,
        }
    }

    /// What `langue: "de"` (German QWERTZ) replaces or adds.
    pub(super) fn de(c: char) -> Key {
        match c {
            'y' => plain(29),
            'Y' => shift(29),
            'z' => plain(28),
            'Z' => shift(28),
            'ä' => plain(52),
            'Ä' => shift(52),
            'ö' => plain(51),
            'Ö' => shift(51),
            'ü' => plain(47),
            'Ü' => shift(47),
            'ß' => plain(45),
            '^' => plain(53),
            '/' => shift(36),
            '(' => shift(37),
            ')' => shift(38),
            '&' => shift(35),
            '`' => shift(46),
            '"' => shift(31),
            '?' => shift(45),
            '{' => altgr(36),
            '[' => altgr(37),
            ']' => altgr(38),
            '}' => altgr(39),
            '\\' => altgr(45),
            '@' => altgr(20),
            '+' => plain(48),
            '*' => shift(48),
            '~' => altgr(48),
            '#' => plain(49),
            '\'' => shift(49),
            '<' => plain(100),
            '>' => shift(100),
            '|' => altgr(100),
            ';' => shift(54),
            ':' => shift(55),
            '-' => plain(56),
            '_' => shift(56),
            '´' => plain(46),
            '°' => shift(53),
            '§' => shift(32),
            '€' => altgr(8),
            '²' => altgr(31),
            '³' => altgr(32),
            _ => None,
        }
    }

    /// What `langue: "fr"` (French AZERTY) replaces or adds.
    pub(super) fn fr(c: char) -> Key {
        match c {
            'a' => plain(20),
            'A' => shift(20),
            'q' => plain(4),
            'Q' => shift(4),
            'z' => plain(26),
            'Z' => shift(26),
            'w' => plain(29),
            'W' => shift(29),
            'm' => plain(51),
            'M' => shift(51),
            // Digits need Shift on AZERTY.
            '1'..='9' => shift(offset(c, '1', 30)),
            '0' => shift(39),
            '&' => plain(30),
            'é' => plain(31),
            '"' => plain(32),
            '\'' => plain(33),
            '(' => plain(34),
            '-' => plain(35),
            'è' => plain(36),
            '_' => plain(37),
            'ç' => plain(38),
            'à' => plain(39),
            ')' => plain(45),
            '°' => shift(45),
            '^' => plain(47),
            '¨' => shift(47),
            '$' => plain(48),
            '£' => shift(48),
            '*' => plain(49),
            'µ' => shift(49),
            'ù' => plain(52),
            '%' => shift(52),
            ',' => plain(16),
            '?' => shift(16),
            ';' => plain(54),
            '.' => shift(54),
            ':' => plain(55),
            '/' => shift(55),
            '!' => plain(56),
            '§' => shift(56),
            '~' => altgr(31),
            '#' => altgr(32),
            '{' => altgr(33),
            '[' => altgr(34),
            '|' => altgr(35),
            '`' => altgr(36),
            '\\' => altgr(37),
            '@' => altgr(39),
            ']' => altgr(45),
            '}' => altgr(46),
            '€' => altgr(8),
            _ => None,
        }
    }
}

/// A character paste left out, with its position (counted in characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct SkippedChar {
    /// The character.
    pub ch: char,
    /// Its index in the text, counted in Unicode scalar values.
    pub index: usize,
}

/// What a paste did.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
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
        &format!("paste with layout {layout}"),
        match layout {
            PasteLayout::Fr => "firmware 2.4.1 or later",
            _ => "firmware 2.3.1 or later",
        },
    )?;
    caps.paste_limit().check(text).map_err(Error::invalid)?;
    // The same table that says which reports the firmware writes says what it skips.
    let (reports, skipped) = layout.reports(text);
    let report = PasteReport {
        typed: (reports.len() - 1) / 2,
        skipped,
    };
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
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize)]
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
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Shortcut {
    /// The device's id for it.
    pub id: String,
    /// The keys, as `KeyboardEvent.code` names with display labels.
    pub keys: Vec<ShortcutKey>,
}

/// One key of a [`Shortcut`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct ShortcutKey {
    /// The `KeyboardEvent.code` name (`ControlLeft`, `KeyA`).
    pub code: String,
    /// The label the web UI shows.
    pub label: String,
}

/// How the mouse jiggler moves the pointer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
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

    /// `(modifier byte, usage)` of the firmware's stroke for `c`.
    fn key(layout: PasteLayout, c: char) -> Option<(u8, u8)> {
        layout
            .stroke(c)
            .map(|s| (s.modifiers.bits(), s.key.usage()))
    }

    #[test]
    fn the_paste_map_matches_the_spec() {
        use PasteLayout::{De, Fr, Us};
        let table = [
            (Us, 'a', Some((0, 4))),
            (Us, 'Z', Some((2, 29))),
            (Us, '0', Some((0, 39))),
            (Us, ')', Some((2, 39))),
            (Us, '~', Some((2, 53))),
            (Us, '\n', Some((0, 40))),
            (Us, '\t', Some((0, 43))),
            (Us, ' ', Some((0, 44))),
            (Us, '?', Some((2, 56))),
            (Us, '\r', None),
            (Us, 'é', None),
            (Us, 'ä', None),
            (De, 'z', Some((0, 28))),
            (De, 'Y', Some((2, 29))),
            (De, '@', Some((0x40, 20))),
            (De, 'Ü', Some((2, 47))),
            (De, '€', Some((0x40, 8))),
            (De, '|', Some((0x40, 100))),
            // Not replaced: the US entry, even where a German keyboard reads it otherwise.
            (De, '=', Some((0, 46))),
            (De, 'a', Some((0, 4))),
            (De, '\r', None),
            (De, 'é', None),
            (Fr, '1', Some((2, 30))),
            (Fr, 'é', Some((0, 31))),
            (Fr, 'a', Some((0, 20))),
            (Fr, 'Q', Some((2, 4))),
            (Fr, 'M', Some((2, 51))),
            (Fr, '@', Some((0x40, 39))),
            (Fr, '§', Some((2, 56))),
            (Fr, '<', Some((2, 54))),
            (Fr, 'b', Some((0, 5))),
            (Fr, 'ä', None),
        ];
        for (layout, c, expected) in table {
            assert_eq!(key(layout, c), expected, "{layout} {c:?}");
        }
    }

    #[test]
    fn every_character_the_maps_type_is_one_the_spec_lists() {
        // An independent statement of spec 5.2: printable ASCII, Enter and Tab on every
        // layout, plus the characters each override adds.
        let extra = |layout| match layout {
            PasteLayout::Us => "",
            PasteLayout::De => "äöüÄÖÜß´°§€²³",
            PasteLayout::Fr => "éèçàùµ£¨°§€",
        };
        for layout in [PasteLayout::Us, PasteLayout::De, PasteLayout::Fr] {
            for c in (0..=0x2FFF).filter_map(char::from_u32) {
                let listed = c == '\n' || c == '\t' || (' '..='~').contains(&c);
                let listed = listed || extra(layout).contains(c);
                assert_eq!(layout.can_type(c), listed, "{layout} {c:?}");
                let stroke = layout.stroke(c);
                assert!(stroke.is_none_or(|s| s.key.usage() != 0 && !s.hold_modifiers));
            }
        }
    }

    #[test]
    fn paste_reports_are_a_press_and_a_release_per_typed_character_then_a_release() {
        let (reports, skipped) = PasteLayout::De.reports("z\r\n@Ж");
        assert_eq!(
            skipped,
            vec![
                SkippedChar { ch: '\r', index: 1 },
                SkippedChar { ch: 'Ж', index: 4 }
            ]
        );
        let bytes: Vec<[u8; 8]> = reports.iter().map(KeyboardReport::to_bytes).collect();
        assert_eq!(
            bytes,
            vec![
                [0, 0, 28, 0, 0, 0, 0, 0],
                [0; 8],
                [0, 0, 40, 0, 0, 0, 0, 0],
                [0; 8],
                [0x40, 0, 20, 0, 0, 0, 0, 0],
                [0; 8],
                [0; 8],
            ]
        );
        for text in ["", "Hello, World!", "ЖЖ", "a\r\nb"] {
            let (reports, skipped) = PasteLayout::Us.reports(text);
            let typed = text.chars().count() - skipped.len();
            assert_eq!(reports.len(), 2 * typed + 1, "{text:?}");
        }
    }

    #[test]
    fn layouts_have_short_names() {
        assert_eq!(PasteLayout::Us.name(), "us");
        assert_eq!(PasteLayout::De.to_string(), "de");
        assert_eq!(PasteLayout::Fr.wire(), Some("fr"));
        assert_eq!(PasteLayout::Us.wire(), None);
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
