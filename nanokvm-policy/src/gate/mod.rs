//! The gate: the only way frontends reach a device. Every action is parsed, decided,
//! approved when the policy asks, audited, run, and then counted or rolled back.
//!
//! A [`Gate`] owns the [`nanokvm_client::Client`] it was built with and never hands it
//! out, so a frontend holding a gate cannot act on the device around the policy. The
//! same gate decides calls it does not run ([`Gate::check`]), for the gateway in front
//! of another MCP server; such a gate is built with [`Gate::without_device`] and holds
//! no client at all, so its device tools are refused ([`Error::NoDevice`]).
//!
//! Order of one call ([`Gate::call`]):
//! 1. parse the tool and arguments into a [`DeviceAction`] (bad input is refused before
//!    anything is decided, counted or sent);
//! 2. pick up an edited policy file, keeping the last good policy on a broken edit;
//! 3. decide on the canonical arguments; when approval is required, use a matching grant
//!    or ask the [`Approver`] (bounded by a timeout; no approver or no answer denies),
//!    then decide again as approved;
//! 4. append the decision to the audit log, flushed, before anything runs (if the log
//!    cannot be written, nothing runs);
//! 5. run the action on the device; it is never retried;
//! 6. commit the reserved counters, or roll them back when the device certainly did
//!    nothing (a refusal before or by the device); a timeout or a broken connection may
//!    have acted, so it stays counted;
//! 7. append the outcome to the audit log and return.

mod approval;
mod exec;
mod media;
mod queue;
mod screen;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use nanokvm_client::Client;
use nanokvm_hid::{KeyboardReport, Keymap, Layout, TargetOs};
use serde_json::Value;

pub use crate::catalogue::{
    DeviceAction, MAX_KEY_DELAY, MAX_OFF_DURATION, MAX_TEXT_CHARS, TOOLS, ToolInfo, TypedKeys,
    tool_info,
};
pub use approval::{ApprovalAnswer, ApprovalRequest, Approver, BoxFuture, binding};
pub use queue::{ApprovalQueue, PendingApproval, masked_args};
pub use screen::{Region, ScreenSize, View};

use crate::audit::{AuditEvent, AuditKind, AuditLog};
use crate::catalogue::args::PolicyExplainArgs;
pub use crate::engine::Denial;
use crate::engine::{Call, Decision, Engine, Reservation, Verdict};
use crate::error::Error;
use crate::policy::{Policy, RiskClass};
use crate::reload::{PolicyFile, Reload};
use crate::store::CounterStore;
use crate::time::Timestamp;
use approval::Grants;

/// How far a long call has got: `done` of `total` (when known) units, and what it is
/// doing. Typing counts characters, transfers bytes or percent, waits milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Units done.
    pub done: f64,
    /// Units in all, when known.
    pub total: Option<f64>,
    /// What is happening, for people.
    pub message: String,
}

