//! A server with a simulated NanoKVM behind it, and an in-process client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nanokvm_mcp::server::NanoKvmServer;
use nanokvm_mcp::setup::{DeviceArgs, PolicyArgs, setup_with};
use nanokvm_sim::{Simulator, TimeScale};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, ProtocolVersion,
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
}

impl TestClient {
    pub fn plain() -> Self {
        Self {
            answer: None,
            asked: Arc::new(AtomicUsize::new(0)),
            protocol: ProtocolVersion::LATEST_WITH_INITIALIZE,
            list_changed: Arc::new(tokio::sync::Notify::new()),
            progress: Arc::default(),
        }
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
        let capabilities = if self.answer.is_some() {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
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
    }

    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<RoleClient>) {
        self.list_changed.notify_one();
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
