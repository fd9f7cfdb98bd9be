//! Device commands as catalogue calls: each command becomes a tool name and a JSON
//! arguments object, exactly what the MCP tool that does the same thing sends, so one
//! policy governs both frontends. [`call_of`] is that mapping, pure; [`execute`] runs a
//! command through the gate and shapes what came back for people and for `--json`.

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value, json};

use crate::cli::{
    Button, Command, HdmiCommand, HidCommand, HidMode, IsoCommand, MouseCommand, PowerCommand,
    PowerState, ScreenshotArgs, TypeArgs, Until, Via, WaitScreenArgs,
};
use crate::exit::UsageError;
use crate::output::{Output, Report};
use crate::session::Session;

/// One catalogue call: the tool and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// The catalogue tool (`nanokvm_power`).
    pub tool: &'static str,
    /// Its arguments, as the MCP tool takes them.
    pub args: Value,
}

fn call(tool: &'static str, args: Value) -> ToolCall {
    ToolCall { tool, args }
}

fn none(tool: &'static str) -> ToolCall {
    call(tool, json!({}))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn button(b: Button) -> &'static str {
    match b {
        Button::Left => "left",
        Button::Right => "right",
        Button::Middle => "middle",
    }
}

/// The text a `type` command types once its source was read: `text` plus Enter.
fn with_enter(mut text: String, enter: bool) -> String {
    if enter {
        text.push('\n');
    }
    text
}

/// The call of a typing command for already read `text`.
pub fn type_call(args: &TypeArgs, text: String) -> Result<ToolCall> {
    let text = with_enter(text, args.enter);
    Ok(match args.via {
        Via::Keys => {
            let mut a = Map::new();
            a.insert("text".into(), json!(text));
            if let Some(layout) = &args.layout {
                a.insert("layout".into(), json!(layout));
            }
            if let Some(delay) = args.delay {
                a.insert("delay_ms".into(), json!(millis(delay)));
            }
            call("nanokvm_type_text", Value::Object(a))
        }
        Via::Paste => {
            if args.delay.is_some() {
                return Err(UsageError::new(
                    "--delay works key by key only; the device's paste sets its own pace",
                )
                .into());
            }
            let mut a = Map::new();
            a.insert("text".into(), json!(text));
            if let Some(layout) = &args.layout {
                a.insert("language".into(), json!(layout));
            }
            call("nanokvm_send_text", Value::Object(a))
        }
    })
}

