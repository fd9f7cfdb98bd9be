//! The arguments of every tool, one struct each. Field doc comments are the argument
//! descriptions in the JSON Schemas; defaults and ranges come from the constants the
//! checks use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{
    Bounded, ImagePath, ImageUrl, KeyName, LayoutName, Mac, MouseButton, PasteLanguage, PowerPress,
    Sha256Hex, Text, UploadPath,
};

/// The longest pause between typed keys, in milliseconds.
pub const MAX_KEY_DELAY_MS: i64 = 1_000;
/// The shortest off time of a power cycle, in milliseconds.
pub const MIN_OFF_DURATION_MS: i64 = 500;
/// The longest off time of a power cycle, in milliseconds.
pub const MAX_OFF_DURATION_MS: i64 = 600_000;
/// The off time of a power cycle when none is given, in milliseconds.
pub const DEFAULT_OFF_DURATION_MS: i64 = 3_000;
/// The largest pixel coordinate (an 8K screen is 7680 wide).
pub const MAX_PIXEL: i64 = 16_383;
/// The largest screenshot side a caller may ask for.
pub const MAX_SCREENSHOT_SIDE: i64 = 7_680;
/// The smallest screenshot side a caller may ask for.
pub const MIN_SCREENSHOT_SIDE: i64 = 16;
/// The screenshot size and JPEG quality when none is given.
pub const DEFAULT_SCREENSHOT: (i64, i64, i64) = (1_920, 1_080, 80);
/// The largest relative pointer move, in mickeys, either way.
pub const MAX_MICKEYS: i64 = 32_767;
/// The most wheel steps of one scroll, either way.
pub const MAX_SCROLL: i64 = 1_000;

/// Milliseconds between typed keys.
pub type KeyDelayMs = Bounded<0, MAX_KEY_DELAY_MS>;
/// Milliseconds a power cycle keeps the machine off.
pub type OffDurationMs = Bounded<MIN_OFF_DURATION_MS, MAX_OFF_DURATION_MS>;
/// A relative pointer move.
pub type Mickeys = Bounded<{ -MAX_MICKEYS }, MAX_MICKEYS>;
/// Wheel steps.
pub type ScrollSteps = Bounded<{ -MAX_SCROLL }, MAX_SCROLL>;
/// A pixel coordinate on the screen the caller saw.
pub type Pixel = Bounded<0, MAX_PIXEL>;
/// A screenshot side in pixels.
pub type ScreenshotSide = Bounded<MIN_SCREENSHOT_SIDE, MAX_SCREENSHOT_SIDE>;
/// JPEG quality, 1 (smallest) to 100 (best).
pub type JpegQuality = Bounded<1, 100>;

/// A tool that takes no arguments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `nanokvm_send_text`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendTextArgs {
    /// The text to type. `\n` is Enter and `\t` is Tab; a `\r` before `\n` is dropped.
    pub text: Text,
    /// The firmware paste map: `us`, `de` or `fr`. Default: the target's layout when
    /// the firmware has a map for it, else `us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "PasteLanguage")]
    pub language: Option<PasteLanguage>,
    /// Type the rest when the paste map lacks some characters (the firmware skips
    /// them). Off by default: such text is refused before anything is typed.
    #[serde(default)]
    pub skip_unsupported: bool,
}

/// `nanokvm_type_text`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeTextArgs {
    /// The text to type. `\n` is Enter and `\t` is Tab; `\r\n` is one Enter.
    pub text: Text,
    /// The keyboard layout the text is encoded for. Default: the target's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "LayoutName")]
    pub layout: Option<LayoutName>,
    /// Pause after each key stroke, in milliseconds.
    #[serde(default = "zero_delay")]
    #[schemars(default = "zero_delay")]
    pub delay_ms: KeyDelayMs,
}

fn zero_delay() -> KeyDelayMs {
    bounded(0)
}

/// `nanokvm_send_key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendKeyArgs {
    /// A key name (`enter`, `esc`, `f2`, `delete`, `up`), a chord (`ctrl+alt+delete`),
    /// one character typed by its key on the target's layout, or chords separated by
    /// spaces, tapped in turn (`ctrl+a ctrl+k`, `down down enter`).
    pub key: KeyName,
    /// Hold Ctrl too.
    #[serde(default)]
    pub ctrl: bool,
    /// Hold Shift too.
    #[serde(default)]
    pub shift: bool,
    /// Hold Alt too.
    #[serde(default)]
    pub alt: bool,
    /// Hold Meta (Windows, Command) too.
    #[serde(default)]
    pub meta: bool,
}

