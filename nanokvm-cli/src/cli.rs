//! The command line, declared with clap's derive API: global options (which device,
//! which policy, how to print) and one subcommand per thing the tool does.
//!
//! Device commands are described here and nowhere else; [`crate::actions`] maps each one
//! onto a catalogue tool and its JSON arguments.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The text after `--help`: examples and the exit codes.
const AFTER_HELP: &str = "\
Examples:
  nanokvm --sim info                           try it against a simulated NanoKVM
  nanokvm --host 192.168.1.50 power on         (password from NANOKVM_PASS, or a prompt)
  nanokvm -d lab type --layout de 'Grüße'      a device from the config file
  echo 'ls -l' | nanokvm type -                type what stdin holds (a newline is Enter)
  nanokvm key ctrl+alt+delete                  a chord; `key ctrl+a ctrl+c` taps two
  nanokvm screenshot -o screen.jpg
  nanokvm --policy lab.json run install.nkvm   a script, under a policy
  nanokvm --json power status | jq .power

Exit codes:
  0  success
  1  failure (the device refused, a file could not be read, a wait ran out)
  2  usage error (bad arguments, unknown device, text a layout cannot type)
  3  denied by the policy (or approval was not given); nothing was sent
  4  device unreachable (connection refused, timeout, TLS)
  5  authentication failed (wrong user or password)
  6  not supported by this device's firmware";

/// Drive a Sipeed NanoKVM from a shell: keyboard, mouse, power, screen and virtual
/// media, every action decided, counted and audited by a policy.
#[derive(Parser, Debug)]
#[command(name = "nanokvm", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes: the device, the policy, the output.
#[derive(Args, Clone, Debug, Default)]
pub struct Global {
    /// Print one JSON document (JSON lines for scripts) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress and no notes on stderr; errors still go there.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The device to use, by its name in the config file (default: the file's first).
    #[arg(
        long,
        short,
        global = true,
        env = "NANOKVM_DEVICE",
        value_name = "NAME"
    )]
    pub device: Option<String>,
    /// The device config file (default: nanokvm/config.toml in the XDG config directory).
    #[arg(long, global = true, env = "NANOKVM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A NanoKVM not in the config file: host, host:port or URL.
    #[arg(long, global = true, env = "NANOKVM_HOST", conflicts_with = "device")]
    pub host: Option<String>,
    /// The account on --host (default admin).
    #[arg(long, global = true, env = "NANOKVM_USER")]
    pub user: Option<String>,
    /// Read --host's password from this environment variable (default NANOKVM_PASS).
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read --host's password from the first line of this file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "password_env"
    )]
    pub password_file: Option<PathBuf>,
    /// Use HTTPS for a --host without a scheme.
    #[arg(long, global = true, env = "NANOKVM_HTTPS")]
    pub https: bool,
    /// Trust exactly the certificate with this SHA-256 fingerprint (`sha256:...`).
    #[arg(
        long,
        global = true,
        env = "NANOKVM_TLS_FINGERPRINT",
        value_name = "FP"
    )]
    pub tls_fingerprint: Option<String>,
    /// `false` trusts the certificate an https device presents now and prints its
    /// fingerprint, to pin with --tls-fingerprint
    #[arg(
        long,
        global = true,
        env = "NANOKVM_VERIFY_SSL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL",
        hide_default_value = true
    )]
    pub verify_ssl: bool,
    /// Trust certificates signed by the CA in this PEM file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "tls_fingerprint"
    )]
    pub ca_file: Option<PathBuf>,
    /// The target machine's keyboard layout (`us`, `de`, `fr`, ... 19 in all); overrides
    /// the device's.
    #[arg(long, global = true, env = "NANOKVM_LAYOUT", value_name = "LAYOUT")]
    pub target_layout: Option<String>,
    /// The target's operating system, which decides what its layout types: `windows` or
    /// `linux`; overrides the device's.
    #[arg(long, global = true, env = "NANOKVM_TARGET_OS", value_name = "OS")]
    pub target_os: Option<String>,
    /// Run against a simulated NanoKVM started in this process, to try things out.
    #[arg(long, global = true, conflicts_with_all = ["host", "device"])]
    pub sim: bool,
    /// The policy file (JSON, or YAML for .yaml/.yml) for a device whose config names
    /// none. Without one, every action is allowed, and still audited.
    #[arg(long, global = true, env = "NANOKVM_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Where counters, approvals and audit logs live (shared with nanokvm-mcp).
    #[arg(long, global = true, env = "NANOKVM_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The audit log (default: audit-cli-DEVICE.jsonl in the state directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// How long an action that needs approval waits for one (a prompt on a terminal,
    /// or `nanokvm approvals approve ID` from another).
    #[arg(long, global = true, value_parser = duration, value_name = "DURATION")]
    pub approval_timeout: Option<Duration>,
    /// The principal actions are counted and audited as (the policy's `grant` scope).
    #[arg(long, global = true, env = "NANOKVM_GRANT", value_name = "NAME")]
    pub grant: Option<String>,
    /// A host the device may download images from (repeat it, or separate hosts with
    /// commas; `*.example.org` covers a domain), on top of the device's download_hosts.
    #[arg(
        long = "download-host",
        global = true,
        env = "NANOKVM_DOWNLOAD_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub download_hosts: Vec<String>,
    /// The directory `iso upload` reads images from; overrides the device's upload_dir.
    #[arg(long, global = true, env = "NANOKVM_UPLOAD_DIR", value_name = "DIR")]
    pub upload_dir: Option<PathBuf>,
    /// The screen size pointer pixels refer to before a screenshot (`1280x720`; default
    /// the last captured frame, else 1920x1080).
    #[arg(long, global = true, value_parser = size, value_name = "WxH")]
    pub screen: Option<(u32, u32)>,
}

