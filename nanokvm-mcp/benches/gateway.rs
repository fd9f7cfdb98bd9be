//! Prints what `nanokvm-mcp gateway` adds to a `tools/call`: the latency of the same call
//! made to the same upstream directly and through the gateway (median and p99, over
//! stdio and over Streamable HTTP), and the calls per second one gateway passes with
//! eight calls in flight, for each counter store.
//!
//! The upstream is this benchmark itself, started again with `--upstream` (one tool,
//! `echo`, over stdio or, with `--http ADDR`, Streamable HTTP), so its own cost is the
//! same on both paths. The gateway is the `nanokvm-mcp` binary with an allow-all policy
//! and one limit on every tool, so that every call reserves and commits a counter (and,
//! over stdio, once more without the limit, to show what the counter store costs). Its
//! upstream is a child over stdio; toward the agent it serves stdio, or Streamable HTTP
//! with a bearer token.
//!
//! Counter stores: the gateway's default (SQLite in its state directory), and the one
//! at `NANOKVM_BENCH_COUNTERS` (passed as `--counters URL`) when that is set.
//!
//! `cargo bench -p nanokvm-mcp --bench gateway` (figures, not assertions).

#![allow(clippy::print_stdout, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::json;

/// The argument that makes this program the upstream.
const UPSTREAM: &str = "--upstream";
/// The agent's token toward the gateway's HTTP front.
const TOKEN: &str = "bench-token-0123456789abcdef";
/// Calls before measuring, and calls measured, per path.
const WARM_UP: usize = 200;
const MEASURED: usize = 2_000;
/// Calls in flight, and for how long, when measuring calls per second.
const IN_FLIGHT: usize = 8;
const THROUGHPUT_FOR: Duration = Duration::from_secs(5);

type Client = RunningService<RoleClient, ()>;

/// A counter store the gateway can be given.
struct Store {
    /// How the figures name it.
    name: String,
    /// The gateway's arguments that select it.
    args: Vec<String>,
}

