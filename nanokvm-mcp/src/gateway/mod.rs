//! `nanokvm-mcp gateway`: the policy, approvals, limits and audit log of the device server
//! in front of any other MCP server.
//!
//! [`GatewayServer`] is an MCP server whose tools are those of an upstream MCP server
//! ([`Upstream`]: a child process over stdio, or Streamable HTTP), reached through one
//! [`Link`]. It serves agents over stdio or over the same Streamable HTTP front as the
//! device server ([`crate::http::HttpServer`], whose token names are the grants).
//!
//! - `tools/list`: the upstream's tools (every page, flattened into one answer) minus
//!   those the policy hides, each definition passed through unchanged.
//! - `tools/call`: a hidden or unknown tool is a protocol error, as on the device
//!   server. Otherwise the call is decided by a device-less [`Gate`]
//!   ([`Gate::check_approved_by`]) on the tool name and the arguments exactly as the
//!   agent sent them, with the risk class the upstream's annotations give
//!   ([`risk_of`]); approvals are asked of the agent's human by elicitation, raced with
//!   the operators' queue. A denial is answered as on the device server (`[POLICY
//!   DENIED] ...`) and never reaches the upstream. An allowed call is forwarded; its
//!   counters are committed when the upstream answered, rolled back when the upstream
//!   certainly did nothing (it refused the request, or could not be reached), and stay
//!   counted when it may have acted (a timeout, a connection lost mid-call, a tool
//!   error, the agent's cancellation, which is passed on). A call the agent cancels
//!   before it was forwarded (while its approval is pending) never leaves the gateway.
//! - Resources, resource templates, prompts, completions and the logging level are
//!   passed to the upstream as they come (with their cursors, so pagination is the
//!   upstream's); what the upstream sends back is passed on (see [`upstream`]).
//!   Subscriptions and the logging level are set again on a restarted upstream.
//! - Tool-definition pinning ([`pins`]): at start, on every `tools/list` and on the
//!   upstream's `list_changed`, the tools are compared with their pins; a drifted tool
//!   is refused, needs approval, or is only audited, as the policy's `drift` field says
//!   (read at each call, so a reloaded policy applies at once), and every drift is an
//!   audit record.
//!
//! The agent's credentials never reach the upstream: the gateway is the upstream's only
//! client, with its own configuration.

#![allow(
    deprecated,
    reason = "logging and resource subscriptions are deprecated by the 2026-07-28 revision, and still pass through for clients of the earlier ones"
)]

pub mod pins;
pub mod upstream;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nanokvm_policy::gate::Denial;
use nanokvm_policy::gate::{
    ApprovalAnswer, ApprovalQueue, ApprovalRequest, Approver, CallContext, Gate, binding,
};
use nanokvm_policy::{Error as PolicyError, RiskClass, Verdict};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CancelledNotificationParam,
    ClientRequest, CompleteRequest, CompleteRequestParams, CompleteResult, GetPromptRequest,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsRequest,
    ListPromptsResult, ListResourceTemplatesRequest, ListResourceTemplatesResult,
    ListResourcesRequest, ListResourcesResult, ListToolsRequest, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequest, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, ServerPeerInfo, ServerResult, SetLevelRequest,
    SetLevelRequestParams, SubscribeRequest, SubscribeRequestParams, Tool, UnsubscribeRequest,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use serde_json::Value;

pub use self::pins::{Drift, OnDrift, PinFile, UpstreamPins};
pub use self::upstream::{Link, Upstream};
use crate::asking::{Asking, Deferred, StatelessAsks};
use crate::server::{denial_result, tool_error};
use crate::setup::GatewayStore;

/// The rule id of a refusal for a drifted tool definition.
pub const RULE_PIN_DRIFT: &str = "(pin drift)";

/// How long a forwarded request may take by default.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(300);

/// The most pages of a tool list read from the upstream.
const MAX_PAGES: usize = 100;

/// The MCP server in front of an upstream. Cheap to clone; clones share the upstream,
/// the gate and the pins.
#[derive(Clone, Debug)]
pub struct GatewayServer {
    shared: Arc<Shared>,
    grant: String,
    session: String,
}