/// The catalogue call of a device command that is one call with arguments known from
/// the command line alone; `None` for commands that read input, wait in steps or write
/// files (`type`, `secret`, `power status --wait`), which [`execute`] handles.
pub fn call_of(command: &Command) -> Option<ToolCall> {
    Some(match command {
        Command::Info => none("nanokvm_info"),
        Command::Hardware => none("nanokvm_hardware"),
        Command::Power(p) => match p {
            PowerCommand::Status { wait: None, .. } => none("nanokvm_led_status"),
            PowerCommand::Status { wait: Some(_), .. } => return None,
            PowerCommand::On { timeout } => call(
                "nanokvm_power_ensure",
                json!({"state": "on", "timeout_ms": millis(*timeout)}),
            ),
            PowerCommand::Off { timeout } => call(
                "nanokvm_power_ensure",
                json!({"state": "off", "timeout_ms": millis(*timeout)}),
            ),
            PowerCommand::Press => call("nanokvm_power", json!({"action": "power"})),
            PowerCommand::Long => call("nanokvm_power", json!({"action": "power_long"})),
            PowerCommand::Reset => call("nanokvm_power", json!({"action": "reset"})),
            PowerCommand::Cycle { off } => call(
                "nanokvm_power_cycle",
                json!({"off_duration_ms": millis(*off)}),
            ),
        },
        Command::Key(k) => call("nanokvm_send_keys", json!({"keys": k.chords.join(" ")})),
        Command::Mouse(m) => match m {
            MouseCommand::Move { x, y } => call("nanokvm_move", json!({"x": x, "y": y})),
            MouseCommand::MoveRel { dx, dy } => {
                call("nanokvm_move_relative", json!({"dx": dx, "dy": dy}))
            }
            MouseCommand::Click {
                button: b,
                at,
                double,
            } => {
                let mut a = json!({"button": button(*b), "double": double});
                if let Some((x, y)) = at {
                    a["x"] = json!(x);
                    a["y"] = json!(y);
                }
                call("nanokvm_click", a)
            }
            MouseCommand::Drag {
                from,
                to,
                button: b,
            } => call(
                "nanokvm_drag",
                json!({
                    "from": {"x": from.0, "y": from.1},
                    "to": {"x": to.0, "y": to.1},
                    "button": button(*b),
                }),
            ),
            MouseCommand::Scroll { n } => call("nanokvm_scroll", json!({"amount": n})),
        },
        Command::Screenshot(s) => call("nanokvm_screenshot", screenshot_args(s)),
        Command::WaitScreen(w) => call("nanokvm_wait_for_screen", wait_args(w)),
        Command::Iso(i) => match i {
            IsoCommand::List => none("nanokvm_list_images"),
            IsoCommand::Mounted => none("nanokvm_mounted_image"),
            IsoCommand::Mount { file, disk } => call(
                "nanokvm_mount_iso",
                json!({"file": file, "as_cdrom": !disk}),
            ),
            IsoCommand::Unmount => none("nanokvm_unmount_iso"),
            IsoCommand::Delete { file } => call("nanokvm_delete_iso", json!({"file": file})),
            IsoCommand::Download {
                url,
                sha256,
                timeout,
            } => {
                let mut a = json!({"url": url, "timeout_s": timeout.as_secs()});
                if let Some(hex) = sha256 {
                    a["sha256"] = json!(hex);
                }
                call("nanokvm_download_iso", a)
            }
            IsoCommand::Upload { path } => call(
                "nanokvm_upload_iso",
                json!({"path": path.to_string_lossy()}),
            ),
        },
        Command::Wol(w) => call("nanokvm_wake_on_lan", json!({"mac": w.mac})),
        Command::Hdmi(h) => none(match h {
            HdmiCommand::Status => "nanokvm_hdmi_status",
            HdmiCommand::Reset => "nanokvm_hdmi_reset",
            HdmiCommand::On => "nanokvm_hdmi_enable",
            HdmiCommand::Off => "nanokvm_hdmi_disable",
        }),
        Command::Hid(h) => match h {
            HidCommand::Reset => none("nanokvm_reset_hid"),
            HidCommand::Leds => none("nanokvm_keyboard_leds"),
            HidCommand::Mode { mode: None } => none("nanokvm_hid_mode"),
            HidCommand::Mode { mode: Some(mode) } => call(
                "nanokvm_set_hid_mode",
                json!({"mode": match mode {
                    HidMode::Normal => "normal",
                    HidMode::HidOnly => "hid_only",
                }}),
            ),
        },
        Command::Type(_)
        | Command::Secret(_)
        | Command::Run(_)
        | Command::Policy(_)
        | Command::Audit(_)
        | Command::Approvals(_)
        | Command::Sim(_)
        | Command::Config(_)
        | Command::Completions(_) => return None,
    })
}

fn screenshot_args(s: &ScreenshotArgs) -> Value {
    let mut a = Map::new();
    for (name, value) in [
        ("max_width", s.width),
        ("max_height", s.height),
        ("quality", s.quality),
    ] {
        if let Some(v) = value {
            a.insert(name.into(), json!(v));
        }
    }
    Value::Object(a)
}

fn wait_args(w: &WaitScreenArgs) -> Value {
    let until = match w.until {
        Until::Changed => "changed",
        Until::Stable => "stable",
    };
    let mut a = json!({"until": until, "timeout_ms": millis(w.timeout)});
    if w.until == Until::Stable {
        a["stable_ms"] = json!(millis(w.stable));
    }
    a
}

