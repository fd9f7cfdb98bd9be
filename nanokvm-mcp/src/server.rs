//! The MCP server: tools from the gate's catalogue, every call through a gate.
//!
//! `tools/list` answers the catalogue tools the policy of some device leaves visible,
//! each with its title, description, input schema and hints as the catalogue declares
//! them (plus an optional `device` argument when more than one device is served).
//! `tools/call` parses nothing itself: it hands the tool name and arguments to the
//! device's [`Gate`], which checks them, decides, asks for approval, audits and runs.
//! A denial is a tool result with `isError: true` whose text starts `[POLICY DENIED]`;
//! bad arguments and device failures are tool results too, so the model can read them;
//! only an unknown (or hidden) tool is a protocol error.
//!
//! When the policy wants a human's approval, the server asks the human behind the
//! calling client through MCP elicitation (a form with one `approve` checkbox). A client
//! without elicitation, a decline or no answer denies the call; the denial carries the
//! approval binding of the exact call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use nanokvm_policy::catalogue::{TOOLS, ToolInfo, tool_info};
use nanokvm_policy::gate::{
    ApprovalAnswer, ApprovalQueue, ApprovalRequest, Approver, BoxFuture, CallContext, Gate,
    Progress, ProgressSink, Region, ScreenSize, View, masked_args,
};
use nanokvm_policy::{Error as PolicyError, SqliteStore, error_chain};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ElicitRequest,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema, Implementation,
    InputRequest, InputRequests, InputRequiredResult, InputResponses, JsonObject, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ProtocolVersion,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{ElicitationError, NotificationContext, Peer, RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};
use serde::Deserialize;
use serde_json::{Value, json};

/// What the model is told about the server when it connects.
pub const INSTRUCTIONS: &str = "\
These tools operate a remote computer through a NanoKVM: its screen (screenshots), \
keyboard, mouse, power and reset buttons, and virtual CD/USB media. Take a screenshot \
before acting and after each step to see what happened. Pointer positions are \
pixels of the last screenshot you took (x from the left edge, y from the top; a \
screenshot scaled down by max_width/max_height or cut out with crop is fine, pixels are \
mapped back; crop also reads small text closer). Firmware \
setup screens and boot menus often ignore absolute positions: use the arrow keys or \
nanokvm_move_relative there. nanokvm_type_text types in any of 19 keyboard layouts (the \
target's layout by default); nanokvm_send_text uses the NanoKVM's own paste, which only \
knows US, German and French keys. Every call passes a policy: a result starting \
[POLICY DENIED] means the call was not run and nothing reached the machine; read its \
reason, and do not try to get around it (retrying the same call after a limit's \
retry_after_s is fine). nanokvm_policy_explain says what the policy lets you do, what is \
left of each limit, and what a given call would get, without running it.";

/// How often the server checks whether a policy reload changed the visible tools.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// One device the server serves: its name and the gate in front of it.
#[derive(Clone, Debug)]
pub struct Device {
    /// The name callers use in the `device` argument.
    pub name: String,
    /// The only way to the device.
    pub gate: Gate<SqliteStore>,
}

/// The MCP server. Cheap to clone; clones serve the same devices.
#[derive(Clone, Debug)]
pub struct NanoKvmServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    devices: Vec<Device>,
    grant: String,
    session: String,
    /// Per device, the size of the last screenshot this session was shown and the part
    /// of the screen it showed: the frame its pixel coordinates refer to.
    seen: Mutex<HashMap<String, (ScreenSize, View)>>,
    /// Where an operator can answer approvals from another terminal.
    queue: Option<Arc<ApprovalQueue>>,
    /// Approvals asked of stateless clients (`input_required`), by request state.
    asked: Arc<Mutex<HashMap<String, AskedApproval>>>,
}

/// An approval a stateless client was asked for: the call it binds and when the
/// question lapses.
#[derive(Debug)]
struct AskedApproval {
    device: String,
    binding: String,
    expires: std::time::Instant,
}

