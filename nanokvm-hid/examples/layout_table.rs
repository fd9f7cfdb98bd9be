//! Prints how every character of a keyboard layout is typed, one JSON object per line.
//!
//! ```text
//! cargo run -p nanokvm-hid --example layout_table -- fr
//! {"char":"ê","strokes":[{"usage":47,"modifiers":0},{"usage":8,"modifiers":0}]}
//! cargo run -p nanokvm-hid --example layout_table -- --os linux cz
//! cargo run -p nanokvm-hid --example layout_table -- --list
//! ```
//!
//! `--os` names the target's system, `windows` (the default) or `linux`. `usage` is the
//! HID usage ID and `modifiers` the report's modifier byte. Exit codes: 0 on success, 2 for
//! a usage error, an unknown layout or an unknown system.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line example prints.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use nanokvm_hid::{Keymap, Layout, TargetOs};

const USAGE: &str = "usage: layout_table [--os windows|linux] LAYOUT | --list";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut os = TargetOs::default();
    if let Some(at) = args.iter().position(|a| a == "--os") {
        let name = args.get(at + 1).cloned().unwrap_or_default();
        match TargetOs::from_name(&name) {
            Ok(named) => os = named,
            Err(e) => {
                eprintln!("error: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
        args.drain(at..(at + 2).min(args.len()));
    }
    let [arg] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match arg.as_str() {
        "--list" => list(),
        "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        name => match Layout::from_name(name) {
            Ok(layout) => table(layout.on(os)),
            Err(e) => {
                eprintln!("error: {e}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is a normal way to stop reading.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list() -> io::Result<()> {
    let mut out = io::stdout().lock();
    for layout in Layout::ALL {
        writeln!(out, "{}", layout.name())?;
    }
    Ok(())
}

fn table(keymap: Keymap) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for (c, strokes) in keymap.chars() {
        // Written by hand rather than through a map so that the keys keep the documented
        // order; serde_json still escapes the character.
        let strokes: Vec<String> = strokes
            .iter()
            .map(|s| {
                format!(
                    r#"{{"usage":{},"modifiers":{}}}"#,
                    s.key.usage(),
                    s.modifiers.bits()
                )
            })
            .collect();
        let ch = serde_json::to_string(&c.to_string()).map_err(io::Error::other)?;
        writeln!(out, r#"{{"char":{ch},"strokes":[{}]}}"#, strokes.join(","))?;
    }
    out.flush()
}