/// Where a call reports its [`Progress`] (the MCP server turns it into progress
/// notifications). Two sinks are equal when they are the same sink.
#[derive(Clone)]
pub struct ProgressSink(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressSink {
    /// A sink that calls `report` with each report.
    pub fn new(report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        Self(Arc::new(report))
    }

    pub(crate) fn report(&self, done: f64, total: Option<f64>, message: impl Into<String>) {
        (self.0)(Progress {
            done,
            total,
            message: message.into(),
        });
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

impl PartialEq for ProgressSink {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ProgressSink {}

/// Who is calling: the principal (the client credential, the `grant` scope) and the
/// session (one connected client), the screen as the caller last saw it, and where
/// progress goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The client credential.
    pub principal: String,
    /// The connected client.
    pub session: String,
    /// The size of the last screenshot the caller was shown: the frame its pixel
    /// coordinates refer to. `None`: the gate's screen size (see [`ScreenSize`]).
    pub screen: Option<ScreenSize>,
    /// Where a long call reports how far it has got.
    pub progress: Option<ProgressSink>,
    /// The part of the screen the caller's last screenshot showed, when it was cropped
    /// or the screen's size is known: pixel coordinates map onto it.
    pub view: Option<View>,
}

impl CallContext {
    /// A context for `principal` in `session`.
    #[must_use]
    pub fn new(principal: impl Into<String>, session: impl Into<String>) -> Self {
        Self {
            principal: principal.into(),
            session: session.into(),
            screen: None,
            progress: None,
            view: None,
        }
    }

    /// The same context, with pixel coordinates read in `view` (the region of the
    /// screen the caller's last screenshot showed).
    #[must_use]
    pub fn with_view(mut self, view: Option<View>) -> Self {
        self.view = view;
        self
    }

    /// The same context, reporting progress to `sink`.
    #[must_use]
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// The same context, with pixel coordinates read in a screen of `size`.
    #[must_use]
    pub fn with_screen(mut self, size: Option<ScreenSize>) -> Self {
        self.screen = size;
        self
    }
}

/// What an action returned.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionOutput {
    /// The result as JSON.
    pub json: Value,
    /// A JPEG image, for `nanokvm_screenshot`.
    pub image: Option<Vec<u8>>,
    /// The decision that let it run (`allow`, or `shadow_deny` in shadow mode).
    pub verdict: Verdict,
}

type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Builds a [`Gate`].
pub struct GateBuilder<S: CounterStore> {
    client: Option<Client>,
    store: S,
    policy: Option<Policy>,
    policy_file: Option<PolicyFile>,
    reload_every: Duration,
    device: String,
    keymap: Keymap,
    audit: Option<AuditLog>,
    approver: Option<Arc<dyn Approver>>,
    approval_timeout: Duration,
    grant_ttl: Duration,
    clock: Clock,
    screen: Option<ScreenSize>,
    download_hosts: Vec<String>,
    upload_dir: Option<PathBuf>,
}

impl<S: CounterStore> GateBuilder<S> {
    /// The screen size pixel coordinates refer to when the caller saw no screenshot
    /// (the Python server's `NANOKVM_SCREEN_WIDTH` and `NANOKVM_SCREEN_HEIGHT`). Without
    /// it, the size of the last frame the device captured, or 1920x1080.
    #[must_use]
    pub fn screen(mut self, size: ScreenSize) -> Self {
        self.screen = Some(size);
        self
    }

    /// Decides by `policy` (fixed for the gate's life unless [`Gate::set_policy`] is
    /// called).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Decides by the policy in `file`, picking up edits at most every `every` (checked
    /// when a call arrives; a broken edit keeps the last good policy).
    #[must_use]
    pub fn policy_file(mut self, file: PolicyFile, every: Duration) -> Self {
        self.policy_file = Some(file);
        self.reload_every = every;
        self
    }

    /// The device's name in counters, keystroke lines and the audit log (default
    /// `nanokvm`).
    #[must_use]
    pub fn device(mut self, name: impl Into<String>) -> Self {
        self.device = name.into();
        self
    }

    /// The target machine's keyboard layout (default US), for typing and for rebuilding
    /// the typed line.
    #[must_use]
    pub fn layout(mut self, layout: Layout) -> Self {
        self.keymap.layout = layout;
        self
    }

    /// The target machine's operating system (default Windows), which decides what its
    /// layout types: AltGr and dead keys differ between Windows and Linux (XKB).
    #[must_use]
    pub fn target_os(mut self, os: TargetOs) -> Self {
        self.keymap.os = os;
        self
    }

    /// Appends every decision and outcome to `log`.
    #[must_use]
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Asks `approver` when a call needs approval, waiting at most `timeout`.
    #[must_use]
    pub fn approver(mut self, approver: Arc<dyn Approver>, timeout: Duration) -> Self {
        self.approver = Some(approver);
        self.approval_timeout = timeout;
        self
    }

    /// How long a call waits for a human's answer (default 2 minutes), also for an
    /// approver given per call ([`Gate::call_approved_by`]).
    #[must_use]
    pub fn approval_timeout(mut self, timeout: Duration) -> Self {
        self.approval_timeout = timeout;
        self
    }

    /// How long a grant from [`Gate::grant_approval`] stays usable (default 5 minutes).
    #[must_use]
    pub fn grant_ttl(mut self, ttl: Duration) -> Self {
        self.grant_ttl = ttl;
        self
    }

    /// The hosts `nanokvm_download_iso` may fetch images from: exact names, or
    /// `*.example.org` for a domain and every subdomain. None by default, which refuses
    /// every download.
    #[must_use]
    pub fn download_hosts(mut self, hosts: Vec<String>) -> Self {
        self.download_hosts = hosts;
        self
    }

    /// The directory `nanokvm_upload_iso` may read images from (files in it and below
    /// it, never through a symbolic link out of it). None by default, which refuses
    /// every upload.
    #[must_use]
    pub fn upload_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.upload_dir = Some(dir.into());
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests and replays).
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the gate.
    #[must_use]
    pub fn build(self) -> Gate<S> {
        let engine = Engine::new(self.store);
        engine.set_keymap(&self.device, self.keymap);
        if let Some(file) = &self.policy_file {
            file.apply_to(&engine);
        } else if let Some(policy) = self.policy {
            engine.set_policy(policy);
        }
        Gate {
            inner: Arc::new(Inner {
                client: self.client,
                engine,
                device: self.device,
                keymap: self.keymap,
                policy_file: self.policy_file,
                reload_every: self.reload_every,
                last_reload: Mutex::new(None),
                reload_error: Mutex::new(None),
                audit: self.audit,
                approver: self.approver,
                approval_timeout: self.approval_timeout,
                grant_ttl: self.grant_ttl,
                grants: Grants::default(),
                clock: self.clock,
                ws: tokio::sync::Mutex::new(None),
                typing: tokio::sync::Mutex::new(()),
                screen: self.screen,
                download_hosts: self.download_hosts,
                upload_dir: self.upload_dir,
                captured: Mutex::new(None),
                last_ws_input: Mutex::new(None),
            }),
        }
    }
}

/// The enforcing facade over one device. Cheap to clone; clones share everything.
pub struct Gate<S: CounterStore> {
    inner: Arc<Inner<S>>,
}

impl<S: CounterStore> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: CounterStore> std::fmt::Debug for Gate<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("device", &self.inner.device)
            .field("keymap", &self.inner.keymap)
            .field("audit", &self.inner.audit.is_some())
            .field("approver", &self.inner.approver.is_some())
            .finish_non_exhaustive()
    }
}