struct Shared {
    gate: Gate<GatewayStore>,
    link: Link,
    queue: Option<Arc<ApprovalQueue>>,
    pins: Option<Pinning>,
    timeout: Duration,
    /// The upstream's tools as last learned, every page.
    tools: Mutex<Vec<Tool>>,
    /// What the upstream said of itself at the last handshake.
    info: Mutex<Option<ServerPeerInfo>>,
    /// Approvals asked of stateless agents (`input_required`), by request state.
    asked: StatelessAsks,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("link", &self.link)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

struct Pinning {
    file: PinFile,
    /// The upstream's pins; `None` until its tools were first learned.
    pins: Mutex<Option<UpstreamPins>>,
    /// Drifts already recorded (tool and digest), so each is audited once.
    reported: Mutex<HashSet<(String, String)>>,
}

/// How the gateway is put together: built with [`GatewayBuilder`].
#[derive(Debug)]
pub struct GatewayBuilder {
    gate: Gate<GatewayStore>,
    link: Link,
    queue: Option<Arc<ApprovalQueue>>,
    pins: Option<PinFile>,
    timeout: Duration,
}

impl GatewayBuilder {
    /// A gateway deciding with `gate` (built with [`Gate::without_device`]) in front of
    /// the upstream of `link`.
    #[must_use]
    pub fn new(gate: Gate<GatewayStore>, link: Link) -> Self {
        Self {
            gate,
            link,
            queue: None,
            pins: None,
            timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }

    /// Lets operators answer approvals through `queue` (`nanokvm-mcp approvals`).
    #[must_use]
    pub fn approvals(mut self, queue: Arc<ApprovalQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Pins tool definitions in `file`; a drifted tool is treated as the policy's
    /// `drift` field says (refused unless it says otherwise).
    #[must_use]
    pub fn pins(mut self, file: PinFile) -> Self {
        self.pins = Some(file);
        self
    }

    /// How long one forwarded request may take (default [`DEFAULT_UPSTREAM_TIMEOUT`]);
    /// a call that times out stays counted, since it may have run.
    #[must_use]
    pub fn upstream_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects to the upstream, learns its tools and checks (or first takes) their
    /// pins, before any call is served; returns the server for principal `grant` in
    /// `session`.
    ///
    /// # Errors
    ///
    /// The upstream cannot be started or reached, its tools cannot be listed, or the
    /// pin file cannot be read or written.
    pub async fn start(
        self,
        grant: impl Into<String>,
        session: impl Into<String>,
    ) -> anyhow::Result<GatewayServer> {
        let pinning = match self.pins {
            Some(file) => {
                let pins = file.of(&self.link.upstream().key())?;
                Some(Pinning {
                    file,
                    pins: Mutex::new(pins),
                    reported: Mutex::default(),
                })
            }
            None => None,
        };
        let server = GatewayServer {
            shared: Arc::new(Shared {
                gate: self.gate,
                link: self.link,
                queue: self.queue,
                pins: pinning,
                timeout: self.timeout,
                tools: Mutex::default(),
                info: Mutex::default(),
                asked: StatelessAsks::default(),
            }),
            grant: grant.into(),
            session: session.into(),
        };
        server
            .learn_tools()
            .await
            .map_err(|e| anyhow::anyhow!("cannot list the upstream's tools: {}", e.message))?;
        // The upstream's `list_changed` makes the gateway learn the tools again, which
        // checks them against their pins before the agents are told.
        let weak = Arc::downgrade(&server.shared);
        let (grant, session) = (server.grant.clone(), server.session.clone());
        server.shared.link.on_tools_changed(Arc::new(move || {
            if let Some(shared) = weak.upgrade() {
                let server = GatewayServer {
                    shared,
                    grant: grant.clone(),
                    session: session.clone(),
                };
                tokio::spawn(async move {
                    if let Err(e) = server.learn_tools().await {
                        tracing::warn!(error = %e.message, "cannot list the upstream's tools after it said they changed");
                    }
                });
            }
        }));
        Ok(server)
    }
}

impl GatewayServer {
    /// The same gateway, calling as `grant` in `session` (one per HTTP client session).
    #[must_use]
    pub fn with_caller(&self, grant: impl Into<String>, session: impl Into<String>) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            grant: grant.into(),
            session: session.into(),
        }
    }

