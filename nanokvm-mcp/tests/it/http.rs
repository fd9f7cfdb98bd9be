//! MCP over Streamable HTTP: refusals (401, 403, 413) that say what to fix, an rmcp
//! client over both protocol generations, tokens counted as separate grants, sessions
//! bound to their token, shutdown; and the binary with a generated token.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser;
use nanokvm_mcp::http::{HttpServer, MAX_BODY_BYTES, Tokens};
use nanokvm_mcp::server::NanoKvmServer;
use nanokvm_mcp::setup::{DeviceArgs, PolicyArgs, setup_with};
use nanokvm_sim::{Simulator, TimeScale};
use rmcp::model::{CallToolRequestParams, CallToolResult, ElicitationAction, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt as _, ServiceExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{TestClient, text};

const ALICE: &str = "alice-0123456789abcdef0123456789";
const BOB: &str = "bob-0123456789abcdef0123456789ab";

/// The command line a test server is set up from.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// A simulated NanoKVM served over HTTP on 127.0.0.1 to the tokens `alice` and `bob`.
struct HttpRig {
    addr: SocketAddr,
    state: TempDir,
    _sim: Simulator,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<std::io::Result<()>>,
}

impl HttpRig {
    async fn start(policy: Option<Value>) -> Self {
        let state = tempfile::tempdir().expect("a temporary directory");
        let mut argv = vec![
            "test".to_owned(),
            "--sim".to_owned(),
            "--state-dir".to_owned(),
        ];
        argv.push(state.path().display().to_string());
        if let Some(doc) = policy {
            let path = state.path().join("policy.json");
            std::fs::write(&path, doc.to_string()).expect("write the policy");
            argv.extend(["--policy".to_owned(), path.display().to_string()]);
        }
        let args = Args::try_parse_from(argv).expect("test arguments");
        let sim = Simulator::builder().time_scale(TimeScale::fast());
        let setup = setup_with(&args.device, &args.policy, Some(sim))
            .await
            .expect("setup");
        let server = NanoKvmServer::new(setup.devices, "nobody", "none");
        let tokens = Tokens::from_toml(&format!("alice = \"{ALICE}\"\nbob = \"{BOB}\"\n"))
            .expect("the tokens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("the address");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(HttpServer::new(server, tokens).serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            state,
            _sim: setup.simulator.expect("a simulator"),
            stop: Some(stop),
            serving,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// A POST of `body` with MCP's headers, the bearer `token` (if any) and `extra`.
    async fn post(
        &self,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = http_client()
            .post(self.url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.send().await.expect("an answer")
    }

    /// An rmcp client speaking `protocol`, with `token`.
    async fn client(
        &self,
        token: &str,
        protocol: ProtocolVersion,
    ) -> RunningService<RoleClient, TestClient> {
        let handler = TestClient {
            protocol,
            ..TestClient::plain()
        };
        self.client_with(token, handler).await
    }

    /// A client whose protocol and elicitation answers `handler` sets.
    async fn client_with(
        &self,
        token: &str,
        handler: TestClient,
    ) -> RunningService<RoleClient, TestClient> {
        let protocol = handler.protocol.clone();
        let config = StreamableHttpClientTransportConfig::with_uri(self.url()).auth_header(token);
        let transport = StreamableHttpClientTransport::with_client(http_client(), config);
        let started = if protocol.has_initialize() {
            handler.serve(transport).await
        } else {
            // The stateless revision starts with `server/discover`, not `initialize`.
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![protocol],
            };
            handler.serve_with_lifecycle(transport, lifecycle).await
        };
        started.expect("the client connects")
    }

    /// The audit records written so far.
    fn audit(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.state.path().join("audit.jsonl")).expect("the audit log");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("an audit record"))
            .collect()
    }
}

/// A reqwest client for plain HTTP (the workspace's rustls has no default provider).
fn http_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("a client")
}

fn initialize(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}})
    .to_string()
}

/// The JSON-RPC message answering `id` in an SSE or JSON response.
async fn answer(response: reqwest::Response, id: u64) -> Value {
    let body = response.text().await.expect("a body");
    let messages: Vec<Value> = if body.trim_start().starts_with('{') {
        vec![serde_json::from_str(&body).expect("JSON")]
    } else {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    };
    messages
        .into_iter()
        .find(|m| m["id"] == json!(id))
        .unwrap_or_else(|| panic!("no answer to {id} in {body:?}"))
}

