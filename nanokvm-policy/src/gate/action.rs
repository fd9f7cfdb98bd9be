//! The device actions the gate runs, named by the MCP tools that do them, with their
//! arguments parsed and checked before anything is decided or sent.
//!
//! One vocabulary serves every frontend: the MCP server's tools, the CLI's commands and
//! the policy rules all use these names and argument shapes. [`DeviceAction::parse`]
//! turns a tool name and JSON arguments into a typed action, refusing unknown tools,
//! unknown or mistyped arguments and out-of-range values with the argument's name;
//! [`DeviceAction::args`] gives back the canonical arguments (defaults filled in), which
//! are what the policy decides on and the audit log records, so that what is decided is
//! exactly what runs.

use std::time::Duration;

use nanokvm_hid::{Chord, Layout, MouseButtons};
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::policy::RiskClass;

/// What the catalogue says about one tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolInfo {
    /// The tool's name (`nanokvm_power`).
    pub name: &'static str,
    /// One line for people and agents.
    pub description: &'static str,
    /// The risk class a `risk` rule applies to when the policy does not name the tool.
    pub risk: RiskClass,
    /// The tool only reads.
    pub read_only: bool,
    /// Running it twice has the same effect as once.
    pub idempotent: bool,
}

const fn tool(
    name: &'static str,
    description: &'static str,
    risk: RiskClass,
    read_only: bool,
    idempotent: bool,
) -> ToolInfo {
    ToolInfo {
        name,
        description,
        risk,
        read_only,
        idempotent,
    }
}

use RiskClass::{High, Low, Medium};

/// Every device tool, in a stable order.
pub const TOOLS: &[ToolInfo] = &[
    tool(
        "nanokvm_info",
        "Device network interfaces, image and application versions.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_hardware",
        "The NanoKVM hardware kind (Alpha, Beta, PCIe, Pro).",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_led_status",
        "Power and HDD LED state of the target machine.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_hdmi_status",
        "HDMI capture state: enabled, signal, idle timeout.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_screenshot",
        "A JPEG screenshot of the target machine's screen.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_list_images",
        "Disk and CD images stored on the NanoKVM.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_mounted_image",
        "The mounted image and whether it is a CD-ROM.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_keyboard_leds",
        "Caps, Num and Scroll Lock as the target machine set them.",
        Low,
        true,
        true,
    ),
    tool(
        "nanokvm_hdmi_reset",
        "Restarts HDMI capture.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_hdmi_enable",
        "Turns HDMI capture on.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_hdmi_disable",
        "Turns HDMI capture off.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_send_text",
        "Types text with the device's paste (layouts us, de, fr).",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_type_text",
        "Types text key by key in any keyboard layout.",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_send_key",
        "Presses one key or chord (key plus ctrl, shift, alt, meta).",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_move",
        "Moves the pointer to x, y (fractions of the screen, 0 to 1).",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_move_relative",
        "Moves the pointer by dx, dy mickeys (for BIOS and boot menus).",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_click",
        "Clicks a mouse button, optionally at x, y first.",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_tap",
        "Moves to x, y and clicks the left button.",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_drag",
        "Holds a button from one point to another.",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_scroll",
        "Scrolls the wheel; positive is up.",
        Medium,
        false,
        false,
    ),
    tool(
        "nanokvm_mount_iso",
        "Mounts an image as CD-ROM (default) or as a writable disk.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_unmount_iso",
        "Unmounts the mounted image.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_wake_on_lan",
        "Sends a Wake-on-LAN packet to a MAC address.",
        Medium,
        false,
        true,
    ),
    tool(
        "nanokvm_power",
        "Presses power (short), power_long (force off) or reset.",
        High,
        false,
        false,
    ),
    tool(
        "nanokvm_power_cycle",
        "Forces power off, waits, and powers on.",
        High,
        false,
        false,
    ),
    tool(
        "nanokvm_delete_iso",
        "Deletes an image stored on the NanoKVM.",
        High,
        false,
        true,
    ),
    tool(
        "nanokvm_reset_hid",
        "Resets the USB keyboard and mouse devices.",
        High,
        false,
        true,
    ),
];

