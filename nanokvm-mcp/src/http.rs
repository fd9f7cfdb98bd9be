//! MCP over Streamable HTTP, on one endpoint ([`ENDPOINT`], `/mcp`), for clients that
//! cannot start the server as a process.
//!
//! rmcp's Streamable HTTP service speaks the protocol; in front of it, every request
//! passes, in this order:
//! 1. `Host` and `Origin` checks against DNS rebinding and cross-site requests (403);
//! 2. a bearer token, compared in constant time with the named [`Tokens`] (401, with
//!    `WWW-Authenticate: Bearer`);
//! 3. a cap on the body, enforced while it is read (413).
//!
//! Each refusal has a short plain-text body that says what to fix, and names no token.
//!
//! **Who calls.** A token's name is the principal its calls run as: the policy's
//! `grant`, so limits with `scope: grant` count per token. A client of the 2025-11-25
//! handshake gets an MCP session at `initialize`, served by its own
//! [`NanoKvmServer::with_caller`]`(token name, session id)`, so `scope: session` limits
//! count per session and the audit log names the same session id the client sends in
//! `Mcp-Session-Id`. Sessions belong to the token that opened them: another token
//! presenting the id gets 404. A client of the stateless 2026-07-28 revision has no
//! session; its requests share one per token, named `<token name>/stateless`, so no
//! limit resets with each request.
//!
//! **Stopping.** When the shutdown future passed to [`HttpServer::serve`] completes, the
//! server stops accepting connections, ends the MCP sessions and their event streams
//! (an unfinished tool call is cancelled, which releases held keys and buttons), and
//! waits for running requests, at most [`SHUTDOWN_GRACE`].

mod guard;
pub mod tokens;

use std::collections::HashMap;
use std::future::{Future, IntoFuture as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::any;
use futures_util::Stream;
use http_body_util::{BodyExt as _, Full};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, create_local_session,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use tokio::net::TcpListener;

use rmcp::ServerHandler;

use self::guard::Refusal;
pub use self::tokens::Tokens;
use crate::server::NanoKvmServer;

/// A server that can be served to many callers: one per HTTP session, or per token for
/// stateless requests. The device server and the gateway are both.
pub trait Session: ServerHandler + Clone {
    /// The same server, calling as the principal `grant` in `session`.
    #[must_use]
    fn with_caller(&self, grant: &str, session: String) -> Self;
}

impl Session for NanoKvmServer {
    fn with_caller(&self, grant: &str, session: String) -> Self {
        NanoKvmServer::with_caller(self, grant, session)
    }
}

/// The path MCP is served on.
pub const ENDPOINT: &str = "/mcp";

/// The largest request body accepted by default (4 MiB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How long a shutdown waits for running requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How much of a body over the limit is read and thrown away before the 413 answer, so
/// that a client still sending gets the answer instead of a reset connection.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// How long that may take.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// The address `--http` names: `PORT` (on 127.0.0.1), `localhost:PORT`, or an address
/// and port (`127.0.0.1:8765`, `[::1]:8765`, `0.0.0.0:8765` for every interface).
///
/// # Errors
///
/// Text that is none of these.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("localhost:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    match text.parse::<SocketAddr>() {
        Ok(addr) => Ok(addr),
        Err(_) => bail!(
            "`{text}` is not an address to listen on: give a port (8765, meaning \
             127.0.0.1:8765) or an address and port (127.0.0.1:8765, [::1]:8765, or \
             0.0.0.0:8765 for every interface)"
        ),
    }
}

/// The HTTP front of a [`NanoKvmServer`] (or of the gateway, any [`Session`]): built
/// with [`HttpServer::new`], run with [`HttpServer::serve`].
#[derive(Debug)]
pub struct HttpServer<S = NanoKvmServer> {
    server: S,
    tokens: Tokens,
    max_body_bytes: usize,
}

