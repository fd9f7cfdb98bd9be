//! The arguments of every tool, one struct each. Field doc comments are the argument
//! descriptions in the JSON Schemas; defaults and ranges come from the constants the
//! checks use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{
    Bounded, Fraction, ImagePath, KeyName, LayoutName, Mac, MouseButton, PasteLanguage, PowerPress,
    Text,
};

/// The longest pause between typed keys, in milliseconds.
pub const MAX_KEY_DELAY_MS: i64 = 1_000;
/// The shortest off time of a power cycle, in milliseconds.
pub const MIN_OFF_DURATION_MS: i64 = 500;
/// The longest off time of a power cycle, in milliseconds.
pub const MAX_OFF_DURATION_MS: i64 = 600_000;
/// The off time of a power cycle when none is given, in milliseconds.
pub const DEFAULT_OFF_DURATION_MS: i64 = 5_000;
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
    Bounded::new(0).unwrap_or_else(|| unreachable!("0 is in range"))
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

/// A point on the screen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// From 0 (left edge) to 1 (right edge).
    pub x: Fraction,
    /// From 0 (top edge) to 1 (bottom edge).
    pub y: Fraction,
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
    /// Move here first: from 0 (left) to 1 (right); give `y` with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Fraction")]
    pub x: Option<Fraction>,
    /// Move here first: from 0 (top) to 1 (bottom); give `x` with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Fraction")]
    pub y: Option<Fraction>,
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
    /// Wheel steps, not 0: positive scrolls up, negative down.
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
    pub action: PowerPress,
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
    Bounded::new(DEFAULT_OFF_DURATION_MS).unwrap_or_else(|| unreachable!("in range"))
}