    /// The gate deciding every call.
    #[must_use]
    pub fn gate(&self) -> &Gate<GatewayStore> {
        &self.shared.gate
    }

    /// The connection to the upstream.
    #[must_use]
    pub fn link(&self) -> &Link {
        &self.shared.link
    }

    fn ctx(&self) -> CallContext {
        CallContext::new(&self.grant, &self.session)
    }

    /// Asks the upstream for every page of its tools, remembers them and checks them
    /// against their pins (pinning them all at first sight).
    async fn learn_tools(&self) -> Result<Vec<Tool>, McpError> {
        let (peer, info) = self.shared.link.peer().await.map_err(unavailable)?;
        if let Some(info) = info {
            *lock(&self.shared.info) = Some((*info).clone());
        }
        let tools = all_tools(&peer, self.shared.timeout).await?;
        self.check_pins(&tools);
        *lock(&self.shared.tools) = tools.clone();
        Ok(tools)
    }

    /// Pins the tools at first sight; audits each drift once.
    fn check_pins(&self, tools: &[Tool]) {
        let Some(pinning) = &self.shared.pins else {
            return;
        };
        let key = self.shared.link.upstream().key();
        let mut pins = lock(&pinning.pins);
        let Some(pins) = pins.as_mut() else {
            let first = UpstreamPins::of_tools(tools);
            match pinning.file.store(&key, first.clone()) {
                Ok(()) => {
                    tracing::info!(upstream = %key, tools = tools.len(), "pinned the upstream's tool definitions at first sight")
                }
                Err(e) => {
                    tracing::error!(upstream = %key, error = %format!("{e:#}"), "cannot write the pins")
                }
            }
            *pins = Some(first);
            return;
        };
        for tool in tools {
            let Some(drift) = pins.drift(tool) else {
                continue;
            };
            let digest = match &drift {
                Drift::Changed { now, .. } | Drift::New { now } => now.clone(),
            };
            if !lock(&pinning.reported).insert((tool.name.to_string(), digest)) {
                continue;
            }
            let what = match drift {
                Drift::Changed { .. } => "changed since it was pinned",
                Drift::New { .. } => "was not there when the upstream was pinned",
            };
            let on_drift = self.on_drift();
            tracing::warn!(tool = %tool.name, on_drift = on_drift.name(), "the tool's definition {what}");
            let note = Denial {
                verdict: if on_drift == OnDrift::Warn {
                    Verdict::Allow
                } else {
                    Verdict::Deny
                },
                rule: Some(RULE_PIN_DRIFT.to_owned()),
                message: format!("the definition of `{}` {what}", tool.name),
                retry_after_s: None,
                approval_binding: None,
            };
            let args = serde_json::to_value(&drift).unwrap_or(Value::Null);
            if let Err(e) =
                self.shared
                    .gate
                    .audit_outside(&self.ctx(), &tool.name, &args, &note, "drift")
            {
                tracing::error!(error = %e, "cannot audit a drifted tool definition");
            }
        }
    }

    /// The drift of `tool`, when pinning is on and it drifted. A drifted tool is checked
    /// again against the pin file, so that `gateway pins accept` takes effect on a
    /// running gateway.
    fn drift_of(&self, tool: &Tool) -> Option<(OnDrift, Drift)> {
        let pinning = self.shared.pins.as_ref()?;
        let mut pins = lock(&pinning.pins);
        pins.as_ref()?.drift(tool)?;
        match pinning.file.of(&self.shared.link.upstream().key()) {
            Ok(Some(fresh)) => *pins = Some(fresh),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot reread the pins"),
        }
        pins.as_ref()?.drift(tool).map(|d| (self.on_drift(), d))
    }

    /// What the policy in force says drift does.
    fn on_drift(&self) -> OnDrift {
        self.shared
            .gate
            .engine()
            .policy()
            .map_or(OnDrift::Deny, |p| p.drift())
    }