/// The catalogue entry of `name`.
#[must_use]
pub fn tool_info(name: &str) -> Option<&'static ToolInfo> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Which power button press.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    /// A short press of the power button (power on, or ask a running OS to shut down).
    Power,
    /// A long press that forces the machine off.
    PowerLong,
    /// A press of the reset button.
    Reset,
}

impl PowerAction {
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

/// A point on the screen in fractions of its width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// From 0 (left) to 1 (right).
    pub x: f64,
    /// From 0 (top) to 1 (bottom).
    pub y: f64,
}

/// One device action with checked arguments.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DeviceAction {
    /// `nanokvm_info`.
    Info,
    /// `nanokvm_hardware`.
    Hardware,
    /// `nanokvm_led_status`.
    LedStatus,
    /// `nanokvm_hdmi_status`.
    HdmiStatus,
    /// `nanokvm_screenshot`.
    Screenshot,
    /// `nanokvm_list_images`.
    ListImages,
    /// `nanokvm_mounted_image`.
    MountedImage,
    /// `nanokvm_keyboard_leds`.
    KeyboardLeds,
    /// `nanokvm_hdmi_reset`.
    HdmiReset,
    /// `nanokvm_hdmi_enable`.
    HdmiEnable,
    /// `nanokvm_hdmi_disable`.
    HdmiDisable,
    /// `nanokvm_send_text {text, language}`: the firmware's paste.
    SendText {
        /// What to type.
        text: String,
        /// The firmware's paste layout: `""` (US), `de` or `fr`.
        language: String,
    },
    /// `nanokvm_type_text {text, layout, delay_ms}`: typing over the WebSocket.
    TypeText {
        /// What to type.
        text: String,
        /// The target's layout; the gate's configured layout when `None`.
        layout: Option<Layout>,
        /// Pause between keys.
        delay: Duration,
    },
    /// `nanokvm_send_key {key, ctrl, shift, alt, meta}`.
    SendKey {
        /// The argument as given, for the canonical form.
        key: String,
        /// The chord pressed.
        chord: Chord,
        /// Modifier flags as given.
        flags: [bool; 4],
    },
    /// `nanokvm_move {x, y}`.
    Move(Point),
    /// `nanokvm_move_relative {dx, dy}`.
    MoveRelative {
        /// Horizontal mickeys, positive to the right.
        dx: i32,
        /// Vertical mickeys, positive downwards.
        dy: i32,
    },
    /// `nanokvm_click {button, x, y, double}`.
    Click {
        /// The button's name, as given (canonical lower case).
        button: String,
        /// Where to move first.
        at: Option<Point>,
        /// Click twice.
        double: bool,
    },
    /// `nanokvm_tap {x, y}`.
    Tap(Point),
    /// `nanokvm_drag {from, to, button}`.
    Drag {
        /// Start.
        from: Point,
        /// End.
        to: Point,
        /// The button held.
        button: String,
    },
    /// `nanokvm_scroll {amount}`.
    Scroll {
        /// Wheel steps; positive is up.
        amount: i32,
    },
    /// `nanokvm_mount_iso {file, as_cdrom}`.
    MountIso {
        /// The image's path on the device (`/data/debian.iso`).
        file: String,
        /// Mount as a read-only CD-ROM (default) rather than a writable disk.
        as_cdrom: bool,
    },
    /// `nanokvm_unmount_iso`.
    UnmountIso,
    /// `nanokvm_delete_iso {file}`.
    DeleteIso {
        /// The image's path on the device.
        file: String,
    },
    /// `nanokvm_wake_on_lan {mac}`.
    WakeOnLan {
        /// The MAC address, normalized to `AA:BB:CC:DD:EE:FF`.
        mac: String,
    },
    /// `nanokvm_power {action}`.
    Power(PowerAction),
    /// `nanokvm_power_cycle {off_duration_ms}`.
    PowerCycle {
        /// How long the machine stays off.
        off_for: Duration,
    },
    /// `nanokvm_reset_hid`.
    ResetHid,
}

