//! The tool catalogue: every device tool declared once, with everything derived from
//! that declaration.
//!
//! One vocabulary serves every frontend: the MCP server's tools, the CLI's commands and
//! the policy rules use these names and argument shapes. Each tool is one entry of the
//! `catalogue!` list below: its name, title, description, risk class, behaviour hints,
//! whether it types, and its arguments struct (in [`args`]). From that entry come
//! [`TOOLS`], [`DeviceAction`] and its parsing, the canonical arguments, the JSON Schema
//! of the arguments ([`ToolInfo::input_schema`]), the audit log's redaction of typed
//! text and the keystroke filter's view of what a call types ([`DeviceAction::typed_keys`]).
//!
//! [`DeviceAction::parse`] refuses unknown tools, unknown, missing or mistyped arguments
//! and out-of-range values, naming the argument (`from.x`) and what was expected.
//! [`DeviceAction::args`] gives back the canonical arguments, defaults filled in: what
//! the policy decides on and the audit log records. Parsing them again gives the same
//! action, so what is decided is exactly what runs.
//!
//! The catalogue knows nothing of MCP; the MCP server maps [`ToolInfo`] onto its tool
//! definitions.

pub mod args;
mod keys;
pub mod outputs;
pub mod values;

use std::time::Duration;

use nanokvm_hid::Keymap;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::policy::RiskClass;
use args::{
    ClickArgs, DeleteIsoArgs, DownloadIsoArgs, DragArgs, MountIsoArgs, MoveRelativeArgs, NoArgs,
    Point, PolicyExplainArgs, PowerArgs, PowerCycleArgs, PowerEnsureArgs, ScreenshotArgs,
    ScrollArgs, SendKeyArgs, SendKeysArgs, SendTextArgs, SetHidModeArgs, TypeTextArgs,
    UploadIsoArgs, WaitForScreenArgs, WakeOnLanArgs,
};
pub use keys::{MAX_CHORDS, TypedKeys};
pub use values::MAX_TEXT_CHARS;
use values::{PasteLanguage, PowerPress};

/// What a tool does to its environment, as MCP's tool annotations say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Hints {
    /// It only reads.
    pub read_only: bool,
    /// It may destroy or change something that cannot simply be put back (a forced
    /// power-off, a deleted image, a command typed into a shell).
    pub destructive: bool,
    /// Running it again with the same arguments has no further effect.
    pub idempotent: bool,
    /// It reaches beyond the device and its target machine (other hosts on the network).
    pub open_world: bool,
}

const READ: Hints = Hints {
    read_only: true,
    destructive: false,
    idempotent: true,
    open_world: false,
};
const SETTING: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
    open_world: false,
};
const INPUT: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: false,
    open_world: false,
};
const POINTER: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
    open_world: false,
};
const DESTRUCTIVE_ONCE: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
    open_world: false,
};
const NETWORK: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
    open_world: true,
};

/// What the catalogue says about one tool.
#[derive(Clone, Copy, Debug)]
pub struct ToolInfo {
    /// The tool's name (`nanokvm_power`): the action name policies, audit records, the
    /// MCP server and the CLI use.
    pub name: &'static str,
    /// A short title for people.
    pub title: &'static str,
    /// What it does, for people and agents.
    pub description: &'static str,
    /// The risk class a `risk` rule applies to when the policy does not name the tool.
    pub risk: RiskClass,
    /// Behaviour hints (read-only, destructive, idempotent, open-world).
    pub hints: Hints,
    /// It types on the target's keyboard: the keystroke filter follows it and the audit
    /// log keeps its strings as digests only.
    pub types: bool,
    schema: fn() -> Value,
    output: fn() -> Value,
}

impl PartialEq for ToolInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ToolInfo {}

impl ToolInfo {
    /// The JSON Schema (draft 2020-12, no references) of the tool's arguments object.
    #[must_use]
    pub fn input_schema(&self) -> Value {
        (self.schema)()
    }

    /// The JSON Schema (draft 2020-12, no references) of the tool's result: the JSON
    /// the gate returns ([`outputs`]).
    #[must_use]
    pub fn output_schema(&self) -> Value {
        (self.output)()
    }
}