    /// The upstream's tools the policy shows.
    fn visible(&self, tools: Vec<Tool>) -> Vec<Tool> {
        let policy = self.shared.gate.engine().policy();
        tools
            .into_iter()
            .filter(|t| policy.as_ref().is_some_and(|p| !p.is_hidden(&t.name)))
            .collect()
    }

    /// The definition of a tool the caller may see, learning the list again when the
    /// name is not in the last one.
    async fn find_tool(&self, name: &str) -> Result<Option<Tool>, McpError> {
        let known = lock(&self.shared.tools)
            .iter()
            .find(|t| t.name == name)
            .cloned();
        let tool = match known {
            Some(tool) => Some(tool),
            None => self
                .learn_tools()
                .await?
                .into_iter()
                .find(|t| t.name == name),
        };
        Ok(tool.and_then(|t| self.visible(vec![t]).pop()))
    }

    /// Forwards a request that the policy does not decide.
    async fn forward(&self, request: ClientRequest) -> Result<ServerResult, McpError> {
        let (peer, _) = self.shared.link.peer().await.map_err(unavailable)?;
        send(&peer, request, self.shared.timeout).await
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let unknown = || McpError::invalid_params(format!("unknown tool `{name}`"), None);
        let Some(tool) = self.find_tool(&name).await? else {
            return Err(unknown());
        };
        let ctx = self.ctx();
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        // The gate's approvals: asked of the agent's human by elicitation, in an
        // `input_required` result for a stateless agent, or of the operators' queue.
        let deferred = Arc::new(Deferred::default());
        let asking = Asking::of(&context, request.request_state.as_deref(), |state| {
            self.shared
                .asked
                .resolve(state, request.input_responses.as_ref(), |_, binding| {
                    self.shared.gate.grant_approval(binding);
                    true
                })
        });
        let drift_approver = asking
            .without_result()
            .approver(self.shared.queue.as_ref(), &deferred);
        let approver = asking.approver(self.shared.queue.as_ref(), &deferred);
        let mut drift_approved = false;
        if let Some((on_drift, drift)) = self.drift_of(&tool) {
            match on_drift {
                OnDrift::Warn => {}
                OnDrift::Deny => {
                    let denial = Denial {
                        verdict: Verdict::Deny,
                        rule: Some(RULE_PIN_DRIFT.to_owned()),
                        message: format!(
                            "the definition of `{name}` {}; an operator must review and accept \
                             it (`nanokvm-mcp gateway pins diff {name}`, then `pins accept \
                             {name}`)",
                            drift_text(&drift)
                        ),
                        retry_after_s: None,
                        approval_binding: None,
                    };
                    self.audit_outside(&ctx, &name, &args, &denial, "denied");
                    return Ok(denial_result(Box::new(denial), false).into());
                }
                OnDrift::Approve => {
                    let message = format!("the definition of `{name}` {}", drift_text(&drift));
                    let approval = self.approve_drift(&ctx, &name, &args, &message, drift_approver);
                    let approved = tokio::select! {
                        biased;
                        approved = approval => approved,
                        () = context.ct.cancelled() => {
                            self.audit_cancelled(&ctx, &name, &args);
                            return Err(cancelled());
                        }
                    };
                    match approved {
                        Ok(()) => drift_approved = true,
                        Err(denial) => return Ok(denial_result(Box::new(denial), false).into()),
                    }
                }
            }
        }
        let risk = risk_of(&tool);
        let check = async {
            match approver {
                Some(approver) => {
                    self.shared
                        .gate
                        .check_approved_by(&ctx, &name, &args, risk, approver)
                        .await
                }
                None => self.shared.gate.check(&ctx, &name, &args, risk).await,
            }
        };
        // An agent that gives up while a human is still being asked must not have its
        // call run when the answer comes: nothing is reserved before the approval, so
        // dropping the check leaves nothing to settle. The check goes first, so that a
        // decision that needs no one is still taken when the agent has just cancelled,
        // and given back below: the audit log says what happened.
        let checked = tokio::select! {
            biased;
            checked = check => checked,
            () = context.ct.cancelled() => {
                self.audit_cancelled(&ctx, &name, &args);
                return Err(cancelled());
            }
        };
        let permit = match checked {
            Ok(permit) => permit,
            Err(PolicyError::Denied(denial)) => {
                // A stateless agent is asked in the result, and calls again with the
                // answer.
                if let Some(binding) = &denial.approval_binding
                    && let Some(asked) = deferred.take()
                {
                    return Ok(self
                        .shared
                        .asked
                        .ask(UPSTREAM_SCOPE, binding, &asked)
                        .into());
                }
                return Ok(denial_result(denial, self.shared.queue.is_some()).into());
            }
            Err(e) => return Ok(tool_error(nanokvm_policy::error_chain(&e), None).into()),
        };
        if drift_approved {
            tracing::info!(tool = %name, "a call of a drifted tool ran with approval");
        }
        // Forward the call as the agent sent it; rmcp gives it a progress token of the
        // gateway's own, whose reports go back under the agent's.
        let (peer, _) = match self.shared.link.peer().await {
            Ok(peer) => peer,
            Err(e) => {
                let message = format!("{e:#}");
                let _ = permit.finish(Err(message.clone()));
                return Ok(tool_error(message, None).into());
            }
        };
        if context.ct.is_cancelled() {
            // Cancelled after the decision, before the call left: nothing ran.
            let _ = permit.finish(Err(CANCELLED_BEFORE.to_owned()));
            return Err(cancelled());
        }
        let agent_token = context.meta.get_progress_token();
        let mut params = request;
        // The approval round's state and answers are the gateway's, not the upstream's.
        params.request_state = None;
        params.input_responses = None;
        if let Some(meta) = params.meta.as_mut() {
            meta.remove("progressToken");
        }
        let mut options = PeerRequestOptions::no_options();
        options.timeout = Some(self.shared.timeout);
        let sent = peer
            .send_request_with_option(
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
                options,
            )
            .await;
        let handle = match sent {
            Ok(handle) => handle,
            Err(e) => {
                let message = format!("the upstream MCP server could not be sent the call: {e}");
                let _ = permit.finish(Err(message.clone()));
                return Ok(tool_error(message, None).into());
            }
        };
        let request_id = handle.id.clone();
        let _busy = self.shared.link.busy(
            context.peer.clone(),
            agent_token.map(|agent| (handle.progress_token.clone(), agent)),
        );
        let answer = tokio::select! {
            answer = handle.await_response() => answer,
            () = context.ct.cancelled() => {
                // The agent gave up: the call may have acted, so it stays counted (settled
                // first, so that whatever the upstream does next finds it settled); the
                // upstream is told.
                let _ = permit.finish_uncertain("cancelled by the agent");
                let _ = peer
                    .notify_cancelled(CancelledNotificationParam::new(
                        Some(request_id),
                        Some("the agent cancelled the call".to_owned()),
                    ))
                    .await;
                return Err(cancelled());
            }
        };
        let settled = match answer {
            Ok(ServerResult::CallToolResult(result)) => {
                let settled = if result.is_error == Some(true) {
                    permit.finish_uncertain("the tool reported an error")
                } else {
                    permit.finish(Ok(()))
                };
                settled.map(|()| CallToolResponse::Complete(result))
            }
            Ok(ServerResult::CreateTaskResult(task)) => {
                permit.finish(Ok(())).map(|()| CallToolResponse::Task(task))
            }
            Ok(ServerResult::InputRequiredResult(asked)) => permit
                .finish(Err("the upstream asked for input first".to_owned()))
                .map(|()| CallToolResponse::InputRequired(asked)),
            Ok(_) => {
                let message = "the upstream answered tools/call with something else";
                let _ = permit.finish_uncertain(message);
                return Ok(tool_error(message.to_owned(), None).into());
            }
            Err(rmcp::service::ServiceError::McpError(e)) => {
                // The upstream refused the request: nothing ran.
                let _ = permit.finish(Err(format!("the upstream refused the call: {}", e.message)));
                return Err(e);
            }
            Err(e) => {
                let message = match &e {
                    rmcp::service::ServiceError::Timeout { timeout } => format!(
                        "the upstream MCP server did not answer within {} s; the call may have \
                         run and stays counted",
                        timeout.as_secs()
                    ),
                    _ => format!(
                        "the upstream MCP server failed during the call ({e}); the call may \
                         have run and stays counted"
                    ),
                };
                let _ = permit.finish_uncertain(message.clone());
                return Ok(tool_error(message, None).into());
            }
        };
        settled.or_else(|e| Ok(tool_error(nanokvm_policy::error_chain(&e), None).into()))
    }

