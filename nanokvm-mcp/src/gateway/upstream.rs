//! The upstream MCP server the gateway fronts: a child process over stdio, or a server
//! reached over Streamable HTTP, and the way back from it to the agents.
//!
//! [`Link`] holds the one connection to the upstream. When the upstream goes away (a
//! child that exits or crashes, an HTTP server that stops answering), the next request
//! reconnects, no sooner than a backoff that doubles after each failed attempt (from
//! [`MIN_BACKOFF`] to [`MAX_BACKOFF`]); until then requests fail at once with a clear
//! error rather than waiting.
//!
//! What agents set on the upstream's session (resource subscriptions, the logging level)
//! is remembered and set again on each new connection, so that a restarted upstream
//! goes on sending what the agents asked for. An HTTP upstream that restarts and
//! forgets the session is not a new connection: rmcp's transport makes the handshake
//! again by itself and repeats the request, so calls go on, but that session is not
//! told the subscriptions and level again.
//!
//! What the upstream asks of its client (elicitation, sampling, roots) is passed to the
//! agent whose call is running, or else to the agent that connected last; its
//! notifications (logging, resource updates, list changes) go to every connected agent,
//! and its progress reports to the agent whose call they belong to, under the agent's own
//! progress token. The agent's credentials never travel upstream: an HTTP upstream gets
//! only the headers the gateway was configured with.

#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated by the 2026-07-28 revision, and still pass through for clients of the earlier ones"
)]

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow};
use axum::http::{HeaderName, HeaderValue};
use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientRequest, CreateMessageRequestParams,
    CreateMessageResult, ElicitRequestParams, ElicitResult, Implementation, ListRootsResult,
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
    ProtocolVersion, ResourceUpdatedNotificationParam, ServerPeerInfo, SetLevelRequest,
    SetLevelRequestParams, SubscribeRequest, SubscribeRequestParams,
};
use rmcp::service::{
    NotificationContext, Peer, RequestContext, RoleClient, RoleServer, RunningService,
};
use rmcp::{ClientHandler, ErrorData as McpError, ServiceExt as _};

/// The shortest wait before reconnecting after a failed attempt.
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to reconnect.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a new connection's upstream may take to answer each request that sets the
/// agents' subscriptions and logging level again.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the upstream MCP server is.
#[derive(Clone, Debug)]
pub enum Upstream {
    /// A program started as a child process, speaking MCP on its stdin and stdout (its
    /// stderr is the gateway's).
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// The endpoint's URL (`http://127.0.0.1:9000/mcp`).
        url: String,
        /// Headers sent with every request (the upstream's own credentials).
        headers: Vec<(HeaderName, HeaderValue)>,
    },
}

impl Upstream {
    /// A name for this upstream that stays the same across runs: the command line, or
    /// the URL. Pins are kept per upstream under this name.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Command { program, args } => {
                let mut words = vec![program.clone()];
                words.extend(args.iter().cloned());
                format!("stdio:{}", words.join(" "))
            }
            Self::Http { url, .. } => format!("http:{url}"),
        }
    }

    /// Parses `NAME: VALUE` (an `--upstream-header`).
    ///
    /// # Errors
    ///
    /// Text without a colon, or a name or value HTTP does not allow.
    pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue)> {
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| anyhow!("`{text}` is not a header: write it as 'NAME: VALUE'"))?;
        let name = HeaderName::try_from(name.trim())
            .with_context(|| format!("`{}` is not a header name", name.trim()))?;
        let mut value = HeaderValue::try_from(value.trim())
            .with_context(|| format!("the value of header `{name}` is not allowed"))?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    async fn connect(&self, handler: UpstreamHandler) -> Result<Running> {
        match self {
            Self::Command { program, args } => {
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                let transport = rmcp::transport::TokioChildProcess::new(command)
                    .with_context(|| format!("cannot start the upstream `{program}`"))?;
                handler.serve(transport).await.with_context(|| {
                    format!("the upstream `{program}` did not complete the MCP handshake")
                })
            }
            Self::Http { url, headers } => {
                use rmcp::transport::StreamableHttpClientTransport;
                use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
                let config = StreamableHttpClientTransportConfig::with_uri(url.clone())
                    .custom_headers(headers.iter().cloned().collect());
                // reqwest is built without a TLS provider of its own; rustls's ring is
                // the one the workspace uses (installing it twice is harmless).
                let _ = rustls::crypto::ring::default_provider().install_default();
                let transport = StreamableHttpClientTransport::from_config(config);
                handler.serve(transport).await.with_context(|| {
                    format!("the upstream {url} did not complete the MCP handshake")
                })
            }
        }
    }
}