/// The JSON Schema of `T`, inlined, without the `$schema`, `title` and `description`
/// keywords (the tool carries its own).
fn schema_of<T: JsonSchema>() -> Value {
    schema_with::<T>(SchemaSettings::draft2020_12())
}

/// The JSON Schema of `T` as it serializes (a result), like [`schema_of`].
fn output_schema_of<T: JsonSchema>() -> Value {
    schema_with::<T>(SchemaSettings::draft2020_12().for_serialize())
}

fn schema_with<T: JsonSchema>(settings: SchemaSettings) -> Value {
    let generator = settings
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    strip_number_formats(&mut schema);
    if let Some(object) = schema.as_object_mut() {
        for keyword in ["$schema", "title", "description"] {
            object.remove(keyword);
        }
        // Some MCP clients want `properties` even when there are none.
        object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    schema
}

/// Removes the integer `format`s schemars writes (`uint32`, `int64`, ...): they are not
/// JSON Schema formats, validators warn about them, and `minimum`/`maximum` already say
/// the range.
fn strip_number_formats(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("int") || f.starts_with("uint") || f == "double")
            {
                object.remove("format");
            }
            object.values_mut().for_each(strip_number_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_number_formats),
        _ => {}
    }
}

/// Declares the tools: generates [`DeviceAction`], [`TOOLS`] and the per-tool dispatch.
macro_rules! catalogue {
    ($(
        $variant:ident($args:ty) = $name:literal {
            output: $output:ident,
            title: $title:literal,
            description: $description:literal,
            risk: $risk:ident,
            hints: $hints:ident,
            types: $types:literal $(,)?
        }
    ),* $(,)?) => {
        /// One device action with checked arguments: a catalogue tool and its arguments.
        #[derive(Clone, Debug, PartialEq)]
        #[non_exhaustive]
        pub enum DeviceAction {
            $(
                #[doc = concat!("`", $name, "`: ", $description)]
                $variant($args),
            )*
        }

        /// Every device tool, in a stable order.
        pub const TOOLS: &[ToolInfo] = &[$(
            ToolInfo {
                name: $name,
                title: $title,
                description: $description,
                risk: RiskClass::$risk,
                hints: $hints,
                types: $types,
                schema: schema_of::<$args>,
                output: output_schema_of::<outputs::$output>,
            },
        )*];

        impl DeviceAction {
            /// Deserializes the arguments of the tool `name`.
            fn deserialize(name: &str, args: &Value) -> Result<Self, Error> {
                match name {
                    $( $name => from_args(name, args).map(Self::$variant), )*
                    _ => Err(Error::UnknownTool { tool: name.to_owned() }),
                }
            }

            /// The tool's name.
            #[must_use]
            pub fn tool(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )*
                }
            }

            /// The canonical arguments, defaults filled in: what the policy decides on
            /// and the audit log records. Parsing them again gives the same action.
            #[must_use]
            pub fn args(&self) -> Value {
                match self {
                    $( Self::$variant(a) => to_args(a), )*
                }
            }
        }
    };
}