async fn call(client: &RunningService<RoleClient, TestClient>, tool: &str) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()))
        .await
        .expect("a tool result")
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let rig = HttpRig::start(None).await;

    let missing = rig.post(None, &[], initialize(1)).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="nanokvm-mcp""#
    );
    let body = missing.text().await.expect("a body");
    assert!(body.contains("Authorization: Bearer"), "{body}");

    let wrong = "not-a-token-of-this-server-0123456789";
    let refused = rig.post(Some(wrong), &[], initialize(1)).await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .expect("text");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let body = refused.text().await.expect("a body");
    assert!(body.contains("not one of this server's"), "{body}");
    assert!(!body.contains(wrong), "{body}");

    // Not a bearer token, a token with one character off, and other methods.
    let basic = rig
        .post(
            None,
            &[("authorization", "Basic YWxpY2U6eA==")],
            initialize(1),
        )
        .await;
    assert_eq!(basic.status(), 401);
    let off_by_one = format!("{}x", &ALICE[..ALICE.len() - 1]);
    assert_eq!(
        rig.post(Some(&off_by_one), &[], initialize(1))
            .await
            .status(),
        401
    );
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = http_client()
            .request(method.clone(), rig.url())
            .header("accept", "text/event-stream")
            .header("mcp-session-id", "0123")
            .send()
            .await
            .expect("an answer");
        assert_eq!(r.status(), 401, "{method}");
    }

    // The same request with a token is served; other paths are not MCP.
    let served = rig.post(Some(ALICE), &[], initialize(1)).await;
    assert_eq!(served.status(), 200);
    let other = http_client()
        .get(format!("http://{}/", rig.addr))
        .send()
        .await
        .expect("an answer");
    assert_eq!(other.status(), 404);
    assert!(other.text().await.expect("a body").contains("/mcp"));
}

