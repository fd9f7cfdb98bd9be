//! `nanokvm-mcp`: the NanoKVM MCP server, over stdio or, with `--http`, Streamable HTTP.
//!
//! Exit codes: 0 when the client closed the connection (stdio) or the server was stopped
//! by Ctrl-C or SIGTERM (HTTP); 1 when the server could not start (no device configured,
//! a bad policy, an unwritable state directory, a bad tokens file, an address in use) or
//! failed.

#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;
use nanokvm_mcp::http::tokens::{self, Source};
use nanokvm_mcp::http::{self, HttpServer, Tokens};
use nanokvm_mcp::server::NanoKvmServer;
use nanokvm_mcp::setup::{DeviceArgs, PolicyArgs, setup};
use rmcp::ServiceExt as _;
use secrecy::{ExposeSecret as _, SecretString};
use tracing_subscriber::EnvFilter;

/// An MCP server that lets AI agents drive a Sipeed NanoKVM, every call decided, counted
/// and audited by a policy.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_help = "\
Examples:
  nanokvm-mcp --sim                          try it against a simulated NanoKVM
  NANOKVM_HOST=192.168.1.50 NANOKVM_PASS=... nanokvm-mcp --layout de
  nanokvm-mcp --host kvm.lan --policy lab-policy.json
  nanokvm-mcp --sim --http 8765               Streamable HTTP on http://127.0.0.1:8765/mcp")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    policy: PolicyArgs,
    /// The principal this client calls as: the policy's `grant` scope, so grant-scoped
    /// counters survive a restart. Over HTTP each token's name is its grant.
    #[arg(long, default_value = "local", conflicts_with = "http")]
    grant: String,
    /// Serve MCP over Streamable HTTP at http://ADDR/mcp instead of stdio. ADDR is a
    /// port (on 127.0.0.1) or an address and port; 0.0.0.0:PORT listens on every
    /// interface. Every request needs a bearer token (see --tokens).
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// The bearer tokens --http accepts: a TOML file of `name = "token"` lines; a token's
    /// name is the policy's grant for its calls. Without it, the token in
    /// NANOKVM_MCP_TOKEN (named `default`), else a new token printed at start.
    #[arg(long, value_name = "FILE", requires = "http")]
    tokens: Option<PathBuf>,
    /// What is logged to stderr (`error`, `warn`, `info`, `debug`, or a tracing filter).
    #[arg(long, env = "NANOKVM_LOG", default_value = "info")]
    log_level: String,
}

/// Commands besides serving.
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Lists and answers calls waiting for a human's approval, from another terminal
    /// while the server runs (reads the same --state-dir).
    Approvals {
        #[command(subcommand)]
        action: ApprovalsAction,
    },
    /// Prints the tool reference (Markdown, as docs/mcp.md holds it).
    Reference,
}

#[derive(clap::Subcommand, Debug)]
enum ApprovalsAction {
    /// The requests waiting for an answer (one JSON object per line with --json).
    List {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lets the call with this id run once.
    Approve {
        /// The request's id, as `list` shows it.
        id: String,
    },
    /// Refuses the call with this id.
    Deny {
        /// The request's id, as `list` shows it.
        id: String,
        /// Why, for the agent to read.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[allow(clippy::print_stdout)]
fn approvals(cli: &Cli, action: &ApprovalsAction) -> Result<()> {
    let dir = cli
        .policy
        .state_dir
        .clone()
        .unwrap_or_else(nanokvm_mcp::setup::default_state_dir);
    let path = dir.join("approvals.sqlite");
    if !path.exists() {
        anyhow::bail!(
            "no approval queue in {}: is the server running with this --state-dir?",
            dir.display()
        );
    }
    let queue = nanokvm_policy::gate::ApprovalQueue::open(&path)?;
    match action {
        ApprovalsAction::List { json } => {
            let pending = queue.pending()?;
            if *json {
                for p in &pending {
                    println!("{}", serde_json::to_string(p)?);
                }
            } else if pending.is_empty() {
                println!("nothing waits for approval");
            } else {
                for p in &pending {
                    println!(
                        "{}  {} on {} by {}  {}\n          {}",
                        p.id, p.tool, p.device, p.principal, p.args, p.message
                    );
                }
            }
        }
        ApprovalsAction::Approve { id } => {
            queue.answer(id, true, None)?;
            println!("approved {id}");
        }
        ApprovalsAction::Deny { id, reason } => {
            queue.answer(id, false, reason.as_deref())?;
            println!("denied {id}");
        }
    }
    Ok(())
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

#[allow(clippy::print_stdout)] // the reference goes to stdout
fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Some(Command::Approvals { action }) => return approvals(&cli, action),
        Some(Command::Reference) => {
            print!("{}", nanokvm_mcp::reference::markdown());
            return Ok(());
        }
        None => {}
    }
    // The address and the tokens are checked before anything starts.
    let http = match &cli.http {
        Some(addr) => Some((
            http::parse_addr(addr).context("--http")?,
            http_tokens(&cli)?,
        )),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let setup = setup(&cli.device, &cli.policy).await?;
        let served = match http {
            Some((addr, tokens)) => {
                let server = NanoKvmServer::new(setup.devices, tokens::DEFAULT_NAME, "http")
                    .with_approvals(setup.approvals);
                serve_http(server, addr, tokens).await
            }
            None => {
                let session = format!("stdio-{}", std::process::id());
                let server = NanoKvmServer::new(setup.devices, cli.grant, session)
                    .with_approvals(setup.approvals);
                tracing::info!(state_dir = %setup.state_dir.display(), "serving MCP over stdio");
                serve_stdio(server).await
            }
        };
        if let Some(sim) = setup.simulator {
            sim.shutdown().await.ok();
        }
        served
    })
}

async fn serve_stdio(server: NanoKvmServer) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP handshake failed")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}

/// The tokens for `--http`; a generated one is shown here, once, on stderr.
fn http_tokens(cli: &Cli) -> Result<Tokens> {
    let env = std::env::var(tokens::ENV).ok().map(SecretString::from);
    let (tokens, source) = Tokens::resolve(cli.tokens.as_deref(), env)?;
    if let Source::Generated(token) = source {
        let token = token.expose_secret();
        eprintln!(
            "nanokvm-mcp: no --tokens file and no {env} set, so this run accepts one new \
             token (grant `{name}`):\n\n    {token}\n\nClients send it as the header \
             `Authorization: Bearer <token>`. Set {env} (or use --tokens FILE) to keep a \
             token across restarts.",
            env = tokens::ENV,
            name = tokens::DEFAULT_NAME,
        );
    }
    Ok(tokens)
}

async fn serve_http(
    server: NanoKvmServer,
    addr: std::net::SocketAddr,
    tokens: Tokens,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().context("the listening address")?;
    let names: Vec<&str> = tokens.names().collect();
    tracing::info!(
        url = %format!("http://{bound}{}", http::ENDPOINT),
        tokens = %names.join(", "),
        "serving MCP over Streamable HTTP"
    );
    if !bound.ip().is_loopback() {
        tracing::warn!(
            %bound,
            "listening beyond this machine: the bearer tokens travel in clear over plain \
             HTTP, so use this on a trusted network or behind a TLS proxy"
        );
    }
    HttpServer::new(server, tokens)
        .serve(listener, shutdown_signal())
        .await
        .context("the HTTP server failed")
}

/// Completes at Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
