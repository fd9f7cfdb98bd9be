//! Development tasks for this workspace, run as `cargo xtask <task>`.
//!
//! See <https://github.com/matklad/cargo-xtask/>: the tasks are plain Rust, so a fresh
//! clone needs nothing but the Rust toolchain to run them. `cargo xtask ci` is the one
//! command CI runs and the README's test command; `.ci/run` calls it.
//!
//! Exit codes: 0 when the task succeeded, 1 when it failed, 2 for a usage error.
//!
//! The repository rules that are easier to state as code than as review comments (module
//! docs, banned test attributes, the dependency direction, folder names) are tests in
//! `tests/tidy.rs`, so `cargo test` enforces them and `ci` runs them in its test step.

// This binary talks to a person at a terminal: printing progress and errors is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::Instant,
};

use anyhow::Context;

const USAGE: &str = "\
Usage: cargo xtask <task>

Tasks:
  ci      run every check CI runs, stopping at the first failure:
          fmt --check, clippy, tests (tidy checks included), docs,
          the fuzz targets, and a publish dry run of nanokvm-hid,
          nanokvm-client and nanokvm-sim
  fmt     format the workspace (cargo fmt --all)
  docs    write the generated docs: docs/mcp.md (nanokvm-mcp reference);
          docs/tools.md is rewritten by nanokvm-policy's tests
  help    print this message

Exit codes: 0 success, 1 the task failed, 2 usage error.
";

/// The exit code for a command line this program does not understand.
const USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["help" | "-h" | "--help"] => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        ["ci"] => ci(),
        ["fmt"] => fmt(),
        ["docs"] => docs(),
        [task, ..] if !["ci", "fmt", "docs", "help"].contains(task) => {
            eprintln!("error: unknown task `{task}`\n\n{USAGE}");
            Ok(ExitCode::from(USAGE_ERROR))
        }
        [task, rest @ ..] => {
            eprintln!(
                "error: `{task}` takes no arguments, got `{}`\n\n{USAGE}",
                rest.join(" ")
            );
            Ok(ExitCode::from(USAGE_ERROR))
        }
    }
}

/// One command of the `ci` task.
struct Step {
    /// The name printed in the step's header and in a failure message.
    name: &'static str,
    /// The arguments to `cargo`.
    args: Vec<&'static str>,
    /// Extra environment variables for the command.
    envs: Vec<(&'static str, &'static str)>,
}