#[tokio::test]
async fn foreign_origins_and_hosts_get_403() {
    let rig = HttpRig::start(None).await;

    let foreign = rig
        .post(
            Some(ALICE),
            &[("origin", "https://evil.example")],
            initialize(1),
        )
        .await;
    assert_eq!(foreign.status(), 403);
    let body = foreign.text().await.expect("a body");
    assert!(body.contains("Origin `https://evil.example`"), "{body}");

    // A rebinding attack reaches the server under its own name: refused, even before
    // the token is looked at.
    let host = format!("evil.example:{}", rig.addr.port());
    let rebound = rig.post(None, &[("host", &host)], initialize(1)).await;
    assert_eq!(rebound.status(), 403);
    let body = rebound.text().await.expect("a body");
    assert!(body.contains("DNS rebinding"), "{body}");

    // A page from a local tool, and the loopback names, are fine.
    for (name, value) in [
        ("origin", "http://localhost:6274".to_owned()),
        ("host", format!("localhost:{}", rig.addr.port())),
    ] {
        let ok = rig
            .post(Some(ALICE), &[(name, &value)], initialize(1))
            .await;
        assert_eq!(ok.status(), 200, "{name}: {value}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let rig = HttpRig::start(None).await;
    // A JSON-RPC request padded past the limit, with its length declared.
    let padding = "x".repeat(MAX_BODY_BYTES);
    let big =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{padding}"}}}}"#);
    let refused = rig.post(Some(ALICE), &[], big.clone()).await;
    assert_eq!(refused.status(), 413);
    let body = refused.text().await.expect("a body");
    assert!(body.contains("4 MiB"), "{body}");

    // The same, streamed without a length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_eq!(rig.post(Some(ALICE), &[], stream).await.status(), 413);

    // The server goes on serving.
    assert_eq!(
        rig.post(Some(ALICE), &[], initialize(1)).await.status(),
        200
    );
}

#[tokio::test]
async fn an_mcp_client_works_over_both_protocol_generations() {
    let rig = HttpRig::start(None).await;
    for protocol in [
        ProtocolVersion::LATEST_WITH_INITIALIZE,
        ProtocolVersion::LATEST,
    ] {
        let client = rig.client(ALICE, protocol.clone()).await;
        let info = client.peer_info().expect("server info");
        let name = info.server_info.as_ref().map(|i| i.name.as_str());
        assert_eq!(name, Some("nanokvm-mcp"), "{protocol}");
        let tools = client.list_all_tools().await.expect("tools/list");
        assert!(
            tools.iter().any(|t| t.name == "nanokvm_led_status"),
            "{protocol}"
        );
        let leds = call(&client, "nanokvm_led_status").await;
        assert_ne!(leds.is_error, Some(true), "{protocol}: {}", text(&leds));
        assert_eq!(
            leds.structured_content.expect("json")["power"],
            true,
            "{protocol}"
        );
        client.cancel().await.expect("the client closes");
    }
    // Calls run as the token's name: the first in a session of its own, the second in
    // the token's stateless one.
    let records = rig.audit();
    let calls: Vec<&Value> = records
        .iter()
        .filter(|r| r["tool"] == "nanokvm_led_status" && r["kind"] == "decision")
        .collect();
    assert!(calls.iter().all(|r| r["principal"] == "alice"), "{calls:?}");
    let sessions: Vec<&str> = calls.iter().filter_map(|r| r["session"].as_str()).collect();
    assert_eq!(sessions.len(), 2, "{calls:?}");
    assert!(
        sessions[0].len() == 32 && sessions[0].bytes().all(|b| b.is_ascii_hexdigit()),
        "{sessions:?}"
    );
    assert_eq!(sessions[1], "alice/stateless");
}

#[tokio::test]
async fn each_token_is_its_own_grant() {
    let policy = json!({
        "version": "1",
        "default": "allow",
        "tools": {"nanokvm_info": {"limits": [
            {"counter": "info", "window": "hour", "max": 1, "scope": "grant"}
        ]}}
    });
    let rig = HttpRig::start(Some(policy)).await;
    let alice = rig
        .client(ALICE, ProtocolVersion::LATEST_WITH_INITIALIZE)
        .await;
    let bob = rig
        .client(BOB, ProtocolVersion::LATEST_WITH_INITIALIZE)
        .await;

    let first = call(&alice, "nanokvm_info").await;
    assert_ne!(first.is_error, Some(true), "{}", text(&first));
    let second = call(&alice, "nanokvm_info").await;
    assert_eq!(second.is_error, Some(true));
    assert!(
        text(&second).starts_with("[POLICY DENIED]"),
        "{}",
        text(&second)
    );

    let other = call(&bob, "nanokvm_info").await;
    assert_ne!(other.is_error, Some(true), "{}", text(&other));

    // Alice's other session, and her stateless requests, count as alice too.
    for protocol in [
        ProtocolVersion::LATEST_WITH_INITIALIZE,
        ProtocolVersion::LATEST,
    ] {
        let again = rig.client(ALICE, protocol.clone()).await;
        let r = call(&again, "nanokvm_info").await;
        assert!(
            text(&r).starts_with("[POLICY DENIED]"),
            "{protocol}: {}",
            text(&r)
        );
    }
}

#[tokio::test]
async fn a_session_belongs_to_the_token_that_opened_it() {
    let rig = HttpRig::start(None).await;
    let opened = rig.post(Some(ALICE), &[], initialize(1)).await;
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .expect("a session id")
        .to_owned();
    assert!(answer(opened, 1).await["result"]["serverInfo"].is_object());
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = rig
        .post(Some(ALICE), &headers, initialized.to_string())
        .await;
    assert_eq!(r.status(), 202);

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let stolen = rig.post(Some(BOB), &headers, list.clone()).await;
    assert_eq!(stolen.status(), 404, "another token cannot use the session");

    let leds = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "nanokvm_led_status", "arguments": {}}});
    let r = rig.post(Some(ALICE), &headers, leds.to_string()).await;
    assert_eq!(r.status(), 200);
    let result = answer(r, 3).await;
    assert_eq!(
        result["result"]["structuredContent"]["power"], true,
        "{result}"
    );

    // The audit log names the session the client knows.
    let records = rig.audit();
    let record = records
        .iter()
        .find(|r| r["tool"] == "nanokvm_led_status")
        .expect("the call is audited");
    assert_eq!(record["principal"], "alice");
    assert_eq!(record["session"], session.as_str());

    // Another token cannot close it either; its owner can.
    let delete = |token: &'static str| {
        http_client()
            .delete(rig.url())
            .bearer_auth(token)
            .header("mcp-session-id", &session)
            .send()
    };
    let _ = delete(BOB).await.expect("an answer");
    let r = rig.post(Some(ALICE), &headers, list.clone()).await;
    assert_eq!(r.status(), 200, "the session is still open");
    assert_eq!(delete(ALICE).await.expect("an answer").status(), 204);
    let r = rig.post(Some(ALICE), &headers, list).await;
    assert_eq!(r.status(), 404, "the session is closed");
}