impl<S: Session> HttpServer<S> {
    /// Serves `server` to the holders of `tokens`.
    #[must_use]
    pub fn new(server: S, tokens: Tokens) -> Self {
        Self {
            server,
            tokens,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }

    /// The largest request body accepted (default [`MAX_BODY_BYTES`]).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Serves on `listener` until `shutdown` completes, then stops as the module docs
    /// say.
    ///
    /// # Errors
    ///
    /// When the listener fails.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let bound = listener.local_addr()?;
        // Host and Origin are checked before the service sees a request (with answers
        // that say what to fix), so its own checks are off rather than kept in step.
        let config = StreamableHttpServerConfig::default()
            .disable_allowed_hosts()
            .disable_allowed_origins()
            .with_max_request_body_bytes(self.max_body_bytes);
        let stop = config.cancellation_token.clone();
        let principals = self
            .tokens
            .names()
            .map(|name| {
                let principal = Principal {
                    sessions: Arc::new(LocalSessionManager::default()),
                    stateless: Session::with_caller(
                        &self.server,
                        name,
                        format!("{name}/stateless"),
                    ),
                };
                (name.to_owned(), principal)
            })
            .collect();
        let app = App {
            bound: bound.ip(),
            tokens: self.tokens,
            principals,
            base: self.server,
            config,
        };
        let router = Router::new()
            .route(ENDPOINT, any(endpoint::<S>))
            .fallback(not_found)
            .with_state(Arc::new(app));
        let stopping = stop.clone();
        let serving = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: ending MCP sessions and event streams");
            stopping.cancel();
        })
        .into_future();
        tokio::select! {
            result = serving => result,
            () = async {
                stop.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(
                    "requests still running {} s after the shutdown began: leaving them",
                    SHUTDOWN_GRACE.as_secs()
                );
                Ok(())
            }
        }
    }
}

/// What every request is served with.
struct App<S> {
    /// The address the server listens on, for the `Host` check.
    bound: IpAddr,
    tokens: Tokens,
    /// By token name.
    principals: HashMap<String, Principal<S>>,
    /// The server new sessions are made from.
    base: S,
    config: StreamableHttpServerConfig,
}

/// One token's MCP state.
struct Principal<S> {
    /// The sessions opened with this token.
    sessions: Arc<LocalSessionManager>,
    /// The server its stateless requests share.
    stateless: S,
}

async fn endpoint<S: Session>(
    State(app): State<Arc<App<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match app.handle(request).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::warn!(
                %peer,
                status = refusal.status().as_u16(),
                "refused a request: {}",
                refusal.message()
            );
            refusal.into_response()
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("not found: the MCP endpoint is {ENDPOINT}\n"),
    )
        .into_response()
}

impl<S: Session> App<S> {
    async fn handle(&self, request: Request) -> Result<Response, Refusal> {
        let (parts, body) = request.into_parts();
        let host = guard::check_host(&parts.headers, self.bound)?;
        guard::check_origin(&parts.headers, &host)?;
        let token = guard::bearer(&parts.headers)?;
        let name = self.tokens.name_of(token).ok_or(Refusal::WrongToken)?;
        let Some(principal) = self.principals.get(name) else {
            return Err(Refusal::WrongToken);
        };
        let body = read_body(&parts.headers, body, self.config.max_request_body_bytes).await?;

        // A session's server is made when its `initialize` arrives, under the id the
        // session will get; any other request is served by the token's stateless server.
        let id = new_session_id();
        let server = if starts_session(&body) {
            Session::with_caller(&self.base, name, id.to_string())
        } else {
            principal.stateless.clone()
        };
        let sessions = Arc::new(SessionsOf {
            sessions: Arc::clone(&principal.sessions),
            next_id: id,
            grant: name.to_owned(),
        });
        let service =
            StreamableHttpService::new(move || Ok(server.clone()), sessions, self.config.clone());
        let closes = parts.method == Method::DELETE;
        let mut response = service
            .handle(Request::from_parts(parts, Full::new(body)))
            .await;
        // rmcp answers a session's DELETE with 202; clients (the Python SDK) expect 200
        // or 204 for a session that is gone, and warn otherwise.
        if closes && response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        Ok(response.map(Body::new))
    }
}

