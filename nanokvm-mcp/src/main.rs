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
use nanokvm_mcp::gateway::{Drift, GatewayBuilder, Link, PinFile, Upstream};
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
    /// Puts the policy, approvals, limits and audit log in front of another MCP server:
    /// `nanokvm-mcp gateway --policy FILE -- COMMAND ARGS...` starts it as a child
    /// process over stdio, `--upstream-url URL` reaches it over Streamable HTTP.
    #[command(after_help = "\
Examples:
  nanokvm-mcp gateway --policy mountiso.json -- python -m virt_mcp
  nanokvm-mcp gateway --policy p.json --http 8765 --upstream-url http://127.0.0.1:9000/mcp \\
      --upstream-header 'Authorization: Bearer ...'
  nanokvm-mcp gateway pins diff -- python -m virt_mcp")]
    Gateway(Box<GatewayArgs>),
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
        Some(Command::Gateway(args)) => return gateway(args),
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

async fn serve_stdio<S: rmcp::ServerHandler>(server: S) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP handshake failed")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}

/// The tokens for `--http`; a generated one is shown here, once, on stderr.
fn http_tokens(cli: &Cli) -> Result<Tokens> {
    resolve_tokens(cli.tokens.as_deref())
}

/// The tokens in `file`, or in the environment, or a new one shown once on stderr.
fn resolve_tokens(file: Option<&std::path::Path>) -> Result<Tokens> {
    let env = std::env::var(tokens::ENV).ok().map(SecretString::from);
    let (tokens, source) = Tokens::resolve(file, env)?;
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

async fn serve_http<S: nanokvm_mcp::http::Session>(
    server: S,
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

/// `nanokvm-mcp gateway`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct GatewayArgs {
    #[command(subcommand)]
    pins: Option<PinsCommand>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    counters: nanokvm_mcp::setup::CountersArgs,
    #[command(flatten)]
    upstream: UpstreamArgs,
    /// The upstream's name in counters (`device` scope), approvals and the audit log
    /// (`audit-gateway-NAME.jsonl` in the state directory).
    #[arg(long, default_value = "upstream")]
    name: String,
    /// The principal the stdio client calls as: the policy's `grant` scope. Over HTTP
    /// each token's name is its grant.
    #[arg(long, default_value = "local", conflicts_with = "http")]
    grant: String,
    /// Serve agents over Streamable HTTP at http://ADDR/mcp instead of stdio, with the
    /// device server's bearer tokens (see --tokens), Host and Origin checks and body cap.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// The bearer tokens --http accepts (TOML, `name = "token"`); a token's name is its
    /// grant. Without it, NANOKVM_MCP_TOKEN (named `default`), else a new token printed
    /// at start.
    #[arg(long, value_name = "FILE", requires = "http")]
    tokens: Option<PathBuf>,
    /// Do not pin tool definitions.
    #[arg(long)]
    no_pins: bool,
    /// How long a forwarded request may take, in seconds; a call that times out stays
    /// counted, since it may have run.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    upstream_timeout: u64,
}

/// Where the upstream MCP server is.
#[derive(clap::Args, Debug, Clone)]
struct UpstreamArgs {
    /// A Streamable HTTP upstream, instead of a command after `--`.
    #[arg(long, value_name = "URL", conflicts_with = "command")]
    upstream_url: Option<String>,
    /// A header for every request to the HTTP upstream, `'NAME: VALUE'` (repeat it):
    /// the upstream's own credentials. The agent's token is never forwarded.
    #[arg(long, value_name = "HEADER", requires = "upstream_url")]
    upstream_header: Vec<String>,
    /// The upstream's command line, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl UpstreamArgs {
    fn upstream(&self) -> Result<Upstream> {
        if let Some(url) = &self.upstream_url {
            let headers = self
                .upstream_header
                .iter()
                .map(|h| Upstream::parse_header(h))
                .collect::<Result<_>>()
                .context("--upstream-header")?;
            return Ok(Upstream::Http {
                url: url.clone(),
                headers,
            });
        }
        let Some((program, args)) = self.command.split_first() else {
            anyhow::bail!(
                "no upstream MCP server: give its command after `--` (`nanokvm-mcp gateway \
                 --policy p.json -- COMMAND ARGS...`) or --upstream-url URL"
            );
        };
        Ok(Upstream::Command {
            program: program.clone(),
            args: args.to_vec(),
        })
    }
}

/// `nanokvm-mcp gateway pins ...`.
#[derive(clap::Subcommand, Debug)]
enum PinsCommand {
    /// Manages the pinned tool definitions of an upstream.
    Pins {
        #[command(subcommand)]
        action: PinsAction,
    },
}

#[derive(clap::Subcommand, Debug)]
enum PinsAction {
    /// The pinned tools of the upstream, with their digests.
    List {
        #[command(flatten)]
        upstream: UpstreamArgs,
        /// Where the pins live (default: the state directory).
        #[arg(long, env = "NANOKVM_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Starts the upstream and shows every tool that drifted from its pin.
    Diff {
        /// Only this tool.
        tool: Option<String>,
        #[command(flatten)]
        upstream: UpstreamArgs,
        /// Where the pins live (default: the state directory).
        #[arg(long, env = "NANOKVM_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Starts the upstream and pins its tools as they are now (one tool, or all).
    Accept {
        /// Only this tool.
        tool: Option<String>,
        #[command(flatten)]
        upstream: UpstreamArgs,
        /// Where the pins live (default: the state directory).
        #[arg(long, env = "NANOKVM_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
}

fn gateway(args: &GatewayArgs) -> Result<()> {
    if let Some(PinsCommand::Pins { action }) = &args.pins {
        return pins(action);
    }
    let upstream = args.upstream.upstream()?;
    let http = match &args.http {
        Some(addr) => Some((
            http::parse_addr(addr).context("--http")?,
            resolve_tokens(args.tokens.as_deref())?,
        )),
        None => None,
    };
    // An HTTPS upstream needs a TLS provider; rustls is built with ring alone.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let setup = nanokvm_mcp::setup::gateway_setup(&args.policy, &args.counters, &args.name)?;
        if let Some(every) = setup.audit_sync {
            // Group commit: the records of each interval are synced together, off the
            // calls' path; closing the log at exit syncs the rest.
            let gate = setup.gate.clone();
            std::thread::Builder::new()
                .name("audit-sync".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(every);
                        if let Err(e) = gate.sync_audit() {
                            tracing::error!(error = %e, "cannot sync the audit log");
                        }
                    }
                })
                .context("cannot start the audit log's sync")?;
        }
        let closing = setup.gate.clone();
        let link = Link::new(upstream);
        let mut builder = GatewayBuilder::new(setup.gate, link.clone())
            .approvals(setup.approvals)
            .upstream_timeout(std::time::Duration::from_secs(args.upstream_timeout));
        if !args.no_pins {
            builder = builder.pins(PinFile::in_dir(&setup.state_dir));
        }
        let served = match http {
            Some((addr, tokens)) => {
                let server = builder.start(tokens::DEFAULT_NAME, "http").await?;
                serve_http(server, addr, tokens).await
            }
            None => {
                let session = format!("stdio-{}", std::process::id());
                let server = builder.start(&args.grant, session).await?;
                tracing::info!(state_dir = %setup.state_dir.display(), "serving the gateway over stdio");
                serve_stdio(server).await
            }
        };
        link.close().await;
        // The sync thread keeps the log open: anchor the last records before leaving.
        if let Err(e) = closing.sync_audit() {
            tracing::error!(error = %e, "cannot sync the audit log");
        }
        served
    })
}