type Running = RunningService<RoleClient, UpstreamHandler>;

/// The connection to the upstream, reconnected on demand. Cheap to clone.
#[derive(Clone)]
pub struct Link {
    inner: Arc<LinkInner>,
}

struct LinkInner {
    upstream: Upstream,
    agents: Agents,
    /// Called (with the link) when the upstream says its tools changed.
    on_tools_changed: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    state: tokio::sync::Mutex<State>,
    /// What agents set on the upstream's session, set again on a new connection.
    session: Mutex<Session>,
}

/// What agents set on the upstream's session.
#[derive(Default)]
struct Session {
    /// The resources subscribed to (by any agent; one unsubscribe ends it for all, as
    /// it does upstream).
    subscriptions: BTreeSet<String>,
    /// The logging level the last agent to set one asked for.
    level: Option<LoggingLevel>,
}

#[derive(Default)]
struct State {
    running: Option<Running>,
    /// After a failure: when the next attempt may be made, and the wait after that.
    retry: Option<(Instant, Duration)>,
    last_error: Option<String>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("upstream", &self.inner.upstream.key())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link to `upstream`, not yet connected.
    #[must_use]
    pub fn new(upstream: Upstream) -> Self {
        Self {
            inner: Arc::new(LinkInner {
                upstream,
                agents: Agents::default(),
                on_tools_changed: Mutex::new(None),
                state: tokio::sync::Mutex::new(State::default()),
                session: Mutex::default(),
            }),
        }
    }

    /// The upstream.
    #[must_use]
    pub fn upstream(&self) -> &Upstream {
        &self.inner.upstream
    }

    /// The agents connected to the gateway.
    pub(crate) fn agents(&self) -> &Agents {
        &self.inner.agents
    }

    /// Calls `hook` whenever the upstream says its tool list changed.
    pub(crate) fn on_tools_changed(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        *lock(&self.inner.on_tools_changed) = Some(hook);
    }

    /// The connected upstream's peer, connecting (again) when there is none or it went
    /// away.
    ///
    /// # Errors
    ///
    /// The upstream cannot be started or reached, or failed recently and the backoff has
    /// not passed; the message says which, and when the next attempt will be made.
    pub async fn peer(&self) -> Result<(Peer<RoleClient>, Option<Arc<ServerPeerInfo>>)> {
        let mut state = self.inner.state.lock().await;
        if let Some(running) = &state.running {
            if !running.is_transport_closed() {
                return Ok((running.peer().clone(), running.peer_info()));
            }
            tracing::warn!(upstream = %self.inner.upstream.key(), "the upstream went away; reconnecting");
            state.running = None;
        }
        if let Some((next, _)) = state.retry
            && Instant::now() < next
        {
            let wait = next.saturating_duration_since(Instant::now());
            return Err(anyhow!(
                "the upstream MCP server is unavailable ({}); the gateway tries again in {} ms",
                state.last_error.as_deref().unwrap_or("it failed"),
                wait.as_millis()
            ));
        }
        let handler = UpstreamHandler {
            link: Arc::downgrade(&self.inner),
        };
        match self.inner.upstream.connect(handler).await {
            Ok(running) => {
                let info = running.peer_info();
                if let Some(info) = &info {
                    tracing::info!(
                        upstream = %self.inner.upstream.key(),
                        server = ?info.server_info.as_ref().map(|s| &s.name),
                        protocol = %info.protocol_version,
                        "connected to the upstream MCP server"
                    );
                }
                let peer = running.peer().clone();
                state.running = Some(running);
                state.retry = None;
                state.last_error = None;
                // Still holding the state: no request of an agent reaches the new
                // connection before what the agents set on the old one was set again.
                self.replay(&peer).await;
                Ok((peer, info))
            }
            Err(e) => {
                let backoff = state
                    .retry
                    .map_or(MIN_BACKOFF, |(_, b)| (b * 2).min(MAX_BACKOFF));
                state.retry = Some((Instant::now() + backoff, backoff));
                let message = format!("{e:#}");
                tracing::warn!(upstream = %self.inner.upstream.key(), error = %message, "cannot connect to the upstream");
                state.last_error = Some(message.clone());
                Err(anyhow!("the upstream MCP server is unavailable: {message}"))
            }
        }
    }