/// Runs one device command on `session`.
///
/// # Errors
///
/// The gate's errors (denied, invalid arguments, device failures), unreadable input,
/// unwritable files, and a wait that ran out.
pub async fn execute(session: &Session, command: &Command, out: &Output) -> Result<Report> {
    match command {
        Command::Type(args) => type_text(session, args, out).await,
        Command::Secret(args) => secret(session, args.enter, &args.prompt).await,
        Command::Power(PowerCommand::Status {
            wait: Some(state),
            timeout,
        }) => wait_power(session, *state, *timeout, out).await,
        other => {
            let Some(mut c) = call_of(other) else {
                bail!("`{other:?}` is not a device command");
            };
            if let Command::Iso(IsoCommand::Upload { path }) = other {
                c.args = json!({"path": session.upload_path(path)});
            }
            let output = if long_running(c.tool) {
                session
                    .call_with_progress(c.tool, &c.args, out, progress_label(other))
                    .await?
            } else {
                session.call(c.tool, &c.args).await?
            };
            shape(other, output.json, output.image)
        }
    }
}

/// Tools that may take seconds, which get a spinner on a terminal.
fn long_running(tool: &str) -> bool {
    matches!(
        tool,
        "nanokvm_power_ensure"
            | "nanokvm_power_cycle"
            | "nanokvm_wait_for_screen"
            | "nanokvm_download_iso"
            | "nanokvm_upload_iso"
    )
}

fn progress_label(command: &Command) -> &'static str {
    match command {
        Command::Power(PowerCommand::On { .. }) => "powering on",
        Command::Power(PowerCommand::Off { .. }) => "shutting down",
        Command::Power(PowerCommand::Cycle { .. }) => "power cycling",
        Command::WaitScreen(_) => "waiting for the screen",
        Command::Iso(IsoCommand::Download { .. }) => "downloading",
        Command::Iso(IsoCommand::Upload { .. }) => "uploading",
        _ => "working",
    }
}

/// The report of a command that ran, with its files written.
fn shape(command: &Command, json: Value, image: Option<Vec<u8>>) -> Result<Report> {
    match command {
        Command::Screenshot(s) => {
            let jpeg = image.context("the device sent no image")?;
            let to_stdout = s.output.as_os_str() == "-";
            let mut json = json;
            if to_stdout {
                return Ok(Report::image(jpeg, json));
            }
            write_file(&s.output, &jpeg)?;
            json["file"] = json!(s.output.display().to_string());
            let text = format!(
                "saved {} ({}x{}, {} bytes)",
                s.output.display(),
                json["width"],
                json["height"],
                jpeg.len()
            );
            Ok(Report::new(json, text))
        }
        Command::WaitScreen(w) => {
            let mut json = json;
            if let (Some(path), Some(jpeg)) = (&w.output, &image) {
                write_file(path, jpeg)?;
                json["file"] = json!(path.display().to_string());
            }
            if json["reached"] != json!(true) {
                bail!(
                    "the screen was not {} within {} (waited {} ms)",
                    match w.until {
                        Until::Changed => "changed",
                        Until::Stable => "stable",
                    },
                    humantime::format_duration(w.timeout),
                    json["waited_ms"]
                );
            }
            let text = format!(
                "screen {} after {} ms",
                json["until"].as_str().unwrap_or("settled"),
                json["waited_ms"]
            );
            Ok(Report::new(json, text))
        }
        Command::Power(PowerCommand::On { .. } | PowerCommand::Off { .. }) => {
            if json["reached"] != json!(true) {
                let message = json["message"]
                    .as_str()
                    .unwrap_or("the power LED did not show the state asked for");
                bail!("{message}");
            }
            let state = json["state"].as_str().unwrap_or("?");
            let text = if json["pressed"] == json!(true) {
                format!(
                    "{state} (pressed power, the LED showed it after {} ms)",
                    json["waited_ms"]
                )
            } else {
                format!("{state} already; nothing pressed")
            };
            Ok(Report::new(json, text))
        }
        Command::Hid(HidCommand::Mode { mode: Some(_) }) => {
            let mode = json["mode"].as_str().unwrap_or("?");
            let text = if json["rebooting"] == json!(true) {
                format!(
                    "switched to {mode}: the NanoKVM is rebooting and answers again in about \
                     a minute"
                )
            } else {
                format!("{mode} already; nothing changed")
            };
            Ok(Report::new(json, text))
        }
        Command::Power(PowerCommand::Status { .. }) => {
            let text = power_text(&json);
            Ok(Report::new(json, text))
        }
        _ => Ok(Report::from_json(json)),
    }
}