/// `nanokvm_screenshot`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreenshotArgs {
    /// The widest image to return, in pixels; a larger screen is scaled down to fit,
    /// keeping its aspect ratio.
    #[serde(default = "default_width")]
    #[schemars(default = "default_width")]
    pub max_width: ScreenshotSide,
    /// The tallest image to return, in pixels.
    #[serde(default = "default_height")]
    #[schemars(default = "default_height")]
    pub max_height: ScreenshotSide,
    /// JPEG quality of a scaled image (an image that fits is returned as captured).
    #[serde(default = "default_quality")]
    #[schemars(default = "default_quality")]
    pub quality: JpegQuality,
    /// Only this rectangle of the screen, to read small text or look closer: in pixels
    /// of the last screenshot, like pointer positions. Pointer positions of later calls
    /// are then pixels of the cropped image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<Crop>,
}

/// A rectangle of the screen as the last screenshot showed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crop {
    /// Pixels from the left edge.
    pub x: Pixel,
    /// Pixels from the top edge.
    pub y: Pixel,
    /// Width in pixels.
    pub width: CropSide,
    /// Height in pixels.
    pub height: CropSide,
}

/// The side of a crop rectangle.
pub type CropSide = Bounded<1, MAX_PIXEL>;

fn default_width() -> ScreenshotSide {
    bounded(DEFAULT_SCREENSHOT.0)
}

fn default_height() -> ScreenshotSide {
    bounded(DEFAULT_SCREENSHOT.1)
}

fn default_quality() -> JpegQuality {
    bounded(DEFAULT_SCREENSHOT.2)
}

impl Default for ScreenshotArgs {
    fn default() -> Self {
        Self {
            max_width: default_width(),
            max_height: default_height(),
            quality: default_quality(),
            crop: None,
        }
    }
}

/// A default that is in range by construction.
fn bounded<const MIN: i64, const MAX: i64>(n: i64) -> Bounded<MIN, MAX> {
    Bounded::new(n).unwrap_or_else(|| unreachable!("defaults are in range"))
}

/// `nanokvm_send_keys`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendKeysArgs {
    /// Chords by name, tapped in turn: `ctrl+alt+delete`, `ctrl+a ctrl+c`, `win+r`,
    /// `down down enter`, `f2`.
    pub keys: KeyName,
}

/// The power state `nanokvm_power_ensure` brings the machine to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    /// Running (the power LED lit).
    On,
    /// Shut down (the power LED dark).
    Off,
}

/// The NanoKVM's USB gadget mode, for `nanokvm_set_hid_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HidModeName {
    /// Keyboard, mouse, touchpad and the virtual CD-ROM and disk.
    Normal,
    /// Keyboard and mouse only, for firmware setups (BIOS, UEFI) that reject the
    /// composite device; no virtual media.
    #[serde(alias = "hid-only")]
    HidOnly,
}

impl HidModeName {
    /// The argument value: `normal` or `hid_only`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::HidOnly => "hid_only",
        }
    }
}

impl From<nanokvm_client::api::hid::HidMode> for HidModeName {
    fn from(mode: nanokvm_client::api::hid::HidMode) -> Self {
        use nanokvm_client::api::hid::HidMode;
        match mode {
            HidMode::Normal => Self::Normal,
            HidMode::HidOnly => Self::HidOnly,
        }
    }
}

impl From<HidModeName> for nanokvm_client::api::hid::HidMode {
    fn from(mode: HidModeName) -> Self {
        match mode {
            HidModeName::Normal => Self::Normal,
            HidModeName::HidOnly => Self::HidOnly,
        }
    }
}

/// `nanokvm_set_hid_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetHidModeArgs {
    /// The mode wanted. Switching reboots the NanoKVM (not the target machine); asking
    /// for the mode it is already in changes nothing.
    pub mode: HidModeName,
}

/// The longest wait of `nanokvm_power_ensure` and `nanokvm_wait_for_screen`, in
/// milliseconds.
pub const MAX_WAIT_MS: i64 = 600_000;
/// Milliseconds a tool waits for the machine or its screen.
pub type WaitMs = Bounded<100, MAX_WAIT_MS>;

/// `nanokvm_power_ensure`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerEnsureArgs {
    /// The state wanted: `on` presses power if the machine is off; `off` presses it
    /// (a clean shutdown by the operating system) if the machine is on.
    pub state: PowerState,
    /// How long to wait for the power LED to show the state, in milliseconds.
    #[serde(default = "minute")]
    #[schemars(default = "minute")]
    pub timeout_ms: WaitMs,
}

fn minute() -> WaitMs {
    bounded(60_000)
}