    /// Remembers that an agent subscribed to `uri` (or, with `subscribed` false,
    /// unsubscribed), to subscribe a new connection again.
    pub(crate) fn remember_subscription(&self, uri: &str, subscribed: bool) {
        let mut session = lock(&self.inner.session);
        if subscribed {
            session.subscriptions.insert(uri.to_owned());
        } else {
            session.subscriptions.remove(uri);
        }
    }

    /// Remembers the logging level an agent set, to set it again on a new connection.
    pub(crate) fn remember_level(&self, level: LoggingLevel) {
        lock(&self.inner.session).level = Some(level);
    }

    /// Sets the remembered logging level and subscriptions on a new connection; what the
    /// upstream refuses is logged, not retried.
    async fn replay(&self, peer: &Peer<RoleClient>) {
        let (level, subscriptions) = {
            let session = lock(&self.inner.session);
            (session.level, session.subscriptions.clone())
        };
        let level = level.map(|level| {
            ClientRequest::SetLevelRequest(SetLevelRequest::new(SetLevelRequestParams::new(level)))
        });
        let subscribe = subscriptions.into_iter().map(|uri| {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        });
        for request in level.into_iter().chain(subscribe) {
            let method = request.method().to_owned();
            if let Err(e) = super::send(peer, request, REPLAY_TIMEOUT).await {
                tracing::warn!(upstream = %self.inner.upstream.key(), %method, error = %e.message, "cannot set again on the new connection what the agents had set");
            }
        }
    }

    /// Stops the upstream (a child process is ended).
    pub async fn close(&self) {
        let running = self.inner.state.lock().await.running.take();
        if let Some(running) = running {
            let _ = running.cancel().await;
        }
    }
}

/// The agents connected to the gateway, for what the upstream sends back.
#[derive(Default)]
pub(crate) struct Agents {
    inner: Mutex<AgentsInner>,
}

#[derive(Default)]
struct AgentsInner {
    next: u64,
    /// Every connected agent, oldest first.
    connected: Vec<(u64, Peer<RoleServer>)>,
    /// Agents with a request upstream, oldest first.
    busy: Vec<(u64, Peer<RoleServer>)>,
    /// Upstream progress tokens to the agent and its own token.
    progress: HashMap<ProgressToken, (Peer<RoleServer>, ProgressToken)>,
}

/// An agent's request in flight upstream; dropping it ends the routing for it.
pub(crate) struct Busy {
    agents: Arc<LinkInner>,
    id: u64,
    progress: Option<ProgressToken>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut inner = lock(&self.agents.agents.inner);
        inner.busy.retain(|(id, _)| *id != self.id);
        if let Some(token) = &self.progress {
            inner.progress.remove(token);
        }
    }
}

impl Agents {
    /// Adds an agent that completed its handshake.
    pub(crate) fn connect(&self, peer: Peer<RoleServer>) {
        let mut inner = lock(&self.inner);
        inner.next += 1;
        let id = inner.next;
        inner.connected.retain(|(_, p)| !p.is_transport_closed());
        inner.connected.push((id, peer));
    }

    fn connected(&self) -> Vec<Peer<RoleServer>> {
        let mut inner = lock(&self.inner);
        inner.connected.retain(|(_, p)| !p.is_transport_closed());
        inner.connected.iter().map(|(_, p)| p.clone()).collect()
    }