/// Everything `nanokvm` does.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// The device's network interfaces, mDNS name and versions.
    Info,
    /// The NanoKVM hardware kind.
    Hardware,
    /// The target's power: status, on, off, presses, cycle.
    #[command(subcommand)]
    Power(PowerCommand),
    /// Types text key by key for the target's layout (or with the device's paste).
    Type(TypeArgs),
    /// Presses keys and chords in turn: `key ctrl+alt+delete`, `key ctrl+a ctrl+c`.
    Key(KeyArgs),
    /// Reads a secret (a password) from a prompt or stdin and types it; never echoed,
    /// printed or logged.
    Secret(SecretArgs),
    /// Moves, clicks, drags and scrolls the mouse.
    #[command(subcommand)]
    Mouse(MouseCommand),
    /// Saves a JPEG screenshot of the target's screen.
    Screenshot(ScreenshotArgs),
    /// Waits until the screen changes, or stops changing.
    WaitScreen(WaitScreenArgs),
    /// Images on the device: list, mount, unmount, delete, download, upload.
    #[command(subcommand)]
    Iso(IsoCommand),
    /// Sends a Wake-on-LAN packet from the device.
    Wol(WolArgs),
    /// HDMI capture: status, restart, on, off.
    #[command(subcommand)]
    Hdmi(HdmiCommand),
    /// The device's USB keyboard and mouse: reset, keyboard LEDs.
    #[command(subcommand)]
    Hid(HidCommand),
    /// Runs a script of the commands above, one per line, stopping at the first failure.
    Run(RunArgs),
    /// Checks policy files and explains their decisions.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Audit logs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Actions waiting for a human's approval (shared with nanokvm-mcp).
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Runs a simulated NanoKVM in the foreground until Ctrl-C.
    Sim(SimArgs),
    /// The device config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Prints a shell completion script.
    Completions(CompletionsArgs),
}

impl Command {
    /// Whether the command acts on a device (and so may appear in a script).
    #[must_use]
    pub fn is_device_command(&self) -> bool {
        !matches!(
            self,
            Self::Run(_)
                | Self::Policy(_)
                | Self::Audit(_)
                | Self::Approvals(_)
                | Self::Sim(_)
                | Self::Config(_)
                | Self::Completions(_)
        )
    }
}