    /// Audits a call the agent cancelled before it was decided: the only wait in a
    /// decision is for a human's approval.
    fn audit_cancelled(&self, ctx: &CallContext, tool: &str, args: &Value) {
        let note = Denial {
            verdict: Verdict::ApprovalRequired,
            rule: None,
            message: "the agent cancelled the call while its approval was pending; it did not \
                      run"
            .to_owned(),
            retry_after_s: None,
            approval_binding: None,
        };
        self.audit_outside(ctx, tool, args, &note, "cancelled");
    }

    fn audit_outside(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        denial: &Denial,
        outcome: &str,
    ) {
        if let Err(e) = self
            .shared
            .gate
            .audit_outside(ctx, tool, args, denial, outcome)
        {
            tracing::error!(error = %e, "cannot audit a refusal");
        }
    }

    /// Asks a human to let a call of a drifted tool through.
    async fn approve_drift(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        message: &str,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<(), Denial> {
        let policy_hash = self
            .shared
            .gate
            .engine()
            .policy()
            .map(|p| p.hash_hex())
            .unwrap_or_default();
        let device = self.shared.gate.device().to_owned();
        let request = ApprovalRequest {
            tool: tool.to_owned(),
            args: args.clone(),
            principal: ctx.principal.clone(),
            session: ctx.session.clone(),
            device: device.clone(),
            rule: Some(RULE_PIN_DRIFT.to_owned()),
            message: message.to_owned(),
            policy_hash: policy_hash.clone(),
            binding: binding(tool, args, &device, &policy_hash),
        };
        let answer = match approver {
            Some(approver) => tokio::time::timeout(APPROVAL_WAIT, approver.approve(&request))
                .await
                .ok(),
            None => None,
        };
        let reason = match answer {
            Some(ApprovalAnswer::Approve) => return Ok(()),
            Some(ApprovalAnswer::Deny { reason }) => {
                format!(
                    "was refused{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                )
            }
            None => "no approval came".to_owned(),
        };
        let denial = Denial {
            verdict: Verdict::ApprovalRequired,
            rule: Some(RULE_PIN_DRIFT.to_owned()),
            message: format!("{message}; approval was required and {reason}"),
            retry_after_s: None,
            approval_binding: None,
        };
        self.audit_outside(ctx, tool, args, &denial, "approval_denied");
        Err(denial)
    }
}

/// Every tool of the upstream of `link`, all pages (for `gateway pins`).
///
/// # Errors
///
/// The upstream cannot be reached or fails to list its tools.
pub async fn list_tools(link: &Link) -> anyhow::Result<Vec<Tool>> {
    let (peer, _) = link.peer().await?;
    all_tools(&peer, DEFAULT_UPSTREAM_TIMEOUT)
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the upstream's tools: {}", e.message))
}

/// Every page of the upstream's tool list.
async fn all_tools(
    peer: &rmcp::Peer<rmcp::RoleClient>,
    timeout: Duration,
) -> Result<Vec<Tool>, McpError> {
    let mut tools = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let params = cursor
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let request = ClientRequest::ListToolsRequest(ListToolsRequest {
            method: Default::default(),
            params,
            extensions: Default::default(),
        });
        let page = match send(peer, request, timeout).await? {
            ServerResult::ListToolsResult(page) => page,
            _ => return Err(bad_answer("tools/list")),
        };
        tools.extend(page.tools);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(tools),
        }
    }
    Err(McpError::internal_error(
        format!("the upstream's tool list has more than {MAX_PAGES} pages"),
        None,
    ))
}

/// Sends one request upstream and waits for its answer (bounded by `timeout`).
async fn send(
    peer: &rmcp::Peer<rmcp::RoleClient>,
    request: ClientRequest,
    timeout: Duration,
) -> Result<ServerResult, McpError> {
    let mut options = PeerRequestOptions::no_options();
    options.timeout = Some(timeout);
    let handle = peer
        .send_request_with_option(request, options)
        .await
        .map_err(|e| unavailable(anyhow::anyhow!("{e}")))?;
    handle.await_response().await.map_err(upstream_error)
}

/// The scope of the gateway's `input_required` approval questions (it has one gate).
const UPSTREAM_SCOPE: &str = "upstream";

/// How long a drifted tool's approval is waited for.
const APPROVAL_WAIT: Duration = Duration::from_secs(120);

fn drift_text(drift: &Drift) -> &'static str {
    match drift {
        Drift::Changed { .. } => "changed since it was pinned",
        Drift::New { .. } => "was not there when the upstream was pinned",
    }
}