impl NanoKvmServer {
    /// A server for `devices` (the first is the default), calling as the principal
    /// `grant` (the policy's `grant` scope) in a session named `session`.
    ///
    /// # Panics
    ///
    /// When `devices` is empty.
    #[must_use]
    pub fn new(devices: Vec<Device>, grant: impl Into<String>, session: impl Into<String>) -> Self {
        assert!(!devices.is_empty(), "a server needs at least one device");
        Self {
            inner: Arc::new(Inner {
                devices,
                grant: grant.into(),
                session: session.into(),
                seen: Mutex::new(HashMap::new()),
                queue: None,
                asked: Arc::default(),
            }),
        }
    }

    /// A server for the same devices, calling as `grant` in `session` (one per HTTP
    /// client session; the bearer token's name is the grant).
    #[must_use]
    pub fn with_caller(&self, grant: impl Into<String>, session: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                devices: self.inner.devices.clone(),
                grant: grant.into(),
                session: session.into(),
                seen: Mutex::new(HashMap::new()),
                queue: self.inner.queue.clone(),
                asked: Arc::clone(&self.inner.asked),
            }),
        }
    }

    /// The same server, also letting operators answer approvals through `queue`
    /// (`nanokvm-mcp approvals`), raced against the client's elicitation.
    #[must_use]
    pub fn with_approvals(&self, queue: Arc<ApprovalQueue>) -> Self {
        Self {
            inner: Arc::new(Inner {
                devices: self.inner.devices.clone(),
                grant: self.inner.grant.clone(),
                session: self.inner.session.clone(),
                seen: Mutex::new(HashMap::new()),
                queue: Some(queue),
                asked: Arc::clone(&self.inner.asked),
            }),
        }
    }

    /// The principal this server calls as.
    #[must_use]
    pub fn grant(&self) -> &str {
        &self.inner.grant
    }

    /// The devices served.
    #[must_use]
    pub fn devices(&self) -> &[Device] {
        &self.inner.devices
    }

    /// The tool definitions a client sees now.
    #[must_use]
    pub fn tools(&self) -> Vec<Tool> {
        let visible: Vec<&'static ToolInfo> = TOOLS
            .iter()
            .filter(|t| self.inner.devices.iter().any(|d| visible_on(d, t.name)))
            .collect();
        visible.into_iter().map(|t| self.definition(t)).collect()
    }

    fn definition(&self, info: &ToolInfo) -> Tool {
        let names: Vec<&str> = self.inner.devices.iter().map(|d| d.name.as_str()).collect();
        tool_definition(info, &names)
    }

    /// Runs one `tools/call`.
    async fn call(
        &self,
        name: &str,
        arguments: Option<JsonObject>,
        asking: Asking,
        progress: Option<ProgressSink>,
    ) -> Result<CallToolResponse, McpError> {
        let unknown = || McpError::invalid_params(format!("unknown tool `{name}`"), None);
        if tool_info(name).is_none() {
            return Err(unknown());
        }
        let mut args = arguments.unwrap_or_default();
        let device = match args.remove("device") {
            None | Some(Value::Null) => &self.inner.devices[0],
            Some(Value::String(wanted)) => {
                match self.inner.devices.iter().find(|d| d.name == wanted) {
                    Some(device) => device,
                    None => {
                        let names: Vec<&str> =
                            self.inner.devices.iter().map(|d| d.name.as_str()).collect();
                        return Ok(CallToolResponse::from(tool_error(
                            format!(
                                "invalid arguments for `{name}` (argument `device`): no device \
                                 `{wanted}`; the devices are {}",
                                names.join(", ")
                            ),
                            None,
                        )));
                    }
                }
            }
            Some(_) => {
                return Ok(CallToolResponse::from(tool_error(
                    format!("invalid arguments for `{name}` (argument `device`): must be a string"),
                    None,
                )));
            }
        };
        // A tool the policy hides does not exist for the caller.
        if !visible_on(device, name) {
            return Err(unknown());
        }
        let seen = self.seen(&device.name);
        let mut ctx = CallContext::new(&self.inner.grant, &self.inner.session)
            .with_screen(seen.map(|(size, _)| size))
            .with_view(seen.map(|(_, view)| view));
        if let Some(sink) = progress {
            ctx = ctx.with_progress(sink);
        }
        let args = Value::Object(args);
        let deferred = Arc::new(Deferred::default());
        let approver: Option<Arc<dyn Approver>> = match asking {
            Asking::Elicit(peer) => Some(Arc::new(FirstAnswer {
                elicitation: Some(ElicitationApprover { peer }),
                queue: self.inner.queue.clone(),
            })),
            Asking::Operator => self.inner.queue.clone().map(|queue| {
                Arc::new(FirstAnswer {
                    elicitation: None,
                    queue: Some(queue),
                }) as Arc<dyn Approver>
            }),
            Asking::InputRequired => Some(Arc::clone(&deferred) as Arc<dyn Approver>),
            Asking::Answered(reason) => Some(Arc::new(Refuse(reason))),
        };
        let outcome = match approver {
            Some(approver) => {
                device
                    .gate
                    .call_approved_by(&ctx, name, &args, approver)
                    .await
            }
            None => device.gate.call(&ctx, name, &args).await,
        };
        if let Ok(out) = &outcome
            && out.image.is_some()
        {
            self.remember_screen(&device.name, &out.json);
        }
        // A stateless client is asked in the result, and calls again with the answer.
        if let Err(PolicyError::Denied(denial)) = &outcome
            && let Some(binding) = &denial.approval_binding
            && let Some(request) = deferred.take()
        {
            return Ok(self.input_required(&device.name, binding, &request).into());
        }
        Ok(CallToolResponse::from(match outcome {
            Ok(out) => match out.image {
                Some(jpeg) => {
                    let data = base64::engine::general_purpose::STANDARD.encode(jpeg);
                    let mut result = CallToolResult::success(vec![
                        ContentBlock::image(data, "image/jpeg"),
                        ContentBlock::text(out.json.to_string()),
                    ]);
                    result.structured_content = Some(out.json);
                    result
                }
                None => CallToolResult::structured(out.json),
            },
            Err(PolicyError::Denied(denial)) => denial_result(denial, self.inner.queue.is_some()),
            Err(PolicyError::UnknownTool { .. }) => return Err(unknown()),
            Err(e) => tool_error(error_chain(&e), None),
        }))
    }

    /// Asks a stateless client for an approval: an elicitation form in an
    /// `input_required` result, whose request state names the call it binds.
    fn input_required(
        &self,
        device: &str,
        binding: &str,
        request: &ApprovalRequest,
    ) -> InputRequiredResult {
        let state = random_state();
        let now = std::time::Instant::now();
        {
            let mut asked = lock(&self.inner.asked);
            asked.retain(|_, a| a.expires > now);
            asked.insert(
                state.clone(),
                AskedApproval {
                    device: device.to_owned(),
                    binding: binding.to_owned(),
                    expires: now + ASKED_TTL,
                },
            );
        }
        let schema = ElicitationSchema::from_type::<Approval>()
            .unwrap_or_else(|_| ElicitationSchema::builder().build_unchecked());
        let form = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: approval_message(request),
            requested_schema: schema,
        };
        let mut requests = InputRequests::new();
        requests.insert(
            APPROVAL_INPUT.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(form)),
        );
        InputRequiredResult::new(Some(requests), Some(state))
    }

    /// Reads a stateless client's answer to an approval it was asked for: grants the
    /// call once when the human approved, else says why not.
    fn answered(&self, state: &str, responses: Option<&InputResponses>) -> Asking {
        let asked = {
            let mut asked = lock(&self.inner.asked);
            asked.remove(state)
        };
        let Some(asked) = asked.filter(|a| a.expires > std::time::Instant::now()) else {
            return Asking::Answered(
                "the approval question this answers is unknown or has lapsed".to_owned(),
            );
        };
        let answer = responses
            .and_then(|r| r.get(APPROVAL_INPUT))
            .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok());
        let approved = answer.as_ref().is_some_and(|a| {
            a.action == ElicitationAction::Accept
                && a.content
                    .as_ref()
                    .and_then(|c| c.get("approve"))
                    .and_then(Value::as_bool)
                    == Some(true)
        });
        if approved && let Some(device) = self.inner.devices.iter().find(|d| d.name == asked.device)
        {
            device.gate.grant_approval(&asked.binding);
            // The grant lets the identical call through once; nothing else is asked.
            return Asking::Answered(
                "the approval given was for another call: the arguments differ".to_owned(),
            );
        }
        Asking::Answered(match answer.map(|a| a.action) {
            Some(ElicitationAction::Decline) => "the human declined".to_owned(),
            Some(ElicitationAction::Cancel) => "the human dismissed the request".to_owned(),
            Some(ElicitationAction::Accept) => "the human did not tick approve".to_owned(),
            _ => "the client sent no answer to the approval question".to_owned(),
        })
    }
}