/// `nanokvm power ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum PowerCommand {
    /// Whether the power and disk LEDs are lit; `--wait on|off` waits for a state.
    Status {
        /// Wait until the power LED shows this state.
        #[arg(long, value_enum)]
        wait: Option<PowerState>,
        /// How long to wait.
        #[arg(long, value_parser = duration, default_value = "60s", requires = "wait")]
        timeout: Duration,
    },
    /// Turns the machine on: presses power only if it is off, then waits for the LED.
    On {
        /// How long to wait for the power LED.
        #[arg(long, value_parser = duration, default_value = "60s")]
        timeout: Duration,
    },
    /// Shuts the machine down cleanly: presses power only if it is on, then waits.
    Off {
        /// How long to wait for the power LED to go dark.
        #[arg(long, value_parser = duration, default_value = "60s")]
        timeout: Duration,
    },
    /// A short press of the power button.
    Press,
    /// A long press of the power button: forces the machine off.
    Long,
    /// Presses the reset button.
    Reset,
    /// Forces the machine off, waits, and powers it on again.
    Cycle {
        /// How long it stays off.
        #[arg(long, value_parser = duration, default_value = "3s")]
        off: Duration,
    },
}

/// A power state to wait for or bring the machine to.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerState {
    /// The power LED lit.
    On,
    /// The power LED dark.
    Off,
}

/// How `type` gets text onto the target.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Via {
    /// Key by key over the HID WebSocket, for any of the 19 layouts.
    #[default]
    Keys,
    /// The device's own paste (maps us, de, fr).
    Paste,
}

/// `nanokvm type`.
#[derive(Args, Debug, Clone)]
pub struct TypeArgs {
    /// The text, or `-` to read it from stdin. `\n` in stdin is Enter.
    pub text: String,
    /// Encode for this layout instead of the target's (with --via paste: the paste map).
    #[arg(long)]
    pub layout: Option<String>,
    /// Key by key (default), or the device's paste.
    #[arg(long, value_enum, default_value_t)]
    pub via: Via,
    /// Pause after each key stroke (`10ms`; key by key only).
    #[arg(long, value_parser = duration)]
    pub delay: Option<Duration>,
    /// Press Enter after the text.
    #[arg(long)]
    pub enter: bool,
}

/// `nanokvm key`.
#[derive(Args, Debug, Clone)]
pub struct KeyArgs {
    /// Key names and chords, pressed in turn (`enter`, `f2`, `ctrl+alt+delete`, `win+r`).
    #[arg(required = true, value_name = "CHORD")]
    pub chords: Vec<String>,
}

/// `nanokvm secret`.
#[derive(Args, Debug, Clone)]
pub struct SecretArgs {
    /// Press Enter after the secret.
    #[arg(long)]
    pub enter: bool,
    /// What the prompt on the terminal says.
    #[arg(long, default_value = "Secret to type: ")]
    pub prompt: String,
}

/// A mouse button.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Button {
    /// The left button.
    #[default]
    Left,
    /// The right button.
    Right,
    /// The middle button (the wheel).
    Middle,
}

/// `nanokvm mouse ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum MouseCommand {
    /// Moves the pointer to pixel X, Y of the screen.
    Move {
        /// Pixels from the left edge.
        x: i64,
        /// Pixels from the top edge.
        y: i64,
    },
    /// Moves the pointer by DX, DY (relative; for firmware setup screens).
    #[command(allow_negative_numbers = true)]
    MoveRel {
        /// Right (negative: left).
        dx: i64,
        /// Down (negative: up).
        dy: i64,
    },
    /// Clicks a button, optionally at a point, optionally twice.
    Click {
        /// The button.
        #[arg(value_enum, default_value_t)]
        button: Button,
        /// Move to X,Y first.
        #[arg(long, value_parser = point, value_name = "X,Y")]
        at: Option<(i64, i64)>,
        /// Double-click.
        #[arg(long)]
        double: bool,
    },
    /// Holds a button from one point to another.
    Drag {
        /// Where the button goes down.
        #[arg(value_parser = point, value_name = "X1,Y1")]
        from: (i64, i64),
        /// Where it is released.
        #[arg(value_parser = point, value_name = "X2,Y2")]
        to: (i64, i64),
        /// The button held.
        #[arg(long, value_enum, default_value_t)]
        button: Button,
    },
    /// Turns the wheel N steps: positive scrolls down, negative up.
    #[command(allow_negative_numbers = true)]
    Scroll {
        /// Wheel steps, not 0.
        n: i64,
    },
}

