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
    ApprovalQueue, CallContext, Gate, Progress, ProgressSink, Region, ScreenSize, View,
};
use nanokvm_policy::{Error as PolicyError, SqliteStore, error_chain};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{NotificationContext, Peer, RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler};

use crate::asking::{Asking, Deferred, StatelessAsks};
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
    asked: Arc<StatelessAsks>,
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
        let approver = asking.approver(self.inner.queue.as_ref(), &deferred);
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
            return Ok(self.inner.asked.ask(&device.name, binding, &request).into());
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
        let asking = Asking::of(&context, request.request_state.as_deref(), |state| {
            self.inner.asked.resolve(
                state,
                request.input_responses.as_ref(),
                |device, binding| {
                    self.inner
                        .devices
                        .iter()
                        .find(|d| d.name == device)
                        .map(|d| d.gate.grant_approval(binding))
                        .is_some()
                },
            )
        });
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