/// The longest text one typing call may carry (a paste is further limited by the
/// firmware).
pub const MAX_TEXT_CHARS: usize = 65_536;
/// The longest pause between typed keys.
pub const MAX_KEY_DELAY: Duration = Duration::from_secs(1);
/// The longest off time of a power cycle.
pub const MAX_OFF_DURATION: Duration = Duration::from_secs(600);

impl DeviceAction {
    /// Parses a call of `tool` with `args` (a JSON object; `null` counts as `{}`) for a
    /// target whose keyboard layout is `layout` (which decides the key that types a
    /// single character given to `nanokvm_send_key`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTool`] for a name not in [`TOOLS`]; [`Error::InvalidArguments`]
    /// naming the argument for an unknown, missing, mistyped or out-of-range one.
    pub fn parse(tool: &str, args: &Value, layout: Layout) -> Result<Self, Error> {
        if tool_info(tool).is_none() {
            return Err(Error::UnknownTool {
                tool: tool.to_owned(),
            });
        }
        let mut a = Args::new(tool, args)?;
        let action = match tool {
            "nanokvm_info" => Self::Info,
            "nanokvm_hardware" => Self::Hardware,
            "nanokvm_led_status" => Self::LedStatus,
            "nanokvm_hdmi_status" => Self::HdmiStatus,
            "nanokvm_screenshot" => Self::Screenshot,
            "nanokvm_list_images" => Self::ListImages,
            "nanokvm_mounted_image" => Self::MountedImage,
            "nanokvm_keyboard_leds" => Self::KeyboardLeds,
            "nanokvm_hdmi_reset" => Self::HdmiReset,
            "nanokvm_hdmi_enable" => Self::HdmiEnable,
            "nanokvm_hdmi_disable" => Self::HdmiDisable,
            "nanokvm_unmount_iso" => Self::UnmountIso,
            "nanokvm_reset_hid" => Self::ResetHid,
            "nanokvm_send_text" => {
                let text = a.text("text")?;
                let language = a
                    .opt_str("language")?
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let language = match language.as_str() {
                    "" | "us" | "en" | "en-us" => String::new(),
                    "de" | "fr" => language,
                    _ => return Err(a.invalid("language", "must be \"\" (US), \"de\" or \"fr\"")),
                };
                Self::SendText { text, language }
            }
            "nanokvm_type_text" => {
                let text = a.text("text")?;
                let layout = match a.opt_str("layout")? {
                    None => None,
                    Some(name) => Some(
                        Layout::from_name(&name)
                            .map_err(|e| a.invalid("layout", &e.to_string()))?,
                    ),
                };
                let delay = a
                    .opt_u64("delay_ms")?
                    .map_or(Duration::ZERO, Duration::from_millis);
                if delay > MAX_KEY_DELAY {
                    return Err(a.invalid("delay_ms", "must be at most 1000"));
                }
                Self::TypeText {
                    text,
                    layout,
                    delay,
                }
            }
            "nanokvm_send_key" => {
                let key = a.str("key")?;
                let mut flags = [false; 4];
                for (flag, name) in flags.iter_mut().zip(["ctrl", "shift", "alt", "meta"]) {
                    *flag = a.opt_bool(name)?.unwrap_or(false);
                }
                let chord = crate::keystrokes::key_chord(&key, flags, layout).ok_or_else(|| {
                    a.invalid("key", "is not a key name, chord or typeable character")
                })?;
                Self::SendKey { key, chord, flags }
            }
            "nanokvm_move" => Self::Move(a.point_fields()?),
            "nanokvm_tap" => Self::Tap(a.point_fields()?),
            "nanokvm_move_relative" => {
                let dx = a.i32_in("dx", -32_767..=32_767)?;
                let dy = a.i32_in("dy", -32_767..=32_767)?;
                Self::MoveRelative { dx, dy }
            }
            "nanokvm_click" => {
                let button = a.button("button")?;
                let x = a.opt_fraction("x")?;
                let y = a.opt_fraction("y")?;
                let at = match (x, y) {
                    (Some(x), Some(y)) => Some(Point { x, y }),
                    (None, None) => None,
                    _ => return Err(a.invalid("x", "x and y must be given together")),
                };
                let double = a.opt_bool("double")?.unwrap_or(false);
                Self::Click { button, at, double }
            }
            "nanokvm_drag" => {
                let from = a.point("from")?;
                let to = a.point("to")?;
                let button = a.button("button")?;
                Self::Drag { from, to, button }
            }
            "nanokvm_scroll" => {
                let amount = a.i32_in("amount", -1000..=1000)?;
                if amount == 0 {
                    return Err(a.invalid("amount", "must not be 0"));
                }
                Self::Scroll { amount }
            }
            "nanokvm_mount_iso" => {
                let file = a.path("file")?;
                let as_cdrom = a.opt_bool("as_cdrom")?.unwrap_or(true);
                Self::MountIso { file, as_cdrom }
            }
            "nanokvm_delete_iso" => Self::DeleteIso {
                file: a.path("file")?,
            },
            "nanokvm_wake_on_lan" => {
                let mac = a.str("mac")?;
                let parsed: nanokvm_client::api::network::MacAddress = mac
                    .parse()
                    .map_err(|_| a.invalid("mac", "is not a MAC address (AA:BB:CC:DD:EE:FF)"))?;
                Self::WakeOnLan {
                    mac: parsed.to_string(),
                }
            }
            "nanokvm_power" => {
                let action = match a.str("action")?.as_str() {
                    "power" => PowerAction::Power,
                    "power_long" => PowerAction::PowerLong,
                    "reset" => PowerAction::Reset,
                    _ => {
                        return Err(
                            a.invalid("action", "must be \"power\", \"power_long\" or \"reset\"")
                        );
                    }
                };
                Self::Power(action)
            }
            "nanokvm_power_cycle" => {
                let off = a
                    .opt_u64("off_duration_ms")?
                    .map_or(Duration::from_secs(5), Duration::from_millis);
                if off > MAX_OFF_DURATION || off < Duration::from_millis(500) {
                    return Err(a.invalid("off_duration_ms", "must be from 500 to 600000"));
                }
                Self::PowerCycle { off_for: off }
            }
            _ => unreachable!("every catalogue tool is parsed above"),
        };
        a.finish()?;
        Ok(action)
    }