/// `nanokvm screenshot`.
#[derive(Args, Debug, Clone)]
pub struct ScreenshotArgs {
    /// Where to save the JPEG; `-` writes it to stdout (the report then goes to stderr).
    #[arg(short, long, default_value = "screenshot.jpg", value_name = "FILE")]
    pub output: PathBuf,
    /// Scale down to at most this width.
    #[arg(long)]
    pub width: Option<i64>,
    /// Scale down to at most this height.
    #[arg(long)]
    pub height: Option<i64>,
    /// JPEG quality of a scaled image, 1 to 100.
    #[arg(long)]
    pub quality: Option<i64>,
}

/// What `wait-screen` waits for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Until the screen differs from what it showed at the start.
    Changed,
    /// Until the screen has not changed for --stable.
    Stable,
}

/// `nanokvm wait-screen`.
#[derive(Args, Debug, Clone)]
pub struct WaitScreenArgs {
    /// What to wait for.
    #[arg(long, value_enum)]
    pub until: Until,
    /// The longest wait; running out is a failure (exit 1).
    #[arg(long, value_parser = duration, default_value = "30s")]
    pub timeout: Duration,
    /// With `--until stable`: how long the screen must stay unchanged.
    #[arg(long, value_parser = duration, default_value = "1s")]
    pub stable: Duration,
    /// Save the screen it stopped on to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `nanokvm iso ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum IsoCommand {
    /// The images stored on the device.
    List,
    /// The mounted image.
    Mounted,
    /// Mounts an image stored on the device, as a CD-ROM unless --disk.
    Mount {
        /// The image's path on the device (`/data/debian.iso`).
        file: String,
        /// Mount as a writable disk instead of a read-only CD-ROM.
        #[arg(long)]
        disk: bool,
    },
    /// Unmounts the mounted image.
    Unmount,
    /// Deletes an image stored on the device.
    Delete {
        /// The image's path on the device.
        file: String,
    },
    /// Has the device download an image from a URL (hosts allowed by --download-host
    /// or the device's download_hosts only), and waits until it is done.
    Download {
        /// The image's URL.
        url: String,
        /// The image's SHA-256, checked by the device (firmware 2.5.0 and later).
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// How long the download may take before it is cancelled.
        #[arg(long, value_parser = duration, default_value = "1h")]
        timeout: Duration,
    },
    /// Uploads an ISO image from the upload directory (--upload-dir or the device's
    /// upload_dir) to the device.
    Upload {
        /// The image: relative to the upload directory, or a path inside it.
        path: PathBuf,
    },
}

/// `nanokvm wol`.
#[derive(Args, Debug, Clone)]
pub struct WolArgs {
    /// The MAC address to wake (`AA:BB:CC:DD:EE:FF`).
    pub mac: String,
}

/// `nanokvm hdmi ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum HdmiCommand {
    /// Capture state: enabled, signal.
    Status,
    /// Restarts capture (a frozen or black picture).
    Reset,
    /// Turns capture on.
    On,
    /// Turns capture off.
    Off,
}

/// `nanokvm hid ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum HidCommand {
    /// Resets the device's USB keyboard and mouse.
    Reset,
    /// Caps, Num and Scroll Lock as the target set them.
    Leds,
    /// Shows the USB mode, or switches it (which reboots the NanoKVM, not the target).
    #[command(
        after_help = "Examples:\n  nanokvm hid mode\n  nanokvm hid mode hid-only   \
# keyboard and mouse only, for a BIOS that rejects the composite device\n  nanokvm hid \
mode normal     # keyboard, mouse and virtual media again"
    )]
    Mode {
        /// The mode to switch to; without it, shows the current one.
        #[arg(value_enum)]
        mode: Option<HidMode>,
    },
}