/// How a call's approval is asked for, when the policy wants one.
enum Asking {
    /// Of the human behind a client with form elicitation, raced with the operators'
    /// queue.
    Elicit(Peer<RoleServer>),
    /// Of the operators' queue alone (a client without elicitation).
    Operator,
    /// Of a stateless client, in an `input_required` result.
    InputRequired,
    /// Already answered by a stateless client; a call that still needs approval is
    /// refused for this reason.
    Answered(String),
}

/// The key of the approval question in an `input_required` result.
const APPROVAL_INPUT: &str = "approval";
/// How long a stateless client has to answer an approval question.
const ASKED_TTL: Duration = Duration::from_secs(600);

/// 128 random bits, hex: an approval question's request state.
fn random_state() -> String {
    use std::fmt::Write as _;
    let bytes: [u8; 16] = rand::random();
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Holds the approval request of a call a stateless client must be asked about; the
/// gate is told no for now.
#[derive(Default)]
struct Deferred(Mutex<Option<ApprovalRequest>>);

impl Deferred {
    fn take(&self) -> Option<ApprovalRequest> {
        lock(&self.0).take()
    }
}

impl Approver for Deferred {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        *lock(&self.0) = Some(request.clone());
        Box::pin(async {
            ApprovalAnswer::Deny {
                reason: Some("the client was asked".to_owned()),
            }
        })
    }
}