catalogue! {
    Info(NoArgs) = "nanokvm_info" {
        output: InfoOutput,
        title: "Device information",
        description: "The NanoKVM's network interfaces, mDNS name, image and application versions.",
        risk: Low, hints: READ, types: false,
    },
    Hardware(NoArgs) = "nanokvm_hardware" {
        output: HardwareOutput,
        title: "Hardware kind",
        description: "The NanoKVM hardware kind (Alpha, Beta, PCIe, Pro).",
        risk: Low, hints: READ, types: false,
    },
    LedStatus(NoArgs) = "nanokvm_led_status" {
        output: LedOutput,
        title: "Power and disk LEDs",
        description: "Whether the target machine's power and HDD LEDs are lit: tells if it is on.",
        risk: Low, hints: READ, types: false,
    },
    HdmiStatus(NoArgs) = "nanokvm_hdmi_status" {
        output: HdmiOutput,
        title: "HDMI capture state",
        description: "HDMI capture state: enabled, signal present, idle timeout.",
        risk: Low, hints: READ, types: false,
    },
    Screenshot(ScreenshotArgs) = "nanokvm_screenshot" {
        output: ScreenshotOutput,
        title: "Screenshot",
        description: "A JPEG screenshot of the target machine's screen, scaled down to fit max_width by max_height. Pointer coordinates of later calls are pixels of the last screenshot taken.",
        risk: Low, hints: READ, types: false,
    },
    ListImages(NoArgs) = "nanokvm_list_images" {
        output: ImagesOutput,
        title: "List images",
        description: "The disk and CD images stored on the NanoKVM, by path.",
        risk: Low, hints: READ, types: false,
    },
    MountedImage(NoArgs) = "nanokvm_mounted_image" {
        output: MountedOutput,
        title: "Mounted image",
        description: "The image mounted for the target machine, and whether as a CD-ROM.",
        risk: Low, hints: READ, types: false,
    },
    KeyboardLeds(NoArgs) = "nanokvm_keyboard_leds" {
        output: KeyboardLedsOutput,
        title: "Keyboard LEDs",
        description: "Caps, Num and Scroll Lock as the target machine set them.",
        risk: Low, hints: READ, types: false,
    },
    WaitForScreen(WaitForScreenArgs) = "nanokvm_wait_for_screen" {
        output: WaitForScreenOutput,
        title: "Wait for the screen",
        description: "Waits until the screen changes, or until it has stopped changing, and returns the screenshot it stopped on: for waiting on installers and boots without polling.",
        risk: Low, hints: READ, types: false,
    },
    HdmiReset(NoArgs) = "nanokvm_hdmi_reset" {
        output: ResetOutput,
        title: "Restart HDMI capture",
        description: "Restarts HDMI capture, for a frozen or black picture.",
        risk: Medium, hints: SETTING, types: false,
    },
    HdmiEnable(NoArgs) = "nanokvm_hdmi_enable" {
        output: HdmiSwitchOutput,
        title: "Turn HDMI capture on",
        description: "Turns HDMI capture on.",
        risk: Medium, hints: SETTING, types: false,
    },
    HdmiDisable(NoArgs) = "nanokvm_hdmi_disable" {
        output: HdmiSwitchOutput,
        title: "Turn HDMI capture off",
        description: "Turns HDMI capture off.",
        risk: Medium, hints: SETTING, types: false,
    },
    SendText(SendTextArgs) = "nanokvm_send_text" {
        output: PasteOutput,
        title: "Paste text",
        description: "Types text with the NanoKVM's own paste (maps us, de, fr; up to 833 characters). Text the map cannot type is refused unless skip_unsupported is set.",
        risk: Medium, hints: INPUT, types: true,
    },
    TypeText(TypeTextArgs) = "nanokvm_type_text" {
        output: TypeOutput,
        title: "Type text",
        description: "Types text key by key for the target's keyboard layout (19 layouts, dead keys and AltGr included).",
        risk: Medium, hints: INPUT, types: true,
    },
    SendKey(SendKeyArgs) = "nanokvm_send_key" {
        output: KeysOutput,
        title: "Press a key",
        description: "Presses and releases a key or chord (enter, esc, f2, ctrl+alt+delete), or several in turn (down down enter), optionally with ctrl, shift, alt or meta held.",
        risk: Medium, hints: INPUT, types: true,
    },
    SendKeys(SendKeysArgs) = "nanokvm_send_keys" {
        output: KeysOutput,
        title: "Press keys",
        description: "Presses chords and key sequences by name: ctrl+alt+delete, ctrl+a ctrl+c, win+r, down down enter.",
        risk: Medium, hints: INPUT, types: true,
    },
    Move(Point) = "nanokvm_move" {
        output: MoveOutput,
        title: "Move the pointer",
        description: "Moves the pointer to pixel x, y of the screen as last seen in a screenshot.",
        risk: Medium, hints: POINTER, types: false,
    },
    MoveRelative(MoveRelativeArgs) = "nanokvm_move_relative" {
        output: MoveRelativeOutput,
        title: "Move the pointer by",
        description: "Moves the pointer by dx, dy mickeys, for firmware setup screens and boot menus that ignore absolute positions.",
        risk: Medium, hints: POINTER, types: false,
    },
    Click(ClickArgs) = "nanokvm_click" {
        output: ClickOutput,
        title: "Click",
        description: "Clicks a mouse button (left by default), optionally moving to pixel x, y first, optionally twice.",
        risk: Medium, hints: INPUT, types: false,
    },
    Tap(Point) = "nanokvm_tap" {
        output: TapOutput,
        title: "Tap",
        description: "Moves to pixel x, y and clicks the left button.",
        risk: Medium, hints: INPUT, types: false,
    },
    Drag(DragArgs) = "nanokvm_drag" {
        output: DragOutput,
        title: "Drag",
        description: "Holds a mouse button from one point to another.",
        risk: Medium, hints: INPUT, types: false,
    },
    Scroll(ScrollArgs) = "nanokvm_scroll" {
        output: ScrollOutput,
        title: "Scroll",
        description: "Turns the mouse wheel by a number of steps; positive scrolls down, negative up.",
        risk: Medium, hints: POINTER, types: false,
    },
    MountIso(MountIsoArgs) = "nanokvm_mount_iso" {
        output: MountOutput,
        title: "Mount an image",
        description: "Mounts an image stored on the NanoKVM as a CD-ROM (default) or as a writable disk.",
        risk: Medium, hints: SETTING, types: false,
    },
    DownloadIso(DownloadIsoArgs) = "nanokvm_download_iso" {
        output: DownloadOutput,
        title: "Download an image",
        description: "Has the NanoKVM download an image from a URL into its storage (hosts the operator allows only), optionally checked against a SHA-256, and waits until it is done, reporting progress.",
        risk: Medium, hints: NETWORK, types: false,
    },
    UploadIso(UploadIsoArgs) = "nanokvm_upload_iso" {
        output: UploadOutput,
        title: "Upload an image",
        description: "Uploads an ISO image from the operator's upload directory on this computer into the NanoKVM's storage, reporting progress.",
        risk: Medium, hints: SETTING, types: false,
    },
    UnmountIso(NoArgs) = "nanokvm_unmount_iso" {
        output: UnmountOutput,
        title: "Unmount the image",
        description: "Unmounts the mounted image.",
        risk: Medium, hints: DESTRUCTIVE_ONCE, types: false,
    },
    WakeOnLan(WakeOnLanArgs) = "nanokvm_wake_on_lan" {
        output: WakeOutput,
        title: "Wake-on-LAN",
        description: "Sends a Wake-on-LAN magic packet for a MAC address from the NanoKVM.",
        risk: Medium, hints: NETWORK, types: false,
    },
    Power(PowerArgs) = "nanokvm_power" {
        output: PowerOutput,
        title: "Press power or reset",
        description: "Presses the target's power button (power, the default: a short press; power_long: forced off) or its reset button.",
        risk: High, hints: INPUT, types: false,
    },
    PowerCycle(PowerCycleArgs) = "nanokvm_power_cycle" {
        output: PowerCycleOutput,
        title: "Power cycle",
        description: "Forces the target off, waits off_duration_ms, and powers it on again.",
        risk: High, hints: INPUT, types: false,
    },
    PowerEnsure(PowerEnsureArgs) = "nanokvm_power_ensure" {
        output: PowerEnsureOutput,
        title: "Power on or off",
        description: "Brings the machine to the power state asked for: presses power only when it is not there yet (off = a clean shutdown by the OS), then waits for the power LED, and says what it saw.",
        risk: High, hints: DESTRUCTIVE_ONCE, types: false,
    },
    DeleteIso(DeleteIsoArgs) = "nanokvm_delete_iso" {
        output: DeleteOutput,
        title: "Delete an image",
        description: "Deletes an image stored on the NanoKVM.",
        risk: High, hints: DESTRUCTIVE_ONCE, types: false,
    },
    PolicyExplain(PolicyExplainArgs) = "nanokvm_policy_explain" {
        output: ExplainOutput,
        title: "Explain the policy",
        description: "Says what the policy in force lets you do: per tool whether it is allowed, needs approval or is refused, with what is left of each limit; given a tool and arguments, what that call would get, without running it.",
        risk: Low, hints: READ, types: false,
    },
    HidMode(NoArgs) = "nanokvm_hid_mode" {
        output: HidModeOutput,
        title: "USB gadget mode",
        description: "The NanoKVM's USB mode: normal (keyboard, mouse and virtual media) or hid_only (keyboard and mouse only, for picky BIOSes).",
        risk: Low, hints: READ, types: false,
    },
    SetHidMode(SetHidModeArgs) = "nanokvm_set_hid_mode" {
        output: SetHidModeOutput,
        title: "Set the USB gadget mode",
        description: "Switches the NanoKVM between normal USB mode (keyboard, mouse, virtual media) and hid_only (keyboard and mouse only, for BIOSes that reject the composite device). Switching reboots the NanoKVM, which is unreachable for about a minute; the target machine keeps running.",
        risk: High, hints: SETTING, types: false,
    },
    ResetHid(NoArgs) = "nanokvm_reset_hid" {
        output: ResetOutput,
        title: "Reset keyboard and mouse",
        description: "Resets the NanoKVM's USB keyboard and mouse devices.",
        risk: High, hints: SETTING, types: false,
    },
}