/// What `nanokvm_wait_for_screen` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScreenWait {
    /// Until the screen differs from what it showed when the call started.
    Changed,
    /// Until the screen has not changed for `stable_ms`.
    Stable,
}

/// `nanokvm_wait_for_screen`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForScreenArgs {
    /// What to wait for.
    pub until: ScreenWait,
    /// For `stable`: how long the screen must stay unchanged, in milliseconds.
    #[serde(default = "second")]
    #[schemars(default = "second")]
    pub stable_ms: WaitMs,
    /// The longest wait, in milliseconds; the screenshot then shows where it stopped.
    #[serde(default = "half_minute")]
    #[schemars(default = "half_minute")]
    pub timeout_ms: WaitMs,
}

fn second() -> WaitMs {
    bounded(1_000)
}

fn half_minute() -> WaitMs {
    bounded(30_000)
}

/// A point on the screen, in pixels of the screen as the caller last saw it (the last
/// screenshot it took, or the configured screen size).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Pixels from the left edge.
    pub x: Pixel,
    /// Pixels from the top edge.
    pub y: Pixel,
}

/// `nanokvm_move_relative`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRelativeArgs {
    /// Horizontal move in mickeys, positive to the right.
    pub dx: Mickeys,
    /// Vertical move in mickeys, positive downwards.
    pub dy: Mickeys,
}

/// `nanokvm_click`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickArgs {
    /// The button.
    #[serde(default)]
    pub button: MouseButton,
    /// Move here first: pixels from the left edge; give `y` with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Pixel")]
    pub x: Option<Pixel>,
    /// Move here first: pixels from the top edge; give `x` with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Pixel")]
    pub y: Option<Pixel>,
    /// Click twice.
    #[serde(default)]
    pub double: bool,
}

/// `nanokvm_drag`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DragArgs {
    /// Where the button goes down.
    pub from: Point,
    /// Where it is released.
    pub to: Point,
    /// The button held.
    #[serde(default)]
    pub button: MouseButton,
}

/// `nanokvm_scroll`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrollArgs {
    /// Wheel steps, not 0: positive scrolls down, negative up.
    #[schemars(extend("not" = {"const": 0}))]
    pub amount: ScrollSteps,
}

/// `nanokvm_mount_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountIsoArgs {
    /// The image's path on the device (`/data/debian.iso`).
    pub file: ImagePath,
    /// Mount as a read-only CD-ROM; `false` mounts a writable disk.
    #[serde(default = "yes")]
    #[schemars(default = "yes")]
    pub as_cdrom: bool,
}

fn yes() -> bool {
    true
}

/// `nanokvm_delete_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteIsoArgs {
    /// The image's path on the device.
    pub file: ImagePath,
}

/// The longest a download may take, in seconds.
pub const MAX_DOWNLOAD_S: i64 = 86_400;
/// Seconds a download may take.
pub type DownloadSeconds = Bounded<10, MAX_DOWNLOAD_S>;

/// `nanokvm_download_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadIsoArgs {
    /// The image's URL (`https://...`). Its host must be one the operator allows.
    pub url: ImageUrl,
    /// The image's SHA-256, checked by the device when the download ends (firmware
    /// 2.5.0 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Hex>,
    /// How long to wait for the download to finish, in seconds; the download is
    /// cancelled when it takes longer.
    #[serde(default = "hour")]
    #[schemars(default = "hour")]
    pub timeout_s: DownloadSeconds,
}

fn hour() -> DownloadSeconds {
    bounded(3_600)
}

/// `nanokvm_upload_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadIsoArgs {
    /// The ISO image to upload, relative to the operator's upload directory; its file
    /// name (letters, digits, `.`, `_`, `-`, ending in `.iso`) is kept on the device.
    pub path: UploadPath,
}

/// `nanokvm_policy_explain`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyExplainArgs {
    /// A tool to explain; without it, every tool the caller can see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Arguments of a call of `tool` to decide without running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `nanokvm_wake_on_lan`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WakeOnLanArgs {
    /// The MAC address to wake (`AA:BB:CC:DD:EE:FF`).
    pub mac: Mac,
}

/// `nanokvm_power`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerArgs {
    /// Which press.
    #[serde(default = "short_press")]
    #[schemars(default = "short_press")]
    pub action: PowerPress,
}

fn short_press() -> PowerPress {
    PowerPress::Power
}

/// `nanokvm_power_cycle`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerCycleArgs {
    /// How long the machine stays off, in milliseconds.
    #[serde(default = "default_off")]
    #[schemars(default = "default_off")]
    pub off_duration_ms: OffDurationMs,
}

fn default_off() -> OffDurationMs {
    bounded(DEFAULT_OFF_DURATION_MS)
}