/// Refuses every approval, for a reason.
struct Refuse(String);

impl Approver for Refuse {
    fn approve<'a>(&'a self, _request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        let reason = self.0.clone();
        Box::pin(async move {
            ApprovalAnswer::Deny {
                reason: Some(reason),
            }
        })
    }
}

impl NanoKvmServer {
    /// The size of the last screenshot this session saw of `device`, and what it showed.
    fn seen(&self, device: &str) -> Option<(ScreenSize, View)> {
        lock(&self.inner.seen).get(device).copied()
    }

    /// Remembers the size of a screenshot result and the region of the screen it
    /// showed, so that the pixels of later calls are read in the frame the agent saw.
    fn remember_screen(&self, device: &str, json: &Value) {
        let side = |v: &Value, key: &str| v[key].as_u64().and_then(|n| u32::try_from(n).ok());
        let region = &json["region"];
        let parts = (
            side(json, "width"),
            side(json, "height"),
            side(json, "source_width"),
            side(json, "source_height"),
            side(region, "x"),
            side(region, "y"),
            side(region, "width"),
            side(region, "height"),
        );
        if let (Some(w), Some(h), Some(sw), Some(sh), Some(x), Some(y), Some(rw), Some(rh)) = parts
        {
            let view = View {
                region: Region {
                    x,
                    y,
                    width: rw,
                    height: rh,
                },
                source: ScreenSize {
                    width: sw,
                    height: sh,
                },
            };
            let size = ScreenSize {
                width: w,
                height: h,
            };
            lock(&self.inner.seen).insert(device.to_owned(), (size, view));
        }
    }
}

