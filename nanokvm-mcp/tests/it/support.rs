//! A server with a simulated NanoKVM behind it, and an in-process client.

#![allow(
    deprecated,
    reason = "the test client answers sampling and roots, and hears logging, which the 2026-07-28 revision deprecates"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nanokvm_mcp::server::NanoKvmServer;
use nanokvm_mcp::setup::{DeviceArgs, PolicyArgs, setup_with};
use nanokvm_sim::{Simulator, TimeScale};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    ElicitationAction, Implementation, ListRootsResult, LoggingMessageNotificationParam,
    ProtocolVersion, ResourceUpdatedNotificationParam, Root, SamplingMessage,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::{ClientHandler, ErrorData, ServiceExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;

/// One `notifications/progress`: progress, total, message.
pub type ProgressReport = (f64, Option<f64>, Option<String>);

/// How the test client answers elicitation, and how often it was asked.
#[derive(Clone)]
pub struct TestClient {
    /// `None`: the client does not declare elicitation.
    pub answer: Option<(ElicitationAction, Option<Value>)>,
    pub asked: Arc<AtomicUsize>,
    pub protocol: ProtocolVersion,
    /// Signalled on `notifications/tools/list_changed`.
    pub list_changed: Arc<tokio::sync::Notify>,
    /// Every `notifications/progress` received: progress, total, message.
    pub progress: Arc<std::sync::Mutex<Vec<ProgressReport>>>,
    /// The data of every `notifications/message` received.
    pub logs: Arc<std::sync::Mutex<Vec<Value>>>,
    /// The URI of every `notifications/resources/updated` received.
    pub updated: Arc<std::sync::Mutex<Vec<String>>>,
    /// The text of every `sampling/createMessage` request's last message.
    pub sampled: Arc<std::sync::Mutex<Vec<String>>>,
    /// Bumped after each notification or request the client receives.
    pub seen: Arc<tokio::sync::watch::Sender<u64>>,
}

impl TestClient {
    pub fn plain() -> Self {
        Self {
            answer: None,
            asked: Arc::new(AtomicUsize::new(0)),
            protocol: ProtocolVersion::LATEST_WITH_INITIALIZE,
            list_changed: Arc::new(tokio::sync::Notify::new()),
            progress: Arc::default(),
            logs: Arc::default(),
            updated: Arc::default(),
            sampled: Arc::default(),
            seen: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// The roots the client answers `roots/list` with.
    pub const ROOTS: [&str; 2] = ["file:///work/project", "file:///work/notes"];

    /// What the client answers `sampling/createMessage` with.
    pub const SAMPLED: &str = "a sampled answer";

    /// Waits (30 s at most) until `done` holds of what the client received.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let mut seen = self.seen.subscribe();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            seen.wait_for(|_| done(self)),
        )
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("the client is alive");
    }

    /// Whether a log message with `data` arrived.
    pub fn logged(&self, data: &Value) -> bool {
        self.logs.lock().unwrap().contains(data)
    }

    fn bump(&self) {
        self.seen.send_modify(|n| *n += 1);
    }

    pub fn answering(action: ElicitationAction, content: Option<Value>) -> Self {
        Self {
            answer: Some((action, content)),
            ..Self::plain()
        }
    }

    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

impl ClientHandler for TestClient {
    fn get_info(&self) -> ClientConfig {
        // Sampling and roots are always offered: only the gateway's upstream asks.
        let capabilities = if self.answer.is_some() {
            ClientCapabilities::builder()
                .enable_elicitation()
                .enable_sampling()
                .enable_roots()
                .enable_roots_list_changed()
                .build()
        } else {
            ClientCapabilities::builder()
                .enable_sampling()
                .enable_roots()
                .enable_roots_list_changed()
                .build()
        };
        ClientConfig::new(capabilities, Implementation::new("nanokvm-mcp-tests", "0"))
            .with_protocol_version(self.protocol.clone())
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.progress
            .lock()
            .unwrap()
            .push((params.progress, params.total, params.message));
        self.bump();
    }

    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<RoleClient>) {
        self.list_changed.notify_one();
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(params.data);
        self.bump();
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
        self.bump();
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        let asked = params
            .messages
            .last()
            .and_then(|m| m.content.first())
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        self.sampled.lock().unwrap().push(asked);
        self.bump();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(Self::SAMPLED),
            "test-model".to_owned(),
        ))
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(ListRootsResult::new(
            Self::ROOTS.iter().map(|uri| Root::new(*uri)).collect(),
        ))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            // Typed text never reaches the human in clear.
            assert!(!message.contains("hunter2"), "{message}");
        }
        let (action, content) = self
            .answer
            .clone()
            .unwrap_or((ElicitationAction::Decline, None));
        let mut result = ElicitResult::new(action);
        if let Some(content) = content {
            result = result.with_content(content);
        }
        Ok(result)
    }
}