struct Inner<S: CounterStore> {
    /// `None` for a gate that only decides ([`Gate::without_device`]).
    client: Option<Client>,
    engine: Engine<S>,
    device: String,
    keymap: Keymap,
    policy_file: Option<PolicyFile>,
    reload_every: Duration,
    last_reload: Mutex<Option<Instant>>,
    reload_error: Mutex<Option<String>>,
    audit: Option<AuditLog>,
    approver: Option<Arc<dyn Approver>>,
    approval_timeout: Duration,
    grant_ttl: Duration,
    grants: Grants,
    clock: Clock,
    ws: tokio::sync::Mutex<Option<nanokvm_client::WsSession>>,
    typing: tokio::sync::Mutex<()>,
    screen: Option<ScreenSize>,
    download_hosts: Vec<String>,
    upload_dir: Option<PathBuf>,
    captured: Mutex<Option<ScreenSize>>,
    last_ws_input: Mutex<Option<tokio::time::Instant>>,
}

fn system_now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

impl<S: CounterStore> Gate<S> {
    /// A builder for a gate over `client` with counters in `store`. With neither
    /// [`GateBuilder::policy`] nor [`GateBuilder::policy_file`], every call is denied.
    pub fn builder(client: Client, store: S) -> GateBuilder<S> {
        Self::builder_inner(Some(client), store)
    }

    /// A builder for a gate with no device: it decides, approves, counts and audits
    /// calls that something else runs ([`Gate::check`], for the gateway in front of
    /// another MCP server), and refuses to run the device tools of [`Gate::call`] with
    /// [`Error::NoDevice`] before deciding anything. The device name
    /// ([`GateBuilder::device`]) still keys `device`-scoped counters and approvals.
    pub fn without_device(store: S) -> GateBuilder<S> {
        Self::builder_inner(None, store)
    }

    fn builder_inner(client: Option<Client>, store: S) -> GateBuilder<S> {
        GateBuilder {
            client,
            store,
            policy: None,
            policy_file: None,
            reload_every: Duration::from_secs(2),
            device: "nanokvm".to_owned(),
            keymap: Keymap::from(Layout::Us),
            audit: None,
            approver: None,
            approval_timeout: Duration::from_secs(120),
            grant_ttl: Duration::from_secs(300),
            clock: Arc::new(system_now),
            download_hosts: Vec::new(),
            upload_dir: None,
            screen: None,
        }
    }

    /// The frame `ctx`'s pixel coordinates refer to: what the caller last saw, the
    /// configured screen, the last captured frame, or 1920x1080.
    #[must_use]
    pub fn screen_of(&self, ctx: &CallContext) -> ScreenSize {
        ctx.screen
            .or(self.inner.screen)
            .or(*lock(&self.inner.captured))
            .unwrap_or(ScreenSize::DEFAULT)
    }

    /// The device's name.
    #[must_use]
    pub fn device(&self) -> &str {
        &self.inner.device
    }

    /// The decision engine (to read the policy, counters or the typed line).
    #[must_use]
    pub fn engine(&self) -> &Engine<S> {
        &self.inner.engine
    }

    /// Replaces the policy.
    pub fn set_policy(&self, policy: Policy) {
        self.inner.engine.set_policy(policy);
    }

    /// Why the last edit of the policy file was refused, while the last good policy
    /// stays in force; `None` when the file in force is the file on disk.
    #[must_use]
    pub fn reload_error(&self) -> Option<String> {
        lock(&self.inner.reload_error).clone()
    }