    /// The agent the upstream's requests go to: the one whose request is running, or
    /// else the one that connected last.
    fn target(&self) -> Option<Peer<RoleServer>> {
        let inner = lock(&self.inner);
        inner
            .busy
            .iter()
            .rev()
            .chain(inner.connected.iter().rev())
            .map(|(_, p)| p)
            .find(|p| !p.is_transport_closed())
            .cloned()
    }

    fn progress(&self, token: &ProgressToken) -> Option<(Peer<RoleServer>, ProgressToken)> {
        lock(&self.inner).progress.get(token).cloned()
    }
}

impl Link {
    /// Marks `peer` as waiting for an upstream request whose progress reports carry
    /// `upstream_token`, forwarded to the agent as `agent_token`.
    pub(crate) fn busy(
        &self,
        peer: Peer<RoleServer>,
        progress: Option<(ProgressToken, ProgressToken)>,
    ) -> Busy {
        let mut inner = lock(&self.inner.agents.inner);
        inner.next += 1;
        let id = inner.next;
        inner.busy.push((id, peer.clone()));
        let upstream_token = progress.map(|(upstream, agent)| {
            inner.progress.insert(upstream.clone(), (peer, agent));
            upstream
        });
        Busy {
            agents: Arc::clone(&self.inner),
            id,
            progress: upstream_token,
        }
    }
}

/// The gateway as the upstream's client: passes its requests and notifications on to
/// the agents.
#[derive(Clone)]
pub(crate) struct UpstreamHandler {
    link: std::sync::Weak<LinkInner>,
}

impl UpstreamHandler {
    fn agents(&self) -> Option<Arc<LinkInner>> {
        self.link.upgrade()
    }

    fn target(&self) -> Result<Peer<RoleServer>, McpError> {
        self.agents()
            .and_then(|l| l.agents.target())
            .ok_or_else(|| McpError::internal_error("no agent is connected to the gateway", None))
    }
}

fn forwarded(e: rmcp::service::ServiceError) -> McpError {
    match e {
        rmcp::service::ServiceError::McpError(e) => e,
        e => McpError::internal_error(format!("the agent did not answer: {e}"), None),
    }
}

impl ClientHandler for UpstreamHandler {
    fn get_info(&self) -> ClientConfig {
        // Everything an agent may offer is offered; a request for what the agent
        // cannot do comes back as the agent's error.
        let capabilities = ClientCapabilities::builder()
            .enable_elicitation()
            .enable_sampling()
            .enable_sampling_tools()
            .enable_roots()
            .enable_roots_list_changed()
            .build();
        ClientConfig::new(
            capabilities,
            Implementation::new("nanokvm-mcp-gateway", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        self.target()?
            .create_elicitation(request)
            .await
            .map_err(forwarded)
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        self.target()?
            .create_message(params)
            .await
            .map_err(forwarded)
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        self.target()?.list_roots().await.map_err(forwarded)
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(link) = self.agents() else { return };
        if let Some((peer, token)) = link.agents.progress(&params.progress_token) {
            let mut params = params;
            params.progress_token = token;
            let _ = peer.notify_progress(params).await;
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(link) = self.agents() else { return };
        for peer in link.agents.connected() {
            let _ = peer.notify_logging_message(params.clone()).await;
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(link) = self.agents() else { return };
        for peer in link.agents.connected() {
            let _ = peer.notify_resource_updated(params.clone()).await;
        }
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let Some(link) = self.agents() else { return };
        for peer in link.agents.connected() {
            let _ = peer.notify_resource_list_changed().await;
        }
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let Some(link) = self.agents() else { return };
        for peer in link.agents.connected() {
            let _ = peer.notify_prompt_list_changed().await;
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let Some(link) = self.agents() else { return };
        let hook = lock(&link.on_tools_changed).clone();
        if let Some(hook) = hook {
            hook();
        }
        for peer in link.agents.connected() {
            let _ = peer.notify_tool_list_changed().await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