    /// The tool's name.
    #[must_use]
    pub fn tool(&self) -> &'static str {
        match self {
            Self::Info => "nanokvm_info",
            Self::Hardware => "nanokvm_hardware",
            Self::LedStatus => "nanokvm_led_status",
            Self::HdmiStatus => "nanokvm_hdmi_status",
            Self::Screenshot => "nanokvm_screenshot",
            Self::ListImages => "nanokvm_list_images",
            Self::MountedImage => "nanokvm_mounted_image",
            Self::KeyboardLeds => "nanokvm_keyboard_leds",
            Self::HdmiReset => "nanokvm_hdmi_reset",
            Self::HdmiEnable => "nanokvm_hdmi_enable",
            Self::HdmiDisable => "nanokvm_hdmi_disable",
            Self::SendText { .. } => "nanokvm_send_text",
            Self::TypeText { .. } => "nanokvm_type_text",
            Self::SendKey { .. } => "nanokvm_send_key",
            Self::Move(_) => "nanokvm_move",
            Self::MoveRelative { .. } => "nanokvm_move_relative",
            Self::Click { .. } => "nanokvm_click",
            Self::Tap(_) => "nanokvm_tap",
            Self::Drag { .. } => "nanokvm_drag",
            Self::Scroll { .. } => "nanokvm_scroll",
            Self::MountIso { .. } => "nanokvm_mount_iso",
            Self::UnmountIso => "nanokvm_unmount_iso",
            Self::DeleteIso { .. } => "nanokvm_delete_iso",
            Self::WakeOnLan { .. } => "nanokvm_wake_on_lan",
            Self::Power(_) => "nanokvm_power",
            Self::PowerCycle { .. } => "nanokvm_power_cycle",
            Self::ResetHid => "nanokvm_reset_hid",
        }
    }

    /// The catalogue entry.
    #[must_use]
    pub fn info(&self) -> &'static ToolInfo {
        tool_info(self.tool()).unwrap_or(&TOOLS[0])
    }

    /// The canonical arguments, defaults filled in: what the policy decides on and the
    /// audit log records. Parsing them again gives the same action.
    #[must_use]
    pub fn args(&self) -> Value {
        let point = |p: &Point| json!({"x": p.x, "y": p.y});
        match self {
            Self::Info
            | Self::Hardware
            | Self::LedStatus
            | Self::HdmiStatus
            | Self::Screenshot
            | Self::ListImages
            | Self::MountedImage
            | Self::KeyboardLeds
            | Self::HdmiReset
            | Self::HdmiEnable
            | Self::HdmiDisable
            | Self::UnmountIso
            | Self::ResetHid => json!({}),
            Self::SendText { text, language } => json!({"text": text, "language": language}),
            Self::TypeText {
                text,
                layout,
                delay,
            } => {
                let mut args = json!({"text": text, "delay_ms": millis(*delay)});
                if let Some(layout) = layout {
                    args["layout"] = json!(layout.name());
                }
                args
            }
            Self::SendKey { key, flags, .. } => json!({
                "key": key, "ctrl": flags[0], "shift": flags[1], "alt": flags[2], "meta": flags[3],
            }),
            Self::Move(p) | Self::Tap(p) => point(p),
            Self::MoveRelative { dx, dy } => json!({"dx": dx, "dy": dy}),
            Self::Click { button, at, double } => {
                let mut args = json!({"button": button, "double": double});
                if let Some(p) = at {
                    args["x"] = json!(p.x);
                    args["y"] = json!(p.y);
                }
                args
            }
            Self::Drag { from, to, button } => {
                json!({"from": point(from), "to": point(to), "button": button})
            }
            Self::Scroll { amount } => json!({"amount": amount}),
            Self::MountIso { file, as_cdrom } => json!({"file": file, "as_cdrom": as_cdrom}),
            Self::DeleteIso { file } => json!({"file": file}),
            Self::WakeOnLan { mac } => json!({"mac": mac}),
            Self::Power(action) => json!({"action": action.as_str()}),
            Self::PowerCycle { off_for } => json!({"off_duration_ms": millis(*off_for)}),
        }
    }

    /// How long the device may take, beyond the client's own request timeout.
    pub(crate) fn extra_time(&self) -> Duration {
        match self {
            Self::TypeText { text, delay, .. } => {
                let n = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
                (*delay + Duration::from_millis(5)).saturating_mul(n)
            }
            Self::PowerCycle { off_for } => *off_for + Duration::from_secs(10),
            Self::Power(PowerAction::PowerLong) => Duration::from_secs(8),
            _ => Duration::ZERO,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reads a tool's arguments one by one and refuses what is left over.
struct Args<'a> {
    tool: &'a str,
    map: Map<String, Value>,
}

impl<'a> Args<'a> {
    fn new(tool: &'a str, args: &Value) -> Result<Self, Error> {
        let map = match args {
            Value::Null => Map::new(),
            Value::Object(map) => map.clone(),
            _ => {
                return Err(Error::InvalidArguments {
                    tool: tool.to_owned(),
                    argument: String::new(),
                    message: "arguments must be a JSON object".to_owned(),
                });
            }
        };
        Ok(Self { tool, map })
    }

    fn invalid(&self, argument: &str, message: &str) -> Error {
        Error::InvalidArguments {
            tool: self.tool.to_owned(),
            argument: argument.to_owned(),
            message: message.to_owned(),
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|v| !v.is_null())
    }

    fn opt_str(&mut self, name: &str) -> Result<Option<String>, Error> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(name, "must be a string")),
        }
    }

    fn str(&mut self, name: &str) -> Result<String, Error> {
        let value = self.opt_str(name)?;
        value
            .filter(|s| !s.is_empty())
            .ok_or_else(|| self.invalid(name, "is required and must be a non-empty string"))
    }

    fn text(&mut self, name: &str) -> Result<String, Error> {
        let text = self.str(name)?;
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(self.invalid(name, "is longer than 65536 characters"));
        }
        Ok(text)
    }

    fn path(&mut self, name: &str) -> Result<String, Error> {
        let path = self.str(name)?;
        if path.contains('\0') || path.split('/').any(|part| part == "..") {
            return Err(self.invalid(name, "must not contain NUL or `..` components"));
        }
        Ok(path)
    }

    fn opt_bool(&mut self, name: &str) -> Result<Option<bool>, Error> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.invalid(name, "must be true or false")),
        }
    }

    fn opt_u64(&mut self, name: &str) -> Result<Option<u64>, Error> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(name, "must be a whole number of at least 0")),
        }
    }

    fn i32_in(&mut self, name: &str, range: std::ops::RangeInclusive<i32>) -> Result<i32, Error> {
        let value = self.take(name);
        let message = format!(
            "is required and must be a whole number from {} to {}",
            range.start(),
            range.end()
        );
        value
            .as_ref()
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| range.contains(n))
            .ok_or_else(|| self.invalid(name, &message))
    }

    fn fraction(&self, name: &str, value: Option<&Value>) -> Result<f64, Error> {
        value
            .and_then(Value::as_f64)
            .filter(|f| (0.0..=1.0).contains(f))
            .ok_or_else(|| {
                self.invalid(
                    name,
                    "must be a number from 0 to 1 (a fraction of the screen)",
                )
            })
    }

    fn opt_fraction(&mut self, name: &str) -> Result<Option<f64>, Error> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => self.fraction(name, Some(&v)).map(Some),
        }
    }

    fn point_fields(&mut self) -> Result<Point, Error> {
        let x = self.take("x");
        let x = self.fraction("x", x.as_ref())?;
        let y = self.take("y");
        let y = self.fraction("y", y.as_ref())?;
        Ok(Point { x, y })
    }

    fn point(&mut self, name: &str) -> Result<Point, Error> {
        let value = self.take(name);
        let Some(Value::Object(map)) = value else {
            return Err(self.invalid(name, "is required and must be an object {x, y}"));
        };
        if let Some(extra) = map.keys().find(|k| *k != "x" && *k != "y") {
            return Err(self.invalid(
                &format!("{name}.{extra}"),
                "is not an argument of this tool",
            ));
        }
        let x = self.fraction(&format!("{name}.x"), map.get("x"))?;
        let y = self.fraction(&format!("{name}.y"), map.get("y"))?;
        Ok(Point { x, y })
    }

    fn button(&mut self, name: &str) -> Result<String, Error> {
        let button = self.opt_str(name)?.unwrap_or_else(|| "left".to_owned());
        let lower = button.trim().to_ascii_lowercase();
        match MouseButtons::from_name(&lower) {
            Some(b) => Ok(button_name(b).to_owned()),
            None => Err(self.invalid(name, "must be left, right, middle, back or forward")),
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self.map.keys().next() {
            Some(extra) => Err(self.invalid(extra, "is not an argument of this tool")),
            None => Ok(()),
        }
    }
}

/// The canonical name of a single button.
fn button_name(b: MouseButtons) -> &'static str {
    if b == MouseButtons::RIGHT {
        "right"
    } else if b == MouseButtons::MIDDLE {
        "middle"
    } else if b == MouseButtons::BACK {
        "back"
    } else if b == MouseButtons::FORWARD {
        "forward"
    } else {
        "left"
    }
}

/// The buttons of a canonical button name.
pub(crate) fn buttons(name: &str) -> MouseButtons {
    MouseButtons::from_name(name).unwrap_or(MouseButtons::LEFT)
}
