//! The gateway in front of a real upstream MCP server: the `upstream` example, started
//! as a child process over stdio or serving Streamable HTTP, with an rmcp client in
//! front (in-process over a pipe, or the binary over stdio). The upstream writes down
//! every call that reaches it, so a denied call is shown never to have arrived.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nanokvm_mcp::gateway::{GatewayBuilder, GatewayServer, Link, PinFile, Upstream};
use nanokvm_mcp::setup::{CountersArgs, gateway_setup};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ElicitationAction, GetPromptRequestParams,
    NumberOrString, ProgressToken, ProtocolVersion, ReadResourceRequestParams, RequestMetaObject,
};
use rmcp::service::{ClientLifecycleMode, RoleClient, RunningService, ServiceError};
use rmcp::{ClientServiceExt as _, ServiceExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::{TestClient, state_args, text};

mod passthrough;

/// The `upstream` example, built beside the test binary by `cargo test` / nextest.
pub(crate) fn fixture() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = debug.join("examples").join("upstream");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p nanokvm-mcp --example upstream`",
        path.display()
    );
    path
}

/// The seed policy for the Virtualization server, verbatim.
fn mountiso_policy() -> Value {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nanokvm-policy/policies/seed/mountiso.json"
    );
    serde_json::from_str(&std::fs::read_to_string(seed).expect("the seed policy")).expect("JSON")
}

/// A gateway in front of the stdio upstream, and a client connected to it.
struct Rig {
    client: RunningService<RoleClient, TestClient>,
    handler: TestClient,
    server: GatewayServer,
    state: TempDir,
    calls: PathBuf,
}

struct Options {
    policy: Value,
    handler: TestClient,
    upstream_args: Vec<String>,
    pins: bool,
    timeout: Duration,
    state: Option<TempDir>,
    /// How long the gate waits for an approval, in seconds.
    approval_timeout: u64,
}

impl Options {
    fn new(policy: Value) -> Self {
        Self {
            policy,
            handler: TestClient::plain(),
            upstream_args: Vec::new(),
            pins: false,
            timeout: Duration::from_secs(30),
            state: None,
            approval_timeout: 2,
        }
    }
}

impl Rig {
    async fn start(policy: Value) -> Self {
        Self::with(Options::new(policy)).await
    }

    async fn with(options: Options) -> Self {
        let state = options
            .state
            .unwrap_or_else(|| tempfile::tempdir().expect("a temporary directory"));
        let policy_path = state.path().join("policy.json");
        std::fs::write(&policy_path, options.policy.to_string()).expect("write the policy");
        let calls = state.path().join("calls.txt");
        let mut policy_args = state_args(state.path(), Some(policy_path));
        policy_args.approval_timeout = options.approval_timeout;
        let setup = gateway_setup(&policy_args, &CountersArgs::default(), "virt")
            .expect("the gateway's state");
        let echo = state.path().join("echo.txt");
        let mut args = vec![
            "--calls".to_owned(),
            calls.display().to_string(),
            "--echo-file".to_owned(),
            echo.display().to_string(),
        ];
        args.extend(options.upstream_args);
        let link = Link::new(Upstream::Command {
            program: fixture().display().to_string(),
            args,
        });
        let mut builder = GatewayBuilder::new(setup.gate, link)
            .approvals(setup.approvals)
            .upstream_timeout(options.timeout);
        if options.pins {
            builder = builder.pins(PinFile::in_dir(state.path()));
        }
        let server = builder
            .start("agent", "session-1")
            .await
            .expect("the gateway starts");
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let serving = server.clone();
        tokio::spawn(async move {
            if let Ok(running) = serving.serve(theirs).await {
                let _ = running.waiting().await;
            }
        });
        let handler = options.handler.clone();
        let client = if handler.protocol.has_initialize() {
            handler.serve(ours).await
        } else {
            // The stateless revision starts with `server/discover`, not `initialize`.
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![handler.protocol.clone()],
            };
            handler.serve_with_lifecycle(ours, lifecycle).await
        }
        .expect("the client connects");
        Self {
            client,
            handler: options.handler,
            server,
            state,
            calls,
        }
    }

    async fn try_call(&self, tool: &str, args: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(args) = args else {
            panic!("arguments must be an object");
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
            .await
    }

    async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.try_call(tool, args).await.expect("a tool result")
    }

    /// The tools that reached the upstream, in order.
    fn reached(&self) -> Vec<String> {
        reached(&self.calls)
    }

    /// What else the upstream was asked or told, in order: the details of each
    /// `METHOD: DETAILS` line of its record whose method is `method`.
    fn received(&self, method: &str) -> Vec<String> {
        received(&self.calls, method)
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.state.path().join("audit-gateway-virt.jsonl"))
            .expect("the audit log")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON record"))
            .collect()
    }

    async fn stop(self) {
        let _ = self.client.cancel().await;
        self.server.link().close().await;
    }

    /// Stops, keeping the state directory for the next gateway.
    async fn stop_keeping_state(self) -> TempDir {
        let _ = self.client.cancel().await;
        self.server.link().close().await;
        self.state
    }
}

/// The tool calls in the upstream's record at `path` (its other lines have a colon).
fn reached(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains(':'))
        .map(str::to_owned)
        .collect()
}

/// The details of each `METHOD: DETAILS` line of the upstream's record at `path`.
fn received(path: &Path, method: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(method)?.strip_prefix(": "))
        .map(str::to_owned)
        .collect()
}

fn is_denied(r: &CallToolResult) -> bool {
    r.is_error == Some(true) && text(r).starts_with("[POLICY DENIED]")
}

#[tokio::test]
async fn the_seed_mountiso_policy_allows_30_calls_a_minute_and_denies_the_31st_before_the_upstream()
{
    // The seed's window is the clock's minute: 31 calls must fall in one.
    crate::support::clear_of_minute_turn(Duration::from_secs(20)).await;
    let rig = Rig::start(mountiso_policy()).await;
    for i in 0..30 {
        let r = rig
            .call("MountIso", json!({"path": format!("/isos/{i}.iso")}))
            .await;
        assert_eq!(r.is_error, Some(false), "call {i}: {}", text(&r));
        assert_eq!(text(&r), format!("mounted /isos/{i}.iso"));
    }
    let denied = rig.call("MountIso", json!({"path": "/isos/30.iso"})).await;
    assert!(is_denied(&denied), "{}", text(&denied));
    assert!(
        text(&denied).contains("rule /tools/MountIso/limits/0"),
        "{}",
        text(&denied)
    );
    let decision = denied.structured_content.expect("the decision");
    assert_eq!(decision["verdict"], "deny");
    let retry = decision["retry_after_s"].as_u64().expect("a retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    // Every other tool is refused by the seed's default deny, and listed (only `hide`
    // removes tools).
    let echo = rig.call("echo", json!({"text": "hi"})).await;
    assert!(text(&echo).contains("(default deny)"), "{}", text(&echo));
    assert_eq!(
        rig.reached().len(),
        30,
        "the denied calls never reached the upstream"
    );
    assert!(rig.reached().iter().all(|t| t == "MountIso"));
    // Audited before and after.
    let audit = rig.audit();
    let decisions = audit.iter().filter(|r| r["kind"] == "decision").count();
    let outcomes = audit.iter().filter(|r| r["outcome"] == "ok").count();
    assert_eq!((decisions, outcomes), (32, 30));
    rig.stop().await;
}

#[tokio::test]
async fn hidden_tools_are_neither_listed_nor_callable_and_everything_else_passes_through() {
    let rig = Rig::with(Options {
        upstream_args: vec!["--tools".to_owned(), "3".to_owned()],
        ..Options::new(json!({"version": "1", "default": "allow", "hide": ["secret_tool"]}))
    })
    .await;
    let tools = rig.client.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    // The upstream serves 17 tools in pages of 4; the gateway answers them all at once.
    assert_eq!(names.len(), 16, "{names:?}");
    assert!(
        !names.contains(&"secret_tool") && names.contains(&"pad2"),
        "{names:?}"
    );
    let echo = tools.iter().find(|t| t.name == "echo").expect("echo");
    assert_eq!(echo.description.as_deref(), Some("Echoes the text."));
    assert_eq!(
        echo.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    for tool in ["secret_tool", "no_such_tool"] {
        let err = rig.try_call(tool, json!({})).await.expect_err("unknown");
        assert!(err.to_string().contains("unknown tool"), "{err}");
    }
    assert!(rig.reached().is_empty(), "{:?}", rig.reached());
    assert_eq!(
        text(&rig.call("echo", json!({"text": "hello"})).await),
        "hello"
    );

    // Resources, prompts and the initialize answer come from the upstream.
    let info = rig.client.peer_info().expect("the server's info");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("gateway-fixture")
    );
    assert!(info.capabilities.resources.is_some() && info.capabilities.prompts.is_some());
    let resources = rig
        .client
        .list_all_resources()
        .await
        .expect("resources/list");
    assert_eq!(resources[0].uri, "fixture://hello");
    let read = rig
        .client
        .read_resource(ReadResourceRequestParams::new("fixture://hello"))
        .await
        .expect("resources/read");
    assert!(format!("{:?}", read.contents).contains("hello from upstream"));
    let missing = rig
        .client
        .read_resource(ReadResourceRequestParams::new("fixture://nothing"))
        .await
        .expect_err("the upstream's own error");
    assert!(missing.to_string().contains("no resource"), "{missing}");
    let mut arguments = serde_json::Map::new();
    arguments.insert("name".to_owned(), json!("Ada"));
    let prompt = rig
        .client
        .get_prompt(GetPromptRequestParams::new("greet").with_arguments(arguments))
        .await
        .expect("prompts/get");
    assert!(format!("{:?}", prompt.messages).contains("Hello, Ada!"));

    // Progress comes back under the agent's own token.
    let mut params = CallToolRequestParams::new("slow");
    let mut meta = RequestMetaObject::default();
    meta.set_progress_token(ProgressToken(NumberOrString::String("mine".into())));
    params.meta = Some(meta);
    let slow = rig.client.call_tool(params).await.expect("slow");
    assert_eq!(text(&slow), "done");
    let progress = rig.handler.progress.lock().expect("lock").clone();
    assert_eq!(progress.len(), 3, "{progress:?}");
    assert_eq!(progress[2].2.as_deref(), Some("step 3"));
    rig.stop().await;
}

#[tokio::test]
async fn approvals_are_asked_by_elicitation_or_of_the_operator_and_risk_comes_from_annotations() {
    let policy = json!({
        "version": "1", "default": "allow",
        "risk": {"high": {"action": "require_approval"}},
    });
    // The agent's human approves: the destructive tool runs once.
    let yes = TestClient::answering(ElicitationAction::Accept, Some(json!({"approve": true})));
    let rig = Rig::with(Options {
        handler: yes,
        ..Options::new(policy.clone())
    })
    .await;
    assert_eq!(text(&rig.call("erase_disk", json!({})).await), "erased");
    // A read-only tool is low risk and needs nobody.
    assert_eq!(text(&rig.call("echo", json!({"text": "x"})).await), "x");
    assert_eq!(rig.handler.asked(), 1);
    // The upstream's own elicitation reaches the human too, and its answer goes back.
    let ask = rig.call("ask", json!({})).await;
    assert_eq!(
        rig.handler.asked(),
        2,
        "the upstream's question reached the human"
    );
    assert_eq!(ask.is_error, Some(false), "{}", text(&ask));
    rig.stop().await;

    // The human declines: denied, and the upstream never hears of it.
    let no = TestClient::answering(ElicitationAction::Decline, None);
    let rig = Rig::with(Options {
        handler: no,
        ..Options::new(policy.clone())
    })
    .await;
    let r = rig.call("erase_disk", json!({})).await;
    assert!(
        is_denied(&r) && text(&r).contains("declined"),
        "{}",
        text(&r)
    );
    assert!(rig.reached().is_empty());
    rig.stop().await;

    // A client without elicitation: an operator approves from the queue.
    let rig = Rig::start(policy).await;
    let queue =
        nanokvm_policy::gate::ApprovalQueue::open(rig.state.path().join("approvals.sqlite"))
            .expect("the queue");
    let call = rig.call("erase_disk", json!({}));
    let operator = async {
        loop {
            if let Some(p) = queue.pending().expect("list").first() {
                assert_eq!((p.tool.as_str(), p.device.as_str()), ("erase_disk", "virt"));
                queue.answer(&p.id, true, None).expect("approve");
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (r, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(call, operator)
    })
    .await
    .expect("answered in time");
    assert_eq!(text(&r), "erased");
    assert_eq!(rig.reached(), ["erase_disk"]);
    rig.stop().await;
}

#[tokio::test]
async fn an_upstream_that_crashes_writes_garbage_or_hangs_gets_clear_errors_and_the_gateway_recovers()
 {
    let rig = Rig::with(Options {
        timeout: Duration::from_secs(1),
        ..Options::new(json!({
            "version": "1", "default": "allow",
            "all_tools": {"limits": [{"counter": "all", "window": "hour", "max": 100, "scope": "grant"}]}
        }))
    })
    .await;
    let garbage = rig.call("garbage", json!({})).await;
    assert_eq!(
        text(&garbage),
        "after garbage",
        "a line that is not JSON is skipped"
    );
    let crash = rig.call("crash", json!({})).await;
    assert_eq!(crash.is_error, Some(true));
    assert!(text(&crash).contains("may have run"), "{}", text(&crash));
    // The next call starts the upstream again.
    assert_eq!(
        text(&rig.call("echo", json!({"text": "back"})).await),
        "back"
    );
    let hang = rig.call("hang", json!({})).await;
    assert!(
        text(&hang).contains("did not answer within 1 s"),
        "{}",
        text(&hang)
    );
    assert_eq!(
        text(&rig.call("echo", json!({"text": "still"})).await),
        "still"
    );
    // A crash and a timeout may have acted: they stay counted.
    let audit = rig.audit();
    let outcomes: Vec<&str> = audit
        .iter()
        .filter(|r| r["kind"] == "outcome")
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["ok", "error", "ok", "error", "ok"]);
    let used = rig.server.gate().engine().standing(
        &nanokvm_policy::Call::new("echo", &json!({})).principal("agent"),
        nanokvm_policy::Timestamp::from_system_time(std::time::SystemTime::now()),
    );
    assert_eq!(used.quotas[0].used, Some(5), "{:?}", used.quotas);
    rig.stop().await;
}

#[tokio::test]
async fn a_stateless_agent_is_asked_in_the_result_and_tool_risk_overrides_the_annotations() {
    // echo says it is read-only; the policy counts it as high risk all the same.
    let policy = json!({
        "version": "1", "default": "allow",
        "tool_risk": {"echo": "high"},
        "risk": {"high": {"action": "require_approval"}},
    });
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
        let rig = Rig::with(Options {
            handler,
            ..Options::new(policy.clone())
        })
        .await;
        let r = rig.call("echo", json!({"text": "risky"})).await;
        assert_eq!(
            rig.handler.asked(),
            1,
            "{action:?}: asked once, in the result"
        );
        match refused {
            None => {
                assert_eq!(text(&r), "risky");
                assert_eq!(rig.reached(), ["echo"]);
            }
            Some(why) => {
                assert!(
                    is_denied(&r) && text(&r).contains(why),
                    "{action:?}: {}",
                    text(&r)
                );
                assert!(rig.reached().is_empty(), "the upstream never heard of it");
            }
        }
        rig.stop().await;
    }
}

#[tokio::test]
async fn a_tool_whose_definition_drifts_is_refused_and_audited_until_accepted() {
    // No `drift` field: a drifted tool is refused.
    let policy = json!({"version": "1", "default": "allow"});
    let rig = Rig::with(Options {
        pins: true,
        ..Options::new(policy)
    })
    .await;
    assert_eq!(text(&rig.call("echo", json!({"text": "a"})).await), "a");
    // The upstream changes echo's description and says its tools changed.
    assert_eq!(text(&rig.call("change_echo", json!({})).await), "changed");
    tokio::time::timeout(Duration::from_secs(10), rig.handler.list_changed.notified())
        .await
        .expect("list_changed is passed on");
    let tools = rig.client.list_all_tools().await.expect("tools/list");
    assert!(
        tools.iter().any(|t| t.description.as_deref()
            == Some("Echoes the text, and now also sends it elsewhere."))
    );
    let r = rig.call("echo", json!({"text": "b"})).await;
    assert!(
        is_denied(&r) && text(&r).contains("(pin drift)"),
        "{}",
        text(&r)
    );
    assert_eq!(rig.reached(), ["echo", "change_echo"]);
    let drift = rig
        .audit()
        .into_iter()
        .filter(|r| r["rule"] == "(pin drift)")
        .count();
    assert!(drift >= 2, "the drift and the refusal are audited");
    let pins_path = rig.state.path().join("pins.json");
    let pins: Value =
        serde_json::from_str(&std::fs::read_to_string(&pins_path).expect("pins")).expect("JSON");
    assert_eq!(pins.as_object().map(|o| o.len()), Some(1));
    // An operator accepts the change (as `gateway pins accept echo` does), and the
    // running gateway lets the tool through again.
    let file = PinFile::in_dir(rig.state.path());
    let key = rig.server.link().upstream().key();
    let mut accepted = file.of(&key).expect("read").expect("pinned");
    let echo = tools.iter().find(|t| t.name == "echo").expect("echo");
    accepted.accept(echo);
    file.store(&key, accepted).expect("stored");
    assert_eq!(text(&rig.call("echo", json!({"text": "e"})).await), "e");
    let state = rig.stop_keeping_state().await;

    // An upstream that starts with another definition than its pins: drift is known
    // before the first call. With `warn` the call runs and the drift is audited.
    std::fs::write(state.path().join("echo.txt"), "Echoes, differently.").expect("write");
    let rig = Rig::with(Options {
        pins: true,
        state: Some(state),
        ..Options::new(json!({"version": "1", "default": "allow", "drift": "warn"}))
    })
    .await;
    assert_eq!(text(&rig.call("echo", json!({"text": "c"})).await), "c");
    let warned = rig
        .audit()
        .into_iter()
        .filter(|r| {
            r["rule"] == "(pin drift)" && r["outcome"] == "drift" && r["verdict"] == "allow"
        })
        .count();
    assert!(warned >= 1, "the drift is audited");
    let state = rig.stop_keeping_state().await;

    // With `approve`, each call of the drifted tool asks the human.
    let rig = Rig::with(Options {
        pins: true,
        state: Some(state),
        handler: TestClient::answering(ElicitationAction::Accept, Some(json!({"approve": true}))),
        ..Options::new(json!({"version": "1", "default": "allow", "drift": "approve"}))
    })
    .await;
    assert_eq!(text(&rig.call("echo", json!({"text": "d"})).await), "d");
    assert_eq!(text(&rig.call("erase_disk", json!({})).await), "erased");
    assert_eq!(rig.handler.asked(), 1, "only the drifted tool asked");
    rig.stop().await;
}

#[test]
fn the_binary_fronts_a_stdio_upstream_with_the_seed_policy() {
    front_the_seed_policy(&[]);
}

#[test]
fn counters_in_memory_and_a_batched_audit_log_anchored_at_exit() {
    // An interval longer than the test: only the sync at exit anchors the records.
    let state = front_the_seed_policy(&["--counters", "memory", "--audit-sync-ms", "10000"]);
    assert!(
        !state.path().join("counters.sqlite").exists(),
        "no counters on disk"
    );
    let audit = state.path().join("audit-gateway-upstream.jsonl");
    let key =
        nanokvm_policy::AuditKey::load_or_create(nanokvm_policy::devices::audit_key_path(&audit))
            .expect("the audit key");
    let report = nanokvm_policy::AuditLog::verify_with_key(&audit, &key).expect("verifies");
    assert!(report.last_seq >= 3, "{report:?}");
    assert_eq!(report.anchored_seq, Some(report.last_seq), "{report:?}");
}

/// Runs the binary with the seed MountIso policy (and `extra` gateway options) in front
/// of the upstream example over stdio: one call allowed, one denied, then stdin closes
/// and the gateway must exit cleanly. Returns its state directory.
fn front_the_seed_policy(extra: &[&str]) -> TempDir {
    use std::io::{BufRead as _, BufReader, Write as _};
    let state = tempfile::tempdir().expect("a directory");
    let policy = state.path().join("mountiso.json");
    std::fs::write(&policy, mountiso_policy().to_string()).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nanokvm-mcp"))
        .args(["gateway", "--policy"])
        .arg(&policy)
        .arg("--state-dir")
        .arg(state.path())
        .args(extra)
        .arg("--")
        .arg(fixture())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the gateway starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut send = move |m: Value| {
        writeln!(stdin, "{m}").expect("write");
        stdin.flush().expect("flush");
    };
    let mut answer = |id: u64| -> Value {
        for line in lines.by_ref() {
            let m: Value =
                serde_json::from_str(&line.expect("read")).expect("only JSON-RPC on stdout");
            if m["id"] == json!(id) {
                return m;
            }
        }
        panic!("no answer to {id}");
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}),
    );
    let init = answer(1);
    assert_eq!(init["result"]["serverInfo"]["name"], "gateway-fixture");
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "MountIso", "arguments": {"path": "/isos/a.iso"}}}));
    assert_eq!(
        answer(2)["result"]["content"][0]["text"],
        "mounted /isos/a.iso"
    );
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "erase_disk", "arguments": {}}}));
    let denied = answer(3);
    assert_eq!(denied["result"]["isError"], true);
    assert!(
        denied["result"]["content"][0]["text"]
            .as_str()
            .expect("text")
            .starts_with("[POLICY DENIED]")
    );
    drop(send); // closes the gateway's stdin: the client is gone
    let status = child.wait().expect("the gateway exits");
    assert!(status.success(), "{status}");
    state
}

/// The upstream example serving Streamable HTTP on a free port, and its URL.
struct HttpUpstream {
    child: std::process::Child,
    url: String,
}

impl HttpUpstream {
    fn start(calls: &Path) -> Self {
        Self::start_at(calls, "127.0.0.1:0")
    }

    /// Serving at `addr` (`127.0.0.1:0` for a free port).
    fn start_at(calls: &Path, addr: &str) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(fixture())
            .args(["--http", addr, "--calls"])
            .arg(calls)
            .stdout(std::process::Stdio::piped())
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
        Self { child, url }
    }
}

impl Drop for HttpUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn over_http_both_ways_the_agents_token_stays_with_the_gateway() {
    use nanokvm_mcp::http::{HttpServer, Tokens};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let state = tempfile::tempdir().expect("a directory");
    let calls = state.path().join("calls.txt");
    let upstream = HttpUpstream::start(&calls);
    let policy_path = state.path().join("policy.json");
    std::fs::write(&policy_path, mountiso_policy().to_string()).expect("write");
    let setup = gateway_setup(
        &state_args(state.path(), Some(policy_path)),
        &CountersArgs::default(),
        "virt",
    )
    .expect("state");
    let link = Link::new(Upstream::Http {
        url: upstream.url.clone(),
        headers: vec![Upstream::parse_header("X-Upstream-Key: upstream-secret").expect("a header")],
    });
    let server = GatewayBuilder::new(setup.gate, link.clone())
        .start("nobody", "none")
        .await
        .expect("the gateway reaches the upstream");
    let tokens = Tokens::from_toml("agent = \"agent-secret-token-0123456789\"\n").expect("tokens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("the address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(HttpServer::new(server, tokens).serve(listener, async {
        let _ = stopped.await;
    }));

    let config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
        .auth_header("agent-secret-token-0123456789");
    let client = TestClient::plain()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the agent connects");
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "MountIso"));
    let Value::Object(args) = json!({"path": "/isos/a.iso"}) else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("MountIso").with_arguments(args))
        .await
        .expect("a result");
    assert_eq!(text(&r), "mounted /isos/a.iso");
    let r = client
        .call_tool(CallToolRequestParams::new("erase_disk"))
        .await
        .expect("a result");
    assert!(is_denied(&r), "{}", text(&r));

    let seen = std::fs::read_to_string(&calls).expect("the upstream's record");
    let reached: Vec<&str> = seen.lines().filter(|l| !l.starts_with("header ")).collect();
    assert_eq!(reached, ["MountIso"]);
    assert!(
        seen.contains("header x-upstream-key: upstream-secret"),
        "{seen}"
    );
    assert!(
        !seen.contains("agent-secret"),
        "the agent's token reached the upstream: {seen}"
    );
    let _ = client.cancel().await;
    let _ = stop.send(());
    let _ = serving.await;
    link.close().await;
}
