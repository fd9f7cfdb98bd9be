//! `nanokvm`: drive a Sipeed NanoKVM from a shell or a script.
//!
//! Every device command is a call of a catalogue tool (`nanokvm_power`,
//! `nanokvm_type_text`, ...) with the same JSON arguments the MCP server's tool sends,
//! made through the policy gate: decided, counted and audited before it reaches the
//! device, so one policy file governs both frontends.
//!
//! - `cli`: the command line (clap); `actions`: device commands as catalogue calls;
//! - `session`: the device, its gate and the CLI's audit log; `approve`: approvals on
//!   the terminal, raced with the shared queue;
//! - `script`: `nanokvm run`; `admin`: policy, audit, approvals, config, sim and
//!   completions, which need no device;
//! - `output`: stdout for results, stderr for the rest; `exit`: exit codes and hints.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error, 3 denied by the policy, 4 device
//! unreachable, 5 authentication failed, 6 not supported by this firmware.

mod actions;
mod admin;
mod approve;
mod cli;
mod exit;
mod output;
mod script;
mod session;

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, exit_of, hint};
use crate::output::Output;
use crate::session::Session;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and versions on stdout, mistakes on stderr (exit code 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let out = Output::new(&cli.global);
    match run(&cli, &out) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => {
            let exit = exit_of(&error);
            report_error(&out, &error, exit);
            ExitCode::from(exit.code())
        }
    }
}

/// Prints `error` with its causes and, where there is one, what to do next.
fn report_error(out: &Output, error: &anyhow::Error, exit: Exit) {
    let mut message = format!("{error:#}");
    if let Some(hint) = hint(error, exit) {
        message.push_str(&format!("\n  hint: {hint}"));
    }
    out.error(&message, exit.kind(), exit.code());
}

fn run(cli: &Cli, out: &Output) -> Result<Exit> {
    if !cli.command.is_device_command() && !matches!(cli.command, Command::Run(_)) {
        return admin::run(cli, out);
    }
    // One thread: a command does one thing at a time, and it starts faster.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let result = runtime.block_on(async {
        if let Command::Run(args) = &cli.command {
            // Check the whole script before touching the device.
            let script = script::Script::load(&args.script)?;
            if args.check {
                return script::report_check(&script, out);
            }
            let session = Session::open(&cli.global, out).await?;
            let result = script::run(&session, &script, out).await;
            session.close().await;
            return result;
        }
        let session = Session::open(&cli.global, out).await?;
        let result = actions::execute(&session, &cli.command, out).await;
        // The result first: stopping an embedded simulator must not delay it.
        let emitted = match &result {
            Ok(report) => out.emit(report).context("cannot write the result"),
            Err(_) => Ok(()),
        };
        session.close().await;
        result?;
        emitted?;
        Ok(Exit::Success)
    });
    // A prompt still reading the terminal must not keep the process alive.
    runtime.shutdown_background();
    result
}
