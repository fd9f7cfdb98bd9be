//! `nanokvm run SCRIPT`: device commands one per line, for unattended work such as an
//! operating system install.
//!
//! A line is a command as on the command line without `nanokvm` (`power on`,
//! `type --enter "ls -l"`, `key ctrl+alt+delete`), split into words like a POSIX shell
//! does (quotes, backslashes, `#` comments). `sleep 2s` pauses. `try COMMAND` runs
//! COMMAND and carries on when it fails. The whole script is parsed before anything
//! runs, so a typo on line 40 is reported before line 1 presses power. A failing line
//! stops the script; the error names the line, and the exit code is that line's.

use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use clap::Parser;
use serde_json::{Value, json};

use crate::cli::Command;
use crate::exit::{Exit, UsageError, exit_of};
use crate::output::Output;
use crate::session::Session;

/// One line's command, parsed as the command line parses it.
#[derive(Parser, Debug)]
#[command(
    name = "nanokvm",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true
)]
struct LineCommand {
    #[command(subcommand)]
    command: Command,
}

/// What a line does.
#[derive(Debug)]
pub enum Step {
    /// Waits.
    Sleep(Duration),
    /// Runs a device command.
    Command {
        /// The command.
        command: Box<Command>,
        /// Carry on when it fails.
        carry_on: bool,
    },
}

/// A line that does something.
#[derive(Debug)]
pub struct Line {
    /// Its number in the file, from 1.
    pub number: usize,
    /// Its text, trimmed.
    pub text: String,
    /// What it does.
    pub step: Step,
}

/// A parsed script.
#[derive(Debug)]
pub struct Script {
    /// The lines that do something, in order.
    pub lines: Vec<Line>,
}

impl Script {
    /// Reads and parses a script file, or stdin for `-`.
    ///
    /// # Errors
    ///
    /// An unreadable file; a usage error naming the first line that does not parse.
    pub fn load(path: &Path) -> Result<Self> {
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the script from stdin")?;
            text
        } else {
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the script {}", path.display()))?
        };
        Self::parse(&text)
    }

    /// Parses the text of a script.
    ///
    /// # Errors
    ///
    /// A usage error naming the first line that does not parse.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let step = parse_line(trimmed).map_err(|message| {
                UsageError::new(format!("line {number} (`{trimmed}`): {message}"))
            })?;
            if let Some(step) = step {
                lines.push(Line {
                    number,
                    text: display(trimmed),
                    step,
                });
            }
        }
        Ok(Self { lines })
    }
}

/// A line as it is shown: its words without a trailing comment, quoted as needed.
fn display(line: &str) -> String {
    shlex::split(line)
        .and_then(|words| shlex::try_join(words.iter().map(String::as_str)).ok())
        .unwrap_or_else(|| line.to_owned())
}

/// One line; `None` for a line of only a comment.
fn parse_line(line: &str) -> Result<Option<Step>, String> {
    let mut words =
        shlex::split(line).ok_or("unbalanced quotes or a trailing backslash".to_owned())?;
    if words.is_empty() {
        return Ok(None);
    }
    let carry_on = words[0] == "try";
    if carry_on {
        words.remove(0);
        if words.is_empty() {
            return Err("`try` needs a command after it".to_owned());
        }
    }
    if words[0] == "sleep" {
        if carry_on {
            return Err("`try sleep` cannot fail; write `sleep`".to_owned());
        }
        return match words.as_slice() {
            [_, d] => crate::cli::duration(d).map(|d| Some(Step::Sleep(d))),
            _ => Err("`sleep` takes one duration, such as `sleep 2s`".to_owned()),
        };
    }
    let parsed = LineCommand::try_parse_from(&words).map_err(|e| {
        // clap's message, without its usage block and tips.
        let text = e.to_string();
        text.lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned()
    })?;
    if let Command::Screenshot(s) = &parsed.command
        && s.output.as_os_str() == "-"
    {
        return Err("a script saves screenshots to files: -o FILE".to_owned());
    }
    if !parsed.command.is_device_command() {
        return Err(format!(
            "`{}` cannot run in a script; scripts hold device commands",
            words[0]
        ));
    }
    Ok(Some(Step::Command {
        command: Box::new(parsed.command),
        carry_on,
    }))
}

/// `run --check`: says what the script holds, runs nothing.
///
/// # Errors
///
/// Writing the result failed.
pub fn report_check(script: &Script, out: &Output) -> Result<Exit> {
    let commands = script
        .lines
        .iter()
        .filter(|l| matches!(l.step, Step::Command { .. }))
        .count();
    let json = json!({"valid": true, "lines": script.lines.len(), "commands": commands});
    if out.is_json() {
        out.emit_json(&json)?;
    } else {
        out.emit_text(&format!(
            "the script is valid: {commands} commands in {} steps",
            script.lines.len()
        ))?;
    }
    Ok(Exit::Success)
}

/// How the steps went.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: Vec<(usize, Exit, String)>,
}