impl Store {
    /// The stores to measure: the default, and the one `NANOKVM_BENCH_COUNTERS` names.
    fn all() -> Vec<Self> {
        let mut stores = vec![
            Self {
                name: "sqlite (default)".to_owned(),
                args: Vec::new(),
            },
            Self {
                name: "--counters memory --audit-sync-ms 50".to_owned(),
                args: ["--counters", "memory", "--audit-sync-ms", "50"]
                    .map(str::to_owned)
                    .to_vec(),
            },
        ];
        if let Ok(url) = std::env::var("NANOKVM_BENCH_COUNTERS") {
            stores.push(Self {
                name: format!("--counters {url}"),
                args: vec!["--counters".to_owned(), url.clone()],
            });
            stores.push(Self {
                name: format!("--counters {url} --audit-sync-ms 50"),
                args: vec![
                    "--counters".to_owned(),
                    url,
                    "--audit-sync-ms".to_owned(),
                    "50".to_owned(),
                ],
            });
        }
        stores
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(UPSTREAM) {
        let http = match (args.next().as_deref(), args.next()) {
            (Some("--http"), Some(addr)) => Some(addr),
            _ => None,
        };
        upstream::serve(http);
        return;
    }
    // reqwest is built without a TLS provider of its own; the workspace's is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let me = std::env::current_exe().expect("this benchmark's path");
    println!(
        "tools/call `echo`, {MEASURED} calls after {WARM_UP} to warm up, one at a time \
         (milliseconds)"
    );
    for store in Store::all() {
        println!("counter store: {}", store.name);
        let state = tempfile::tempdir().expect("a temporary directory");
        let policy = write_policy(state.path(), true);

        // Over stdio.
        let mut upstream = Command::new(&me);
        upstream.arg(UPSTREAM);
        let direct = stdio_client(upstream).await;
        let direct_stdio = latencies(&direct).await;
        let direct_rate = throughput(&direct).await;
        let _ = direct.cancel().await;
        let gateway = stdio_client(gateway_command(&me, &policy, state.path(), &store, None)).await;
        let gateway_stdio = latencies(&gateway).await;
        let gateway_rate = throughput(&gateway).await;
        let _ = gateway.cancel().await;
        print_latency("stdio", &direct_stdio, &gateway_stdio);
        // The same without the limit: what the counter store's reservation and commit
        // cost, apart from the decision and the audit log.
        let unlimited = tempfile::tempdir().expect("a temporary directory");
        let unlimited_policy = write_policy(unlimited.path(), false);
        let gateway = stdio_client(gateway_command(
            &me,
            &unlimited_policy,
            unlimited.path(),
            &store,
            None,
        ))
        .await;
        let no_limit = latencies(&gateway).await;
        let _ = gateway.cancel().await;
        println!(
            "stdio  gateway without the limit  median {:>7.3}   p99 {:>7.3}",
            millis(percentile(&no_limit, 0.5)),
            millis(percentile(&no_limit, 0.99))
        );

        // Over Streamable HTTP: the upstream serving HTTP itself, against the gateway
        // serving HTTP in front of the upstream over stdio.
        let (mut upstream, url) = http_upstream(&me);
        let direct = http_client(&url, None).await;
        let direct_http = latencies(&direct).await;
        let _ = direct.cancel().await;
        let _ = upstream.kill();
        let _ = upstream.wait();
        let addr = free_addr();
        let mut command = gateway_command(&me, &policy, state.path(), &store, Some(&addr));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut gateway_child = command.spawn().expect("the gateway starts");
        wait_for_port(&addr).await;
        let gateway = http_client(&format!("http://{addr}/mcp"), Some(TOKEN)).await;
        let gateway_http = latencies(&gateway).await;
        let _ = gateway.cancel().await;
        let _ = gateway_child.kill();
        let _ = gateway_child.wait();
        print_latency("HTTP", &direct_http, &gateway_http);

        println!(
            "calls per second, {IN_FLIGHT} in flight over stdio for {} s: direct {direct_rate:.0}, \
             through the gateway {gateway_rate:.0}",
            THROUGHPUT_FOR.as_secs()
        );
    }
}

/// Allow everything; with `limited`, one limit on every tool, high enough never to
/// refuse.
fn write_policy(dir: &Path, limited: bool) -> PathBuf {
    let path = dir.join("policy.json");
    let mut policy = json!({"version": "1", "default": "allow"});
    if limited {
        policy["all_tools"] = json!({
            "limits": [{"counter": "bench", "window": "hour", "max": 1_000_000_000, "scope": "grant"}]
        });
    }
    std::fs::write(&path, policy.to_string()).expect("write the policy");
    path
}

/// `nanokvm-mcp gateway` in front of this program as the upstream over stdio, serving
/// the agent over stdio, or Streamable HTTP at `http`.
fn gateway_command(
    me: &Path,
    policy: &Path,
    state: &Path,
    store: &Store,
    http: Option<&str>,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"));
    command
        .args(["--log-level", "error", "gateway", "--policy"])
        .arg(policy)
        .arg("--state-dir")
        .arg(state)
        .args(&store.args);
    if let Some(addr) = http {
        command
            .args(["--http", addr])
            .env("NANOKVM_MCP_TOKEN", TOKEN);
    }
    command.arg("--").arg(me).arg(UPSTREAM);
    command
}

async fn stdio_client(mut command: Command) -> Client {
    command.stderr(Stdio::null());
    let transport =
        TokioChildProcess::new(tokio::process::Command::from(command)).expect("the server starts");
    ().serve(transport).await.expect("the MCP handshake")
}

async fn http_client(url: &str, token: Option<&str>) -> Client {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the MCP handshake")
}

/// This program as an upstream serving Streamable HTTP on a free port, and its URL.
fn http_upstream(me: &Path) -> (Child, String) {
    use std::io::BufRead as _;
    let mut child = Command::new(me)
        .args([UPSTREAM, "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the upstream starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the upstream says where it listens");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_owned();
    (child, url)
}

/// A loopback address no one listens on (for the gateway's HTTP front).
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("the address").to_string()
}

async fn wait_for_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the gateway never listened on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn call(client: &Client) {
    let serde_json::Value::Object(args) = json!({"text": "hello"}) else {
        unreachable!()
    };
    let result = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
        .await
        .expect("a tool result");
    assert_ne!(result.is_error, Some(true), "{result:?}");
}

/// The latencies of `MEASURED` calls, one at a time, sorted.
async fn latencies(client: &Client) -> Vec<Duration> {
    for _ in 0..WARM_UP {
        call(client).await;
    }
    let mut times = Vec::with_capacity(MEASURED);
    for _ in 0..MEASURED {
        let started = Instant::now();
        call(client).await;
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Calls per second with `IN_FLIGHT` calls at a time, for `THROUGHPUT_FOR`.
async fn throughput(client: &Client) -> f64 {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let peer = client.peer().clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let serde_json::Value::Object(args) = json!({"text": "hello"}) else {
                    unreachable!()
                };
                while started.elapsed() < THROUGHPUT_FOR {
                    let params = CallToolRequestParams::new("echo").with_arguments(args.clone());
                    let result = peer.call_tool(params).await.expect("a tool result");
                    assert_ne!(result.is_error, Some(true), "{result:?}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    #[allow(clippy::cast_precision_loss)]
    let calls = done.load(Ordering::Relaxed) as f64;
    calls / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_latency(transport: &str, direct: &[Duration], gateway: &[Duration]) {
    let (d50, d99) = (percentile(direct, 0.5), percentile(direct, 0.99));
    let (g50, g99) = (percentile(gateway, 0.5), percentile(gateway, 0.99));
    println!(
        "{transport:<6} direct   median {:>7.3}   p99 {:>7.3}",
        millis(d50),
        millis(d99)
    );
    println!(
        "{transport:<6} gateway  median {:>7.3}   p99 {:>7.3}   added: median {:>7.3}, p99 {:>7.3}",
        millis(g50),
        millis(g99),
        millis(g50.saturating_sub(d50)),
        millis(g99.saturating_sub(d99))
    );
}

/// The upstream: one read-only tool, `echo`, and nothing else.
mod upstream {
    use std::io::Write as _;
    use std::sync::Arc;

    use rmcp::model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
        ToolAnnotations,
    };
    use rmcp::service::{RequestContext, RoleServer};
    use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt as _};
    use serde_json::json;

    #[derive(Clone)]
    struct Echo;

    impl ServerHandler for Echo {
        fn get_info(&self) -> ServerConfig {
            ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
                .with_server_info(Implementation::new("bench-upstream", "1.0.0"))
        }

        async fn list_tools(
            &self,
            _request: Option<PaginatedRequestParams>,
            _context: RequestContext<RoleServer>,
        ) -> Result<ListToolsResult, McpError> {
            let serde_json::Value::Object(schema) = json!({
                "type": "object", "properties": {"text": {"type": "string"}}
            }) else {
                unreachable!()
            };
            let echo = Tool::new("echo", "Echoes the text.", schema).with_annotations(
                ToolAnnotations::from_raw(None, Some(true), Some(false), None, None),
            );
            Ok(ListToolsResult::with_all_items(vec![echo]))
        }

        async fn call_tool(
            &self,
            request: CallToolRequestParams,
            _context: RequestContext<RoleServer>,
        ) -> Result<CallToolResponse, McpError> {
            let text = request
                .arguments
                .as_ref()
                .and_then(|a| a.get("text"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
        }
    }

    /// Serves over stdio, or over Streamable HTTP at `http` (printing its URL first).
    pub fn serve(http: Option<String>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            match http {
                None => {
                    let running = Echo
                        .serve(rmcp::transport::stdio())
                        .await
                        .expect("the handshake");
                    let _ = running.waiting().await;
                }
                Some(addr) => {
                    use rmcp::transport::StreamableHttpService;
                    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
                    let config = rmcp::transport::StreamableHttpServerConfig::default()
                        .disable_allowed_hosts()
                        .disable_allowed_origins();
                    let service = StreamableHttpService::new(
                        || Ok(Echo),
                        Arc::new(LocalSessionManager::default()),
                        config,
                    );
                    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
                    println!(
                        "listening on http://{}/mcp",
                        listener.local_addr().expect("the address")
                    );
                    std::io::stdout().flush().expect("flush");
                    let router = axum::Router::new().nest_service("/mcp", service);
                    axum::serve(listener, router).await.expect("serve");
                }
            }
        });
    }
}
