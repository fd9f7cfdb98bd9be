//! The target's shell: the few commands an agent needs to check that it is logged in
//! where it thinks it is, and what they print.
//!
//! Words are split at blanks, with single and double quotes grouping (and removed) as a
//! POSIX shell does; there are no variables, globs, pipes or redirections.

use std::time::SystemTime;

/// What the machine knows that commands print.
pub(super) struct Context<'a> {
    pub user: &'a str,
    pub hostname: &'a str,
    /// The installed system's name, as `PRETTY_NAME` shows it.
    pub os: &'a str,
    /// The image it was installed from, if it was installed from one.
    pub installed_from: Option<&'a str>,
    pub now: SystemTime,
}

/// What a command does besides printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    None,
    Clear,
    Reboot,
    PowerOff,
    StartX,
    Logout,
}

/// The kernel every installed system runs.
pub(super) const KERNEL: &str = "6.1.0-sim";

/// Runs one command line: the lines it prints and what it does.
pub(super) fn run(line: &str, cx: &Context<'_>) -> (Vec<String>, Action) {
    let words = split(line);
    let Some((cmd, args)) = words.split_first() else {
        return (Vec::new(), Action::None);
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = |lines: Vec<String>| (lines, Action::None);
    match cmd.as_str() {
        "echo" => out(vec![args.join(" ")]),
        "whoami" => out(vec![cx.user.to_owned()]),
        "hostname" => out(vec![cx.hostname.to_owned()]),
        "uname" => out(vec![uname(&args, cx)]),
        "date" => out(vec![crate::util::unix_date(cx.now)]),
        "ls" => out(ls(&args)),
        "cat" => out(cat(&args, cx)),
        "clear" => (Vec::new(), Action::Clear),
        "reboot" => (Vec::new(), Action::Reboot),
        "poweroff" | "shutdown" => (Vec::new(), Action::PowerOff),
        "startx" => (Vec::new(), Action::StartX),
        "exit" | "logout" => (Vec::new(), Action::Logout),
        other => out(vec![format!("-bash: {other}: command not found")]),
    }
}

/// Splits a command line into words, honouring quotes.
fn split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ' | '\t') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn uname(args: &[&str], cx: &Context<'_>) -> String {
    let all = [
        "Linux".to_owned(),
        cx.hostname.to_owned(),
        KERNEL.to_owned(),
        "#1 SMP PREEMPT_DYNAMIC nanokvm-sim".to_owned(),
        "x86_64".to_owned(),
        "GNU/Linux".to_owned(),
    ];
    let mut picked = Vec::new();
    for a in args {
        match *a {
            "-a" | "--all" => return all.join(" "),
            "-s" => picked.push(0),
            "-n" => picked.push(1),
            "-r" => picked.push(2),
            "-v" => picked.push(3),
            "-m" => picked.push(4),
            "-o" => picked.push(5),
            other => {
                return format!(
                    "uname: invalid option -- '{}'",
                    other.trim_start_matches('-')
                );
            }
        }
    }
    if picked.is_empty() {
        picked.push(0);
    }
    picked.sort_unstable();
    picked.dedup();
    picked
        .iter()
        .map(|&i| all[i].as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn ls(args: &[&str]) -> Vec<String> {
    match args.iter().find(|a| !a.starts_with('-')) {
        None | Some(&("." | "~")) => vec!["Desktop  Documents  notes.txt".to_owned()],
        Some(&"/") => vec![
            "bin  boot  dev  etc  home  lib  mnt  opt  proc  root  run  sbin  srv  sys  tmp  usr  var"
                .to_owned(),
        ],
        Some(&"/etc") => vec!["hostname  os-release  passwd".to_owned()],
        Some(other) => vec![format!(
            "ls: cannot access '{other}': No such file or directory"
        )],
    }
}

fn cat(args: &[&str], cx: &Context<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for file in args {
        match *file {
            "/etc/os-release" => {
                out.push(format!("PRETTY_NAME=\"{}\"", cx.os));
                out.push("NAME=\"nanokvm-sim Linux\"".to_owned());
                out.push("ID=nanokvm-sim".to_owned());
                out.push(format!(
                    "VERSION=\"{}\"",
                    cx.installed_from.map_or_else(
                        || "1.0 (preinstalled)".to_owned(),
                        |image| format!("2.0 (installed from {image})")
                    )
                ));
            }
            "/etc/hostname" => out.push(cx.hostname.to_owned()),
            "notes.txt" => out.push("Nothing to see here.".to_owned()),
            other => out.push(format!("cat: {other}: No such file or directory")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            user: "alice",
            hostname: "box",
            os: "nanokvm-sim Linux 1.0",
            installed_from: None,
            now: std::time::UNIX_EPOCH,
        }
    }

    #[test]
    fn commands_print_what_a_linux_shell_prints() {
        let cases: &[(&str, &[&str], Action)] = &[
            (
                "echo  hello   'big  world' \"x\"",
                &["hello big  world x"],
                Action::None,
            ),
            ("whoami", &["alice"], Action::None),
            ("hostname", &["box"], Action::None),
            (
                "uname -a",
                &["Linux box 6.1.0-sim #1 SMP PREEMPT_DYNAMIC nanokvm-sim x86_64 GNU/Linux"],
                Action::None,
            ),
            ("uname", &["Linux"], Action::None),
            ("uname -r -n", &["box 6.1.0-sim"], Action::None),
            ("date", &["Thu Jan  1 00:00:00 UTC 1970"], Action::None),
            ("ls", &["Desktop  Documents  notes.txt"], Action::None),
            (
                "cat /nope",
                &["cat: /nope: No such file or directory"],
                Action::None,
            ),
            (
                "frobnicate --now",
                &["-bash: frobnicate: command not found"],
                Action::None,
            ),
            ("", &[], Action::None),
            ("clear", &[], Action::Clear),
            ("reboot", &[], Action::Reboot),
            ("poweroff", &[], Action::PowerOff),
            ("startx", &[], Action::StartX),
            ("exit", &[], Action::Logout),
        ];
        for (line, want, action) in cases {
            let (out, a) = run(line, &cx());
            let want: Vec<String> = want.iter().map(|w| (*w).to_owned()).collect();
            assert_eq!((out, a), (want, *action), "{line}");
        }
        let (out, _) = run("cat /etc/os-release", &cx());
        assert_eq!(out[0], "PRETTY_NAME=\"nanokvm-sim Linux 1.0\"");
    }
}