/// The risk class of an upstream tool, from its annotations, for the policy's `risk`
/// rules: `low` for a read-only tool, `high` for one that says it is destructive, and
/// `medium` for one that says it is not. A tool that says nothing is `high`, as the
/// MCP specification's defaults (not read-only, destructive) have it.
#[must_use]
pub fn risk_of(tool: &Tool) -> Option<RiskClass> {
    let hints = tool.annotations.as_ref();
    let read_only = hints.and_then(|a| a.read_only_hint).unwrap_or(false);
    let destructive = hints.and_then(|a| a.destructive_hint).unwrap_or(true);
    Some(if read_only {
        RiskClass::Low
    } else if destructive {
        RiskClass::High
    } else {
        RiskClass::Medium
    })
}

/// Why a call the agent cancelled before it left the gateway did not run.
const CANCELLED_BEFORE: &str = "the agent cancelled the call before it was forwarded";

fn cancelled() -> McpError {
    McpError::internal_error("the call was cancelled", None)
}

fn unavailable(e: anyhow::Error) -> McpError {
    McpError::internal_error(format!("{e:#}"), None)
}

fn bad_answer(method: &str) -> McpError {
    McpError::internal_error(
        format!("the upstream answered {method} with something else"),
        None,
    )
}

fn upstream_error(e: rmcp::service::ServiceError) -> McpError {
    match e {
        rmcp::service::ServiceError::McpError(e) => e,
        e => McpError::internal_error(format!("the upstream MCP server failed: {e}"), None),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl crate::http::Session for GatewayServer {
    fn with_caller(&self, grant: &str, session: String) -> Self {
        GatewayServer::with_caller(self, grant, session)
    }
}

impl ServerHandler for GatewayServer {
    fn get_info(&self) -> ServerConfig {
        let info = lock(&self.shared.info).clone();
        let mut capabilities = info
            .as_ref()
            .map(|i| i.capabilities.clone())
            .unwrap_or_else(|| ServerCapabilities::builder().build());
        // Tools are always served; their list changes with the policy too.
        let mut tools = capabilities.tools.take().unwrap_or_default();
        tools.list_changed = Some(true);
        capabilities.tools = Some(tools);
        let implementation = info
            .as_ref()
            .and_then(|i| i.server_info.clone())
            .unwrap_or_else(|| {
                Implementation::new("nanokvm-mcp-gateway", env!("CARGO_PKG_VERSION"))
            });
        let mut config = ServerConfig::new(capabilities).with_server_info(implementation);
        if let Some(instructions) = info.and_then(|i| i.instructions) {
            config = config.with_instructions(instructions);
        }
        config
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.shared.link.agents().connect(context.peer.clone());
        // Tell the agent when a policy reload changes which tools it may see.
        let server = self.clone();
        let peer = context.peer;
        tokio::spawn(async move {
            let names = |s: &GatewayServer| -> Vec<String> {
                let tools = lock(&s.shared.tools).clone();
                s.visible(tools)
                    .into_iter()
                    .map(|t| t.name.into_owned())
                    .collect()
            };
            let mut shown = names(&server);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if peer.is_transport_closed() {
                    break;
                }
                let _ = server.shared.gate.visible_tools(); // picks up a policy edit
                let now = names(&server);
                if now != shown {
                    if peer.notify_tool_list_changed().await.is_err() {
                        break;
                    }
                    shown = now;
                }
            }
        });
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let _ = self.shared.gate.visible_tools(); // picks up a policy edit
        let tools = self.learn_tools().await?;
        Ok(ListToolsResult::with_all_items(self.visible(tools)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        self.call(request, context).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let request = ClientRequest::ListResourcesRequest(ListResourcesRequest {
            method: Default::default(),
            params: request,
            extensions: Default::default(),
        });
        match self.forward(request).await? {
            ServerResult::ListResourcesResult(r) => Ok(r),
            _ => Err(bad_answer("resources/list")),
        }
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let request = ClientRequest::ListResourceTemplatesRequest(ListResourceTemplatesRequest {
            method: Default::default(),
            params: request,
            extensions: Default::default(),
        });
        match self.forward(request).await? {
            ServerResult::ListResourceTemplatesResult(r) => Ok(r),
            _ => Err(bad_answer("resources/templates/list")),
        }
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
        match self.forward(request).await? {
            ServerResult::ReadResourceResult(r) => Ok(ReadResourceResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(ReadResourceResponse::InputRequired(r)),
            _ => Err(bad_answer("resources/read")),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let uri = request.uri.clone();
        self.forward(ClientRequest::SubscribeRequest(SubscribeRequest::new(
            request,
        )))
        .await?;
        self.shared.link.remember_subscription(&uri, true);
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let uri = request.uri.clone();
        self.forward(ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
            request,
        )))
        .await?;
        self.shared.link.remember_subscription(&uri, false);
        Ok(())
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let request = ClientRequest::ListPromptsRequest(ListPromptsRequest {
            method: Default::default(),
            params: request,
            extensions: Default::default(),
        });
        match self.forward(request).await? {
            ServerResult::ListPromptsResult(r) => Ok(r),
            _ => Err(bad_answer("prompts/list")),
        }
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
        match self.forward(request).await? {
            ServerResult::GetPromptResult(r) => Ok(GetPromptResponse::Complete(r)),
            ServerResult::InputRequiredResult(r) => Ok(GetPromptResponse::InputRequired(r)),
            _ => Err(bad_answer("prompts/get")),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        match self
            .forward(ClientRequest::CompleteRequest(CompleteRequest::new(
                request,
            )))
            .await?
        {
            ServerResult::CompleteResult(r) => Ok(r),
            _ => Err(bad_answer("completion/complete")),
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let level = request.level;
        self.forward(ClientRequest::SetLevelRequest(SetLevelRequest::new(
            request,
        )))
        .await?;
        self.shared.link.remember_level(level);
        Ok(())
    }

    async fn on_roots_list_changed(&self, _context: NotificationContext<RoleServer>) {
        if let Ok((peer, _)) = self.shared.link.peer().await {
            let _ = peer.notify_roots_list_changed().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_classes_follow_the_annotations_and_the_specification_defaults() {
        let schema = serde_json::Map::new();
        let tool = |read_only: Option<bool>, destructive: Option<bool>| {
            let mut t = Tool::new("t", "d", schema.clone());
            t.annotations = Some(rmcp::model::ToolAnnotations::from_raw(
                None,
                read_only,
                destructive,
                None,
                None,
            ));
            t
        };
        assert_eq!(risk_of(&tool(Some(true), None)), Some(RiskClass::Low));
        assert_eq!(
            risk_of(&tool(Some(false), Some(false))),
            Some(RiskClass::Medium)
        );
        assert_eq!(risk_of(&tool(None, Some(true))), Some(RiskClass::High));
        assert_eq!(risk_of(&tool(None, None)), Some(RiskClass::High));
        assert_eq!(
            risk_of(&Tool::new("t", "d", schema.clone())),
            Some(RiskClass::High)
        );
    }
}
