//! Where things are printed: results on stdout (text, or JSON with `--json`), notes,
//! progress and errors on stderr. Progress bars and colour appear only when stderr is a
//! terminal, colour never with `NO_COLOR`; in a pipe the output is plain.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use crate::cli::Global;

/// What a command produced: JSON for `--json`, text for people, and an image for
/// `screenshot -o -`.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The result as JSON, with stable field names.
    pub json: Value,
    /// The result for people.
    pub text: String,
    /// JPEG bytes to write to stdout instead of the report.
    pub image: Option<Vec<u8>>,
}

impl Report {
    /// A report with its own text.
    #[must_use]
    pub fn new(json: Value, text: String) -> Self {
        Self {
            json,
            text,
            image: None,
        }
    }

    /// A report whose text is its JSON laid out as `key: value` lines.
    #[must_use]
    pub fn from_json(json: Value) -> Self {
        let text = human(&json);
        Self::new(json, text)
    }

    /// An image for stdout, with its metadata for stderr.
    #[must_use]
    pub fn image(jpeg: Vec<u8>, json: Value) -> Self {
        let text = human(&json);
        Self {
            json,
            text,
            image: Some(jpeg),
        }
    }
}

/// JSON laid out for reading: an object as `key: value` lines, lists one item a line.
#[must_use]
pub fn human(json: &Value) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        }
    }
    match json {
        Value::Object(map) => {
            let mut lines = Vec::new();
            for (k, v) in map {
                match v {
                    Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                        lines.push(format!("{k}:"));
                        for item in items {
                            lines.push(format!("  {}", scalar(item)));
                        }
                    }
                    Value::Array(items) if items.is_empty() => lines.push(format!("{k}: (none)")),
                    Value::Array(items) => {
                        let items: Vec<String> = items.iter().map(scalar).collect();
                        lines.push(format!("{k}: {}", items.join(", ")));
                    }
                    other => lines.push(format!("{k}: {}", scalar(other))),
                }
            }
            lines.join("\n")
        }
        other => scalar(other),
    }
}

/// How this run prints.
#[derive(Clone, Debug)]
pub struct Output {
    json: bool,
    quiet: bool,
    terminal: bool,
    colour: bool,
    /// Where bars go while a script's own bar is shown, so they do not fight over a line.
    multi: Option<MultiProgress>,
}

/// Whether `NO_COLOR` asks for no colour (set and not empty, as no-color.org says).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

impl Output {
    /// The output the global options ask for.
    #[must_use]
    pub fn new(global: &Global) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            json: global.json,
            quiet: global.quiet,
            terminal,
            colour: terminal && !no_color(),
            multi: None,
        }
    }

    /// The same output, with every bar drawn below the ones of `multi`.
    #[must_use]
    pub fn with_multi(&self, multi: MultiProgress) -> Self {
        Self {
            multi: Some(multi),
            ..self.clone()
        }
    }

    /// Bars drawn together, for a script's bar and the bars of its steps.
    #[must_use]
    pub fn multi(&self) -> MultiProgress {
        MultiProgress::with_draw_target(self.target())
    }

    fn adopt(&self, bar: ProgressBar) -> ProgressBar {
        match &self.multi {
            Some(multi) => multi.add(bar),
            None => bar,
        }
    }

    /// Whether results are JSON.
    #[must_use]
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a command's result on stdout.
    ///
    /// # Errors
    ///
    /// Writing to stdout failed (other than a closed pipe, which is not an error).
    pub fn emit(&self, report: &Report) -> std::io::Result<()> {
        if let Some(image) = &report.image {
            // The image is the result; its description goes to stderr.
            self.note(&if self.json {
                report.json.to_string()
            } else {
                report.text.clone()
            });
            return write_stdout(image);
        }
        if self.json {
            self.emit_json(&report.json)
        } else if report.text.is_empty() {
            Ok(())
        } else {
            write_stdout(format!("{}\n", report.text).as_bytes())
        }
    }

    /// Prints one JSON document (or one line of a JSON lines stream) on stdout.
    ///
    /// # Errors
    ///
    /// As [`Output::emit`].
    pub fn emit_json(&self, json: &Value) -> std::io::Result<()> {
        write_stdout(format!("{json}\n").as_bytes())
    }

    /// Prints a line of text on stdout (text mode only).
    ///
    /// # Errors
    ///
    /// As [`Output::emit`].
    pub fn emit_text(&self, text: &str) -> std::io::Result<()> {
        write_stdout(format!("{text}\n").as_bytes())
    }

    /// A note for the person at the terminal, on stderr; none with `--quiet`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.stderr(&format!("{message}\n"));
        }
    }

    /// A warning on stderr (shown with `--quiet` too).
    pub fn warn(&self, message: &str) {
        let tag = self.paint(
            "warning:",
            Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
        );
        self.stderr(&format!("{tag} {message}\n"));
    }

    /// An error on stderr: text, or a JSON object with `--json`.
    pub fn error(&self, message: &str, kind: &str, code: u8) {
        if self.json {
            let json = serde_json::json!({"error": message, "kind": kind, "exit_code": code});
            self.stderr(&format!("{json}\n"));
        } else {
            let tag = self.paint(
                "error:",
                Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            );
            self.stderr(&format!("nanokvm: {tag} {message}\n"));
        }
    }

    /// Text in `style` when colour is on.
    #[must_use]
    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.colour {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn stderr(&self, text: &str) {
        // A closed stderr leaves nowhere to report anything; carry on.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    /// A spinner with `label` while something runs, drawn only on a terminal.
    #[must_use]
    pub fn spinner(&self, label: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_owned());
        let bar = self.adopt(bar);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// The look of a bar whose length is known.
    #[must_use]
    pub fn bar_style() -> ProgressStyle {
        ProgressStyle::with_template("{msg} [{bar:30}] {percent}% {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
    }

    /// A progress bar of `len` steps, drawn only on a terminal.
    #[must_use]
    pub fn bar(&self, len: u64, label: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), self.target());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        self.adopt(bar)
    }

    fn target(&self) -> ProgressDrawTarget {
        if self.terminal && !self.quiet {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_reads_as_lines() {
        let text = human(&json!({
            "hardware": "Beta",
            "images": ["/data/a.iso", "/data/b.iso"],
            "none": [],
            "skipped": [{"char": "→", "index": 3}],
            "power": true,
        }));
        for line in [
            "hardware: Beta",
            "images: /data/a.iso, /data/b.iso",
            "none: (none)",
            "skipped:\n  {\"char\":\"→\",\"index\":3}",
            "power: true",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
    }
}