#[allow(clippy::print_stdout)]
fn pins(action: &PinsAction) -> Result<()> {
    let (upstream, state_dir, tool) = match action {
        PinsAction::List {
            upstream,
            state_dir,
        } => (upstream, state_dir, None),
        PinsAction::Diff {
            tool,
            upstream,
            state_dir,
        }
        | PinsAction::Accept {
            tool,
            upstream,
            state_dir,
        } => (upstream, state_dir, tool.as_deref()),
    };
    let upstream = upstream.upstream()?;
    let dir = state_dir
        .clone()
        .unwrap_or_else(nanokvm_mcp::setup::default_state_dir);
    let file = PinFile::in_dir(&dir);
    let key = upstream.key();
    let pinned = file.of(&key)?;
    if let PinsAction::List { .. } = action {
        let Some(pinned) = pinned else {
            anyhow::bail!(
                "no pins for `{key}` in {}: the gateway has not seen it",
                dir.display()
            );
        };
        for (name, digest) in &pinned.tools {
            println!("{name}  sha256:{digest}");
        }
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let link = Link::new(upstream);
        let tools = nanokvm_mcp::gateway::list_tools(&link).await;
        link.close().await;
        let tools = tools?;
        if let Some(name) = tool
            && !tools.iter().any(|t| t.name == name)
        {
            anyhow::bail!("the upstream has no tool `{name}`");
        }
        let chosen = tools.iter().filter(|t| tool.is_none_or(|n| t.name == n));
        let mut pins = pinned.clone().unwrap_or_default();
        match action {
            PinsAction::Accept { .. } => {
                let mut accepted = 0;
                for t in chosen {
                    if pins.drift(t).is_some() {
                        pins.accept(t);
                        accepted += 1;
                        println!("accepted {}", t.name);
                    }
                }
                file.store(&key, pins)?;
                if accepted == 0 {
                    println!("nothing drifted");
                }
            }
            _ => {
                let mut drifted = 0;
                for t in chosen {
                    let Some(drift) = pins.drift(t) else { continue };
                    drifted += 1;
                    let now = serde_json::to_string_pretty(&nanokvm_mcp::gateway::pins::canonical(t))?;
                    match (drift, pins.definitions.get(t.name.as_ref())) {
                        (Drift::Changed { pinned, now: digest }, Some(before)) => println!(
                            "{} changed (sha256:{pinned} -> sha256:{digest})\n  pinned: {}\n  now:    {now}",
                            t.name,
                            serde_json::to_string_pretty(before)?
                        ),
                        (Drift::Changed { .. }, None) => println!("{} changed\n  now: {now}", t.name),
                        (Drift::New { .. }, _) => println!("{} is new\n  now: {now}", t.name),
                    }
                }
                if drifted == 0 {
                    println!("no tool drifted from its pin");
                }
            }
        }
        Ok(())
    })
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