    /// The catalogue tools the policy does not hide, for a tool list.
    #[must_use]
    pub fn visible_tools(&self) -> Vec<&'static ToolInfo> {
        self.maybe_reload();
        let policy = self.inner.engine.policy();
        TOOLS
            .iter()
            .filter(|t| policy.as_ref().is_some_and(|p| !p.is_hidden(t.name)))
            .collect()
    }

    /// Lets the next identical call through its approval step once, until the grant's
    /// time to live passes. `binding` comes from a [`Denial`] or an [`ApprovalRequest`].
    pub fn grant_approval(&self, binding: &str) {
        let expires = (self.inner.clock)().after(self.inner.grant_ttl);
        self.inner.grants.grant(binding, expires);
    }

    /// Parses and runs one call of a device tool.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTool`], [`Error::InvalidArguments`] (nothing decided or sent);
    /// [`Error::Denied`] with the decision; [`Error::Audit`] when the audit log cannot
    /// be written (nothing runs); [`Error::Device`] when the device failed.
    pub async fn call(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
    ) -> Result<ActionOutput, Error> {
        let action = DeviceAction::parse(tool, args, self.inner.keymap)?;
        self.run(ctx, &action).await
    }

    /// Parses and runs one call like [`Gate::call`], asking `approver` instead of the
    /// gate's own when the policy wants a human's approval (the MCP server asks the
    /// human behind the calling client).
    ///
    /// # Errors
    ///
    /// As [`Gate::call`].
    pub async fn call_approved_by(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        approver: Arc<dyn Approver>,
    ) -> Result<ActionOutput, Error> {
        let action = DeviceAction::parse(tool, args, self.inner.keymap)?;
        self.run_inner(ctx, &action, Some(approver)).await
    }

    /// The keyboard layout and operating system of the target machine.
    #[must_use]
    pub fn keymap(&self) -> Keymap {
        self.inner.keymap
    }

    /// Runs one parsed action. See [`Gate::call`].
    ///
    /// # Errors
    ///
    /// As [`Gate::call`].
    pub async fn run(
        &self,
        ctx: &CallContext,
        action: &DeviceAction,
    ) -> Result<ActionOutput, Error> {
        self.run_inner(ctx, action, None).await
    }

    async fn run_inner(
        &self,
        ctx: &CallContext,
        action: &DeviceAction,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<ActionOutput, Error> {
        let tool = action.tool();
        let args = action.args();
        let keys = action.typed_keys(self.inner.keymap)?;
        let frame = self.screen_of(ctx);
        action.check_frame(frame)?;
        // A gate without a device refuses its device tools before deciding anything.
        let client = self.inner.client.as_ref();
        if client.is_none() && !matches!(action, DeviceAction::PolicyExplain(_)) {
            return Err(Error::NoDevice {
                tool: tool.to_owned(),
            });
        }
        let upload = self.check_media(ctx, action, &args)?;
        // Typing calls run one at a time from decision to settlement, so that each
        // builds on the line the one before left on the target.
        let _typing = match &keys {
            Some(_) => Some(self.inner.typing.lock().await),
            None => None,
        };
        let reports = keys.as_ref().map(TypedKeys::reports);
        let mut permit = self
            .admit(
                ctx,
                tool,
                &args,
                Some(action.info().risk),
                reports,
                approver,
            )
            .await?;
        let started = Instant::now();
        if let DeviceAction::PolicyExplain(a) = action {
            // Answered from the policy alone: nothing reaches the device.
            let json = self.explain(ctx, a);
            permit.finish_inner(Ok(()), started.elapsed())?;
            return Ok(ActionOutput {
                json,
                image: None,
                verdict: permit.verdict,
            });
        }
        let Some(client) = client else {
            permit.finish_inner(Err((true, "no device".to_owned())), started.elapsed())?;
            return Err(Error::NoDevice {
                tool: tool.to_owned(),
            });
        };
        let device = exec::Device {
            client,
            ws: &self.inner.ws,
            captured: &self.inner.captured,
            last_ws_input: &self.inner.last_ws_input,
            frame,
            progress: ctx.progress.as_ref(),
            view: ctx.view,
            upload: upload.as_deref(),
        };
        let result = exec::run(&device, action, keys.as_ref()).await;
        let elapsed = started.elapsed();
        match result {
            Ok((json, image)) => {
                permit.finish_inner(Ok(()), elapsed)?;
                Ok(ActionOutput {
                    json,
                    image,
                    verdict: permit.verdict,
                })
            }
            Err(e) => {
                let did_nothing = exec::did_nothing(&e);
                let typing = action.info().types;
                // A typing tool's error could quote what was typed: keep only its kind.
                let shown = if typing {
                    exec::error_kind(&e).to_owned()
                } else {
                    crate::error_chain(&e)
                };
                permit.finish_inner(Err((did_nothing, shown)), elapsed)?;
                Err(Error::Device {
                    tool: tool.to_owned(),
                    source: Box::new(e),
                })
            }
        }
    }

    /// Decides a call this gate does not run (gateway mode): the returned [`Permit`]
    /// says it may go ahead; report how it went with [`Permit::finish`]. `risk` is the
    /// upstream tool's risk class, for `risk` rules.
    ///
    /// # Errors
    ///
    /// [`Error::Denied`] with the decision; [`Error::Audit`] when the audit log cannot
    /// be written.
    pub async fn check(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        risk: Option<RiskClass>,
    ) -> Result<Permit<S>, Error> {
        self.admit(ctx, tool, args, risk, None, None).await
    }

    /// Decides a call this gate does not run, like [`Gate::check`], asking `approver`
    /// instead of the gate's own when the policy wants a human's approval (the gateway
    /// asks the human behind the calling client).
    ///
    /// # Errors
    ///
    /// As [`Gate::check`].
    pub async fn check_approved_by(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        risk: Option<RiskClass>,
        approver: Arc<dyn Approver>,
    ) -> Result<Permit<S>, Error> {
        self.admit(ctx, tool, args, risk, None, Some(approver))
            .await
    }

    /// Appends a decision made outside the policy to the audit log, with the policy's
    /// hash: the gateway refusing a tool whose definition drifted from its pin, or
    /// noting the drift itself. `outcome` says what became of it (`denied`, `drift`).
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the record cannot be written.
    pub fn audit_outside(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        decision: &Denial,
        outcome: &str,
    ) -> Result<(), Error> {
        if self.inner.audit.is_none() {
            return Ok(());
        }
        let hash = self.policy_hash();
        let mut event = self.event(ctx, tool, args, AuditKind::Outcome);
        event.verdict = decision.verdict.as_str().to_owned();
        event.rule.clone_from(&decision.rule);
        event.message = Some(decision.message.clone());
        event.policy_hash = Some(hash);
        event.outcome = Some(outcome.to_owned());
        self.append(&event)
    }

    /// The operator's limits on images: a download only from an allowed host, an upload
    /// only from the upload directory (whose real path is returned). A refusal is a
    /// denial, audited, before the policy is asked.
    fn check_media(
        &self,
        ctx: &CallContext,
        action: &DeviceAction,
        args: &Value,
    ) -> Result<Option<PathBuf>, Error> {
        let (rule, checked) = match action {
            DeviceAction::DownloadIso(a) => (
                media::RULE_DOWNLOAD_HOSTS,
                media::check_download(&self.inner.download_hosts, &a.url).map(|()| None),
            ),
            DeviceAction::UploadIso(a) => (
                media::RULE_UPLOAD_DIR,
                media::resolve_upload(self.inner.upload_dir.as_deref(), &a.path).map(Some),
            ),
            _ => return Ok(None),
        };
        checked.or_else(|message| {
            let denial = Denial {
                verdict: Verdict::Deny,
                rule: Some(rule.to_owned()),
                message,
                retry_after_s: None,
                approval_binding: None,
            };
            self.audit_outside(ctx, action.tool(), args, &denial, "denied")?;
            Err(Error::Denied(Box::new(denial)))
        })
    }

    /// `nanokvm_policy_explain`: where the caller stands with every tool it can see, or
    /// with one tool and what a call of it would get now (decided, then given back).
    fn explain(&self, ctx: &CallContext, args: &PolicyExplainArgs) -> Value {
        use crate::catalogue::outputs::{CallOutput, ExplainOutput, PolicyOutput};
        let engine = &self.inner.engine;
        let device = self.inner.device.as_str();
        let now = self.now();
        let empty = Value::Object(serde_json::Map::new());
        let policy = engine.policy();
        let mut out = ExplainOutput {
            device: device.to_owned(),
            principal: ctx.principal.clone(),
            policy: PolicyOutput {
                loaded: policy.is_some(),
                hash: policy.as_ref().map(|p| p.hash_hex()),
            },
            tools: None,
            tool: None,
            call: None,
            error: None,
        };
        let hidden = |tool: &str| policy.as_ref().is_some_and(|p| p.is_hidden(tool));
        match &args.tool {
            None => {
                out.tools = Some(
                    crate::catalogue::TOOLS
                        .iter()
                        .filter(|t| !hidden(t.name))
                        .map(|t| {
                            standing_output(
                                &engine.standing(&explain_call(ctx, device, t.name, &empty), now),
                            )
                        })
                        .collect(),
                );
            }
            Some(name) => match crate::catalogue::tool_info(name).filter(|t| !hidden(t.name)) {
                None => out.error = Some(format!("there is no tool `{name}`")),
                Some(info) => {
                    let call_args = args.arguments.clone().map_or(empty, Value::Object);
                    let standing =
                        engine.standing(&explain_call(ctx, device, info.name, &call_args), now);
                    out.tool = Some(standing_output(&standing));
                    if args.arguments.is_some() {
                        out.call = Some(
                            match DeviceAction::parse(info.name, &call_args, self.inner.keymap) {
                                Err(e) => CallOutput {
                                    verdict: "invalid_arguments".to_owned(),
                                    rule: None,
                                    message: e.to_string(),
                                    retry_after_s: None,
                                    arguments: None,
                                },
                                Ok(action) => {
                                    let canonical = action.args();
                                    let keys = action.typed_keys(self.inner.keymap).ok().flatten();
                                    let mut call = explain_call(ctx, device, info.name, &canonical);
                                    if let Some(keys) = &keys {
                                        call = call.keys(keys.reports());
                                    }
                                    let decision = engine.explain(&call, now);
                                    CallOutput {
                                        verdict: decision.verdict.as_str().to_owned(),
                                        rule: decision.rule,
                                        message: decision.message,
                                        retry_after_s: decision.retry_after_s,
                                        arguments: Some(canonical.clone()),
                                    }
                                }
                            },
                        );
                    }
                }
            },
        }
        serde_json::to_value(&out).unwrap_or_default()
    }

    /// The SHA-256 of the policy in force, as audit records and approvals name it;
    /// empty without one.
    fn policy_hash(&self) -> String {
        self.inner
            .engine
            .policy()
            .map(|p| p.hash_hex())
            .unwrap_or_default()
    }

    fn now(&self) -> Timestamp {
        (self.inner.clock)()
    }

    fn maybe_reload(&self) {
        let Some(file) = &self.inner.policy_file else {
            return;
        };
        {
            let mut last = lock(&self.inner.last_reload);
            if last.is_some_and(|t| t.elapsed() < self.inner.reload_every) {
                return;
            }
            *last = Some(Instant::now());
        }
        match file.check_and_apply(&self.inner.engine) {
            Reload::Unchanged => {}
            Reload::Reloaded { .. } => {
                *lock(&self.inner.reload_error) = None;
                tracing::info!(device = %self.inner.device, "policy reloaded");
            }
            Reload::Rejected { error } => {
                tracing::warn!(device = %self.inner.device, %error, "policy edit refused; the last good policy stays in force");
                *lock(&self.inner.reload_error) = Some(error.to_string());
            }
        }
    }

    /// Steps 2 to 4: reload, decide, approve, audit the decision.
    async fn admit(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        risk: Option<RiskClass>,
        keys: Option<&[KeyboardReport]>,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<Permit<S>, Error> {
        self.maybe_reload();
        let engine = &self.inner.engine;
        let device = self.inner.device.as_str();
        let policy_hash = self.policy_hash();
        let mut call = Call::new(tool, args)
            .principal(&ctx.principal)
            .session(&ctx.session)
            .device(device);
        if let Some(risk) = risk {
            call = call.risk(risk);
        }
        if let Some(keys) = keys {
            call = call.keys(keys);
        }
        let mut decision = engine.decide(&call, self.now());
        if decision.verdict == Verdict::ApprovalRequired {
            let bound = binding(tool, args, device, &policy_hash);
            self.audit_decision(ctx, tool, args, &decision, &policy_hash)?;
            let request = ApprovalRequest {
                tool: tool.to_owned(),
                args: args.clone(),
                principal: ctx.principal.clone(),
                session: ctx.session.clone(),
                device: device.to_owned(),
                rule: decision.rule.clone(),
                message: decision.message.clone(),
                policy_hash: policy_hash.clone(),
                binding: bound.clone(),
            };
            match self.obtain_approval(&request, approver).await {
                Ok(()) => {
                    // The answer holds only for the policy it was given under.
                    let now_hash = self.policy_hash();
                    if now_hash != policy_hash {
                        let denial = Denial {
                            verdict: Verdict::Deny,
                            rule: decision.rule.clone(),
                            message: "the policy changed while approval was pending; call again"
                                .to_owned(),
                            retry_after_s: None,
                            approval_binding: None,
                        };
                        self.audit_denial(ctx, tool, args, &denial, &policy_hash, "approval_void")?;
                        return Err(Error::Denied(Box::new(denial)));
                    }
                    decision = engine.decide(&call.approved(true), self.now());
                }
                Err(reason) => {
                    let denial = Denial {
                        verdict: Verdict::ApprovalRequired,
                        rule: decision.rule.clone(),
                        message: format!(
                            "{}; approval was required and {reason}",
                            decision.message
                        ),
                        retry_after_s: None,
                        approval_binding: Some(bound),
                    };
                    self.audit_denial(ctx, tool, args, &denial, &policy_hash, "approval_denied")?;
                    return Err(Error::Denied(Box::new(denial)));
                }
            }
        }
        if let Err(e) = self.audit_decision(ctx, tool, args, &decision, &policy_hash) {
            // Nothing runs unaudited: give back what the decision reserved.
            if let Some(r) = decision.reservation.take() {
                let _ = engine.rollback(r);
            }
            return Err(e);
        }
        if !decision.proceeds() {
            return Err(Error::Denied(Box::new(Denial {
                verdict: decision.verdict,
                rule: decision.rule,
                message: decision.message,
                retry_after_s: decision.retry_after_s,
                approval_binding: None,
            })));
        }
        Ok(Permit {
            gate: self.clone(),
            ctx: ctx.clone(),
            tool: tool.to_owned(),
            args: args.clone(),
            verdict: decision.verdict,
            rule: decision.rule.clone(),
            policy_hash,
            reservation: decision.reservation.take(),
            started: Instant::now(),
            finished: false,
        })
    }

    /// A grant, or the approver's yes within the timeout; otherwise why not.
    async fn obtain_approval(
        &self,
        request: &ApprovalRequest,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<(), String> {
        if self.inner.grants.take(&request.binding, self.now()) {
            return Ok(());
        }
        let Some(approver) = approver.or_else(|| self.inner.approver.clone()) else {
            return Err("no approver is available".to_owned());
        };
        let timeout = self.inner.approval_timeout;
        match tokio::time::timeout(timeout, approver.approve(request)).await {
            Ok(ApprovalAnswer::Approve) => Ok(()),
            Ok(ApprovalAnswer::Deny { reason }) => Err(match reason {
                Some(r) => format!("was refused: {r}"),
                None => "was refused".to_owned(),
            }),
            Err(_) => Err(format!("no answer came within {} s", timeout.as_secs())),
        }
    }

    fn event(&self, ctx: &CallContext, tool: &str, args: &Value, kind: AuditKind) -> AuditEvent {
        AuditEvent {
            at: self.now(),
            kind,
            tool: tool.to_owned(),
            args: args.clone(),
            principal: Some(ctx.principal.clone()),
            session: Some(ctx.session.clone()),
            device: Some(self.inner.device.clone()),
            ..AuditEvent::default()
        }
    }

    /// Syncs the audit records written since the last sync (see
    /// [`AuditLog::batched`]); nothing to do without a log or unsynced records.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the file cannot be synced or its head written.
    pub fn sync_audit(&self) -> Result<(), Error> {
        match &self.inner.audit {
            Some(log) => log.sync(),
            None => Ok(()),
        }
    }

    fn append(&self, event: &AuditEvent) -> Result<(), Error> {
        let Some(log) = &self.inner.audit else {
            return Ok(());
        };
        // An allowed read is recorded without a sync of its own: the next record of an
        // action (or closing the log) syncs it. Actions and denials are synced at once.
        let read = event.verdict == Verdict::Allow.as_str()
            && crate::catalogue::tool_info(&event.tool).is_some_and(|t| t.hints.read_only);
        if read {
            log.append_deferred(event).map(|_| ())
        } else {
            log.append(event).map(|_| ())
        }
    }

    fn audit_decision(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        decision: &Decision,
        policy_hash: &str,
    ) -> Result<(), Error> {
        if self.inner.audit.is_none() {
            return Ok(());
        }
        let mut event = self.event(ctx, tool, args, AuditKind::Decision);
        event.verdict = decision.verdict.as_str().to_owned();
        event.rule.clone_from(&decision.rule);
        event.message = Some(decision.message.clone());
        event.policy_hash = Some(policy_hash.to_owned());
        if decision.verdict == Verdict::Deny {
            event.outcome = Some("denied".to_owned());
        }
        self.append(&event)
    }

    fn audit_denial(
        &self,
        ctx: &CallContext,
        tool: &str,
        args: &Value,
        denial: &Denial,
        policy_hash: &str,
        outcome: &str,
    ) -> Result<(), Error> {
        if self.inner.audit.is_none() {
            return Ok(());
        }
        let mut event = self.event(ctx, tool, args, AuditKind::Outcome);
        event.verdict = Verdict::Deny.as_str().to_owned();
        event.rule.clone_from(&denial.rule);
        event.message = Some(denial.message.clone());
        event.policy_hash = Some(policy_hash.to_owned());
        event.outcome = Some(outcome.to_owned());
        self.append(&event)
    }
}

/// A standing as `nanokvm_policy_explain` returns it.
fn standing_output(
    standing: &crate::engine::Standing,
) -> crate::catalogue::outputs::StandingOutput {
    use crate::catalogue::outputs::{QuotaOutput, StandingOutput};
    StandingOutput {
        tool: standing.tool.clone(),
        access: standing.access.name().to_owned(),
        limits: standing
            .quotas
            .iter()
            .map(|q| QuotaOutput {
                counter: q.counter.clone(),
                rule: q.rule.clone(),
                window: q.window.clone(),
                scope: q.scope.to_owned(),
                max: q.max,
                used: q.used,
                remaining: q.used.map(|u| q.max.saturating_sub(u)),
                cost: q.cost,
            })
            .collect(),
    }
}

/// The call `nanokvm_policy_explain` asks the engine about.
fn explain_call<'c>(
    ctx: &'c CallContext,
    device: &'c str,
    tool: &'c str,
    args: &'c Value,
) -> Call<'c> {
    let mut call = Call::new(tool, args)
        .principal(&ctx.principal)
        .session(&ctx.session)
        .device(device);
    if let Some(info) = crate::catalogue::tool_info(tool) {
        call = call.risk(info.risk);
    }
    call
}

