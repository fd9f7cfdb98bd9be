//! `nanokvm-mcp`: the NanoKVM MCP server over stdio.
//!
//! Exit codes: 0 when the client closed the connection; 1 when the server could not
//! start (no device configured, a bad policy, an unwritable state directory) or failed.

#![allow(clippy::print_stderr)]

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;
use nanokvm_mcp::server::NanoKvmServer;
use nanokvm_mcp::setup::{DeviceArgs, PolicyArgs, setup};
use rmcp::ServiceExt as _;
use tracing_subscriber::EnvFilter;

/// An MCP server that lets AI agents drive a Sipeed NanoKVM, every call decided, counted
/// and audited by a policy.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_help = "\
Examples:
  nanokvm-mcp --sim                          try it against a simulated NanoKVM
  NANOKVM_HOST=192.168.1.50 NANOKVM_PASS=... nanokvm-mcp --layout de
  nanokvm-mcp --host kvm.lan --policy lab-policy.json")]
struct Cli {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// The principal this client calls as: the policy's `grant` scope, so grant-scoped
    /// counters survive a restart.
    #[arg(long, default_value = "local")]
    grant: String,
    /// What is logged to stderr (`error`, `warn`, `info`, `debug`, or a tracing filter).
    #[arg(long, env = "NANOKVM_LOG", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_new(&cli.log_level).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nanokvm-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let setup = setup(&cli.device, &cli.policy).await?;
        let session = format!("stdio-{}", std::process::id());
        let server = NanoKvmServer::new(setup.devices, cli.grant, session);
        tracing::info!(state_dir = %setup.state_dir.display(), "serving MCP over stdio");
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP handshake failed")?;
        running.waiting().await.context("the MCP session failed")?;
        if let Some(sim) = setup.simulator {
            sim.shutdown().await.ok();
        }
        Ok(())
    })
}