/// The catalogue entry of `name`.
#[must_use]
pub fn tool_info(name: &str) -> Option<&'static ToolInfo> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Whether `name` is a catalogue tool that types.
#[must_use]
pub fn types(name: &str) -> bool {
    tool_info(name).is_some_and(|t| t.types)
}

/// The longest pause between typed keys.
pub const MAX_KEY_DELAY: Duration = Duration::from_millis(args::MAX_KEY_DELAY_MS.unsigned_abs());
/// The longest off time of a power cycle.
pub const MAX_OFF_DURATION: Duration =
    Duration::from_millis(args::MAX_OFF_DURATION_MS.unsigned_abs());

impl DeviceAction {
    /// Parses a call of `tool` with `args` (a JSON object; `null`, and `null` values,
    /// count as absent) for a target whose keyboard layout and operating system are
    /// `keymap` (a bare `Layout` means Windows): it fills in the defaults that depend on
    /// the target (the paste map, the typing layout) and checks that a typing call can
    /// be typed as asked.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTool`] for a name not in [`TOOLS`]; [`Error::InvalidArguments`]
    /// naming the argument for an unknown, missing, mistyped or out-of-range one, and
    /// for text that cannot be typed.
    pub fn parse(tool: &str, args: &Value, keymap: impl Into<Keymap>) -> Result<Self, Error> {
        let keymap = keymap.into();
        let mut action = Self::deserialize(tool, &without_nulls(tool, args)?)?;
        action.complete(keymap)?;
        action.typed_keys(keymap)?;
        Ok(action)
    }