fn power_text(json: &Value) -> String {
    let on = |v: &Value| if v == &json!(true) { "on" } else { "off" };
    format!(
        "power LED {}, disk LED {}",
        on(&json["power"]),
        on(&json["hdd"])
    )
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// `type`: the text from the argument or stdin, typed in pieces the catalogue accepts.
async fn type_text(session: &Session, args: &TypeArgs, out: &Output) -> Result<Report> {
    let text = if args.text == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the text from stdin")?;
        text
    } else {
        args.text.clone()
    };
    if text.is_empty() && !args.enter {
        return Err(UsageError::new("nothing to type: the text is empty").into());
    }
    let pieces = pieces(&text, nanokvm_policy::catalogue::MAX_TEXT_CHARS);
    let total = pieces.len();
    let bar = (total > 1).then(|| out.bar(u64::try_from(total).unwrap_or(u64::MAX), "typing"));
    let mut results = Vec::new();
    for (i, piece) in pieces.into_iter().enumerate() {
        let last = i + 1 == total;
        let piece_args = TypeArgs {
            enter: args.enter && last,
            ..args.clone()
        };
        let c = type_call(&piece_args, piece)?;
        // One piece reports its own progress; several advance the bar piece by piece.
        let result = if total == 1 {
            session
                .call_with_progress(c.tool, &c.args, out, "typing")
                .await
        } else {
            session.call(c.tool, &c.args).await
        };
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        let output = if total > 1 {
            result.with_context(|| format!("typing stopped at piece {} of {total}", i + 1))?
        } else {
            result?
        };
        results.push(output.json);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let characters: u64 = results.iter().filter_map(|r| r["typed"].as_u64()).sum();
    let json = if results.len() == 1 {
        results.remove(0)
    } else {
        json!({"typed": characters, "pieces": results})
    };
    Ok(Report::new(json, format!("typed {characters} characters")))
}

/// Splits `text` into pieces of at most `max` characters, at line ends where it can,
/// so that no piece ends in the middle of a line unless a line is that long.
fn pieces(text: &str, max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    for line in text.split_inclusive('\n') {
        let n = line.chars().count();
        if count + n > max && count > 0 {
            pieces.push(std::mem::take(&mut current));
            count = 0;
        }
        if n > max {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(max) {
                pieces.push(chunk.iter().collect());
            }
            continue;
        }
        current.push_str(line);
        count += n;
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// `secret`: read without echo (or from stdin), typed with `nanokvm_type_text`; the
/// secret never appears in output, errors or logs (the audit log keeps a digest).
async fn secret(session: &Session, enter: bool, prompt: &str) -> Result<Report> {
    let mut text = crate::session::read_secret(prompt)?;
    if text.is_empty() {
        return Err(UsageError::new("the secret is empty").into());
    }
    if enter {
        text.push('\n');
    }
    let length = text.chars().count();
    let args = json!({ "text": text });
    let result = session.call("nanokvm_type_text", &args).await;
    drop(args);
    match result {
        Ok(_) => Ok(Report::new(
            json!({"typed_secret": true}),
            "typed the secret".to_owned(),
        )),
        // Errors about typing may quote the text: keep only what kind of failure it was.
        Err(e) => Err(crate::exit::redact_typing_error(&e, length)),
    }
}

/// `power status --wait on|off`: reads the LEDs until the power LED shows `state`.
async fn wait_power(
    session: &Session,
    state: PowerState,
    timeout: Duration,
    out: &Output,
) -> Result<Report> {
    let want = state == PowerState::On;
    let label = if want {
        "waiting for power on"
    } else {
        "waiting for power off"
    };
    let spinner = out.spinner(label);
    let started = tokio::time::Instant::now();
    let result = loop {
        let leds = session.call("nanokvm_led_status", &json!({})).await?;
        if leds.json["power"] == json!(want) {
            break Ok(leds.json);
        }
        if started.elapsed() >= timeout {
            break Err(anyhow::anyhow!(
                "the power LED did not turn {} within {}",
                if want { "on" } else { "off" },
                humantime::format_duration(timeout)
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    spinner.finish_and_clear();
    let mut json = result?;
    let waited = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    json["waited_ms"] = json!(waited);
    let text = format!("{} (after {waited} ms)", power_text(&json));
    Ok(Report::new(json, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser as _;

    fn call_for(line: &str) -> ToolCall {
        let words = shlex::split(line).expect("words");
        let cli = Cli::try_parse_from(std::iter::once("nanokvm".to_owned()).chain(words))
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        call_of(&cli.command).unwrap_or_else(|| panic!("{line}: no call"))
    }

    /// Each command maps onto the catalogue tool and arguments the MCP server's tool of
    /// the same meaning sends, and the catalogue accepts them.
    #[test]
    fn commands_map_onto_catalogue_calls() {
        let cases = [
            ("info", "nanokvm_info", json!({})),
            ("hardware", "nanokvm_hardware", json!({})),
            ("power status", "nanokvm_led_status", json!({})),
            (
                "power on",
                "nanokvm_power_ensure",
                json!({"state": "on", "timeout_ms": 60000}),
            ),
            (
                "power off --timeout 2m",
                "nanokvm_power_ensure",
                json!({"state": "off", "timeout_ms": 120000}),
            ),
            ("power press", "nanokvm_power", json!({"action": "power"})),
            (
                "power long",
                "nanokvm_power",
                json!({"action": "power_long"}),
            ),
            ("power reset", "nanokvm_power", json!({"action": "reset"})),
            (
                "power cycle --off 5s",
                "nanokvm_power_cycle",
                json!({"off_duration_ms": 5000}),
            ),
            (
                "key ctrl+alt+delete",
                "nanokvm_send_keys",
                json!({"keys": "ctrl+alt+delete"}),
            ),
            (
                "key ctrl+a ctrl+c",
                "nanokvm_send_keys",
                json!({"keys": "ctrl+a ctrl+c"}),
            ),
            (
                "mouse move 10 20",
                "nanokvm_move",
                json!({"x": 10, "y": 20}),
            ),
            (
                "mouse move-rel -5 7",
                "nanokvm_move_relative",
                json!({"dx": -5, "dy": 7}),
            ),
            (
                "mouse click",
                "nanokvm_click",
                json!({"button": "left", "double": false}),
            ),
            (
                "mouse click right --at 3,4 --double",
                "nanokvm_click",
                json!({"button": "right", "double": true, "x": 3, "y": 4}),
            ),
            (
                "mouse drag 1,2 30,40",
                "nanokvm_drag",
                json!({"from": {"x": 1, "y": 2}, "to": {"x": 30, "y": 40}, "button": "left"}),
            ),
            ("mouse scroll -3", "nanokvm_scroll", json!({"amount": -3})),
            ("screenshot", "nanokvm_screenshot", json!({})),
            (
                "screenshot --width 640 --height 360 --quality 50",
                "nanokvm_screenshot",
                json!({"max_width": 640, "max_height": 360, "quality": 50}),
            ),
            (
                "wait-screen --until stable --timeout 10s",
                "nanokvm_wait_for_screen",
                json!({"until": "stable", "timeout_ms": 10000, "stable_ms": 1000}),
            ),
            (
                "wait-screen --until changed",
                "nanokvm_wait_for_screen",
                json!({"until": "changed", "timeout_ms": 30000}),
            ),
            ("iso list", "nanokvm_list_images", json!({})),
            ("iso mounted", "nanokvm_mounted_image", json!({})),
            (
                "iso mount /data/a.iso",
                "nanokvm_mount_iso",
                json!({"file": "/data/a.iso", "as_cdrom": true}),
            ),
            (
                "iso mount /data/a.img --disk",
                "nanokvm_mount_iso",
                json!({"file": "/data/a.img", "as_cdrom": false}),
            ),
            ("iso unmount", "nanokvm_unmount_iso", json!({})),
            (
                "iso delete /data/a.iso",
                "nanokvm_delete_iso",
                json!({"file": "/data/a.iso"}),
            ),
            (
                "iso download https://example.org/a.iso --sha256 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff --timeout 10m",
                "nanokvm_download_iso",
                json!({"url": "https://example.org/a.iso", "timeout_s": 600, "sha256": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}),
            ),
            (
                "iso upload debian.iso",
                "nanokvm_upload_iso",
                json!({"path": "debian.iso"}),
            ),
            (
                "wol AA:BB:CC:DD:EE:FF",
                "nanokvm_wake_on_lan",
                json!({"mac": "AA:BB:CC:DD:EE:FF"}),
            ),
            ("hdmi status", "nanokvm_hdmi_status", json!({})),
            ("hdmi reset", "nanokvm_hdmi_reset", json!({})),
            ("hdmi on", "nanokvm_hdmi_enable", json!({})),
            ("hdmi off", "nanokvm_hdmi_disable", json!({})),
            ("hid reset", "nanokvm_reset_hid", json!({})),
            ("hid leds", "nanokvm_keyboard_leds", json!({})),
        ];
        for (line, tool, args) in cases {
            let c = call_for(line);
            assert_eq!((c.tool, &c.args), (tool, &args), "{line}");
            nanokvm_policy::catalogue::DeviceAction::parse(
                c.tool,
                &c.args,
                nanokvm_policy::Layout::Us,
            )
            .unwrap_or_else(|e| panic!("{line}: the catalogue refuses {}: {e}", c.args));
        }
    }

    #[test]
    fn typing_maps_onto_type_text_or_the_paste() {
        let parse = |line: &str| {
            let words = shlex::split(line).expect("words");
            match Cli::try_parse_from(std::iter::once("nanokvm".to_owned()).chain(words))
                .expect("parses")
                .command
            {
                Command::Type(t) => t,
                other => panic!("{other:?}"),
            }
        };
        let c = type_call(
            &parse("type x --layout de --delay 10ms --enter"),
            "Grüße".into(),
        )
        .expect("call");
        assert_eq!(c.tool, "nanokvm_type_text");
        assert_eq!(
            c.args,
            json!({"text": "Grüße\n", "layout": "de", "delay_ms": 10})
        );
        let c = type_call(&parse("type x --via paste --layout fr"), "é".into()).expect("call");
        assert_eq!(c.tool, "nanokvm_send_text");
        assert_eq!(c.args, json!({"text": "é", "language": "fr"}));
        assert!(type_call(&parse("type x --via paste --delay 1ms"), "a".into()).is_err());
    }

    #[test]
    fn long_text_is_split_at_line_ends() {
        assert_eq!(pieces("ab\ncd\nef", 6), ["ab\ncd\n", "ef"]);
        assert_eq!(pieces("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(pieces("", 3), [""]);
        let text = "x".repeat(10) + "\n" + &"y".repeat(4);
        let joined: String = pieces(&text, 4).concat();
        assert_eq!(joined, text);
        assert!(pieces(&text, 4).iter().all(|p| p.chars().count() <= 4));
    }
}