/// The MCP definition of a catalogue tool: its name, title, description, input schema
/// (with a `device` argument naming `devices` when there are several), output schema
/// and annotations, all from the catalogue.
#[must_use]
pub fn tool_definition(info: &ToolInfo, devices: &[&str]) -> Tool {
    let mut schema = match info.input_schema() {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    if devices.len() > 1
        && let Some(Value::Object(properties)) = schema.get_mut("properties")
    {
        properties.insert(
            "device".to_owned(),
            json!({
                "type": "string",
                "enum": devices,
                "description": format!("The NanoKVM to act on (default: {}).", devices[0]),
            }),
        );
    }
    let output = match info.output_schema() {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    let h = info.hints;
    Tool::new(info.name, info.description, schema)
        .with_title(info.title)
        .with_raw_output_schema(Arc::new(output))
        .with_annotations(ToolAnnotations::from_raw(
            Some(info.title.to_owned()),
            Some(h.read_only),
            Some(h.destructive),
            Some(h.idempotent),
            Some(h.open_world),
        ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the policy of `device` shows `tool`.
fn visible_on(device: &Device, tool: &str) -> bool {
    device.gate.visible_tools().iter().any(|t| t.name == tool)
}

/// The tool result of a denial: `[POLICY DENIED] reason (rule ...)` with the retry-after
/// and, when an operator can still approve it (`queued`), how; the decision as
/// structured content. The device server and the gateway answer denials alike.
pub(crate) fn denial_result(
    denial: Box<nanokvm_policy::gate::Denial>,
    queued: bool,
) -> CallToolResult {
    let json = denial.to_json();
    let (retry, needs_approval) = (denial.retry_after_s, denial.approval_binding.is_some());
    // The policy error's own text: `[POLICY DENIED] reason (rule ...)`.
    let mut text = PolicyError::Denied(denial).to_string();
    if let Some(s) = retry {
        text.push_str(&format!("; retry after {s} s"));
    }
    if needs_approval && queued {
        text.push_str(
            "; an operator can still approve it with `nanokvm-mcp approvals \
             list` and `approve ID`, and the identical call then runs once",
        );
    }
    tool_error(text, Some(json))
}

/// A tool result that reports an error to the model.
pub(crate) fn tool_error(text: String, structured: Option<Value>) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.structured_content = structured;
    result
}

impl ServerHandler for NanoKvmServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build(),
        )
        .with_server_info(
            Implementation::new("nanokvm-mcp", env!("CARGO_PKG_VERSION")).with_title("NanoKVM"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // Tell the client when a policy reload changes which tools exist.
        let server = self.clone();
        let peer = context.peer;
        tokio::spawn(async move {
            let names = |s: &NanoKvmServer| -> Vec<String> {
                s.tools().into_iter().map(|t| t.name.into_owned()).collect()
            };
            let mut shown = names(&server);
            loop {
                tokio::time::sleep(RELOAD_CHECK).await;
                let now = names(&server);
                if now != shown {
                    tracing::info!(tools = now.len(), "the visible tools changed");
                    if peer.notify_tool_list_changed().await.is_err() {
                        break;
                    }
                    shown = now;
                }
                if peer.is_transport_closed() {
                    break;
                }
            }
        });
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (sink, forwarder) = match context.meta.get_progress_token() {
            Some(token) => {
                let (sink, forwarder) = progress_forwarder(token, context.peer.clone());
                (Some(sink), Some(forwarder))
            }
            None => (None, None),
        };
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let form = context
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        let asking = match (&request.request_state, stateless, form) {
            (Some(state), true, _) => self.answered(state, request.input_responses.as_ref()),
            (None, true, true) => Asking::InputRequired,
            (None, false, true) => Asking::Elicit(context.peer.clone()),
            _ => Asking::Operator,
        };
        let call = self.call(&request.name, request.arguments, asking, sink);
        let result = tokio::select! {
            result = call => result,
            // Dropping the call releases every held key and button, and its counters
            // stay counted: it may have acted.
            () = context.ct.cancelled() => Err(McpError::internal_error("the call was cancelled", None)),
        };
        // The call and its sink are gone: the last reports go out before the result.
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        result
    }
}

/// A progress sink whose reports go to the client as `notifications/progress` for
/// `token`, in order and only increasing; the task ends when the sink is dropped.
fn progress_forwarder(
    token: ProgressToken,
    peer: Peer<RoleServer>,
) -> (ProgressSink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let task = tokio::spawn(async move {
        let mut last = f64::NEG_INFINITY;
        while let Some(p) = rx.recv().await {
            if p.done <= last {
                continue;
            }
            last = p.done;
            let mut param = ProgressNotificationParam::new(token.clone(), p.done);
            param.total = p.total;
            param.message = Some(p.message);
            if peer.notify_progress(param).await.is_err() {
                break;
            }
        }
    });
    let sink = ProgressSink::new(move |p| {
        let _ = tx.send(p);
    });
    (sink, task)
}

/// The one field of the approval form.
#[derive(Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct Approval {
    /// Tick to let this exact call run once.
    approve: bool,
}

rmcp::elicit_safe!(Approval);

/// Asks the human behind a client, through elicitation.
/// The gate bounds the wait with its approval timeout (`--approval-timeout`).
pub(crate) struct ElicitationApprover {
    pub(crate) peer: Peer<RoleServer>,
}

impl Approver for ElicitationApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            let message = approval_message(request);
            match self
                .peer
                .elicit_with_timeout::<Approval>(message, None)
                .await
            {
                Ok(Some(Approval { approve: true })) => ApprovalAnswer::Approve,
                Ok(_) => ApprovalAnswer::Deny {
                    reason: Some("the human did not tick approve".to_owned()),
                },
                Err(ElicitationError::UserDeclined) => ApprovalAnswer::Deny {
                    reason: Some("the human declined".to_owned()),
                },
                Err(ElicitationError::UserCancelled) => ApprovalAnswer::Deny {
                    reason: Some("the human dismissed the request".to_owned()),
                },
                Err(e) => ApprovalAnswer::Deny {
                    reason: Some(format!("the approval request failed: {e}")),
                },
            }
        })
    }
}

/// Asks the client's human (when the client can) and the operators' queue at once; the
/// first answer decides.
pub(crate) struct FirstAnswer {
    pub(crate) elicitation: Option<ElicitationApprover>,
    pub(crate) queue: Option<Arc<ApprovalQueue>>,
}

impl Approver for FirstAnswer {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, ApprovalAnswer> {
        Box::pin(async move {
            let elicit = async {
                match &self.elicitation {
                    Some(e) => e.approve(request).await,
                    None => std::future::pending().await,
                }
            };
            let queued = async {
                match &self.queue {
                    Some(q) => q.approve(request).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                answer = elicit => answer,
                answer = queued => answer,
            }
        })
    }
}

/// What the human reads: the tool, the device (or the gateway's upstream server), the
/// arguments as they will run (typed text masked) and why approval is asked.
fn approval_message(request: &ApprovalRequest) -> String {
    let args = masked_args(&request.tool, &request.args);
    format!(
        "An AI agent ({}) wants to run {} on `{}` with {}. {}. Approve this call?",
        request.principal, request.tool, request.device, args, request.message
    )
}