    /// The catalogue entry.
    #[must_use]
    pub fn info(&self) -> &'static ToolInfo {
        tool_info(self.tool()).unwrap_or_else(|| unreachable!("every action is in TOOLS"))
    }

    /// Fills in the defaults that depend on the target and checks what one argument
    /// alone cannot.
    fn complete(&mut self, keymap: Keymap) -> Result<(), Error> {
        let tool = self.tool();
        match self {
            Self::SendText(a) => {
                a.language
                    .get_or_insert(PasteLanguage::for_layout(keymap.layout));
            }
            Self::TypeText(a) => {
                a.layout.get_or_insert(values::LayoutName(keymap.layout));
            }
            Self::Click(a) if a.x.is_some() != a.y.is_some() => {
                let missing = if a.x.is_none() { "x" } else { "y" };
                return Err(invalid(tool, missing, "x and y must be given together"));
            }
            Self::Scroll(a) if a.amount.get() == 0 => {
                return Err(invalid(tool, "amount", "must not be 0"));
            }
            _ => {}
        }
        Ok(())
    }

    /// What the call types, for a target whose layout and system are `keymap`: the exact keyboard
    /// reports the target will receive, or `None` for a tool that does not type. The
    /// gate sends these (or, for a paste, has the firmware send them) and the keystroke
    /// filter decodes these, so what is checked is what is typed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] for text the paste map or the layout cannot type, or
    /// a key that is neither a key name, a chord nor a character of one key.
    pub fn typed_keys(&self, keymap: impl Into<Keymap>) -> Result<Option<TypedKeys>, Error> {
        keys::typed_keys(self, keymap.into())
    }

    /// Checks that the pointer coordinates lie on a screen of `frame` (the frame the
    /// caller's pixels refer to).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] naming the coordinate off the screen.
    pub fn check_frame(&self, frame: crate::gate::ScreenSize) -> Result<(), Error> {
        let mut points: Vec<(&str, i64, i64)> = Vec::new();
        match self {
            Self::Move(p) | Self::Tap(p) => points.push(("", p.x.get(), p.y.get())),
            Self::Click(a) => {
                if let (Some(x), Some(y)) = (a.x, a.y) {
                    points.push(("", x.get(), y.get()));
                }
            }
            Self::Drag(a) => {
                points.push(("from.", a.from.x.get(), a.from.y.get()));
                points.push(("to.", a.to.x.get(), a.to.y.get()));
            }
            _ => {}
        }
        for (prefix, x, y) in points {
            for (axis, value, size, side) in [
                ("x", x, frame.width, "wide"),
                ("y", y, frame.height, "high"),
            ] {
                if value >= i64::from(size) {
                    return Err(invalid(
                        self.tool(),
                        &format!("{prefix}{axis}"),
                        &format!(
                            "{value} is off the screen, which is {size} pixels {side} \
                             (the last screenshot's size; pixels count from 0)"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// How long the device may take, beyond the client's own request timeout.
    pub(crate) fn extra_time(&self) -> Duration {
        match self {
            Self::TypeText(a) => {
                let delay = Duration::from_millis(a.delay_ms.get().unsigned_abs());
                // An upper bound: a character takes at most a few strokes.
                let n = u32::try_from(a.text.as_str().chars().count().saturating_mul(3))
                    .unwrap_or(u32::MAX);
                (delay + Duration::from_millis(5)).saturating_mul(n)
            }
            Self::PowerCycle(a) => {
                Duration::from_millis(a.off_duration_ms.get().unsigned_abs())
                    + Duration::from_secs(10)
            }
            Self::PowerEnsure(a) => Duration::from_millis(a.timeout_ms.get().unsigned_abs()),
            Self::DownloadIso(a) => Duration::from_secs(a.timeout_s.get().unsigned_abs()),
            // An image of a few GiB over a slow link.
            Self::UploadIso(_) => Duration::from_secs(3 * 3_600),
            Self::WaitForScreen(a) => Duration::from_millis(a.timeout_ms.get().unsigned_abs()),
            Self::Power(PowerArgs {
                action: PowerPress::PowerLong,
            }) => Duration::from_secs(8),
            _ => Duration::ZERO,
        }
    }
}

fn invalid(tool: &str, argument: &str, message: &str) -> Error {
    Error::InvalidArguments {
        tool: tool.to_owned(),
        argument: argument.to_owned(),
        message: message.to_owned(),
    }
}

/// The arguments object with `null` members removed (an absent optional argument).
fn without_nulls(tool: &str, args: &Value) -> Result<Value, Error> {
    if tool_info(tool).is_none() {
        return Err(Error::UnknownTool {
            tool: tool.to_owned(),
        });
    }
    match args {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(map) => Ok(Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
        _ => Err(invalid(tool, "", "arguments must be a JSON object")),
    }
}

/// Deserializes one tool's arguments, naming the argument a mistake is in.
fn from_args<T: DeserializeOwned>(tool: &str, args: &Value) -> Result<T, Error> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let mut argument = if path == "." { String::new() } else { path };
        let mut message = e.inner().to_string();
        // serde names the field in the message for these two; move it to the path.
        for (prefix, said) in [
            ("unknown field `", "is not an argument of this tool"),
            ("missing field `", "is required"),
        ] {
            if let Some(rest) = message.strip_prefix(prefix) {
                if let Some((field, tail)) = rest.split_once('`') {
                    // The path names an unknown field already, not a missing one.
                    if !(argument == field || argument.ends_with(&format!(".{field}"))) {
                        if !argument.is_empty() {
                            argument.push('.');
                        }
                        argument.push_str(field);
                    }
                    let tail = tail.trim_start_matches(',').trim();
                    message = if tail.is_empty() || tail == "there are no fields" {
                        said.to_owned()
                    } else {
                        format!("{said}; {tail}")
                    };
                }
                break;
            }
        }
        Error::InvalidArguments {
            tool: tool.to_owned(),
            argument,
            message,
        }
    })
}

fn to_args<T: Serialize>(args: &T) -> Value {
    serde_json::to_value(args).unwrap_or_else(|_| unreachable!("arguments always serialize"))
}