impl Step {
    fn new(name: &'static str, args: &[&'static str]) -> Self {
        Step {
            name,
            args: args.to_vec(),
            envs: Vec::new(),
        }
    }

    fn env(mut self, key: &'static str, value: &'static str) -> Self {
        self.envs.push((key, value));
        self
    }

    /// The command as a person would type it, for headers and error messages.
    fn display(&self) -> String {
        let envs = self.envs.iter().map(|(k, v)| {
            if v.contains(' ') {
                format!("{k}='{v}'")
            } else {
                format!("{k}={v}")
            }
        });
        envs.chain(["cargo".to_owned()])
            .chain(self.args.iter().map(|a| (*a).to_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn ci() -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let root = project_root();
    let steps = ci_steps(&root);
    for step in &steps {
        if step.name == "publish" {
            forget_packaged_builds(&root)?;
        }
        println!("== {}: {}", step.name, step.display());
        let status = cargo(&root)
            .args(&step.args)
            .envs(step.envs.iter().copied())
            .status()
            .with_context(|| format!("step `{}`: failed to run `{}`", step.name, step.display()))?;
        if !status.success() {
            eprintln!(
                "error: step `{}` failed: `{}` exited with {status}",
                step.name,
                step.display()
            );
            println!(
                "== ci failed at step `{}` after {:.1}s",
                step.name,
                start.elapsed().as_secs_f64()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    println!(
        "== ci passed: {} steps in {:.1}s",
        steps.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The steps of `cargo xtask ci`, in the order they run.
/// Removes what earlier dry runs left behind. Cargo verifies the client against the
/// nanokvm-hid it just packaged, served from a local registry; registry crates are
/// taken as immutable, so it unpacks `nanokvm-hid 0.1.0` once (under
/// `$CARGO_HOME/registry/src/-<hash>/`), builds it once, and never again for that
/// version. A client verified against a nanokvm-hid from before the last change would
/// then fail, or pass, for the wrong reason.
fn forget_packaged_builds(root: &Path) -> anyhow::Result<()> {
    let status = cargo(root)
        .args(["clean", "--quiet", "-p", "nanokvm-hid"])
        .status()
        .context("failed to run `cargo clean -p nanokvm-hid`")?;
    if !status.success() {
        anyhow::bail!("`cargo clean -p nanokvm-hid` failed: {status}");
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(sources) = cargo_home.map(|h| h.join("registry/src")) else {
        return Ok(());
    };
    let Ok(registries) = std::fs::read_dir(&sources) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        // Local registries are unpacked into directories named `-<hash>`; crates.io's
        // is named after its host and is left alone.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for krate in crates.flatten() {
            if krate.file_name().to_string_lossy().starts_with("nanokvm-") {
                remove_dir(&krate.path())?;
            }
        }
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

/// The optional features CI checks and tests, on top of the defaults: the Redis
/// counter store (the gateway turns it on too, but the checks should not depend on that).
const FEATURES: &str = "nanokvm-policy/redis";

fn ci_steps(root: &Path) -> Vec<Step> {
    let mut steps = vec![
        Step::new("fmt", &["fmt", "--all", "--check"]),
        Step::new(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                FEATURES,
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    if has_nextest(root) {
        steps.push(Step::new(
            "test",
            &[
                "nextest",
                "run",
                "--workspace",
                "--features",
                FEATURES,
                "--locked",
            ],
        ));
        // nextest runs no doctests, so they get a step of their own.
        steps.push(Step::new(
            "doctest",
            &[
                "test",
                "--workspace",
                "--doc",
                "--features",
                FEATURES,
                "--locked",
            ],
        ));
    } else {
        steps.push(Step::new(
            "test",
            &["test", "--workspace", "--features", FEATURES, "--locked"],
        ));
    }
    steps.push(
        Step::new(
            "doc",
            &[
                "doc",
                "--workspace",
                "--no-deps",
                "--features",
                FEATURES,
                "--locked",
            ],
        )
        .env("RUSTDOCFLAGS", "-D warnings"),
    );
    // The fuzz crate is a workspace of its own (cargo-fuzz wants that), so the workspace
    // commands above do not see it; checking it keeps the targets compiling.
    let fuzz = "nanokvm-hid/fuzz/Cargo.toml";
    if root.join(fuzz).is_file() {
        steps.push(Step::new(
            "fuzz",
            &["check", "--manifest-path", fuzz, "--locked"],
        ));
    }
    // A dry run uploads nothing, so uncommitted work may be checked too: without
    // `--allow-dirty` the step would fail whenever the tree has local changes.
    steps.push(Step::new(
        "publish",
        &[
            "publish",
            "--dry-run",
            "--locked",
            "--allow-dirty",
            "-p",
            "nanokvm-hid",
            // Published together, so the client's and the simulator's dependency on
            // nanokvm-hid (and the client's dev-dependency on the simulator) resolve to
            // the packages beside them rather than to crates.io.
            "-p",
            "nanokvm-client",
            "-p",
            "nanokvm-sim",
        ],
    ));
    steps
}

fn fmt() -> anyhow::Result<ExitCode> {
    let root = project_root();
    let status = cargo(&root)
        .args(["fmt", "--all"])
        .status()
        .context("failed to run `cargo fmt --all`")?;
    if status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: `cargo fmt --all` exited with {status}");
        Ok(ExitCode::FAILURE)
    }
}

/// Writes `docs/mcp.md` from the MCP server's own tool definitions.
fn docs() -> anyhow::Result<ExitCode> {
    let root = project_root();
    let output = cargo(&root)
        .args(["run", "--quiet", "-p", "nanokvm-mcp", "--", "reference"])
        .stderr(Stdio::inherit())
        .output()
        .context("failed to run `nanokvm-mcp reference`")?;
    if !output.status.success() {
        eprintln!(
            "error: `nanokvm-mcp reference` exited with {}",
            output.status
        );
        return Ok(ExitCode::FAILURE);
    }
    let path = root.join("docs/mcp.md");
    std::fs::write(&path, &output.stdout)
        .with_context(|| format!("failed to write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Whether `cargo nextest` is installed.
fn has_nextest(root: &Path) -> bool {
    cargo(root)
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A `cargo` command run from the workspace root.
///
/// It uses the cargo that runs this task (the `CARGO` variable), so that a toolchain
/// chosen with `cargo +toolchain xtask` is the one that runs the checks.
fn cargo(root: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    // Colour is left to cargo's own detection: CI reads the test runners' closing lines,
    // which escape codes would garble.
    command.current_dir(root);
    command
}

/// The workspace root: the parent of this crate's folder.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}