/// A new session id: 128 random bits, hex.
fn new_session_id() -> SessionId {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.into()
}

/// Whether `body` is an `initialize` request, the one that opens a session.
fn starts_session(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        method: Option<String>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.method.as_deref() == Some("initialize"))
}

/// Reads the body, at most `limit` bytes.
async fn read_body(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Bytes, Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared
        && declared > limit as u64
    {
        // A client that waits for `100 Continue` has sent nothing yet and gets the
        // answer at once; any other is sending, and is read to the end if that is
        // not too much, so it can read the answer.
        let waits = headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits && declared <= (limit + DRAIN_BYTES) as u64 {
            drain(body).await;
        }
        return Err(Refusal::TooLarge(limit));
    }
    let mut collected = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Refusal::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.len() > limit - collected.len() {
            drain(body).await;
            return Err(Refusal::TooLarge(limit));
        }
        collected.extend_from_slice(&data);
    }
    Ok(Bytes::from(collected))
}

/// Reads and drops what is left of a body, within [`DRAIN_BYTES`] and [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let read = async {
        let mut left = DRAIN_BYTES;
        while let Some(Ok(frame)) = body.frame().await {
            let len = frame.data_ref().map_or(0, Bytes::len);
            if len > left {
                break;
            }
            left -= len;
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// One token's sessions, as rmcp's session manager for one request: a session opened by
/// this request gets the id its server was made with. Everything else is the token's
/// [`LocalSessionManager`], so a session is found only with the token that opened it.
struct SessionsOf {
    sessions: Arc<LocalSessionManager>,
    next_id: SessionId,
    grant: String,
}

impl SessionManager for SessionsOf {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let id = self.next_id.clone();
        let (handle, worker) =
            create_local_session(id.clone(), self.sessions.session_config.clone());
        self.sessions
            .sessions
            .write()
            .await
            .insert(id.clone(), handle);
        tracing::info!(grant = %self.grant, session = %id, "opened an MCP session");
        Ok((id, WorkerTransport::spawn(worker)))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.sessions.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.sessions.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.sessions.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.sessions.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.sessions.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.sessions.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.sessions.resume(id, last_event_id).await
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.sessions.restore_session(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        for (text, want) in [
            ("8765", "127.0.0.1:8765"),
            ("localhost:8765", "127.0.0.1:8765"),
            ("127.0.0.1:0", "127.0.0.1:0"),
            ("[::1]:8765", "[::1]:8765"),
            ("0.0.0.0:8765", "0.0.0.0:8765"),
        ] {
            assert_eq!(parse_addr(text).expect(text).to_string(), want);
        }
        for text in ["", "kvm.lan:8765", "127.0.0.1", "70000"] {
            let err = parse_addr(text).expect_err(text).to_string();
            assert!(err.contains("127.0.0.1:8765"), "{err}");
        }
    }

    #[test]
    fn only_initialize_opens_a_session() {
        assert!(starts_session(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(!starts_session(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!starts_session(br#"[{"method":"initialize"}]"#));
        assert!(!starts_session(b"not json"));
    }

    #[tokio::test]
    async fn bodies_are_capped_while_read() {
        let headers = HeaderMap::new();
        let small = read_body(&headers, Body::from(vec![b'x'; 10]), 10).await;
        assert_eq!(small.map(|b| b.len()), Ok(10));
        let big = read_body(&headers, Body::from(vec![b'x'; 11]), 10).await;
        assert_eq!(big, Err(Refusal::TooLarge(10)));
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "11".parse().expect("a value"));
        let big = read_body(&declared, Body::empty(), 10).await;
        assert_eq!(big, Err(Refusal::TooLarge(10)));
    }
}