#[tokio::test]
async fn shutdown_ends_sessions_and_stops_serving() {
    let mut rig = HttpRig::start(None).await;
    let client = rig
        .client(ALICE, ProtocolVersion::LATEST_WITH_INITIALIZE)
        .await;
    let _ = call(&client, "nanokvm_led_status").await;
    // The client holds a session with an open event stream; stopping must not wait for
    // it to go away on its own.
    rig.stop.take().expect("running").send(()).expect("stop");
    let served = tokio::time::timeout(Duration::from_secs(30), &mut rig.serving)
        .await
        .expect("the server stops without waiting out its grace period")
        .expect("the task");
    assert!(served.is_ok(), "{served:?}");
    assert!(
        client
            .call_tool(CallToolRequestParams::new("nanokvm_led_status"))
            .await
            .is_err()
    );
}

#[test]
fn the_binary_serves_http_with_a_generated_token_until_sigterm() {
    let state = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
        .args(["--sim", "--http", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .env_remove("NANOKVM_HOST")
        .env_remove("NANOKVM_MCP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let (mut token, mut url) = (None, None);
    while token.is_none() || url.is_none() {
        let line = stderr
            .next()
            .expect("the server says where it listens")
            .expect("stderr");
        if let Some(t) = line.strip_prefix("    ") {
            token = Some(t.trim().to_owned());
        }
        if line.contains("Streamable HTTP")
            && let Some(rest) = line.split("url=").nth(1)
        {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let (token, url) = (token.expect("a token"), url.expect("a URL"));
    assert_eq!(token.len(), 43, "{token}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let post = |token: Option<&str>| {
            let mut request = http_client()
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(initialize(1));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        assert_eq!(post(None).await.expect("an answer").status(), 401);
        let ok = post(Some(&token)).await.expect("an answer");
        assert_eq!(ok.status(), 200);
        assert!(answer(ok, 1).await["result"]["serverInfo"].is_object());
    });

    let killed = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("the server exits");
    assert!(status.success(), "{status}");
    let rest: Vec<String> = stderr.map_while(Result::ok).collect();
    assert!(
        rest.iter().all(|l| !l.contains(&token)),
        "the token is printed once: {rest:?}"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut stdout)
        .expect("stdout");
    assert!(stdout.is_empty(), "{stdout}");
}

#[tokio::test]
async fn a_stateless_client_is_asked_for_approval_in_the_result() {
    let policy = json!({
        "version": "1",
        "default": "allow",
        "tools": {"nanokvm_hdmi_reset": {"action": "require_approval"}}
    });
    let rig = HttpRig::start(Some(policy)).await;
    let cases = [
        (
            ElicitationAction::Accept,
            Some(json!({"approve": true})),
            None,
        ),
        (ElicitationAction::Decline, None, Some("the human declined")),
        (
            ElicitationAction::Accept,
            Some(json!({"approve": false})),
            Some("did not tick approve"),
        ),
    ];
    for (action, content, refused) in cases {
        let handler = TestClient {
            protocol: ProtocolVersion::LATEST,
            ..TestClient::answering(action.clone(), content.clone())
        };
        let client = rig.client_with(ALICE, handler.clone()).await;
        let r = call(&client, "nanokvm_hdmi_reset").await;
        assert_eq!(handler.asked(), 1, "{action:?}: asked once, in the result");
        match refused {
            None => assert_ne!(r.is_error, Some(true), "{action:?}: {}", text(&r)),
            Some(why) => {
                assert_eq!(r.is_error, Some(true), "{action:?}");
                assert!(text(&r).starts_with("[POLICY DENIED]"), "{}", text(&r));
                assert!(text(&r).contains(why), "{action:?}: {}", text(&r));
            }
        }
        client.cancel().await.expect("the client closes");
    }
    // Only the approved call ran.
    let ran = rig
        .audit()
        .iter()
        .filter(|r| r["tool"] == "nanokvm_hdmi_reset" && r["outcome"] == "ok")
        .count();
    assert_eq!(ran, 1);
}