/// The command line of a server for a simulated NanoKVM (`--sim`).
pub fn sim_device() -> DeviceArgs {
    DeviceArgs {
        host: None,
        user: "admin".to_owned(),
        password: None,
        https: false,
        tls_fingerprint: None,
        verify_ssl: true,
        layout: "us".to_owned(),
        target_os: "windows".to_owned(),
        screen_width: None,
        screen_height: None,
        name: "nanokvm".to_owned(),
        sim: true,
        sim_resolution: None,
        config: None,
        download_hosts: Vec::new(),
        upload_dir: None,
    }
}

/// State in `state`, the policy in `policy` (the recommended one when `None`), and a
/// two-second wait for approvals.
pub fn state_args(state: &std::path::Path, policy: Option<std::path::PathBuf>) -> PolicyArgs {
    PolicyArgs {
        policy,
        audit: None,
        state_dir: Some(state.to_owned()),
        approval_timeout: 2,
    }
}

/// A served simulator, the server's state directory and a connected client.
pub struct Rig {
    pub sim: Simulator,
    pub client: RunningService<RoleClient, TestClient>,
    pub handler: TestClient,
    /// The server's counters, audit log and policy file live there.
    pub state: TempDir,
}

impl Rig {
    /// A rig whose policy is `policy` (the recommended one when `None`).
    pub async fn start(policy: Option<Value>, handler: TestClient) -> Self {
        Self::start_with(policy, handler, |_| {}).await
    }

    /// A rig whose device command line `configure` adjusts.
    pub async fn start_with(
        policy: Option<Value>,
        handler: TestClient,
        configure: impl FnOnce(&mut DeviceArgs),
    ) -> Self {
        let state = tempfile::tempdir().expect("a temporary directory");
        let policy_path = policy.map(|doc| {
            let path = state.path().join("policy.json");
            std::fs::write(&path, doc.to_string()).expect("write the policy");
            path
        });
        let mut device = sim_device();
        configure(&mut device);
        let policy = state_args(state.path(), policy_path);
        // Fast, but not so fast that the device's WebSocket idle limit (a minute on the
        // firmware) falls below the time between two calls.
        let sim = Simulator::builder().time_scale(TimeScale::new(0.05));
        let setup = setup_with(&device, &policy, Some(sim))
            .await
            .expect("setup");
        let sim = setup.simulator.expect("a simulator");
        let server =
            NanoKvmServer::new(setup.devices, "agent", "session-1").with_approvals(setup.approvals);
        let (ours, theirs) = tokio::io::duplex(1 << 22);
        let serving = server.clone();
        tokio::spawn(async move {
            if let Ok(running) = serving.serve(theirs).await {
                let _ = running.waiting().await;
            }
        });
        let client = handler
            .clone()
            .serve(ours)
            .await
            .expect("the client connects");
        Self {
            sim,
            client,
            handler,
            state,
        }
    }

    /// Calls a tool; a protocol error panics.
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        self.try_call(tool, args).await.expect("a tool result")
    }

    /// Calls a tool asking for progress notifications (token `progress-1`).
    pub async fn call_with_progress(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(args) = args else {
            panic!("arguments must be an object");
        };
        let mut params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
        let mut meta = rmcp::model::RequestMetaObject::default();
        meta.set_progress_token(rmcp::model::ProgressToken(
            rmcp::model::NumberOrString::String("progress-1".into()),
        ));
        params.meta = Some(meta);
        self.client.call_tool(params).await.expect("a tool result")
    }

    /// Calls a tool.
    pub async fn try_call(
        &self,
        tool: &str,
        args: Value,
    ) -> Result<CallToolResult, rmcp::service::ServiceError> {
        let Value::Object(args) = args else {
            panic!("arguments must be an object");
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
        self.client.call_tool(params).await
    }
}

/// The text of a result's first text block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

/// An allow-all policy with the recommended keystroke filter.
pub fn allow_all() -> Value {
    json!({
        "version": "1",
        "default": "allow",
        "keystrokes": {"deny": ["rm\\s+-rf\\s+/"]}
    })
}

/// Waits, when fewer than `margin` remain of the current clock minute, until the next one
/// has begun: a test that counts calls in a fixed `minute` window (on the real clock)
/// must not see the window turn halfway.
pub async fn clear_of_minute_turn(margin: std::time::Duration) {
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        % 60_000;
    let left = std::time::Duration::from_millis(u64::try_from(60_000 - into).unwrap_or(0));
    if left < margin {
        tokio::time::sleep(left + std::time::Duration::from_millis(50)).await;
    }
}