/// Leave to run one decided call. Report how it went with [`Permit::finish`]; a permit
/// dropped unfinished counts the call as having run (it may have), and audits it as
/// `abandoned`.
pub struct Permit<S: CounterStore> {
    gate: Gate<S>,
    ctx: CallContext,
    tool: String,
    args: Value,
    verdict: Verdict,
    rule: Option<String>,
    policy_hash: String,
    reservation: Option<Reservation>,
    started: Instant,
    finished: bool,
}

impl<S: CounterStore> std::fmt::Debug for Permit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("tool", &self.tool)
            .field("verdict", &self.verdict)
            .finish_non_exhaustive()
    }
}

impl<S: CounterStore> Permit<S> {
    /// The verdict that let the call through: `allow`, or `shadow_deny`.
    #[must_use]
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Reports the call's outcome: `Ok(())` commits its counters; `Err(message)` rolls
    /// them back (the call failed and did nothing). Either way the outcome is audited.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] or the store's error.
    pub fn finish(mut self, outcome: Result<(), String>) -> Result<(), Error> {
        let elapsed = self.started.elapsed();
        self.finish_inner(outcome.map_err(|m| (true, m)), elapsed)
    }

    /// Reports a call that failed in a way that may have acted (a timeout, a broken
    /// connection, an upstream that went away mid-call): its counters stay counted, and
    /// the failure is audited with `message`.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] or the store's error.
    pub fn finish_uncertain(mut self, message: impl Into<String>) -> Result<(), Error> {
        let elapsed = self.started.elapsed();
        self.finish_inner(Err((false, message.into())), elapsed)
    }