/// Runs the script on `session`.
///
/// # Errors
///
/// The first failing line's error (not under `try`), with the line named.
pub async fn run(session: &Session, script: &Script, out: &Output) -> Result<Exit> {
    let started = Instant::now();
    let total = u64::try_from(script.lines.len()).unwrap_or(u64::MAX);
    // The script's bar on top, each step's own progress below it.
    let multi = out.multi();
    let out = &out.with_multi(multi.clone());
    let bar = out.bar(total, "script");
    let mut tally = Tally::default();
    for line in &script.lines {
        bar.set_message(format!("line {}", line.number));
        let result = match &line.step {
            Step::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(None)
            }
            Step::Command { command, .. } => crate::actions::execute(session, command, out)
                .await
                .map(Some),
        };
        bar.inc(1);
        let carry_on = matches!(line.step, Step::Command { carry_on: true, .. });
        match result {
            Ok(report) => {
                tally.ok += 1;
                multi.suspend(|| print_step(out, line, report.as_ref()))?;
            }
            Err(error) => {
                let exit = exit_of(&error);
                let message = format!("{error:#}");
                multi.suspend(|| print_failure(out, line, exit, &message, carry_on))?;
                tally.failed.push((line.number, exit, message));
                if !carry_on {
                    bar.finish_and_clear();
                    summary(out, &tally, started, Some(line.number))?;
                    return Err(error.context(format!("line {}: {}", line.number, line.text)));
                }
            }
        }
    }
    bar.finish_and_clear();
    summary(out, &tally, started, None)?;
    Ok(Exit::Success)
}

fn print_step(out: &Output, line: &Line, report: Option<&crate::output::Report>) -> Result<()> {
    if out.is_json() {
        let result = report.map_or(Value::Null, |r| r.json.clone());
        out.emit_json(
            &json!({"line": line.number, "command": line.text, "ok": true, "result": result}),
        )?;
    } else {
        let mut text = format!("[{}] {}", line.number, line.text);
        if let Some(report) = report.filter(|r| !r.text.is_empty()) {
            for l in report.text.lines() {
                text.push_str("\n    ");
                text.push_str(l);
            }
        }
        out.emit_text(&text)?;
    }
    Ok(())
}

fn print_failure(
    out: &Output,
    line: &Line,
    exit: Exit,
    message: &str,
    carry_on: bool,
) -> Result<()> {
    let what = match exit {
        Exit::Denied => "refused by the policy",
        _ => "failed",
    };
    if out.is_json() {
        out.emit_json(&json!({
            "line": line.number,
            "command": line.text,
            "ok": false,
            "kind": exit.kind(),
            "exit_code": exit.code(),
            "error": message,
            "carried_on": carry_on,
        }))?;
    } else if carry_on {
        out.emit_text(&format!(
            "[{}] {}\n    {what} (carrying on): {message}",
            line.number, line.text
        ))?;
    } else {
        out.emit_text(&format!("[{}] {}\n    {what}", line.number, line.text))?;
    }
    Ok(())
}

fn summary(out: &Output, tally: &Tally, started: Instant, stopped_at: Option<usize>) -> Result<()> {
    let seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    let denied: Vec<usize> = tally
        .failed
        .iter()
        .filter(|(_, e, _)| *e == Exit::Denied)
        .map(|(n, _, _)| *n)
        .collect();
    if out.is_json() {
        let failed: Vec<Value> = tally
            .failed
            .iter()
            .map(|(n, e, m)| json!({"line": n, "kind": e.kind(), "error": m}))
            .collect();
        out.emit_json(&json!({"summary": {
            "ok": tally.ok,
            "failed": failed,
            "denied_lines": denied,
            "stopped_at_line": stopped_at,
            "seconds": seconds,
        }}))?;
        return Ok(());
    }
    let mut text = format!(
        "\n{} steps ran in {seconds} s",
        tally.ok + tally.failed.len()
    );
    text.push_str(&format!(": {} ok", tally.ok));
    let other = tally.failed.len() - denied.len();
    if !denied.is_empty() {
        let lines: Vec<String> = denied.iter().map(ToString::to_string).collect();
        text.push_str(&format!(
            ", {} refused by the policy (line {})",
            denied.len(),
            lines.join(", ")
        ));
    }
    if other > 0 {
        text.push_str(&format!(", {other} failed"));
    }
    if let Some(n) = stopped_at {
        text.push_str(&format!("; stopped at line {n}"));
    }
    out.emit_text(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_like_the_command_line() {
        let script = Script::parse(
            "# install\n\npower on\nsleep 1.5s\ntry type --enter \"echo 'hi there'\"  # greet\nkey ctrl+alt+delete\n",
        )
        .expect("parses");
        let numbers: Vec<usize> = script.lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [3, 4, 5, 6]);
        assert!(matches!(script.lines[1].step, Step::Sleep(d) if d == Duration::from_millis(1500)));
        match &script.lines[2].step {
            Step::Command { command, carry_on } => {
                assert!(carry_on);
                match command.as_ref() {
                    Command::Type(t) => {
                        assert_eq!(t.text, "echo 'hi there'");
                        assert!(t.enter);
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, needle) in [
            ("info\npower sideways\n", "line 2 (`power sideways`)"),
            ("info\n\ntype \"open\n", "line 3"),
            ("sleep\n", "one duration"),
            ("sleep soon\n", "500ms"),
            ("policy check x.json\n", "cannot run in a script"),
            ("try\n", "needs a command"),
            ("run other.nkvm\n", "cannot run in a script"),
        ] {
            let err = Script::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
