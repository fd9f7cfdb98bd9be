//! What every tool returns, one struct each: the gate builds these from what the device
//! answered, and their JSON Schemas are the tools' output schemas, so a result always
//! has the shape its schema says. Field doc comments are the descriptions.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::args::{HidModeName, OffDurationMs, Point, PowerState, ScreenWait};
use super::values::{ImageUrl, MouseButton, PowerPress};

/// A result that says only that the action was done (`{"reset": true}`).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ResetOutput {
    /// Always true: the reset was done.
    pub reset: bool,
}

/// `nanokvm_hid_mode`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct HidModeOutput {
    /// The USB gadget mode the NanoKVM is in.
    pub mode: HidModeName,
}

/// `nanokvm_set_hid_mode`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct SetHidModeOutput {
    /// The mode asked for, which the NanoKVM is in or is rebooting into.
    pub mode: HidModeName,
    /// The mode before the call.
    pub previous: HidModeName,
    /// Whether the NanoKVM is rebooting into the new mode (false when it already was
    /// in it). It answers again after about a minute.
    pub rebooting: bool,
}

/// `nanokvm_info`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct InfoOutput {
    /// The network interfaces that are up.
    pub interfaces: Vec<InterfaceOutput>,
    /// The device's mDNS name (`kvm-abcd.local`), when it has one.
    pub mdns: Option<String>,
    /// The system image version.
    pub image: String,
    /// The NanoKVM application (firmware) version.
    pub application: String,
}

/// One network interface of the device.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct InterfaceOutput {
    /// Its name (`eth0`, `wlan0`).
    pub name: String,
    /// Its IPv4 address.
    pub address: String,
    /// `wired`, `wireless`, or what the firmware says.
    pub kind: String,
}

/// `nanokvm_hardware`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct HardwareOutput {
    /// The board: `Alpha`, `Beta`, `PCIE`, or what the firmware says.
    pub hardware: String,
}

/// `nanokvm_led_status`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct LedOutput {
    /// Whether the power LED is lit (the machine is on).
    pub power: bool,
    /// Whether the disk LED is lit; null on boards without the disk line.
    pub hdd: Option<bool>,
}

/// `nanokvm_hdmi_status`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct HdmiOutput {
    /// Whether capture is enabled.
    pub enabled: bool,
    /// Whether an input signal is present; null on firmware that does not say.
    pub signal: Option<bool>,
    /// Seconds without viewers before capture switches off (0: never); null on
    /// firmware without the setting.
    pub idle_timeout_secs: Option<u64>,
}

/// `nanokvm_hdmi_enable` and `nanokvm_hdmi_disable`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct HdmiSwitchOutput {
    /// Whether capture is now enabled.
    pub enabled: bool,
}

/// A screenshot's metadata; the JPEG itself is the result's image.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ScreenshotOutput {
    /// Always `jpeg`.
    pub format: String,
    /// The image's width: pointer pixels of later calls refer to it.
    pub width: u32,
    /// The image's height.
    pub height: u32,
    /// The captured screen's width.
    pub source_width: u32,
    /// The captured screen's height.
    pub source_height: u32,
    /// The image's width over the screen's.
    pub scale: f64,
    /// The JPEG's size in bytes.
    pub bytes: usize,
    /// The part of the captured screen the image shows, in the screen's pixels (the
    /// whole screen unless `crop` was given).
    pub region: RegionOutput,
}

/// A rectangle of the captured screen, in its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, JsonSchema)]
pub struct RegionOutput {
    /// Pixels from the left edge.
    pub x: u32,
    /// Pixels from the top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// `nanokvm_wait_for_screen`: the screenshot it stopped on, and how the wait went.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct WaitForScreenOutput {
    /// The screenshot.
    #[serde(flatten)]
    pub shot: ScreenshotOutput,
    /// What was waited for.
    pub until: ScreenWait,
    /// Whether it happened before the timeout.
    pub reached: bool,
    /// How long the wait took, in milliseconds.
    pub waited_ms: u64,
}

/// `nanokvm_list_images`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ImagesOutput {
    /// The images stored on the device (`/data/debian.iso`).
    pub images: Vec<String>,
}

/// `nanokvm_mounted_image`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct MountedOutput {
    /// The mounted image, null when none is.
    pub file: Option<String>,
    /// Whether it is presented as a CD-ROM; null on firmware without CD-ROM mode.
    pub cdrom: Option<bool>,
}

/// `nanokvm_keyboard_leds`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct KeyboardLedsOutput {
    /// Whether the target has set its LEDs since the NanoKVM started; the rest is null
    /// until it has.
    pub known: bool,
    /// Num Lock.
    pub num_lock: Option<bool>,
    /// Caps Lock.
    pub caps_lock: Option<bool>,
    /// Scroll Lock.
    pub scroll_lock: Option<bool>,
    /// When the target last set them (RFC 3339).
    pub updated_at: Option<String>,
}

/// `nanokvm_send_text`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PasteOutput {
    /// Characters typed.
    pub typed: usize,
    /// Characters the NanoKVM's paste cannot type, skipped (with `skip_unsupported`).
    pub skipped: Vec<SkippedOutput>,
    /// The paste's keyboard language.
    pub language: String,
}

/// A character a paste skipped.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct SkippedOutput {
    /// The character.
    pub char: String,
    /// Its position in the text, in characters.
    pub index: usize,
}

/// `nanokvm_type_text`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TypeOutput {
    /// Characters typed.
    pub typed: usize,
    /// Key strokes sent.
    pub strokes: usize,
    /// The keyboard layout they were typed for.
    pub layout: String,
}