    /// `Err((did_nothing, message))`: roll back only when the call certainly did nothing.
    fn finish_inner(
        &mut self,
        outcome: Result<(), (bool, String)>,
        elapsed: Duration,
    ) -> Result<(), Error> {
        self.finished = true;
        let engine = &self.gate.inner.engine;
        let settled = match (&outcome, self.reservation.take()) {
            (_, None) => Ok(()),
            (Err((true, _)), Some(r)) => engine.rollback(r),
            (Err((false, _)), Some(r)) => engine.commit_uncertain(r),
            (Ok(()), Some(r)) => engine.commit(r),
        };
        if self.gate.inner.audit.is_some() {
            let mut event = self
                .gate
                .event(&self.ctx, &self.tool, &self.args, AuditKind::Outcome);
            event.verdict = self.verdict.as_str().to_owned();
            event.rule.clone_from(&self.rule);
            event.policy_hash = Some(self.policy_hash.clone());
            event.duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
            match outcome {
                Ok(()) => event.outcome = Some("ok".to_owned()),
                Err((_, message)) => {
                    event.outcome = Some("error".to_owned());
                    event.error = Some(message);
                }
            }
            self.gate.append(&event)?;
        }
        settled
    }
}

impl<S: CounterStore> Drop for Permit<S> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let elapsed = self.started.elapsed();
        let outcome = Err((
            false,
            "abandoned: the call's outcome was never reported".to_owned(),
        ));
        if let Err(error) = self.finish_inner(outcome, elapsed) {
            tracing::error!(tool = %self.tool, %error, "could not settle an abandoned call");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