/// A USB gadget mode of the NanoKVM.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HidMode {
    /// Keyboard, mouse, touchpad and virtual media.
    Normal,
    /// Keyboard and mouse only.
    #[value(alias = "hid_only")]
    HidOnly,
}

/// `nanokvm run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The script, or `-` for stdin. One command per line as on the command line
    /// without `nanokvm` (`power on`, `type --enter "ls"`); `sleep 2s`; `# comments`;
    /// `try COMMAND` carries on when COMMAND fails.
    pub script: PathBuf,
    /// Check every line without running anything.
    #[arg(long)]
    pub check: bool,
}

/// `nanokvm policy ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum PolicyCommand {
    /// Validates a policy file; mistakes are named by their JSON pointer.
    Check {
        /// The policy (JSON, or YAML for .yaml/.yml).
        file: PathBuf,
    },
    /// Says what the policy decides for one call, and which rule decides it.
    Explain {
        /// The policy.
        file: PathBuf,
        /// The tool (`nanokvm_power`), or a command (`"power long"`).
        tool: String,
        /// The arguments as a JSON object (default `{}`).
        args: Option<String>,
    },
    /// Decides every call an audit log records under the policy, and shows where the
    /// verdict differs.
    Replay {
        /// The policy.
        file: PathBuf,
        /// The audit log to replay.
        #[arg(long, value_name = "LOG")]
        audit: PathBuf,
    },
}

/// `nanokvm audit ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum AuditCommand {
    /// Checks an audit log's hash chain (and its rotated files).
    Verify {
        /// The log.
        log: PathBuf,
    },
}

/// `nanokvm approvals ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum ApprovalsCommand {
    /// The actions waiting for an answer.
    List,
    /// Lets the waiting action with this id run once.
    Approve {
        /// The id `list` shows.
        id: String,
    },
    /// Refuses the waiting action with this id.
    Deny {
        /// The id `list` shows.
        id: String,
        /// Why, for the caller to read.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// `nanokvm sim`.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The firmware version to play: 2.5.1, 2.5.0 or 2.3.1.
    #[arg(long, default_value = "2.5.1")]
    pub firmware: String,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The simulated machine starts powered off.
    #[arg(long)]
    pub powered_off: bool,
}

/// `nanokvm config ...`.
#[derive(Subcommand, Debug, Clone)]
pub enum ConfigCommand {
    /// Writes a config file with one device, asking for its details on the terminal.
    Init {
        /// The device's name.
        #[arg(long)]
        name: Option<String>,
        /// Its address.
        #[arg(long)]
        url: Option<String>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The devices in the config file (never their passwords).
    Show,
    /// Where the config file is.
    Path,
}

/// `nanokvm completions`.
#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `10ms`, `3s`, `1m30s`, `2m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as 500ms, 3s or 2m: {e}"))
}

/// `X,Y`.
fn point(text: &str) -> Result<(i64, i64), String> {
    let bad = || format!("`{text}` is not X,Y (pixels, such as 640,360)");
    let (x, y) = text.split_once(',').ok_or_else(bad)?;
    Ok((
        x.trim().parse().map_err(|_| bad())?,
        y.trim().parse().map_err(|_| bad())?,
    ))
}

/// `WIDTHxHEIGHT`.
fn size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{text}` is not WIDTHxHEIGHT, such as 1280x720");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |n: &str| {
        n.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (16..=7680).contains(n))
            .ok_or_else(bad)
    };
    Ok((side(w)?, side(h)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn values_parse_and_refuse_with_an_example() {
        assert_eq!(duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(duration("soon").unwrap_err().contains("500ms"));
        assert_eq!(point("10, 20"), Ok((10, 20)));
        assert!(point("10;20").is_err());
        assert_eq!(size("1280x720"), Ok((1280, 720)));
        assert!(size("0x0").is_err());
    }
}