/// `nanokvm_send_key` and `nanokvm_send_keys`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct KeysOutput {
    /// The chords pressed, in order (`ctrl+alt+delete`).
    pub pressed: String,
}

/// The screen size pointer pixels were read in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, JsonSchema)]
pub struct FrameOutput {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// `nanokvm_move`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct MoveOutput {
    /// The pixel moved to.
    pub x: i64,
    /// The pixel moved to.
    pub y: i64,
    /// The screen the pixel was read in.
    pub screen: FrameOutput,
}

/// `nanokvm_move_relative`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct MoveRelativeOutput {
    /// Mickeys moved right (negative: left).
    pub dx: i32,
    /// Mickeys moved down (negative: up).
    pub dy: i32,
}

/// `nanokvm_click`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ClickOutput {
    /// The button clicked.
    pub clicked: MouseButton,
    /// Whether it was a double click.
    pub double: bool,
}

/// `nanokvm_tap`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct TapOutput {
    /// The pixel tapped.
    pub x: i64,
    /// The pixel tapped.
    pub y: i64,
}

/// `nanokvm_drag`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct DragOutput {
    /// Where the drag started.
    pub from: Point,
    /// Where it ended.
    pub to: Point,
    /// The button held.
    pub button: MouseButton,
}

/// `nanokvm_scroll`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ScrollOutput {
    /// Wheel steps (positive: down).
    pub scrolled: i32,
    /// `down` or `up`.
    pub direction: String,
}

/// `nanokvm_mount_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct MountOutput {
    /// The image mounted.
    pub mounted: String,
    /// Whether it is presented as a CD-ROM (else as a writable disk).
    pub cdrom: bool,
}

/// `nanokvm_unmount_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct UnmountOutput {
    /// Always true: nothing is mounted now.
    pub unmounted: bool,
}

/// `nanokvm_delete_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct DeleteOutput {
    /// The image deleted.
    pub deleted: String,
}

/// `nanokvm_download_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct DownloadOutput {
    /// The URL downloaded.
    pub downloaded: ImageUrl,
    /// Where the image is stored on the device (mount it with this path).
    pub file: String,
    /// Whether the device checked the image against the SHA-256 given.
    pub checksum_checked: bool,
    /// How long the download took, in milliseconds.
    pub waited_ms: u64,
}

/// `nanokvm_upload_iso`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct UploadOutput {
    /// Where the image is stored on the device (mount it with this path).
    pub uploaded: String,
    /// Bytes sent.
    pub bytes: u64,
    /// How long the upload took, in milliseconds.
    pub waited_ms: u64,
}

/// `nanokvm_wake_on_lan`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct WakeOutput {
    /// The MAC address the magic packet was sent for.
    pub sent_to: String,
}

/// `nanokvm_power`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PowerOutput {
    /// The press made.
    pub pressed: PowerPress,
}

/// `nanokvm_power_cycle`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PowerCycleOutput {
    /// Always true: the machine was forced off and powered on again.
    pub power_cycled: bool,
    /// How long it stayed off, in milliseconds.
    pub off_duration_ms: OffDurationMs,
}

/// `nanokvm_power_ensure`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PowerEnsureOutput {
    /// The state asked for.
    pub state: PowerState,
    /// Whether power had to be pressed (false: the machine was already there).
    pub pressed: bool,
    /// Whether the power LED showed the state before the timeout.
    pub reached: bool,
    /// How long the wait took, in milliseconds.
    pub waited_ms: u64,
    /// What to do when the state was not reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `nanokvm_policy_explain`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct ExplainOutput {
    /// The device the policy applies to.
    pub device: String,
    /// The caller (the policy's `grant`).
    pub principal: String,
    /// The policy in force.
    pub policy: PolicyOutput,
    /// Without `tool`: every tool the caller can see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<StandingOutput>>,
    /// With `tool`: where the caller stands with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<StandingOutput>,
    /// With `tool` and `arguments`: what that call would get now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallOutput>,
    /// Why `tool` cannot be explained (there is no such tool for the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The policy in force.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct PolicyOutput {
    /// Whether a policy is loaded (without one, everything is denied).
    pub loaded: bool,
    /// The policy's SHA-256, as audit records name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Where a caller stands with one tool.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct StandingOutput {
    /// The tool.
    pub tool: String,
    /// `allowed`, `conditional` (argument checks), `approval_for_some`, `approval`
    /// (a human approves every call) or `denied`.
    pub access: String,
    /// The limits its calls count against.
    pub limits: Vec<QuotaOutput>,
}

/// One limit and its use now.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct QuotaOutput {
    /// The counter.
    pub counter: String,
    /// The limit's place in the policy (a JSON Pointer).
    pub rule: String,
    /// The window (`minute`, `hour`, `sliding:300s`).
    pub window: String,
    /// Whom it is counted for: `grant`, `session`, `device` or `global`.
    pub scope: String,
    /// Its maximum per window.
    pub max: u64,
    /// Used in the current window; null when the counters cannot be read.
    pub used: Option<u64>,
    /// Left in the current window.
    pub remaining: Option<u64>,
    /// What the call explained would cost (1 per call, or its text's length).
    pub cost: u64,
}

/// What a call would get now, decided without running it.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct CallOutput {
    /// `allow`, `deny`, `approval_required`, `shadow_deny`, or `invalid_arguments`.
    pub verdict: String,
    /// The deciding rule, a JSON Pointer into the policy.
    pub rule: Option<String>,
    /// Why.
    pub message: String,
    /// For a limit: seconds until the call would fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The arguments as they would run, defaults filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}
